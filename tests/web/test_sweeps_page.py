"""Sweeps in the page: a small sweep's tiles and heatmap fill in as its cells train, a tile opens its run (whose charts
show mode_drift, a ring run's oscillation metric), and a sweep lesson started from the start page is stopped and
deleted from its own page with nothing left behind."""

from __future__ import annotations

import re
from statistics import mean
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot

pytestmark = pytest.mark.browser

LR = [1e-4, 1e-3]


def sweep_of(server: str, sweep_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server}/api/sweeps/{sweep_id}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def small_sweep(server: str) -> Any:
    """2 × 2 learning rates × 2 seeds of a short ring-vanilla: 8 cells of 120 steps, quality measured every 60."""
    body = {
        "preset": "ring-vanilla",
        "overrides": {"steps": 120, "stream": {"eval_every": 60}},
        "grid": {"train.lr_g": LR, "train.lr_d": LR},
        "seeds": [0, 1],
    }
    response = httpx.post(f"{server}/api/sweeps", json=body, timeout=30)
    assert response.status_code == 201, response.text
    sweep_id = response.json()["id"]
    yield sweep_id
    httpx.post(f"{server}/api/sweeps/{sweep_id}/stop", timeout=10)  # 409 or 404 when over or gone: fine
    httpx.delete(f"{server}/api/sweeps/{sweep_id}", timeout=30)


def test_a_small_sweep_fills_its_tiles_and_heatmap_and_a_tile_opens_its_run(page: Page, server: str, small_sweep: str):
    page.goto(f"/?sweep={small_sweep}")
    tiles = page.get_by_test_id("sweep-tile")
    expect(tiles).to_have_count(8)
    squares = page.get_by_test_id("heat-square")
    expect(squares).to_have_count(4)
    expect(page.get_by_test_id("heatmap-metric")).to_have_value("modes_covered")

    # Every cell ends with a thumbnail of its samples, every square with both seeds' modes_covered.
    expect(page.get_by_test_id("sweep-status")).to_have_text("finished", timeout=180_000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid=sweep-tile] img.thumb')]
            .filter((i) => !i.hidden && i.complete && i.naturalWidth > 0).length === 8""",
        timeout=60_000,
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=heat-square]')].every((s) => s.dataset.n === '2')"
    )
    cells = sweep_of(server, small_sweep)["cells"]
    for square in squares.all():
        x, y = float(square.get_attribute("data-x") or "nan"), float(square.get_attribute("data-y") or "nan")
        here = [c for c in cells if c["params"] == {"train.lr_g": x, "train.lr_d": y}]
        expected = mean(c["metrics"]["modes_covered"] for c in here)
        assert float(square.get_attribute("data-mean") or "nan") == pytest.approx(expected), (x, y)
        low, high = (min(c["metrics"]["modes_covered"] for c in here), max(c["metrics"]["modes_covered"] for c in here))
        assert f"{low:g}–{high:g}" in square.inner_text()  # the seeds' spread, beside the mean
    expect(page.get_by_test_id("heatmap-legend")).to_contain_text("viridis")

    # Another metric redraws the squares from that metric.
    page.get_by_test_id("heatmap-metric").select_option("hq_fraction")
    first = squares.first
    x, y = float(first.get_attribute("data-x") or "nan"), float(first.get_attribute("data-y") or "nan")
    here = [c for c in cells if c["params"] == {"train.lr_g": x, "train.lr_d": y}]
    expect(first).to_have_attribute("data-mean", re.compile(r"."))
    assert float(first.get_attribute("data-mean") or "nan") == pytest.approx(
        mean(c["metrics"]["hq_fraction"] for c in here)
    )
    page.get_by_test_id("heatmap-metric").select_option("modes_covered")
    screenshot(page, "sweep")

    # A tile opens its run; the run view links back to the sweep.
    cell = cells[0]
    tiles.first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"\?run={cell['run_id']}$"))
    expect(page.get_by_test_id("run-sweep")).to_contain_text(f"cell 0 of sweep {small_sweep[:8]}")
    drift = page.get_by_test_id("chart-drift")  # mode_drift, charted from the server's meta for a ring run
    expect(drift).to_be_visible()
    page.wait_for_function("() => Number(document.querySelector('[data-testid=chart-drift]').dataset.points || 0) > 0")
    page.get_by_test_id("run-sweep").get_by_role("link").click()
    page.wait_for_url(re.compile(rf"\?sweep={small_sweep}$"))
    expect(tiles).to_have_count(8)


def test_a_sweep_lesson_started_from_the_start_page_is_stopped_and_deleted_from_its_page(page: Page, server: str):
    page.goto("/")
    lessons = page.get_by_test_id("sweep-lessons")
    expect(lessons).to_contain_text("sensitivity-lr")
    screenshot(page, "home-sweeps")
    page.get_by_test_id("start-sweep-sensitivity-lr").click()
    page.wait_for_url(re.compile(r"\?sweep=[0-9a-f]{32}$"))
    sweep_id = page.url.split("sweep=")[1]
    try:
        expect(page.get_by_test_id("sweep-status")).to_have_text("running")
        tiles = page.get_by_test_id("sweep-tile")
        expect(tiles).to_have_count(32)  # 4 × 4 learning rates × 2 seeds
        expect(page.locator("[data-testid=sweep-tile][data-status=running]").first).to_be_visible()

        page.get_by_test_id("stop-sweep").click()
        expect(page.get_by_test_id("sweep-status")).to_have_text("stopped")
        for live in ("queued", "starting", "running", "paused"):  # every run ended, the waiting cells cancelled
            expect(page.locator(f"[data-testid=sweep-tile][data-status={live}]")).to_have_count(0)
        expect(page.get_by_test_id("stop-sweep")).to_be_disabled()
        run_ids = [c["run_id"] for c in sweep_of(server, sweep_id)["cells"] if c["run_id"]]
        assert run_ids
        screenshot(page, "sweep-stopped")

        page.get_by_test_id("delete-sweep").click()
        page.get_by_test_id("delete-sweep-confirm").click()
        page.wait_for_url(re.compile(r"/$"))
        expect(page.get_by_test_id("sweep-list")).to_be_visible()
        expect(page.locator(f'[data-testid=sweep-list] li[data-sweep-id="{sweep_id}"]')).to_have_count(0)
        assert httpx.get(f"{server}/api/sweeps/{sweep_id}", timeout=10).status_code == 404
        for run_id in run_ids:  # its runs went with it
            assert httpx.get(f"{server}/api/runs/{run_id}", timeout=10).status_code == 404
    finally:
        httpx.post(f"{server}/api/sweeps/{sweep_id}/stop", timeout=10)
        httpx.delete(f"{server}/api/sweeps/{sweep_id}", timeout=30)
