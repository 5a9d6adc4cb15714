"""mode_drift: how much of the generator's mass changed mode between two quality measurements, and the trainer
state that lets a resumed run report the same value as one never interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint, trainer_from_checkpoint
from models.metrics import CHARTS, QUALITY_METRICS
from models.quality2d import mode_distribution, mode_drift
from models.trainer import Trainer
from tests.models.tiny import tiny_config

CENTERS = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
STD = 0.05  # 3σ = 0.15 around each centre


def at(*places: tuple[float, float]) -> torch.Tensor:
    return torch.tensor(places)


def test_mode_distribution_is_the_share_on_each_mode_then_the_share_off_every_mode():
    samples = at((0.0, 0.1), (0.05, 0.0), (1.0, 0.14), (0.5, 0.5))  # two on mode 0, one on mode 1, one between
    assert mode_distribution(samples, CENTERS, STD).tolist() == [0.5, 0.25, 0.0, 0.25]


def test_mode_drift_is_half_the_sum_of_absolute_differences_computed_by_hand():
    before = mode_distribution(at((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0)), CENTERS, STD)  # [1, 0, 0, 0]
    after = mode_distribution(at((0.0, 0.0), (0.0, 0.1), (1.0, 0.0), (3.0, 3.0)), CENTERS, STD)  # [.5, .25, 0, .25]
    # ½ (|0.5 − 1| + |0.25 − 0| + |0 − 0| + |0.25 − 0|) = ½ · 1.0
    assert mode_drift(before, after) == pytest.approx(0.5)
    assert mode_drift(after, before) == pytest.approx(0.5)


def test_a_generator_that_hops_to_another_mode_scores_one_and_one_that_stays_scores_zero():
    on_zero = mode_distribution(at((0.0, 0.0), (0.05, 0.0)), CENTERS, STD)
    on_two = mode_distribution(at((0.0, 1.0), (0.0, 0.95)), CENTERS, STD)
    moved_within_the_mode = mode_distribution(at((0.1, 0.0), (-0.05, 0.05)), CENTERS, STD)
    assert mode_drift(on_zero, on_two) == 1.0
    assert mode_drift(on_zero, moved_within_the_mode) == 0.0


def test_leaving_every_mode_counts_as_drift():
    on_mode = mode_distribution(at((1.0, 0.0), (1.0, 0.0)), CENTERS, STD)
    half_gone = mode_distribution(at((1.0, 0.0), (0.5, 0.5)), CENTERS, STD)
    assert mode_drift(on_mode, half_gone) == 0.5


def test_distributions_over_different_modes_are_refused():
    with pytest.raises(ValueError, match="different modes"):
        mode_drift(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0, 0.0]))


# ------------------------------------------------------------------------------- in the trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def ring(**sections: Any) -> Trainer:
    """A tiny ring run measured every 5 steps, learning fast enough that its samples change mode."""
    return Trainer(tiny_config(**({"seed": 5, "stream": {"eval_every": 5}, "train": {"lr_g": 5e-3}} | sections)))


def drifts(trainer: Trainer, steps: int) -> list[float | None]:
    """mode_drift of each quality measurement over the next ``steps`` steps (None where a measurement has none)."""
    out = []
    for _ in range(steps):
        metrics = trainer.step()
        if "modes_covered" in metrics:
            out.append(metrics.get("mode_drift"))
    return out


def test_first_quality_measurement_has_no_mode_drift_and_every_later_one_has():
    measured = drifts(ring(), 20)  # steps 1, 5, 10, 15, 20
    assert measured[0] is None
    assert len(measured) == 5 and all(isinstance(d, float) and 0 <= d <= 1 for d in measured[1:])
    assert any(d for d in measured[1:])  # the samples did change mode: the value is measured, not a constant 0


def test_resumed_run_reports_the_same_next_mode_drift_as_the_uninterrupted_run(tmp_path: Path):
    straight = ring()
    drifts(straight, 7)  # measured at steps 1 and 5; the checkpoint falls between measurements
    path = save_checkpoint(straight, tmp_path / "c.pt")
    expected = drifts(straight, 8)  # steps 10 and 15

    resumed = trainer_from_checkpoint(load_checkpoint(path))
    got = drifts(resumed, 8)
    assert got[0] is not None  # step 10 compares with step 5, which only the checkpoint remembers
    assert got == expected


def test_fork_starts_mode_drift_afresh(tmp_path: Path):
    parent = ring()
    drifts(parent, 7)
    fork = trainer_from_checkpoint(load_checkpoint(save_checkpoint(parent, tmp_path / "c.pt")), overrides={"seed": 9})
    assert drifts(fork, 8)[0] is None  # another eval latent: comparing with the parent's would measure the seed


def test_an_extra_evaluation_reports_no_mode_drift_and_leaves_the_next_one_unchanged():
    plain, looked_at = ring(), ring()
    drifts(plain, 7)
    drifts(looked_at, 7)
    extra = looked_at.evaluate()  # e.g. a final measurement, or the CLI's
    assert "modes_covered" in extra and "mode_drift" not in extra  # not one of the series mode_drift compares
    assert drifts(looked_at, 8) == drifts(plain, 8)


def test_every_metric_measured_only_at_quality_steps_is_registered_as_quality_and_mode_drift_is_charted():
    trainer = ring()
    history = [trainer.step() for _ in range(5)]  # measured at steps 1 and 5
    measured_only = set(history[4]) - set(history[3])
    assert "mode_drift" in measured_only
    assert measured_only <= QUALITY_METRICS  # what the CLI carries forward and the page draws as points
    assert "mode_drift" in {s.name for chart in CHARTS if chart.points for s in chart.series}
