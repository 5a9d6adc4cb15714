"""Alerts are raised once per episode, on the failure modes they name, and reported cleared once they are over;
each raised one comes with a fix the run's config accepts."""

from __future__ import annotations

from typing import Any

import pytest

from models.alerts import ALERT_KINDS, AlertMonitor, remedy
from models.config import RunConfig, apply_patch, parse_config


def steps(monitor: AlertMonitor, rows: list[dict[str, float]]) -> list[tuple[str, int, bool]]:
    return [(a.kind, a.step, a.cleared) for i, row in enumerate(rows, 1) for a in monitor.observe({"step": i} | row)]


WON = {"d_loss": 0.001, "d_fake": 0.0, "grad_norm_g": 1.0}
FAIR = {"d_loss": 1.3, "d_fake": 0.5, "grad_norm_g": 1.0}


def test_d_overpowering_is_raised_after_patience_and_cleared_after_as_long_without_it():
    fired = steps(AlertMonitor(patience=3), [WON] * 5 + [FAIR] * 3 + [WON] * 3)
    assert fired == [("d_overpowering", 3, False), ("d_overpowering", 8, True), ("d_overpowering", 11, False)]


def test_a_brief_lapse_neither_clears_an_alert_nor_raises_it_again():
    fired = steps(AlertMonitor(patience=3), [WON] * 3 + [FAIR, WON] * 4)
    assert fired == [("d_overpowering", 3, False)]


def test_vanishing_gradient_needs_a_sustained_tiny_generator_gradient():
    monitor = AlertMonitor(patience=3)
    assert steps(monitor, [{"grad_norm_g": 1e-3}, {"grad_norm_g": 1.0}, {"grad_norm_g": 1e-3}] * 2) == []
    assert steps(AlertMonitor(patience=3), [{"grad_norm_g": 1e-3}] * 3) == [("vanishing_gradient", 3, False)]


def test_mode_collapse_on_a_ring_needs_good_samples_on_few_modes():
    monitor = AlertMonitor(modes_total=8)
    rows = [
        {"modes_covered": 0, "hq_fraction": 0.0},  # untrained: not collapse
        {"modes_covered": 8, "hq_fraction": 0.6},
        {"modes_covered": 1, "hq_fraction": 0.9},
    ]
    assert steps(monitor, rows) == [("mode_collapse", 3, False)]


def test_class_collapse_on_images():
    monitor = AlertMonitor(classes_total=10)
    assert steps(monitor, [{"class_coverage": 10}, {"class_coverage": 3}]) == [("mode_collapse", 2, False)]


def test_the_untrained_networks_few_classes_at_step_1_are_no_collapse():
    """The first measurement is of the networks as initialised: few classes there is where training starts."""
    monitor = AlertMonitor(classes_total=10)
    assert steps(monitor, [{"class_coverage": 3}, {"class_coverage": 10}]) == []


def test_a_family_without_d_is_not_told_to_try_a_gan_trick():
    collapsed = {"modes_covered": 1, "hq_fraction": 0.9}
    (gan,) = AlertMonitor(modes_total=8).observe({"step": 100} | collapsed)
    (vae,) = AlertMonitor(modes_total=8, adversarial=False).observe({"step": 100} | collapsed)
    (images,) = AlertMonitor(classes_total=10, adversarial=False).observe({"step": 100, "class_coverage": 2})
    assert "unrolling" in gan.message
    for alert in (vae, images):
        assert not any(trick in alert.message for trick in ("unroll", "PacGAN", "replay", "feature matching"))
        assert "lr_g" in alert.message


def test_a_ring_collapse_is_cleared_once_coverage_holds_for_two_evaluations_and_says_how_many_modes():
    monitor = AlertMonitor(modes_total=8)
    collapsed, spread = {"modes_covered": 1, "hq_fraction": 0.9}, {"modes_covered": 7, "hq_fraction": 0.5}
    assert steps(monitor, [collapsed, spread, collapsed, spread]) == [("mode_collapse", 1, False)]
    cleared = monitor.observe({"step": 5} | spread)
    assert [(a.kind, a.step, a.cleared) for a in cleared] == [("mode_collapse", 5, True)]
    assert "7 of 8 modes" in cleared[0].message


