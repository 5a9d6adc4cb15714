"""Generators and discriminators: an MLP pair for any data, DCGAN for 8, 16, 28 and 32 px images, and the
Dirac-GAN's one-parameter pair (``models.dirac``).

Every discriminator exposes ``features(x, y)`` (its last hidden layer, flattened) and ``head(f)`` (the
logit), so feature matching reads the same layer D decides on, and PacGAN packing only widens D's input.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
from torch import nn

from models.config import ModelConfig

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
}


class Discriminator(nn.Module):
    """What the trainer needs of every D: ``features`` for feature matching, ``head`` to turn them into logits."""

    head: nn.Module

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


def dcgan_init(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """N(0, 0.02) weights for conv and linear layers, N(1, 0.02) for batch-norm scales (Radford et al. 2015)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02, generator=generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=generator)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 1.0, generator=generator)


def seeded_default_init(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Kaiming-uniform init, but drawn from ``generator`` so a run never touches global RNG."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = 1 / math.sqrt(m.in_features)
            nn.init.uniform_(m.weight, -bound, bound, generator=generator)
            nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 1.0, generator=generator)


# ----------------------------------------------------------------------------------------- MLP


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, out_shape: tuple[int, ...], num_classes: int = 0):
        super().__init__()
        self.out_shape = out_shape
        self.embed = nn.Embedding(num_classes, cfg.label_dim) if cfg.conditional else None
        in_dim = cfg.z_dim + (cfg.label_dim if cfg.conditional else 0)
        self.body = _mlp([in_dim] + [cfg.hidden] * cfg.layers, cfg.activation)
        self.out = nn.Linear(cfg.hidden, math.prod(out_shape))
        # 2D points are unbounded; images live in [-1, 1] like the data.
        self.squash = nn.Tanh() if len(out_shape) > 1 else nn.Identity()

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # (B, z_dim + label_dim)
        h = self.body(z)  # (B, hidden)
        return self.squash(self.out(h)).view(-1, *self.out_shape)  # (B, *out_shape)


class MLPDiscriminator(Discriminator):
    def __init__(self, cfg: ModelConfig, in_shape: tuple[int, ...], num_classes: int = 0, pack: int = 1):
        super().__init__()
        self.embed = nn.Embedding(num_classes, cfg.label_dim) if cfg.conditional else None
        in_dim = math.prod(in_shape) * pack + (cfg.label_dim if cfg.conditional else 0)
        self.body = _mlp([in_dim] + [cfg.hidden] * cfg.layers, cfg.activation)
        self.head = nn.Linear(cfg.hidden, 1)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = x.flatten(1)  # (B, pack * prod(in_shape))
        if self.embed is not None:
            x = torch.cat([x, self.embed(y)], dim=1)
        return self.body(x)  # (B, hidden)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, y)).squeeze(1)  # (B,) logits


# ----------------------------------------------------------------------------------------- DCGAN

DCGAN_SIZES = {8: 4, 16: 4, 32: 4, 28: 7}  # image side -> side of the first (base) feature map


