"""A run's quality judge (``models.image_metrics``): prepared where the run first needs it, or beside training.

On a fresh install the judge of a dataset has to be trained before its first use, which takes seconds for digits and
minutes for a big set. A host that streams a run to a user (the server's worker) has it prepared in a daemon thread,
so the first steps are not held up by it, and reads its state to tell the user what is being prepared and for about
how long; the quality metrics it gives join the run's metrics once it is ready. The CLI and the tests wait for it,
so their first measurement is complete.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Literal

import torch

from models.datasets import Dataset
from models.image_metrics import ImageJudge, cached_judge, load_judge

JudgeState = Literal["none", "preparing", "ready", "failed"]


class _Preparation:
    """One background training of a judge, shared by every run of this process that needs the same judge while it
    trains: a worker serves runs one after another, and a run stopped early must not leave its successor to train
    the same judge a second time beside the first."""

    def __init__(self, args: tuple[str, torch.Tensor, torch.Tensor, int, Path, torch.device]):
        self.lock = threading.Lock()
        self.judge: ImageJudge | None = None
        self.fraction = 0.0
        self.error = ""
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, args=(args,), name=f"judge-{args[0]}", daemon=True)
        self.thread.start()

    def _run(self, args: tuple[str, torch.Tensor, torch.Tensor, int, Path, torch.device]) -> None:
        try:
            judge = load_judge(*args, progress=self._progress)
        except Exception as e:  # whatever stops the judge, the runs go on without it
            with self.lock:
                self.error = f"{type(e).__name__}: {e}"
            return
        with self.lock:
            self.judge, self.fraction = judge, 1.0

    def _progress(self, fraction: float) -> None:
        with self.lock:
            self.fraction = fraction

    @property
    def finished(self) -> bool:
        return not self.thread.is_alive()


_PREPARING: dict[tuple[str, str, str, tuple[int, ...], int], _Preparation] = {}
_PREPARING_LOCK = threading.Lock()


def _shared_preparation(args: tuple[str, torch.Tensor, torch.Tensor, int, Path, torch.device]) -> _Preparation:
    """The background training of this judge already under way in this process, or a new one."""
    name, x, _, num_classes, cache_dir, device = args
    key = (name, str(cache_dir), str(device), tuple(x.shape), num_classes)
    with _PREPARING_LOCK:
        preparation = _PREPARING.get(key)
        if preparation is None or (preparation.finished and preparation.judge is None):  # none yet, or it failed
            preparation = _PREPARING[key] = _Preparation(args)
        return preparation


class RunJudge:
    """The judge of one run's labelled image data.

    In background mode a judge already cached on disk is loaded at once (that is cheap); otherwise training starts
    in a daemon thread with its own random generator (or the run joins the one already training it in this
    process), and ``available()`` answers None until it is done. A failure there (bad data, a full disk) leaves the
    state ``failed`` with the reason: the run trains on without the judge's metrics. Nothing of the judge is in a
    checkpoint: a resumed run prepares its own.
    """

    def __init__(self, data: Dataset, cache_dir: Path, device: torch.device, background: bool):
        if data.y is None or not data.is_image:
            raise ValueError(f"dataset '{data.name}' is not a labelled image dataset: it has no judge")
        self.dataset = data.name
        self.background = background
        self._data, self._labels, self._num_classes = data.x, data.y, data.num_classes
        self._cache_dir, self._device = cache_dir, device
        self._judge: ImageJudge | None = None
        self._error = ""
        self._preparation: _Preparation | None = None
        self._handed_out = False
        # Started on first use, not here: a run on a fresh install gets its dataset loaded and its first step
        # taken before a judge training competes with it for the cores.
        self._started = not background

    def _args(self) -> tuple[str, torch.Tensor, torch.Tensor, int, Path, torch.device]:
        return self.dataset, self._data.cpu(), self._labels.cpu(), self._num_classes, self._cache_dir, self._device

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            self._judge = cached_judge(*self._args())
        except Exception as e:  # whatever stops the judge, the run goes on without it
            self._error = f"{type(e).__name__}: {e}"
            return
        if self._judge is None:
            self._preparation = _shared_preparation(self._args())

    def _settle(self) -> None:
        """Take the background judge (or its failure) once its training has finished."""
        preparation = self._preparation
        if preparation is None or not preparation.finished:
            return
        with preparation.lock:
            self._judge, self._error = preparation.judge, preparation.error
        self._preparation = None

    @property
    def state(self) -> JudgeState:
        self._start()
        self._settle()
        if self._judge is not None:
            return "ready"
        if self._error:
            return "failed"
        return "preparing" if self._preparation is not None else "none"

    @property
    def arrived(self) -> bool:
        """True from the moment the background judge is ready until ``available()`` first hands it out."""
        return self.background and self._started and self.state == "ready" and not self._handed_out

    def get(self) -> ImageJudge:
        """The judge, prepared here if need be (waiting for the background thread); raises if that failed."""
        if self._preparation is not None:
            self._preparation.thread.join()
        if self.state == "failed":
            raise RuntimeError(f"the quality judge of '{self.dataset}' failed: {self._error}")
        if self._judge is None:
            self._judge = load_judge(*self._args())
        return self._judge

    def available(self) -> ImageJudge | None:
        """The judge for a measurement now: prepared here in blocking mode; in background mode, None until ready."""
        if not self.background:
            return self.get()
        if self.state == "ready":
            self._handed_out = True
        return self._judge

    def status(self) -> dict[str, Any]:
        """State, dataset, seconds probably left (extrapolated from the training's own progress) and a message."""
        state = self.state
        fraction, eta = 1.0 if state == "ready" else 0.0, None
        preparation = self._preparation
        if state == "preparing" and preparation is not None:
            with preparation.lock:
                fraction = preparation.fraction
            if fraction > 0:
                eta = (time.monotonic() - preparation.started) * (1 - fraction) / fraction
        messages: dict[JudgeState, str] = {
            "none": f"The quality judge of {self.dataset} is prepared at the first quality measurement.",
            "preparing": f"Training the quality judge of {self.dataset} (once per dataset on this install): "
            f"{fraction:.0%} done. fd and the class metrics appear when it is ready.",
            "ready": f"The quality judge of {self.dataset} is ready.",
            "failed": f"The quality judge of {self.dataset} failed ({self._error}); the run trains on without fd and "
            "the class metrics.",
        }
        return {"state": state, "dataset": self.dataset, "eta_s": eta, "message": messages[state]}


def no_judge_status(dataset: str) -> dict[str, Any]:
    """The status of a run whose data needs no judge (2D points, unlabelled images)."""
    return {"state": "none", "dataset": dataset, "eta_s": None, "message": f"{dataset} needs no quality judge."}
