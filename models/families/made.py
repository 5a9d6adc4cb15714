"""MADE (Germain et al. 2015): the chapter's explicit density, an autoregressive model whose log-likelihood is exact.

Each dimension is categorical: a binarised pixel (2 values), or a 2D coordinate quantised into ``model.bins`` bins
over the data's bounds. The network is one MLP whose weights are masked so that the logits of dimension i see only
the one-hot inputs of dimensions before it (degrees: input and output units carry their dimension 1…D, a hidden
unit a degree in 1…D−1; a hidden unit sees inputs of degree ≤ its own, an output sees hidden units of degree below
its own). So p(x) = Π p(xᵢ | x<ᵢ) comes out of one pass (``nll``), while a sample needs one pass per dimension.

Sampling inverts each conditional CDF at u = Φ(zᵢ) for a Gaussian z (and places a 2D value uniformly within its
bin with a second Φ(z)): exactly a draw from the model, and a deterministic function of a Gaussian latent, so the
MADE samples, walks and draws its manifold through the same calls as a generator (``forward(z)``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from models.config import RunConfig
from models.families import NoDiscriminator, private_init
from models.networks import ACTIVATIONS, Discriminator, seeded_default_init


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` (out, in): the connections MADE cuts."""

    mask: torch.Tensor

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())  # (out, in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    lo: torch.Tensor  # (D,) buffers: each dimension's range, its bins spread evenly over it
    hi: torch.Tensor

    def __init__(self, config: RunConfig, meta: dict[str, Any]):
        super().__init__()
        cfg = config.model
        self.sample_shape = tuple(meta["sample_shape"])
        self.dims = dims = math.prod(self.sample_shape)
        self.binary = bool(meta["is_image"])
        self.k = k = 2 if self.binary else cfg.bins
        bounds = [-1.0, 1.0] * dims if self.binary else list(meta["bounds"])
        self.register_buffer("lo", torch.tensor(bounds[0::2], dtype=torch.float32))  # (D,)
        self.register_buffer("hi", torch.tensor(bounds[1::2], dtype=torch.float32))  # (D,)
        self.noise_dim = dims if self.binary else 2 * dims  # Φ(z) per choice, and per 2D value its place in the bin
        degree_in = torch.arange(1, dims + 1).repeat_interleave(k)  # (D·K,)
        layers: list[nn.Module] = []
        previous = degree_in
        for _ in range(cfg.layers):
            hidden = torch.arange(cfg.hidden) * max(dims - 1, 1) // cfg.hidden + 1  # (H,) degrees 1…D−1, evenly
            layers += [MaskedLinear(hidden[:, None] >= previous[None, :]), ACTIVATIONS[cfg.activation]()]
            previous = hidden
        layers.append(MaskedLinear(degree_in[:, None] > previous[None, :]))  # output i sees degrees < i
        self.net = nn.Sequential(*layers)

    def logits(self, onehot: torch.Tensor) -> torch.Tensor:
        """(B, D·K) one-hot inputs → (B, D, K) logits of each dimension given those before it."""
        return self.net(onehot).view(-1, self.dims, self.k)

    def categories(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *sample_shape) data → (B, D) category per dimension: a pixel's sign, or a coordinate's bin."""
        flat = x.flatten(1)
        if self.binary:
            return (flat > 0).long()
        scaled = (flat - self.lo) / (self.hi - self.lo) * self.k
        return scaled.floor().clamp(0, self.k - 1).long()

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) −log p(x) in nats, exact (of the binarised or quantised data)."""
        cats = self.categories(x)  # (B, D)
        logp = self.logits(F.one_hot(cats, self.k).flatten(1).float()).log_softmax(-1)  # (B, D, K)
        return -logp.gather(2, cats[..., None]).squeeze(2).sum(1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """A sample per row of the Gaussian ``z``, one dimension at a time; columns beyond ``noise_dim`` are unused
        and missing ones read as 0 (the median choice)."""
        z = F.pad(z, (0, max(0, self.noise_dim - z.shape[1])))[:, : self.noise_dim]
        u = 0.5 * (1 + torch.erf(z / math.sqrt(2)))  # (B, noise_dim) uniforms
        n = z.shape[0]
        onehot = torch.zeros(n, self.dims * self.k, device=z.device)
        cats = torch.zeros(n, self.dims, dtype=torch.long, device=z.device)
        for i in range(self.dims):  # one pass per dimension: the price of an explicit autoregressive density
            cdf = self.logits(onehot)[:, i].softmax(-1).cumsum(-1)  # (B, K)
            choice = (cdf < u[:, i : i + 1]).sum(1).clamp(max=self.k - 1)  # (B,)
            cats[:, i] = choice
            onehot[torch.arange(n, device=z.device), i * self.k + choice] = 1.0
        if self.binary:
            values = cats.float() * 2 - 1
        else:
            within = u[:, self.dims :]  # (B, D) where in its bin each value lies
            values = self.lo + (cats.float() + within) / self.k * (self.hi - self.lo)
        return values.view(n, *self.sample_shape)


class MadeFamily:
    name = "made"
    adversarial = False
    metrics: tuple[str, ...] = ("nll", "bpd")

    def build(
        self, config: RunConfig, meta: dict[str, Any], generator: torch.Generator
    ) -> tuple[nn.Module, Discriminator]:
        if not meta["is_image"] and "bounds" not in meta:
            raise ValueError(f"model.family: made needs images or 2D points, not dataset '{meta['name']}'")
        model = private_init(lambda: MADE(config, meta))
        seeded_default_init(model, generator)
        return model, NoDiscriminator()

    def loss(
        self, model: nn.Module, x: torch.Tensor, config: RunConfig, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        assert isinstance(model, MADE)
        nll = model.nll(x).mean()
        bpd = nll / (model.dims * math.log(2))
        return nll, {"nll": nll.detach(), "bpd": bpd.detach()}

    def sample(
        self,
        model: nn.Module,
        config: RunConfig,
        n: int,
        seed: int,
        device: torch.device,
        labels: torch.Tensor | None = None,
        num_classes: int = 0,
    ) -> torch.Tensor:
        assert isinstance(model, MADE)
        rng = torch.Generator(device=device).manual_seed(seed)
        z = torch.randn(n, model.noise_dim, generator=rng, device=device)
        with torch.no_grad():
            return model(z)


MADE_FAMILY = MadeFamily()