def _levels(side: int) -> tuple[int, int]:
    """(base side, number of ×2 levels) for a supported image side."""
    if side not in DCGAN_SIZES:
        raise ValueError(f"dcgan supports image sides {sorted(DCGAN_SIZES)}, not {side}")
    base = DCGAN_SIZES[side]
    return base, int(math.log2(side // base))


class DCGANGenerator(nn.Module):
    """z → base×base by one fractional-strided conv, then ×2 per level down to `channels` at full size."""

    def __init__(self, cfg: ModelConfig, out_shape: tuple[int, int, int], num_classes: int = 0):
        super().__init__()
        channels, side, _ = out_shape
        base, levels = _levels(side)
        self.embed = nn.Embedding(num_classes, cfg.label_dim) if cfg.conditional else None
        in_dim = cfg.z_dim + (cfg.label_dim if cfg.conditional else 0)
        widths = [cfg.hidden * 2 ** (levels - 1 - i) for i in range(levels)]  # e.g. [256, 128, 64]

        def norm(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if cfg.batch_norm else nn.Identity()

        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_dim, widths[0], base, 1, 0, bias=not cfg.batch_norm),
            norm(widths[0]),
            nn.ReLU(True),
        ]  # state: (B, widths[0], base, base)
        for i in range(levels):
            c_in, last = widths[i], i == levels - 1
            c_out = channels if last else widths[i + 1]
            if cfg.upsample == "transposed":
                layers.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=last or not cfg.batch_norm))
            else:
                layers += [
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(c_in, c_out, 3, 1, 1, bias=last or not cfg.batch_norm),
                ]
            layers += [nn.Tanh()] if last else [norm(c_out), nn.ReLU(True)]
            # state: (B, c_out, base * 2**(i+1), base * 2**(i+1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # (B, z_dim + label_dim)
        return self.net(z[:, :, None, None])  # (B, C, side, side)


class DCGANDiscriminator(Discriminator):
    """Strided convs halve the image down to base×base; one base×base conv gives the logit."""

    def __init__(self, cfg: ModelConfig, in_shape: tuple[int, int, int], num_classes: int = 0, pack: int = 1):
        super().__init__()
        channels, side, _ = in_shape
        base, levels = _levels(side)
        self.side = side
        # A conditional D sees its label as one extra input plane (Mirza & Osindero 2014, convolutional form).
        self.embed = nn.Embedding(num_classes, side * side) if cfg.conditional else None
        c_in = channels * pack + (1 if cfg.conditional else 0)
        layers: list[nn.Module] = []
        for i in range(levels):
            c_out = cfg.hidden * 2**i
            layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0 or not cfg.batch_norm))
            if i > 0 and cfg.batch_norm:  # never on D's input layer
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, True))
            c_in = c_out  # state: (B, c_out, side / 2**(i+1), side / 2**(i+1))
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Conv2d(c_in, 1, base, 1, 0))  # (B, 1, 1, 1)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            plane = self.embed(y).view(-1, 1, self.side, self.side)  # (B, 1, side, side)
            x = torch.cat([x, plane], dim=1)
        return self.body(x)  # (B, hidden * 2**(levels-1), base, base)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, y)).flatten()  # (B,) logits


def build_networks(
    cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int, pack: int, generator: torch.Generator
) -> tuple[nn.Module, Discriminator]:
    """(G, D) for data of ``sample_shape``, initialised from ``generator`` alone."""
    with torch.random.fork_rng(devices=[]):  # layers' own default init draws from global RNG: keep it private
        return _build(cfg, sample_shape, num_classes, pack, generator)


def _build(
    cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int, pack: int, generator: torch.Generator
) -> tuple[nn.Module, Discriminator]:
    if cfg.arch == "dirac":
        from models.dirac import DiracDiscriminator, DiracGenerator  # it builds on Discriminator, defined here

        if tuple(sample_shape) != (1,):
            raise ValueError(f"model.arch: dirac needs one number per sample, not samples shaped {list(sample_shape)}")
        return DiracGenerator(cfg.theta0), DiracDiscriminator(cfg.psi0)
    if cfg.arch == "dcgan":
        if len(sample_shape) != 3 or sample_shape[1] != sample_shape[2]:
            raise ValueError(f"model.arch: dcgan needs square images, not samples of shape {list(sample_shape)}")
        g: nn.Module = DCGANGenerator(cfg, sample_shape, num_classes)
        d: Discriminator = DCGANDiscriminator(cfg, sample_shape, num_classes, pack)
        dcgan_init(g, generator)
        dcgan_init(d, generator)
    else:
        g = MLPGenerator(cfg, sample_shape, num_classes)
        d = MLPDiscriminator(cfg, sample_shape, num_classes, pack)
        seeded_default_init(g, generator)
        seeded_default_init(d, generator)
    return g, d
