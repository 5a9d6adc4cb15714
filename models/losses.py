"""GAN losses as small pure functions on D's raw outputs, selected by name.

Each loss gives D's loss (with the real target, so one-sided label smoothing is one number), G's loss, and how
D's output reads as "D(x)" for the charts. The penalties need D's gradient with respect to its input, so they live
apart: WGAN-GP's ``gradient_penalty`` and R1's ``r1_penalty``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class GanLoss:
    name: str
    d_loss: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]  # (real_out, fake_out, real_target)
    g_loss: Callable[[torch.Tensor], torch.Tensor]  # (fake_out)
    readout: Callable[[torch.Tensor], torch.Tensor]  # D's output as charted: a probability or a critic value
    has_target: bool = True
    gradient_penalty: bool = False


def _bce_d(real: torch.Tensor, fake: torch.Tensor, real_target: float) -> torch.Tensor:
    """−[t log D(x) + (1−t) log(1−D(x))] − log(1 − D(G(z))): fake targets stay 0 (one-sided smoothing)."""
    real_loss = F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target))
    fake_loss = F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    return real_loss + fake_loss


def _minimax_g(fake: torch.Tensor) -> torch.Tensor:
    """G minimises log(1 − D(G(z))) = −softplus(logit): flat where D confidently rejects the fakes."""
    return -F.softplus(fake).mean()


def _nonsaturating_g(fake: torch.Tensor) -> torch.Tensor:
    """G maximises log D(G(z)), i.e. minimises softplus(−logit): steep exactly where minimax is flat."""
    return F.softplus(-fake).mean()


def _least_squares_d(real: torch.Tensor, fake: torch.Tensor, real_target: float) -> torch.Tensor:
    """LSGAN (Mao et al. 2017), a=0, b=c=1: ½(D(x) − t)² + ½D(G(z))²."""
    return 0.5 * ((real - real_target) ** 2).mean() + 0.5 * (fake**2).mean()


def _least_squares_g(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake - 1) ** 2).mean()


def _hinge_d(real: torch.Tensor, fake: torch.Tensor, real_target: float) -> torch.Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def _critic_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def _wasserstein_d(real: torch.Tensor, fake: torch.Tensor, real_target: float) -> torch.Tensor:
    """Critic loss E[D(G(z))] − E[D(x)]; the gradient penalty is added by the trainer."""
    return fake.mean() - real.mean()


LOSSES: dict[str, GanLoss] = {
    "minimax": GanLoss("minimax", _bce_d, _minimax_g, torch.sigmoid),
    "nonsaturating": GanLoss("nonsaturating", _bce_d, _nonsaturating_g, torch.sigmoid),
    "least_squares": GanLoss("least_squares", _least_squares_d, _least_squares_g, lambda o: o),
    "hinge": GanLoss("hinge", _hinge_d, _critic_g, lambda o: o, has_target=False),
    "wasserstein_gp": GanLoss(
        "wasserstein_gp", _wasserstein_d, _critic_g, lambda o: o, has_target=False, gradient_penalty=True
    ),
}


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """E[(‖∇D(x̂)‖ − 1)²] on random interpolates x̂ of real and fake (Gulrajani et al. 2017)."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator, device=real.device)
    mixed = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)  # (B, *sample_shape)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(gamma: float, real_out: torch.Tensor, real_in: torch.Tensor) -> torch.Tensor:
    """γ/2·E‖∇ₓD(x)‖² on real data (Mescheder et al. 2018, eq. 9): zero-centred, so near equilibrium it pulls D
    towards a flat verdict on the data instead of towards a slope of 1 as WGAN-GP's does.

    ``real_out`` is D's output on ``real_in`` (which must require grad), so the penalty reuses the forward pass D's
    loss made; the expectation is over D's inputs, one gradient per row of ``real_in``. The graph is kept: the
    penalty's own gradient with respect to D's parameters is what trains D."""
    (grad,) = torch.autograd.grad(real_out.sum(), real_in, create_graph=True)
    return 0.5 * gamma * grad.flatten(1).pow(2).sum(dim=1).mean()
