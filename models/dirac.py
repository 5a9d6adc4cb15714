"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018, §2): the smallest GAN that fails to converge, drawn whole.

Real data is a point mass at 0; the generator is δ(x − θ), one parameter; the discriminator is linear, D(x) = ψ·x,
one parameter. The unique equilibrium is θ = ψ = 0, so the game lives in the (θ, ψ) plane and its training is a
trajectory there: a circle for plain alternating gradient descent, an outward spiral for simultaneous steps, an
inward one with instance noise or the R1 penalty. These are ordinary networks: the same ``Trainer``, losses and
tricks train them as any other run.

Sign convention: the paper's D scores how *fake* a sample looks (its objective is f(D(G(z))) + f(−D(x)), maximised
by D, with f(t) = −log(1 + e^−t)), while every loss in ``models.losses`` takes D's output as the logit of *real*. So
``DiracDiscriminator`` returns −ψ·x: with that, ψ is the paper's ψ, (θ₀, ψ₀) = (1, 1) is the paper's starting point,
and the trajectory turns the way the paper's Fig. 1 does.

Both networks may hold a bank of k independent Dirac-GANs side by side (parameters of shape (k,), the batch split
into k equal consecutive groups): the field view evaluates the run's own losses at every point of a grid at once so.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from models.networks import Discriminator


def _spread(values: torch.Tensor, n: int) -> torch.Tensor:
    """(k,) → (n,): the i-th of k equal consecutive groups of a batch of ``n`` gets ``values[i]``."""
    k = values.shape[0]
    if n % k:
        raise ValueError(f"a batch of {n} does not split into {k} equal groups")
    return values.repeat_interleave(n // k)


class DiracGenerator(nn.Module):
    """G(z) = θ for every z: the generated distribution is δ(x − θ)."""

    def __init__(self, theta: float | torch.Tensor = 1.0):
        super().__init__()
        self.theta = nn.Parameter(torch.as_tensor(theta, dtype=torch.float32).reshape(-1).clone())  # (k,)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return _spread(self.theta, z.shape[0]).unsqueeze(1)  # (B, 1)


class DiracHead(nn.Module):
    """The linear score −ψ·x (the logit of *real*; see the module's sign convention)."""

    def __init__(self, psi: float | torch.Tensor = 1.0):
        super().__init__()
        self.psi = nn.Parameter(torch.as_tensor(psi, dtype=torch.float32).reshape(-1).clone())  # (k,)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return -_spread(self.psi, f.shape[0]).unsqueeze(1) * f  # (B, 1)


class DiracDiscriminator(Discriminator):
    """D(x) = ψ·x without bias. Its features are x itself, so feature matching on it compares means of samples.

    ``reach`` is the farthest |θ| or |ψ| the run has been at (``observe`` keeps it): a buffer, so it travels with
    D's weights through checkpoints, resumes and forks, and the field view's bounds always hold the whole
    trajectory so far."""

    head: DiracHead
    reach: torch.Tensor

    def __init__(self, psi: float | torch.Tensor = 1.0):
        super().__init__()
        self.head = DiracHead(psi)
        self.register_buffer("reach", torch.zeros(()))

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return x.flatten(1)  # (B, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(x, y)).squeeze(1)  # (B,) logits of real


def parameters_of(generator: nn.Module, discriminator: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(θ, ψ) of a single Dirac-GAN, as 0-d tensors outside autograd."""
    if not isinstance(generator, DiracGenerator) or not isinstance(discriminator, DiracDiscriminator):
        raise TypeError("not a Dirac-GAN: model.arch is not dirac")
    return generator.theta[0].detach(), discriminator.head.psi[0].detach()


def observe(generator: nn.Module, discriminator: nn.Module) -> dict[str, torch.Tensor]:
    """The step metrics ``theta``, ``psi`` and ``equilibrium_distance`` = √(θ² + ψ²), as 0-d tensors (the trainer
    reads every metric in one device sync), and the trajectory's ``reach`` brought up to date."""
    theta, psi = parameters_of(generator, discriminator)
    assert isinstance(discriminator, DiracDiscriminator)
    with torch.no_grad():
        discriminator.reach.copy_(torch.maximum(discriminator.reach, torch.maximum(theta.abs(), psi.abs())))
    return {"theta": theta, "psi": psi, "equilibrium_distance": torch.hypot(theta, psi)}


def plane_extent(generator: nn.Module, discriminator: nn.Module, least: float = 2.0) -> float:
    """Half the side of a square on the equilibrium that holds the trajectory so far, with a margin, and at least
    [−least, least]²: rounded up to a half so the view does not creep a little at every frame."""
    theta, psi = parameters_of(generator, discriminator)
    assert isinstance(discriminator, DiracDiscriminator)
    far = max(float(discriminator.reach), abs(float(theta)), abs(float(psi)))
    return max(least, math.ceil(far * 1.1 * 2) / 2)
