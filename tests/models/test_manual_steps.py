"""Single updates by hand (GAN Lab's manual mode): one D update moves only D, one G update only G, one full step is
the step the run would have taken; each is one step of the counter with its own metrics row and change-log entry."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint, trainer_from_checkpoint
from models.presets import preset_config
from models.trainer import StepInterruptedError, Trainer
from tests.models.tiny import equal, tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def params(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in net.named_parameters()}


def moved(before: dict[str, torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(before[name], p) for name, p in net.named_parameters())


TRICKS = {
    "plain": {},
    "unrolled-feature-matching-replay": {
        "unroll_steps": 2,
        "feature_matching": {"enabled": True, "keep_adversarial": True},
        "replay": {"size": 64},
        "instance_noise": {"std": 0.1},
    },
}


@pytest.mark.parametrize("tricks_", list(TRICKS.values()), ids=list(TRICKS))
@pytest.mark.parametrize("updates", ["alternating", "simultaneous"])
def test_one_d_update_moves_only_d_and_one_g_update_moves_only_g_each_one_step_with_one_row(
    tricks_: dict[str, Any], updates: str
):
    trainer = Trainer(tiny_config(train={"d_steps": 2, "updates": updates}, tricks=tricks_))
    trainer.step()
    g, d = params(trainer.generator), params(trainer.discriminator)
    row = trainer.manual("d")
    assert moved(d, trainer.discriminator) and not moved(g, trainer.generator)
    assert trainer.step_count == 2 and row["step"] == 2
    assert {"d_loss", "d_real", "d_fake", "grad_norm_d"} <= row.keys() and "g_loss" not in row
    g, d = params(trainer.generator), params(trainer.discriminator)
    row = trainer.manual("g")
    assert moved(g, trainer.generator) and not moved(d, trainer.discriminator)
    assert trainer.step_count == 3 and row["step"] == 3
    assert {"g_loss", "grad_norm_g"} <= row.keys() and "d_loss" not in row
    assert trainer.change_log == [
        {"step": 2, "changes": {"manual": "one D update"}},
        {"step": 3, "changes": {"manual": "one G update"}},
    ]


def test_one_full_step_by_hand_is_bit_for_bit_the_step_the_run_would_take():
    config = tiny_config(train={"d_steps": 2}, tricks={"unroll_steps": 1})
    by_hand, straight = Trainer(config), Trainer(config)
    for trainer in (by_hand, straight):
        trainer.step()
    row = by_hand.manual("both")
    want = straight.step()
    assert by_hand.step_count == straight.step_count == 2
    assert [row[k] for k in ("step", "d_loss", "g_loss")] == [want[k] for k in ("step", "d_loss", "g_loss")]
    equal(by_hand.generator.state_dict(), straight.generator.state_dict())
    equal(by_hand.discriminator.state_dict(), straight.discriminator.state_dict())
    assert by_hand.change_log == [{"step": 2, "changes": {"manual": "one step"}}]


def test_on_the_dirac_gan_a_d_update_moves_only_psi_and_a_g_update_only_theta():
    trainer = Trainer(preset_config("dirac-gan", {"model": {"theta0": 0.6, "psi0": -0.8}}))
    d_row = trainer.manual("d")
    assert d_row["theta"] == pytest.approx(0.6) and d_row["psi"] != pytest.approx(-0.8)
    g_row = trainer.manual("g")
    assert g_row["psi"] == pytest.approx(d_row["psi"]) and g_row["theta"] != pytest.approx(0.6)


def test_a_single_update_waits_for_a_step_cut_short_and_a_full_step_by_hand_finishes_it():
    trainer = Trainer(tiny_config(train={"d_steps": 3}))
    trainer.step()
    with pytest.raises(StepInterruptedError):
        trainer.step(lambda: True)  # gives way after its first D update
    assert trainer.mid_step
    with pytest.raises(ValueError, match="full step"):
        trainer.manual("g")
    assert trainer.step_count == 1
    assert trainer.manual("both")["step"] == 2 and not trainer.mid_step
    assert trainer.manual("g")["step"] == 3


def test_a_patch_pending_applies_at_a_single_update_and_is_logged_at_its_step():
    trainer = Trainer(tiny_config())
    trainer.step()
    trainer.patch({"train": {"lr_d": 0.01}})
    row = trainer.manual("d")
    assert row["config_changed"] == 1.0 and trainer.config.train.lr_d == 0.01
    assert trainer.opt_d.param_groups[0]["lr"] == 0.01
    assert trainer.change_log == [
        {"step": 2, "changes": {"train.lr_d": 0.01}},
        {"step": 2, "changes": {"manual": "one D update"}},
    ]


def test_a_stop_during_a_single_update_leaves_no_trace():
    trainer = Trainer(tiny_config())
    trainer.step()
    before = trainer.state_dict()
    with pytest.raises(StepInterruptedError), pytest.MonkeyPatch.context() as mp:
        mp.setattr("models.trainer.CHECK_SECONDS", 0.0)  # ask at every layer
        trainer.manual("d", lambda: True)
    equal(trainer.state_dict(), before)


def test_single_updates_survive_a_checkpoint_in_step_and_change_log(tmp_path):
    trainer = Trainer(tiny_config())
    trainer.step()
    trainer.manual("g")
    save_checkpoint(trainer, tmp_path / "run.pt")
    resumed = trainer_from_checkpoint(load_checkpoint(tmp_path / "run.pt"), tmp_path)
    assert resumed.step_count == 2 and resumed.change_log == [{"step": 2, "changes": {"manual": "one G update"}}]
    assert resumed.step()["step"] == 3


def test_an_unknown_update_is_refused():
    with pytest.raises(ValueError, match="update"):
        Trainer(tiny_config()).manual("x")  # type: ignore[arg-type]
