"""R1 (``tricks.r1_gamma``) against independent computations, on every kind of D; simultaneous updates
(``train.updates``) against G stepped by hand against the old D, and through a step cut short and a checkpoint."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

import models.trainer as trainer_module
from models import tricks
from models.config import parse_config
from models.losses import LOSSES, r1_penalty
from models.presets import preset_config
from models.trainer import Trainer, discriminator_loss
from tests.models.tiny import cut_short, equal, small_digits, tiny_config, tiny_digits_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def penalty_of(trainer: Trainer, real: torch.Tensor, gamma: float, labels: torch.Tensor | None = None) -> torch.Tensor:
    """What R1 adds to D's loss in the trainer's own ``discriminator_loss``: the loss with γ minus the loss without
    (the same inputs, so everything else cancels)."""
    cfg = trainer.config
    fake = torch.zeros_like(real)
    real_in = (tricks.pack(real, cfg.tricks.pack), labels)
    fake_in = (tricks.pack(fake, cfg.tricks.pack), labels)
    loss = LOSSES[cfg.train.loss]
    with_r1 = cfg.model_copy(update={"tricks": cfg.tricks.model_copy(update={"r1_gamma": gamma})})
    without = cfg.model_copy(update={"tricks": cfg.tricks.model_copy(update={"r1_gamma": 0.0})})
    rng = torch.Generator().manual_seed(0)
    a = discriminator_loss(trainer.discriminator, loss, with_r1, real, fake, real_in, fake_in, rng)[0]
    b = discriminator_loss(trainer.discriminator, loss, without, real, fake, real_in, fake_in, rng)[0]
    return a - b


def input_gradients_by_finite_differences(d: Any, x: torch.Tensor, pack: int = 1, h: float = 1e-6) -> torch.Tensor:
    """∂D/∂x of each row of ``x`` by central differences in float64, no autograd involved. D's rows are independent
    (no batch norm), so one coordinate of every pack's k-th member moves at once; D's output i is pack i."""
    grads = torch.zeros_like(x)
    flat, flat_grads = x.reshape(x.shape[0], -1), grads.reshape(x.shape[0], -1)
    for member in range(pack):
        for j in range(flat.shape[1]):
            step = torch.zeros_like(flat)
            step[member::pack, j] = h
            up, down = d((flat + step).reshape(x.shape)), d((flat - step).reshape(x.shape))
            flat_grads[member::pack, j] = (up - down) / (2 * h)
    return grads


def test_r1_on_the_linear_dirac_d_is_half_gamma_psi_squared_and_its_gradient_is_gamma_psi():
    trainer = Trainer(preset_config("dirac-gan", {"model": {"psi0": 0.7}}))
    real = torch.zeros(16, 1)
    penalty = penalty_of(trainer, real, gamma=0.3)
    assert penalty.item() == pytest.approx(0.5 * 0.3 * 0.7**2, rel=1e-6)
    (grad,) = torch.autograd.grad(penalty, trainer.discriminator.head.psi)
    assert grad.item() == pytest.approx(0.3 * 0.7, rel=1e-6)


def test_r1_and_its_gradient_match_finite_differences_on_an_mlp_d():
    """The penalty's value against ∇ₓD from finite differences in x, and its gradient with respect to D's weights
    (the double backward that trains D) against finite differences of the penalty in those weights."""
    trainer = Trainer(tiny_config(model={"activation": "tanh"}))  # smooth: no ReLU kink under a finite difference
    d = trainer.discriminator.double()
    real = torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        grads = input_gradients_by_finite_differences(d, real)
    expected = 0.5 * 2.0 * grads.pow(2).sum(dim=1).mean()

    def penalty() -> torch.Tensor:
        x = real.clone().requires_grad_(True)
        return r1_penalty(2.0, d(x), x)

    assert penalty().item() == pytest.approx(expected.item(), rel=1e-6)
    weight = d.body[0].weight  # (hidden, 2)
    (analytic,) = torch.autograd.grad(penalty(), weight)

    def nudged(i: int, j: int, by: float) -> float:
        with torch.no_grad():
            weight[i, j] += by
        try:
            return penalty().item()  # ∇ₓ needs autograd: outside no_grad
        finally:
            with torch.no_grad():
                weight[i, j] -= by

    for i, j in [(0, 0), (3, 1), (7, 0), (15, 1)]:
        up, down = nudged(i, j, 1e-6), nudged(i, j, -1e-6)
        assert analytic[i, j].item() == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-9), (i, j)


def test_r1_on_a_packed_d_sums_the_squared_gradients_of_a_packs_members():
    """For a packed D, x is the pack: ‖∇‖² over the pack is the sum over its members, averaged over packs."""
    trainer = Trainer(tiny_config(model={"activation": "tanh"}, tricks={"pack": 2}))
    d = trainer.discriminator.double()
    real = torch.randn(8, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        grads = input_gradients_by_finite_differences(lambda x: d(tricks.pack(x, 2)), real, pack=2)  # (8, 2)
    per_pack = grads.pow(2).sum(dim=1).reshape(4, 2).sum(dim=1)  # (4,)
    assert penalty_of(trainer, real, gamma=1.0).item() == pytest.approx(0.5 * per_pack.mean().item(), rel=1e-5)


def test_r1_on_a_conditional_d_differentiates_the_sample_with_its_label_fixed(tmp_path: Path):
    trainer = Trainer(tiny_digits_config(model={"conditional": True, "batch_norm": False}), tmp_path, small_digits())
    d = trainer.discriminator.double()
    real = trainer.data.x[:4].double()
    labels = trainer.data.y[:4] if trainer.data.y is not None else None
    with torch.no_grad():
        grads = input_gradients_by_finite_differences(lambda x: d(x, labels), real)
    expected = 0.5 * grads.flatten(1).pow(2).sum(dim=1).mean()
    assert penalty_of(trainer, real, gamma=1.0, labels=labels).item() == pytest.approx(expected.item(), rel=1e-4)


@pytest.mark.parametrize(
    "case",
    ["ring-mlp", "ring-packed", "digits-dcgan", "digits-conditional", "ring-wasserstein-gp"],
)
def test_r1_trains_every_kind_of_d_and_changes_its_loss(case: str, tmp_path: Path):
    def build(gamma: float) -> Trainer:
        r1 = {"tricks": {"r1_gamma": gamma}}
        if case.startswith("ring"):
            extra: dict[str, Any] = {"tricks": {"r1_gamma": gamma, "pack": 2 if case == "ring-packed" else 1}}
            if case == "ring-wasserstein-gp":
                extra["train"] = {"loss": "wasserstein_gp"}
            return Trainer(tiny_config(**extra))
        model = {"conditional": case == "digits-conditional"}
        return Trainer(tiny_digits_config(model=model, **r1), tmp_path, small_digits())

    plain, penalised = build(0.0), build(10.0)
    a, b = plain.step(), penalised.step()
    assert b["r1_gamma"] == 10.0 and a["r1_gamma"] == 0.0
    assert b["d_loss"] > a["d_loss"]  # the same batch and weights, plus a positive penalty
    assert b["grad_norm_d"] != a["grad_norm_d"]
    penalised.step()  # and trains on


# ----------------------------------------------------------------------------------------- simultaneous updates


def test_one_simultaneous_dirac_step_moves_both_players_from_the_same_point():
    """From (θ, ψ) = (0.6, −0.8) with step 0.3, by the closed form (see tests/models/test_dirac.py): simultaneous
    takes both gradients at the start; alternating takes G's after D's step."""

    def v(theta: float, psi: float) -> tuple[float, float]:
        s = torch.sigmoid(torch.tensor(-psi * theta, dtype=torch.float64)).item()
        return -psi * s, theta * s

    def one_step(updates: str) -> tuple[float, float]:
        config = preset_config(
            "dirac-gan",
            {"model": {"theta0": 0.6, "psi0": -0.8}, "train": {"lr_g": 0.3, "lr_d": 0.3, "updates": updates}},
        )
        metrics = Trainer(config).step()
        return metrics["theta"], metrics["psi"]

    g0, d0 = v(0.6, -0.8)
    assert one_step("simultaneous") == pytest.approx((0.6 + 0.3 * g0, -0.8 + 0.3 * d0), abs=1e-6)
    psi1 = -0.8 + 0.3 * d0
    assert one_step("alternating") == pytest.approx((0.6 + 0.3 * v(0.6, psi1)[0], psi1), abs=1e-6)


def simultaneous_by_hand(config: Any) -> Trainer:
    """An alternating trainer whose G update is made with D (and D's optimiser state) put back as they were when
    the step began, then restored: simultaneous updates by another route than ``train.updates``."""
    trainer = Trainer(config.model_copy(update={"train": config.train.model_copy(update={"updates": "alternating"})}))
    step, g_update = trainer.step, trainer._generator_update
    before: dict[str, Any] = {}

    def step_remembering(*args: Any, **kwargs: Any) -> dict[str, float]:
        if trainer._progress is None:
            before["d"] = copy.deepcopy(trainer.discriminator.state_dict())
            before["opt"] = copy.deepcopy(trainer.opt_d.state_dict())
        return step(*args, **kwargs)

    def g_update_against_old_d(*args: Any) -> dict[str, Any]:
        now_d = copy.deepcopy(trainer.discriminator.state_dict())
        now_opt = copy.deepcopy(trainer.opt_d.state_dict())
        trainer.discriminator.load_state_dict(before["d"])
        trainer.opt_d.load_state_dict(before["opt"])
        try:
            return g_update(*args)
        finally:
            trainer.discriminator.load_state_dict(now_d)
            trainer.opt_d.load_state_dict(now_opt)

    trainer.step = step_remembering  # type: ignore[method-assign]
    trainer._generator_update = g_update_against_old_d  # type: ignore[method-assign]
    return trainer


@pytest.mark.parametrize(
    "tricks_",
    [{}, {"unroll_steps": 2, "feature_matching": {"enabled": True, "keep_adversarial": True}}],
    ids=["plain", "unrolled-feature-matching"],
)
def test_simultaneous_updates_take_gs_gradient_against_d_as_it_was_before_the_steps_d_updates(tricks_: dict):
    config = tiny_config(train={"updates": "simultaneous", "d_steps": 2}, tricks=tricks_)
    ours, by_hand = Trainer(config), simultaneous_by_hand(config)
    alternating = Trainer(tiny_config(train={"updates": "alternating", "d_steps": 2}, tricks=tricks_))
    first_alternating = alternating.step()
    for _ in range(4):
        a, b = ours.step(), by_hand.step()
        assert (a["g_loss"], a["d_loss"], a["grad_norm_g"]) == (b["g_loss"], b["d_loss"], b["grad_norm_g"])
    for p, q in zip(ours.generator.parameters(), by_hand.generator.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    ours_first = Trainer(config).step()
    assert ours_first["d_loss"] == first_alternating["d_loss"]  # the same D updates and random draws...
    assert ours_first["g_loss"] != first_alternating["g_loss"]  # ...and G judged by another D


def test_a_simultaneous_r1_step_cut_short_anywhere_carries_on_bit_identically_through_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(trainer_module, "CHECK_SECONDS", 0.0)  # ask at every layer
    monkeypatch.setattr(trainer_module, "INTERRUPTIBLE_UPDATES_SECONDS", -1.0)  # every step counts as slow
    config = parse_config(
        {
            "device": "cpu",
            "dataset": {"kind": "ring", "n": 1000},
            "model": {"hidden": 16},
            "train": {"batch_size": 32, "d_steps": 3, "updates": "simultaneous"},  # Adam: the look-ahead's moments
            "tricks": {"r1_gamma": 1.0, "unroll_steps": 2, "instance_noise": {"std": 0.1}},
            "stream": {"eval_every": 2, "eval_samples": 100},
        }
    )
    run = cut_short(config, tmp_path, steps=6, seed=5, reload_every=2)
    assert run.interrupted >= 4 and run.reloaded >= 2, (run.interrupted, run.reloaded)
    equal(run.straight.state_dict(), run.cut.state_dict())
    keys = ("d_loss", "g_loss", "grad_norm_d", "grad_norm_g")
    assert [[m[k] for k in keys] for m in run.expected] == [[m[k] for k in keys] for m in run.got]


def test_updates_can_be_switched_live_and_the_switch_is_logged():
    trainer = Trainer(tiny_config())
    trainer.step()
    trainer.patch({"train": {"updates": "simultaneous"}, "tricks": {"r1_gamma": 0.5}})
    metrics = trainer.step()
    assert trainer.config.train.updates == "simultaneous" and metrics["r1_gamma"] == 0.5
    assert trainer.change_log == [{"step": 2, "changes": {"train.updates": "simultaneous", "tricks.r1_gamma": 0.5}}]
