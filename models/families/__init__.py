"""Model families beside the GAN, trained by the one ``Trainer``: each supplies its networks, its loss and its
sampler, and the trainer keeps the step, metrics, checkpoint, evaluation and interruption plumbing for all of them.

The seam is two network slots the trainer (and its checkpoints) always had: ``generator``, the network that
samples (G; the autoencoder with its decoder; the MADE), and ``discriminator``, GAN's D, an empty ``NoDiscriminator``
for every other family (so a checkpoint keeps its keys, and views of D see a D that has no opinion). A family that
is not adversarial trains its whole model by one optimiser (``opt_g``, at ``train.lr_g``) on the loss its ``loss``
returns; the GAN's alternating D/G update, with its tricks, stays the trainer's own (``Family.adversarial``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

from models.config import RunConfig
from models.networks import Discriminator


class NoDiscriminator(Discriminator):
    """The D slot of a family without one: no parameters, and a verdict of 0 (no opinion) on every input, so a view
    drawn from D (the 2D field) shows a flat plane instead of failing."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Identity()

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(x.shape[0], 1, device=x.device) * x.flatten(1).sum(1, keepdim=True)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.features(x, y)[:, 0]  # (B,), zeros, still differentiable in x (a zero gradient)


class Family(Protocol):
    """What a model family gives the trainer and the samplers."""

    name: str
    adversarial: bool  # True for the GAN alone: its update is the trainer's D/G step, not ``loss``
    metrics: tuple[str, ...]  # the per-step figures ``loss`` reports, in the order the metrics row lists them

    def build(
        self, config: RunConfig, meta: dict[str, Any], generator: torch.Generator
    ) -> tuple[nn.Module, Discriminator]:
        """(sampling network, D) for data described by ``meta`` (``models.trainer.data_meta``), initialised from
        ``generator`` alone."""
        ...

    def loss(
        self, model: nn.Module, x: torch.Tensor, config: RunConfig, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss to minimise on the batch ``x`` and the detached figures named in ``metrics``; every random draw
        comes from ``generator``."""
        ...

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
        """``n`` samples fixed by ``seed``; nothing of the run (its random stream, batch-norm statistics) changes."""
        ...


class DecodesPrior:
    """The sampler of a family whose network maps a latent code to a sample, the GAN's G or an autoencoder's
    decoder: a seeded z ~ N(0, I) through it (``models.trainer.generate``)."""

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
        from models.trainer import generate  # the trainer imports the families

        return generate(model, config, n, seed, device, labels, num_classes)


def private_init(build: Callable[[], Any]) -> Any:
    """Layers draw their default init from torch's global RNG: build inside a fork of it, so a run never touches it
    (the family then overwrites every weight from its own generator)."""
    with torch.random.fork_rng(devices=[]):
        return build()


def get_family(name: str) -> Family:
    from models.families import ae, gan, made  # the modules import this one for NoDiscriminator and Family

    families: dict[str, Family] = {
        "gan": gan.GAN,
        "ae": ae.AE,
        "vae": ae.VAE,
        "made": made.MADE_FAMILY,
    }
    if name not in families:
        raise ValueError(f"model.family: no family '{name}'")
    return families[name]
