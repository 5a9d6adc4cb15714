"""Alerts: the GAN failure modes of the course (ganhacks rule 10), recognised in a run's metrics as they stream.

Each rule raises an alert once its condition has held long enough, and reports it *cleared* once the condition has
stayed false long enough, so a user sees one alert per episode (not one per step) and a banner never goes on
claiming a collapse the field view no longer shows. Both sides need the condition to persist: the quality metrics
are noisy, and an alert that flickers teaches nothing. Every alert carries a one-line explanation and the trick
that usually helps; every clearance says what recovered.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Alert:
    kind: str
    step: int
    message: str
    cleared: bool = False


PATIENCE = 50  # consecutive steps a per-step condition must hold (or stay false, to clear)
EVAL_PATIENCE = 2  # consecutive quality evaluations a collapse must stay gone before it is reported cleared


class AlertMonitor:
    def __init__(
        self,
        modes_total: int | None = None,
        classes_total: int | None = None,
        patience: int = PATIENCE,
        eval_patience: int = EVAL_PATIENCE,
    ):
        self.modes_total, self.classes_total = modes_total, classes_total
        self.patience, self.eval_patience = patience, eval_patience
        self._streak: dict[str, int] = {}  # consecutive observations with the condition true
        self._calm: dict[str, int] = {}  # consecutive observations with it false, while active
        self._active: set[str] = set()

    def observe(self, metrics: dict[str, float]) -> list[Alert]:
        step = int(metrics.get("step", 0))
        out: list[Alert] = []
        d_loss, d_fake = metrics.get("d_loss"), metrics.get("d_fake")
        self._judge(
            out,
            "d_overpowering",
            step,
            d_loss is not None and d_loss < 0.05 and d_fake is not None and d_fake < 0.05,
            self.patience,
            "D's loss is near 0 and it rejects every fake: D has won and its gradient tells G little. "
            "Try one-sided label smoothing or instance noise, or lower lr_d / d_steps.",
            "D no longer rejects every fake: G gets a useful gradient again.",
        )
        grad = metrics.get("grad_norm_g")
        self._judge(
            out,
            "vanishing_gradient",
            step,
            grad is not None and grad < 1e-2,
            self.patience,
            "G's gradient has almost vanished, so G has stopped learning. Try the non-saturating loss "
            "(if on minimax), instance noise, or a weaker D.",
            "G's gradient is back: the generator is learning again.",
        )
        if "modes_covered" in metrics and self.modes_total:
            covered = metrics["modes_covered"]
            few = covered <= max(1, self.modes_total // 4)
            # Cleared only by coverage itself: samples that merely got worse on the same mode are no recovery.
            self._judge(
                out,
                "mode_collapse",
                step,
                few and metrics.get("hq_fraction", 0) >= 0.2,
                1,
                f"Good samples, but on only {covered:.0f} of {self.modes_total} modes: mode collapse. "
                "Try unrolling D (tricks.unroll_steps 5), PacGAN packing or replay.",
                f"Samples now reach {covered:.0f} of {self.modes_total} modes: the collapse has cleared.",
                self.eval_patience,
                recovered=not few,
            )
        if "class_coverage" in metrics and self.classes_total:
            coverage = metrics["class_coverage"]
            self._judge(
                out,
                "mode_collapse",
                step,
                coverage <= self.classes_total // 2,
                1,
                f"Only {coverage:.0f} of {self.classes_total} classes appear: mode collapse. Try feature "
                "matching, replay or a lower lr_g.",
                f"{coverage:.0f} of {self.classes_total} classes appear again: the collapse has cleared.",
                self.eval_patience,
            )
        return out

    def _judge(
        self,
        out: list[Alert],
        kind: str,
        step: int,
        condition: bool,
        raise_after: int,
        message: str,
        cleared_message: str,
        clear_after: int | None = None,
        recovered: bool | None = None,
    ) -> None:
        """Raise ``kind`` after ``raise_after`` observations in a row with ``condition``; clear it after
        ``clear_after`` (default: the same number) in a row ``recovered`` (default: without ``condition``)."""
        self._streak[kind] = self._streak.get(kind, 0) + 1 if condition else 0
        if kind not in self._active:
            if self._streak[kind] >= raise_after:
                self._active.add(kind)
                self._calm[kind] = 0
                out.append(Alert(kind, step, message))
            return
        recovered = not condition if recovered is None else recovered
        self._calm[kind] = self._calm[kind] + 1 if recovered else 0
        if self._calm[kind] >= (clear_after or raise_after):
            self._active.discard(kind)
            out.append(Alert(kind, step, cleared_message, cleared=True))
