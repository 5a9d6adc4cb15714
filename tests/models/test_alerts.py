"""Alerts fire once per episode, on the failure modes they name."""

from __future__ import annotations

from models.alerts import AlertMonitor


def steps(monitor: AlertMonitor, rows: list[dict[str, float]]) -> list[tuple[str, int]]:
    return [(a.kind, a.step) for i, row in enumerate(rows, 1) for a in monitor.observe({"step": i} | row)]


def test_d_overpowering_fires_after_patience_and_again_only_after_it_clears():
    monitor = AlertMonitor(patience=3)
    won = {"d_loss": 0.001, "d_fake": 0.0, "grad_norm_g": 1.0}
    fair = {"d_loss": 1.3, "d_fake": 0.5, "grad_norm_g": 1.0}
    fired = steps(monitor, [won] * 5 + [fair] + [won] * 3)
    assert fired == [("d_overpowering", 3), ("d_overpowering", 9)]


def test_vanishing_gradient_needs_a_sustained_tiny_generator_gradient():
    monitor = AlertMonitor(patience=3)
    assert steps(monitor, [{"grad_norm_g": 1e-3}, {"grad_norm_g": 1.0}, {"grad_norm_g": 1e-3}] * 2) == []
    assert steps(AlertMonitor(patience=3), [{"grad_norm_g": 1e-3}] * 3) == [("vanishing_gradient", 3)]


def test_mode_collapse_on_a_ring_needs_good_samples_on_few_modes():
    monitor = AlertMonitor(modes_total=8)
    rows = [{"modes_covered": 0, "hq_fraction": 0.0},  # untrained: not collapse
            {"modes_covered": 8, "hq_fraction": 0.6},
            {"modes_covered": 1, "hq_fraction": 0.9}]
    assert steps(monitor, rows) == [("mode_collapse", 3)]


def test_class_collapse_on_images():
    monitor = AlertMonitor(classes_total=10)
    assert steps(monitor, [{"class_coverage": 10}, {"class_coverage": 3}]) == [("mode_collapse", 2)]
