"""The trainer as a whole: metrics, live patches, determinism, bit-identical resume, divergence."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint, trainer_from_checkpoint
from models.config import ConfigError, RunConfig
from models.metrics import TIMING_METRICS
from models.trainer import DivergenceError, Trainer, resolve_device
from tests.models.tiny import small_digits, tiny_config, tiny_digits_config

TIMING = TIMING_METRICS  # wall-clock figures are the only metrics allowed to differ between identical runs


def config(**sections: Any) -> RunConfig:
    """The tiny config with quality measured every 5 steps."""
    return tiny_config(**({"seed": 11, "stream": {"eval_every": 5}} | sections))


EVERY_TRICK = {
    "label_smoothing": 0.1,
    "instance_noise": {"std": 0.2, "anneal_steps": 30},
    "unroll_steps": 2,
    "replay": {"size": 100, "fraction": 0.3},
    "feature_matching": {"enabled": True, "keep_adversarial": True},
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def deterministic(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k not in TIMING}


def test_step_reports_losses_d_outputs_gradient_norms_speed_and_quality():
    metrics = Trainer(config()).step()
    for name in (
        "d_loss",
        "g_loss",
        "d_real",
        "d_fake",
        "grad_norm_g",
        "grad_norm_d",
        "it_per_s",
        "noise_std",
        "modes_covered",
        "hq_fraction",
        "reverse_kl",
    ):
        assert name in metrics, name
    assert 0 <= metrics["d_real"] <= 1 and 0 <= metrics["d_fake"] <= 1
    assert metrics["step"] == 1


def test_quality_is_measured_every_eval_every_steps():
    trainer = Trainer(config())
    has_quality = ["modes_covered" in trainer.step() for _ in range(10)]
    assert has_quality == [True, False, False, False, True, False, False, False, False, True]


def test_same_seed_gives_identical_runs_on_cpu():
    a, b = Trainer(config(tricks=EVERY_TRICK)), Trainer(config(tricks=EVERY_TRICK))
    for _ in range(6):
        assert deterministic(a.step()) == deterministic(b.step())


def test_different_seeds_give_different_runs():
    assert Trainer(config(seed=1)).step()["d_loss"] != Trainer(config(seed=2)).step()["d_loss"]


@pytest.mark.parametrize("tricks", [{}, EVERY_TRICK], ids=["plain", "every-trick"])
def test_resume_from_checkpoint_continues_bit_identically(tmp_path: Path, tricks: dict[str, Any]):
    straight = Trainer(config(tricks=tricks))
    for _ in range(7):
        straight.step()
    path = save_checkpoint(straight, tmp_path / "ckpt.pt")
    expected = [deterministic(straight.step()) for _ in range(8)]

    resumed = trainer_from_checkpoint(load_checkpoint(path))
    assert resumed.step_count == 7
    assert [deterministic(resumed.step()) for _ in range(8)] == expected
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_keeps_a_live_patch_and_its_change_log(tmp_path: Path):
    trainer = Trainer(config())
    trainer.step()
    trainer.patch({"tricks": {"unroll_steps": 1}})
    trainer.step()
    resumed = trainer_from_checkpoint(load_checkpoint(save_checkpoint(trainer, tmp_path / "c.pt")))
    assert resumed.config.tricks.unroll_steps == 1
    assert resumed.change_log == [{"step": 2, "changes": {"tricks.unroll_steps": 1}}]


def test_patch_takes_effect_at_the_next_step_and_is_logged_with_it():
    trainer = Trainer(config())
    for _ in range(3):
        trainer.step()
    trainer.patch({"tricks.unroll_steps": 3, "train": {"lr_d": 5e-4}})
    assert trainer.config.tricks.unroll_steps == 0  # not before the step boundary
    metrics = trainer.step()
    assert metrics["unroll_steps"] == 3 and metrics["config_changed"] == 1
    assert trainer.opt_d.param_groups[0]["lr"] == 5e-4
    assert trainer.change_log == [{"step": 4, "changes": {"tricks.unroll_steps": 3, "train.lr_d": 5e-4}}]


def test_patch_of_a_non_live_field_is_refused_and_changes_nothing():
    trainer = Trainer(config())
    with pytest.raises(ConfigError) as error:
        trainer.patch({"model": {"hidden": 32}})
    assert error.value.errors[0]["field"] == "model.hidden"
    trainer.step()
    assert trainer.change_log == [] and trainer.config.model.hidden == 16


def test_patch_switching_optimizer_rebuilds_it():
    trainer = Trainer(config())
    trainer.step()
    trainer.patch({"train": {"optimizer": "sgd"}})
    trainer.step()
    assert isinstance(trainer.opt_g, torch.optim.SGD) and isinstance(trainer.opt_d, torch.optim.SGD)


def test_nan_loss_raises_a_divergence_error():
    trainer = Trainer(config())
    with torch.no_grad():
        next(trainer.generator.parameters()).fill_(float("nan"))
    with pytest.raises(DivergenceError) as error:
        trainer.step()
    assert error.value.step == 1 and error.value.metric in {"d_loss", "g_loss"}


def test_trainer_never_changes_torchs_thread_count():
    before = torch.get_num_threads()
    trainer = Trainer(config(tricks=EVERY_TRICK))
    trainer.step()
    assert torch.get_num_threads() == before


def test_trainer_leaves_global_random_state_alone():
    state = torch.get_rng_state()
    Trainer(config(tricks=EVERY_TRICK)).step()
    assert torch.equal(torch.get_rng_state(), state)


def test_auto_device_picks_cuda_only_when_present():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_sampling_with_a_seed_is_reproducible_and_leaves_training_unchanged():
    a, b = Trainer(config()), Trainer(config())
    first = a.sample(50, seed=4)
    assert torch.equal(first, a.sample(50, seed=4))
    assert not torch.equal(first, a.sample(50, seed=5))
    assert deterministic(a.step()) == deterministic(b.step())  # previews drew nothing from the run's stream


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "least_squares", "hinge", "wasserstein_gp"])
def test_every_loss_trains_both_networks(loss: str):
    trainer = Trainer(config(train={"loss": loss}))
    g_before = [p.detach().clone() for p in trainer.generator.parameters()]
    d_before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    for _ in range(3):
        metrics = trainer.step()
    assert any(not torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, trainer.discriminator.parameters()))
    assert metrics["grad_norm_g"] > 0 and metrics["grad_norm_d"] > 0
    if loss in ("minimax", "nonsaturating"):  # D's output reads as a probability
        assert 0 < metrics["d_real"] < 1 and 0 < metrics["d_fake"] < 1
    else:  # a critic value or a least-squares score: any real number
        assert math.isfinite(metrics["d_real"]) and math.isfinite(metrics["d_fake"])


def test_conditional_dcgan_on_digits_is_measured_by_label_and_samples_the_label_it_is_given(tmp_path: Path):
    trainer = Trainer(tiny_digits_config(model={"conditional": True}), tmp_path, dataset=small_digits())
    metrics = trainer.step()
    assert 0 <= metrics["label_accuracy"] <= 1  # the measurement conditioned G on labels and checked them
    threes = trainer.sample(4, seed=0, labels=torch.tensor([3, 3, 3, 3]))
    fives = trainer.sample(4, seed=0, labels=torch.tensor([5, 5, 5, 5]))
    assert threes.shape == (4, 1, 8, 8) and not torch.equal(threes, fives)  # same latent: only the label differs
    assert torch.equal(trainer.sample(4, seed=0), trainer.sample(4, seed=0, labels=torch.tensor([0, 1, 2, 3])))


def test_betas_map_onto_each_optimizer_and_follow_live_patches():
    trainer = Trainer(config(train={"optimizer": "rmsprop", "betas": [0.5, 0.9]}))
    trainer.step()
    assert trainer.opt_d.param_groups[0]["alpha"] == 0.9  # RMSprop's smoothing constant is β2
    trainer.patch({"train": {"betas": [0.5, 0.95], "lr_g": 1e-2}})
    trainer.step()
    assert trainer.opt_d.param_groups[0]["alpha"] == 0.95 and trainer.opt_g.param_groups[0]["lr"] == 1e-2
