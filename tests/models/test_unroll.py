"""The unrolled GAN's generator gradient: through the K inner updates (second order), checked by finite differences."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.losses import LOSSES
from models.unroll import AdamMoments, unroll, unrolled_output

LOSS = LOSSES["nonsaturating"]


def tiny_nets() -> tuple[nn.Module, nn.Module]:
    """Smooth (tanh) float64 nets, small enough for a finite-difference check of every G parameter."""
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).double()
    d = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Flatten(0)).double()
    return g, d


class Labelless(nn.Module):
    """Adapts a plain net to the (x, y) call of ganplay's discriminators."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x)


def unrolled_g_loss(
    g: nn.Module,
    d: nn.Module,
    z: torch.Tensor,
    real: torch.Tensor,
    steps: int,
    second_order: bool,
    moments: AdamMoments | None = None,
) -> torch.Tensor:
    fake = g(z)
    params = dict(d.named_parameters())
    unrolled = unroll(
        d, params, lambda r, f: LOSS.d_loss(r, f, 1.0), (real, None), (fake, None), steps, 0.3, second_order, moments
    )
    return LOSS.g_loss(unrolled_output(d, unrolled, fake, None))


def g_gradient(g: nn.Module, loss: torch.Tensor) -> torch.Tensor:
    return torch.cat([gr.flatten() for gr in torch.autograd.grad(loss, list(g.parameters()))])


def finite_difference_gradient(
    g: nn.Module,
    d: nn.Module,
    z: torch.Tensor,
    real: torch.Tensor,
    steps: int,
    moments: AdamMoments | None,
    h: float = 1e-6,
) -> torch.Tensor:
    grads = []
    for p in g.parameters():
        flat = p.data.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + h
            up = unrolled_g_loss(g, d, z, real, steps, True, moments).item()
            flat[i] = old - h
            down = unrolled_g_loss(g, d, z, real, steps, True, moments).item()
            flat[i] = old
            grads.append((up - down) / (2 * h))
    return torch.tensor(grads, dtype=torch.float64)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return (
        torch.randn(16, 2, generator=gen, dtype=torch.float64),
        torch.randn(16, 2, generator=gen, dtype=torch.float64) + 1,
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_second_order_unrolled_gradient_matches_finite_differences(optimizer: str):
    g, d_net = tiny_nets()
    d = Labelless(d_net)
    z, real = batch()
    moments = None
    if optimizer == "adam":  # continue from non-zero moments, as when D has trained with Adam for a while
        gen = torch.Generator().manual_seed(2)
        named = dict(d.named_parameters())
        moments = AdamMoments(
            {n: 0.01 * torch.randn(p.shape, generator=gen, dtype=p.dtype) for n, p in named.items()},
            {n: 1e-3 * torch.rand(p.shape, generator=gen, dtype=p.dtype) for n, p in named.items()},
            step=10,
            betas=(0.5, 0.999),
        )
    analytic = g_gradient(g, unrolled_g_loss(g, d, z, real, 3, True, moments))
    numeric = finite_difference_gradient(g, d, z, real, 3, moments)
    assert torch.allclose(analytic, numeric, rtol=1e-4, atol=1e-7)


def test_second_order_gradient_differs_from_first_order():
    g, d_net = tiny_nets()
    d = Labelless(d_net)
    z, real = batch()
    second = g_gradient(g, unrolled_g_loss(g, d, z, real, 3, True))
    first = g_gradient(g, unrolled_g_loss(g, d, z, real, 3, False))
    assert (second - first).norm() > 0.01 * second.norm()


def test_first_order_gradient_treats_unrolled_d_as_constant():
    g, d_net = tiny_nets()
    d = Labelless(d_net)
    z, real = batch()
    fake = g(z)
    unrolled = unroll(
        d,
        dict(d.named_parameters()),
        lambda r, f: LOSS.d_loss(r, f, 1.0),
        (real, None),
        (fake, None),
        3,
        0.3,
        second_order=False,
    )
    frozen = {n: p.detach() for n, p in unrolled.items()}
    expected = g_gradient(g, LOSS.g_loss(unrolled_output(d, frozen, g(z), None)))
    assert torch.allclose(g_gradient(g, unrolled_g_loss(g, d, z, real, 3, False)), expected)


def test_zero_unroll_steps_is_the_plain_gan():
    g, d_net = tiny_nets()
    d = Labelless(d_net)
    z, real = batch()
    plain = g_gradient(g, LOSS.g_loss(d(g(z))))
    assert torch.allclose(g_gradient(g, unrolled_g_loss(g, d, z, real, 0, True)), plain)


def test_unrolling_leaves_the_discriminator_itself_untouched():
    g, d_net = tiny_nets()
    d = Labelless(d_net)
    z, real = batch()
    before = [p.clone() for p in d.parameters()]
    unrolled_g_loss(g, d, z, real, 5, True).backward()
    assert all(torch.equal(a, b) for a, b in zip(before, d.parameters()))


def test_unrolled_d_moves_towards_separating_the_minibatch():
    g, d_net = tiny_nets()
    d = Labelless(d_net)
    z, real = batch()
    fake = g(z).detach()

    def loss_of(params):
        return LOSS.d_loss(
            unrolled_output(d, params, real, None),
            unrolled_output(d, params, fake, None),
            1.0,
        )

    start = dict(d.named_parameters())
    after = unroll(d, start, lambda r, f: LOSS.d_loss(r, f, 1.0), (real, None), (fake, None), 5, 0.3, True)
    assert loss_of(after) < loss_of(start)