def test_worse_samples_on_the_same_mode_do_not_clear_a_collapse():
    monitor = AlertMonitor(modes_total=8)
    blurry_single_mode = {"modes_covered": 1, "hq_fraction": 0.05}
    fired = steps(monitor, [{"modes_covered": 1, "hq_fraction": 0.9}] + [blurry_single_mode] * 4)
    assert fired == [("mode_collapse", 1, False)]


# ----------------------------------------------------------------------------------------- remedies

LOSSES = ["minimax", "nonsaturating", "least_squares", "hinge", "wasserstein_gp"]
ARCHS: dict[str, dict[str, Any]] = {
    "mlp": {"dataset": {"kind": "ring"}},
    "dcgan": {"dataset": {"kind": "digits"}, "model": {"arch": "dcgan"}},
}


NOISE = {"tricks": {"instance_noise": {"std": 0.3, "anneal_steps": 1000}}}


def run_config(arch: str, loss: str, **sections: Any) -> RunConfig:
    return parse_config(ARCHS[arch] | {"train": {"loss": loss}} | sections)


def changes(config: RunConfig, patch: dict[str, Any]) -> bool:
    """apply_patch accepts ``patch`` (it raises otherwise) and the result differs from ``config``."""
    return apply_patch(config, patch).model_dump() != config.model_dump()


def test_every_kind_the_monitor_raises_has_a_title() -> None:
    monitor = AlertMonitor(modes_total=8, patience=1)
    raised = {a.kind for a in monitor.observe(WON | {"grad_norm_g": 1e-3, "modes_covered": 1, "hq_fraction": 0.9})}
    assert raised == {"d_overpowering", "vanishing_gradient", "mode_collapse"}
    assert raised < ALERT_KINDS.keys()


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("kind", list(ALERT_KINDS))
def test_every_alerts_fix_is_accepted_by_the_run_and_changes_it_and_only_divergence_has_none(
    kind: str, loss: str, arch: str
) -> None:
    config = run_config(arch, loss)
    fix = remedy(kind, config)
    if kind == "divergence":
        assert fix is None  # the run has ended: there is nothing left to patch
        return
    assert fix is not None and fix.label
    assert changes(config, fix.patch)
    assert fix.as_dict() == {"label": fix.label, "patch": fix.patch}


@pytest.mark.parametrize(
    ("kind", "arch", "loss", "expected"),
    [
        ("mode_collapse", "mlp", "nonsaturating", {"tricks": {"unroll_steps": 5}}),
        ("mode_collapse", "dcgan", "nonsaturating", {"tricks": {"feature_matching": {"enabled": True}}}),
        ("d_overpowering", "mlp", "minimax", {"tricks": {"label_smoothing": 0.2}}),
        ("d_overpowering", "mlp", "hinge", NOISE),
        ("d_overpowering", "dcgan", "wasserstein_gp", NOISE),
        ("vanishing_gradient", "mlp", "minimax", {"train": {"loss": "nonsaturating"}}),
        ("vanishing_gradient", "mlp", "least_squares", NOISE),
    ],
)
def test_the_preferred_fix_is_offered_where_the_loss_allows_it(
    kind: str, arch: str, loss: str, expected: dict[str, Any]
) -> None:
    fix = remedy(kind, run_config(arch, loss))
    assert fix is not None and fix.patch == expected


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("kind", ["mode_collapse", "d_overpowering", "vanishing_gradient"])
def test_a_run_that_already_has_the_first_fix_is_offered_the_next(kind: str, arch: str) -> None:
    config = run_config(arch, "minimax")
    first = remedy(kind, config)
    assert first is not None
    patched = apply_patch(config, first.patch)
    second = remedy(kind, patched)
    assert second is not None and second.label != first.label
    assert changes(patched, second.patch)


def test_no_fix_is_offered_when_every_one_is_refused_or_in_effect() -> None:
    config = run_config("mlp", "hinge", tricks=NOISE["tricks"])  # hinge refuses label smoothing
    assert config.train.d_steps == 1
    assert remedy("d_overpowering", config) is None


def test_an_unknown_kind_has_no_fix() -> None:
    assert remedy("no_such_alert", run_config("mlp", "nonsaturating")) is None
