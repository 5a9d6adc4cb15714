"""Alerts are raised once per episode, on the failure modes they name, and reported cleared once they are over."""

from __future__ import annotations

from models.alerts import AlertMonitor


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
