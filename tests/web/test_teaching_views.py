"""The views that teach what a GAN is doing, in Debian's Chromium against a real server: the model-overview graph
with live values that lights up a trick switched on live, the generator's manifold as a layer of the field view,
and the latent walk of an image run."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import create_run, screenshot

pytestmark = pytest.mark.browser

GRAPH = "[data-testid=model-graph]"
FIELD = "[data-testid=field-view]"
NUMBER = re.compile(r".*\s-?\d+(\.\d+)?(e[+-]\d+)?$")  # an edge's text: its label, then a number (never "–" or NaN)
PIXELS = "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"


def test_the_model_graph_shows_live_values_and_lights_up_the_trick_switched_on_live(
    page: Page, server: str, stop_runs: list[str]
):
    run_id = create_run(server, "ring-vanilla", steps=100_000)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    graph = page.locator(GRAPH)
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    for edge, label in [("d_real", "D(x)"), ("d_fake", "D(G(z))"), ("d_loss", "D loss"), ("g_loss", "G loss")]:
        expect(graph.locator(f"[data-edge={edge}]")).to_contain_text(label)
        expect(graph.locator(f"[data-edge={edge}]")).to_have_text(NUMBER)
    expect(graph.locator("[data-edge=grad_norm_g]")).to_have_text(NUMBER)
    first = graph.locator("[data-edge=d_loss]").text_content()
    expect(graph.locator("[data-edge=d_loss]")).not_to_have_text(first or "")  # values follow the training

    noise = graph.locator("[data-trick=instance_noise]")
    expect(noise).to_have_attribute("data-active", "false")
    expect(graph.locator("[data-trick=unroll]")).to_have_attribute("data-active", "false")
    page.get_by_test_id("trick-instance_noise-std").fill("0.2")  # a slider: fill fires change, as a drag would
    expect(noise).to_have_attribute("data-active", "true")
    expect(noise).to_contain_text("σ 0.2")
    # Only the trick switched on lights up.
    lit = graph.locator("[data-trick][data-active=true]")
    expect(lit).to_have_count(1)

    page.get_by_test_id("trick-unroll_steps").fill("3")
    expect(graph.locator("[data-trick=unroll]")).to_have_attribute("data-active", "true")
    expect(graph.locator("[data-trick=unroll]")).to_contain_text("look ahead 3 D steps")
    expect(lit).to_have_count(2)


def test_the_manifold_layer_draws_gs_warped_latent_grid_when_switched_on_and_goes_when_off(
    page: Page, server: str, stop_runs: list[str]
):
    """Two moons and a 2D latent, as GAN Lab shows it: the grid G warps is the whole latent plane."""
    run_id = create_run(server, "ring-vanilla", steps=100_000, dataset={"kind": "moons"}, model={"z_dim": 2})
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    field = page.locator(FIELD)
    page.wait_for_function(
        f"() => {{ const c = document.querySelector('{FIELD}'); return c && c.dataset.step >= 600; }}"
    )
    toggle = page.get_by_test_id("manifold-toggle")
    expect(toggle).not_to_be_checked()
    expect(field).to_have_attribute("data-manifold-lines", "0")

    # Paused, so no new frame changes the picture: only the layer does.
    assert httpx.post(f"{server}/api/runs/{run_id}/pause").status_code == 202
    expect(page.get_by_test_id("run-status")).to_have_text("paused")
    before = field.evaluate(PIXELS)
    toggle.check()
    expect(field).to_have_attribute("data-manifold-lines", "30")  # 15 grid rows and 15 grid columns
    after = field.evaluate(PIXELS)
    changed = sum(1 for i in range(0, len(after), 4) if after[i : i + 3] != before[i : i + 3])
    assert changed > 500, f"the manifold changed only {changed} pixels of the field view"
    screenshot(page, "run-2d-graph-manifold")
    toggle.uncheck()
    expect(field).to_have_attribute("data-manifold-lines", "0")
    assert field.evaluate(PIXELS) == before  # the layer goes; the frame under it is as it was


def test_an_image_run_shows_a_latent_walk_strip_and_a_conditional_one_a_row_per_label(
    page: Page, server: str, stop_runs: list[str]
):
    run_id = create_run(server, "digits-dcgan", steps=40)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    walk = page.get_by_test_id("latent-walk")
    expect(walk).to_be_visible(timeout=90_000)  # the first image run of the suite trains the judge first
    strip = walk.locator("img.walk-strip")
    expect(strip).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=latent-walk] img'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    width, height = strip.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert width > 6 * height, (width, height)  # one row of eight samples
    page.get_by_test_id("walk-steps").fill("4")
    old = strip.get_attribute("src")
    page.get_by_test_id("walk-draw").click()
    expect(strip).not_to_have_attribute("src", old or "")
    page.wait_for_function("() => document.querySelector('[data-testid=latent-walk] img').naturalWidth > 0")
    width4, _ = strip.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert width4 < width
    screenshot(page, "run-image-walk")

    run_id = create_run(server, "digits-cgan", steps=40)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    expect(page.get_by_test_id("latent-walk")).to_contain_text("one row per label")
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=latent-walk] img'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    width, height = page.locator("[data-testid=latent-walk] img").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert height > width, (width, height)  # ten labels' rows of eight samples
