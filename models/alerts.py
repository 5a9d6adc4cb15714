"""Alerts: the GAN failure modes of the course (ganhacks rule 10), recognised in a run's metrics as they stream.

Each rule raises an alert once its condition has held long enough, and reports it *cleared* once the condition has
stayed false long enough, so a user sees one alert per episode (not one per step) and a banner never goes on
claiming a collapse the field view no longer shows. Both sides need the condition to persist: the quality metrics
are noisy, and an alert that flickers teaches nothing. Every alert carries a one-line explanation and the trick
that usually helps; every clearance says what recovered.

``remedy`` turns the trick into a live patch the page can offer as a one-click fix. It is chosen here, beside the
config that has to accept it, so the page never offers a fix the config refuses (label smoothing under a loss with no
real target) or one already in effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.config import ConfigError, RunConfig, apply_patch

ALERT_KINDS: dict[str, str] = {
    "mode_collapse": "Mode collapse",
    "d_overpowering": "The discriminator is overpowering the generator",
    "vanishing_gradient": "The generator's gradient has vanished",
    "divergence": "Training diverged",
}
"""Every alert kind a run can report, in the order the page lists them, with its title."""


@dataclass(frozen=True)
class Alert:
    kind: str
    step: int
    message: str
    cleared: bool = False


PATIENCE = 50  # consecutive steps a per-step condition must hold (or stay false, to clear)
EVAL_PATIENCE = 2  # consecutive quality evaluations a collapse must stay gone before it is reported cleared
CONVERGED_DISTANCE = 0.05  # a Dirac-GAN this close to θ = ψ = 0 has converged (models.dirac)


class AlertMonitor:
    def __init__(
        self,
        modes_total: int | None = None,
        classes_total: int | None = None,
        patience: int = PATIENCE,
        eval_patience: int = EVAL_PATIENCE,
        adversarial: bool = True,
    ):
        self.modes_total, self.classes_total = modes_total, classes_total
        self.adversarial = adversarial  # a GAN; another family (models/families/) is told no GAN trick
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
        # A Dirac-GAN at its equilibrium has no gradient left because it has arrived: that is convergence.
        arrived = metrics.get("equilibrium_distance", float("inf")) < CONVERGED_DISTANCE
        self._judge(
            out,
            "vanishing_gradient",
            step,
            grad is not None and grad < 1e-2 and not arrived,
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
                + (
                    "Try unrolling D (tricks.unroll_steps 5), PacGAN packing or replay."
                    if self.adversarial
                    else "Maximum likelihood punishes a missed mode, so train on, or lower lr_g."
                ),
                f"Samples now reach {covered:.0f} of {self.modes_total} modes: the collapse has cleared.",
                self.eval_patience,
                recovered=not few,
            )
        # The measurement at step 1 is of untrained networks, whose few classes say nothing about collapse (a 2D
        # run's untrained samples are ruled out by their quality instead).
        if "class_coverage" in metrics and self.classes_total and step > 1:
            coverage = metrics["class_coverage"]
            self._judge(
                out,
                "mode_collapse",
                step,
                coverage <= self.classes_total // 2,
                1,
                f"Only {coverage:.0f} of {self.classes_total} classes appear: mode collapse. "
                + ("Try feature matching, replay or a lower lr_g." if self.adversarial else "Try a lower lr_g."),
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


# ----------------------------------------------------------------------------------------- remedies


@dataclass(frozen=True)
class Remedy:
    """A one-click fix: what the button says, and the live patch (nested, as ``apply_patch`` takes it)."""

    label: str
    patch: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "patch": self.patch}


def _candidates(kind: str, config: RunConfig) -> list[Remedy]:
    """The fixes for ``kind``, the one that usually helps most first. Built anew on every call: a caller may keep
    or change a patch without touching anyone else's."""
    unroll = Remedy("unroll D 5 steps", {"tricks": {"unroll_steps": 5}})
    feature_matching = Remedy("feature matching", {"tricks": {"feature_matching": {"enabled": True}}})
    replay = Remedy("replay of past fakes", {"tricks": {"replay": {"size": 5000}}})
    noise = Remedy("instance noise σ 0.3", {"tricks": {"instance_noise": {"std": 0.3, "anneal_steps": 1000}}})
    one_d_step = Remedy("one D step per G step", {"train": {"d_steps": 1}})
    if kind == "mode_collapse":
        # Unrolling is the cure on 2D mixtures; on images it costs K forward-backward passes of a conv D per step.
        if config.model.arch == "dcgan":
            return [feature_matching, replay, unroll]
        return [unroll, replay, feature_matching]
    if kind == "d_overpowering":
        return [Remedy("label smoothing 0.2", {"tricks": {"label_smoothing": 0.2}}), noise, one_d_step]
    if kind == "vanishing_gradient":
        # Only minimax saturates where D wins; under any other loss a new loss is no cure, so weaken D instead.
        saturating = [Remedy("non-saturating loss", {"train": {"loss": "nonsaturating"}})]
        return (saturating if config.train.loss == "minimax" else []) + [noise, one_d_step]
    return []  # divergence has ended the run: a fork with a lower learning rate is the way on


def remedy(kind: str, config: RunConfig) -> Remedy | None:
    """The first fix for alert ``kind`` that ``config`` accepts as a live patch and that changes it; None when
    there is none (a diverged run, an unknown kind, every fix refused or already in effect)."""
    current = config.model_dump()
    for candidate in _candidates(kind, config):
        try:
            patched = apply_patch(config, candidate.patch)
        except ConfigError:
            continue
        if patched.model_dump() != current:
            return candidate
    return None
