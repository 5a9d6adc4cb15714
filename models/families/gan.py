"""The GAN as a family: its networks are ``models.networks``' pair and its sampler feeds G a Gaussian latent. Its
update (``d_steps`` D updates, then G's, with every trick) is the trainer's own, so the GAN path is unchanged."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from models.config import RunConfig
from models.families import DecodesPrior
from models.networks import Discriminator, build_networks


class GanFamily(DecodesPrior):
    name = "gan"
    adversarial = True
    metrics: tuple[str, ...] = ()

    def build(
        self, config: RunConfig, meta: dict[str, Any], generator: torch.Generator
    ) -> tuple[nn.Module, Discriminator]:
        shape = tuple(meta["sample_shape"])
        return build_networks(config.model, shape, meta["num_classes"], config.tricks.pack, generator)

    def loss(
        self, model: nn.Module, x: torch.Tensor, config: RunConfig, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError("the GAN's update is the trainer's D/G step (Family.adversarial)")


GAN = GanFamily()
