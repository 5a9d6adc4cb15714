"""The autoencoder and the variational autoencoder (Kingma & Welling 2014): the chapter's approximate density.

Both are MLPs: an encoder to the latent, and a decoder that is ``models.networks.MLPGenerator`` itself (so it
samples, walks and draws its manifold exactly as G does: ``model(z)`` decodes). The AE's encoder gives one z per
x, the VAE's a Gaussian q(z|x) = N(μ, diag σ²) sampled by reparameterisation.

``recon`` is the squared error ‖x − x̂‖² summed over a sample's dimensions, the chapter's J(θ): the AE's loss,
and reported by the VAE too, so the two compare. The VAE's decoder is Gaussian, p(x|z) = N(x̂, σ²I) with σ
``model.decoder_std``, so its ``elbo`` = E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I)) is a true lower bound on log p(x)
(nats per sample), and the loss minimised is −E_q[log p(x|z)] + β·KL (β ``train.kl_weight``, live; 1 is the ELBO).
An AE's samples decode z ~ N(0, I), a prior it was never trained to match: the lesson that an autoencoder without
one is no generator.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from models.config import RunConfig
from models.families import DecodesPrior, NoDiscriminator, private_init
from models.networks import Discriminator, MLPGenerator, _mlp, seeded_default_init


class AutoEncoder(nn.Module):
    """Encoder and decoder; ``forward(z)`` decodes, so every sampler that feeds G a latent works unchanged."""

    def __init__(self, config: RunConfig, sample_shape: tuple[int, ...], variational: bool):
        super().__init__()
        cfg = config.model
        self.variational = variational
        self.z_dim = cfg.z_dim
        dim = math.prod(sample_shape)
        self.encoder_body = _mlp([dim] + [cfg.hidden] * cfg.layers, cfg.activation)
        self.encoder_out = nn.Linear(cfg.hidden, cfg.z_dim * (2 if variational else 1))  # VAE: (μ, log σ²)
        self.decoder = MLPGenerator(cfg, sample_shape)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(μ, log σ²) of q(z|x) for the VAE, (z, None) for the AE; each (B, z_dim)."""
        h = self.encoder_out(self.encoder_body(x.flatten(1)))
        if not self.variational:
            return h, None
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)  # (B, *sample_shape)


def squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """(B,) ‖x − x̂‖² summed over each sample's dimensions."""
    return (x - x_hat).pow(2).flatten(1).sum(1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(B,) KL(N(μ, diag σ²) ‖ N(0, I)) in closed form: ½·Σ(μ² + σ² − 1 − log σ²) (Kingma & Welling 2014, App. B)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


class AutoEncoderFamily(DecodesPrior):
    adversarial = False

    def __init__(self, name: str, variational: bool):
        self.name = name
        self.variational = variational
        self.metrics: tuple[str, ...] = ("elbo", "recon", "kl") if variational else ("recon",)

    def build(
        self, config: RunConfig, meta: dict[str, Any], generator: torch.Generator
    ) -> tuple[nn.Module, Discriminator]:
        shape = tuple(meta["sample_shape"])
        model = private_init(lambda: AutoEncoder(config, shape, self.variational))
        seeded_default_init(model, generator)
        return model, NoDiscriminator()

    def loss(
        self, model: nn.Module, x: torch.Tensor, config: RunConfig, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        assert isinstance(model, AutoEncoder)
        mu, logvar = model.encode(x)
        if logvar is None:
            recon = squared_error(x, model(mu)).mean()
            return recon, {"recon": recon.detach()}
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + (0.5 * logvar).exp() * eps  # reparameterisation: the draw is differentiable in μ and σ
        error = squared_error(x, model(z))  # (B,)
        var = config.model.decoder_std**2
        nll = (error / (2 * var)).mean() + 0.5 * x[0].numel() * math.log(2 * math.pi * var)  # −log N(x; x̂, σ²I)
        kl = gaussian_kl(mu, logvar).mean()
        loss = nll + config.train.kl_weight * kl
        stats = {"elbo": -(nll + kl), "recon": error.mean(), "kl": kl}
        return loss, {k: v.detach() for k, v in stats.items()}


AE = AutoEncoderFamily("ae", variational=False)
VAE = AutoEncoderFamily("vae", variational=True)
