"""Alerts: the GAN failure modes of the course (ganhacks rule 10), recognised in a run's metrics as they stream.

Each rule fires once when its condition has held long enough, and may fire again only after the condition has
cleared, so a user sees one alert per episode, not one per step. Every alert carries a one-line explanation and
the trick that usually helps.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Alert:
    kind: str
    step: int
    message: str


PATIENCE = 50  # consecutive steps a per-step condition must hold


class AlertMonitor:
    def __init__(self, modes_total: int | None = None, classes_total: int | None = None, patience: int = PATIENCE):
        self.modes_total, self.classes_total, self.patience = modes_total, classes_total, patience
        self._streak: dict[str, int] = {}
        self._active: set[str] = set()

    def observe(self, metrics: dict[str, float]) -> list[Alert]:
        step = int(metrics.get("step", 0))
        out: list[Alert] = []
        d_loss, d_fake = metrics.get("d_loss"), metrics.get("d_fake")
        self._per_step(out, "d_overpowering", step,
                       d_loss is not None and d_loss < 0.05 and d_fake is not None and d_fake < 0.05,
                       "D's loss is near 0 and it rejects every fake: D has won and its gradient tells G little. "
                       "Try one-sided label smoothing or instance noise, or lower lr_d / d_steps.")
        grad = metrics.get("grad_norm_g")
        self._per_step(out, "vanishing_gradient", step, grad is not None and grad < 1e-2,
                       "G's gradient has almost vanished, so G has stopped learning. Try the non-saturating loss "
                       "(if on minimax), instance noise, or a weaker D.")
        if "modes_covered" in metrics and self.modes_total:
            collapsed = (metrics["modes_covered"] <= max(1, self.modes_total // 4)
                         and metrics.get("hq_fraction", 0) >= 0.2)
            self._episode(out, "mode_collapse", step, collapsed,
                          f"Good samples, but on only {metrics['modes_covered']:.0f} of {self.modes_total} modes: "
                          "mode collapse. Try unrolling D (tricks.unroll_steps 5), PacGAN packing or replay.")
        if "class_coverage" in metrics and self.classes_total:
            self._episode(out, "mode_collapse", step, metrics["class_coverage"] <= self.classes_total // 2,
                          f"Only {metrics['class_coverage']:.0f} of {self.classes_total} classes appear: mode "
                          "collapse. Try feature matching, replay or a lower lr_g.")
        return out

    def _per_step(self, out: list[Alert], kind: str, step: int, condition: bool, message: str) -> None:
        self._streak[kind] = self._streak.get(kind, 0) + 1 if condition else 0
        self._episode(out, kind, step, self._streak[kind] >= self.patience, message)

    def _episode(self, out: list[Alert], kind: str, step: int, condition: bool, message: str) -> None:
        if condition and kind not in self._active:
            self._active.add(kind)
            out.append(Alert(kind, step, message))
        elif not condition and kind in self._active and not self._streak.get(kind):
            self._active.discard(kind)
