"""The quality judge of an image run, prepared beside training or before the first measurement.

On a fresh data dir the judge has to be trained first. In background mode the first steps must not wait for it,
its metrics must join as soon as it is ready, its state must be observable (with a time estimate), and its failure
must not stop the run; in the default (blocking) mode the first measurement is complete, as before.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from models import image_metrics
from models.image_metrics import load_judge
from models.metrics import TIMING_METRICS
from models.trainer import Trainer
from tests.models.tiny import small_digits, tiny_config, tiny_digits_config

JUDGE_METRICS = {"fd", "class_coverage", "class_kl"}
NOT_TRAINING = JUDGE_METRICS | TIMING_METRICS  # quality and wall-clock figures: not part of the training itself


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def training(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k not in NOT_TRAINING}


def wait_while_preparing(trainer: Trainer, timeout: float = 120.0) -> dict[str, Any]:
    """The judge's status once it is no longer being prepared (ready or failed)."""
    deadline = time.monotonic() + timeout
    while (status := trainer.judge_status())["state"] == "preparing":
        assert time.monotonic() < deadline, f"judge still preparing after {timeout} s: {status}"
        time.sleep(0.02)
    return status


def test_background_judge_lets_the_first_step_return_without_it_and_its_metrics_join_once_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Judge training is held until the first step has returned, so the step cannot have waited for it."""
    gate = threading.Event()
    seen: list[dict[str, Any]] = []
    real_training = image_metrics._train_judge

    def gated_training(x: Any, y: Any, num_classes: int, device: Any, progress: Any = None) -> Any:
        gate.wait(timeout=30)  # a trainer that waited for its judge in step() would only get past here by timeout

        def observed(fraction: float) -> None:
            if progress is not None:
                progress(fraction)
            seen.append(trainer.judge_status())

        return real_training(x, y, num_classes, device, observed)

    monkeypatch.setattr(image_metrics, "_train_judge", gated_training)
    data = small_digits()
    trainer = Trainer(tiny_digits_config(), tmp_path, dataset=data, judge_in_background=True)
    first = trainer.step()
    status = trainer.judge_status()
    assert status["state"] == "preparing" and status["dataset"] == "digits" and status["eta_s"] is None
    assert "d_loss" in first and not JUDGE_METRICS & first.keys()

    gate.set()
    assert wait_while_preparing(trainer)["state"] == "ready"
    second = trainer.step()
    assert second.keys() >= JUDGE_METRICS  # at step 2, long before eval_every (1000): because the judge arrived
    assert 0 <= second["class_coverage"] <= 10 and second["fd"] >= 0
    third = trainer.step()
    assert not JUDGE_METRICS & third.keys()  # then back to the eval_every rhythm

    assert seen and all(s["state"] == "preparing" for s in seen)
    assert all(s["eta_s"] is not None and s["eta_s"] >= 0 for s in seen)  # extrapolated from the progress
    assert seen[-1]["eta_s"] == 0  # the last report is 1.0 done

    # Preparing the judge beside training, and measuring when it arrived, changed nothing in the training itself.
    blocking = Trainer(tiny_digits_config(), tmp_path, dataset=data)
    assert [training(blocking.step()) for _ in range(3)] == [training(m) for m in (first, second, third)]


def test_background_mode_loads_a_cached_judge_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = small_digits()
    assert data.y is not None
    load_judge("digits", data.x, data.y, 10, tmp_path)

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached judge must not be trained again")

    monkeypatch.setattr(image_metrics, "_train_judge", no_training)
    trainer = Trainer(tiny_digits_config(), tmp_path, dataset=data, judge_in_background=True)
    assert trainer.judge_status()["state"] == "ready"
    assert trainer.step().keys() >= JUDGE_METRICS


def test_a_judge_that_fails_in_the_background_leaves_the_run_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(image_metrics, "_train_judge", full_disk)
    trainer = Trainer(tiny_digits_config(), tmp_path, dataset=small_digits(), judge_in_background=True)
    status = wait_while_preparing(trainer)
    assert status["state"] == "failed" and "No space left on device" in status["message"]
    metrics = [trainer.step() for _ in range(3)]
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert not any(JUDGE_METRICS & m.keys() for m in metrics)
    with pytest.raises(RuntimeError, match="No space left on device"):
        trainer.judge()


def test_blocking_mode_prepares_the_judge_for_the_first_measurement(tmp_path: Path) -> None:
    trainer = Trainer(tiny_digits_config(), tmp_path, dataset=small_digits())
    assert trainer.judge_status()["state"] == "none"
    assert trainer.step().keys() >= JUDGE_METRICS
    assert trainer.judge_status()["state"] == "ready"


def test_a_run_without_labelled_images_has_no_judge() -> None:
    trainer = Trainer(tiny_config(), judge_in_background=True)
    assert trainer.judge_status()["state"] == "none"
    with pytest.raises(ValueError, match="no judge"):
        trainer.judge()


def test_runs_that_need_the_same_judge_while_it_trains_share_one_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker serves runs one after another: a run stopped early must not leave the next to train it again."""
    gate = threading.Event()
    calls: list[int] = []
    real_training = image_metrics._train_judge

    def counted_training(x: Any, y: Any, num_classes: int, device: Any, progress: Any = None) -> Any:
        calls.append(1)
        gate.wait(timeout=30)
        return real_training(x, y, num_classes, device, progress)

    monkeypatch.setattr(image_metrics, "_train_judge", counted_training)
    data = small_digits()
    first = Trainer(tiny_digits_config(), tmp_path, dataset=data, judge_in_background=True)
    second = Trainer(tiny_digits_config(), tmp_path, dataset=data, judge_in_background=True)
    assert first.judge_status()["state"] == second.judge_status()["state"] == "preparing"
    gate.set()
    assert wait_while_preparing(first)["state"] == wait_while_preparing(second)["state"] == "ready"
    assert len(calls) == 1
