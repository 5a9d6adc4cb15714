"""Each loss against an independent computation from its paper's formula, written with probabilities."""

from __future__ import annotations

import torch

from models.losses import LOSSES, gradient_penalty

REAL = torch.tensor([2.0, -0.5, 0.3, 4.0], dtype=torch.float64)
FAKE = torch.tensor([-3.0, 0.1, 1.5, -0.2], dtype=torch.float64)


def sig(x: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-x))


def test_minimax_and_nonsaturating_d_loss_is_binary_cross_entropy_with_real_target():
    for name in ("minimax", "nonsaturating"):
        for t in (1.0, 0.9):
            expected = (
                -(t * torch.log(sig(REAL)) + (1 - t) * torch.log(1 - sig(REAL))).mean()
                - torch.log(1 - sig(FAKE)).mean()
            )
            assert torch.allclose(LOSSES[name].d_loss(REAL, FAKE, t), expected)


def test_minimax_g_loss_is_log_one_minus_d_of_fake():
    assert torch.allclose(LOSSES["minimax"].g_loss(FAKE), torch.log(1 - sig(FAKE)).mean())


def test_nonsaturating_g_loss_is_minus_log_d_of_fake():
    assert torch.allclose(LOSSES["nonsaturating"].g_loss(FAKE), -torch.log(sig(FAKE)).mean())


def test_minimax_gradient_vanishes_where_d_rejects_fakes_but_nonsaturating_does_not():
    confident_reject = torch.tensor([-6.0], requires_grad=True)
    (g_minimax,) = torch.autograd.grad(LOSSES["minimax"].g_loss(confident_reject), confident_reject)
    (g_ns,) = torch.autograd.grad(LOSSES["nonsaturating"].g_loss(confident_reject), confident_reject)
    assert abs(g_minimax.item()) < 0.003  # σ(−6) ≈ 0.0025
    assert abs(g_ns.item()) > 0.99  # 1 − σ(−6)


def test_least_squares_matches_mao_et_al():
    t = 0.9
    expected_d = 0.5 * ((REAL - t) ** 2).mean() + 0.5 * (FAKE**2).mean()
    assert torch.allclose(LOSSES["least_squares"].d_loss(REAL, FAKE, t), expected_d)
    assert torch.allclose(LOSSES["least_squares"].g_loss(FAKE), 0.5 * ((FAKE - 1) ** 2).mean())


def test_hinge_loss():
    expected = torch.clamp(1 - REAL, min=0).mean() + torch.clamp(1 + FAKE, min=0).mean()
    assert torch.allclose(LOSSES["hinge"].d_loss(REAL, FAKE, 1.0), expected)
    assert torch.allclose(LOSSES["hinge"].g_loss(FAKE), -FAKE.mean())


def test_wasserstein_critic_loss():
    assert torch.allclose(LOSSES["wasserstein_gp"].d_loss(REAL, FAKE, 1.0), FAKE.mean() - REAL.mean())
    assert LOSSES["wasserstein_gp"].gradient_penalty


def test_gradient_penalty_of_a_linear_critic_is_squared_norm_minus_one():
    w = torch.tensor([3.0, 4.0])  # ‖∇(w·x)‖ = 5 everywhere → penalty (5 − 1)² = 16

    def critic(x: torch.Tensor) -> torch.Tensor:
        return x @ w

    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    penalty = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert torch.allclose(penalty, torch.tensor(16.0))


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_differentiable():
    w = torch.tensor([0.6, 0.8], requires_grad=True)
    penalty = gradient_penalty(lambda x: x @ w, torch.randn(8, 2), torch.randn(8, 2), torch.Generator().manual_seed(0))
    assert penalty.item() < 1e-10
    (grad,) = torch.autograd.grad(
        gradient_penalty(lambda x: x @ (2 * w), torch.randn(4, 2), torch.randn(4, 2), torch.Generator().manual_seed(1)),
        w,
    )
    assert grad.norm() > 0  # the penalty trains the critic's weights


def test_readout_is_probability_for_cross_entropy_losses_and_raw_for_critics():
    assert torch.allclose(LOSSES["nonsaturating"].readout(REAL), sig(REAL))
    assert torch.equal(LOSSES["hinge"].readout(REAL), REAL)
