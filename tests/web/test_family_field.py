"""The field view of a run without a discriminator: a VAE's or a MADE's shows the data, its samples and the modes,
and none of D's layers (no heatmap, no "D: fake → real" key, no G's pull); a VAE's manifold is named its decoder's,
and a MADE, which has no latent code, offers none. A GAN's keeps all of them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import create_run, screenshot

pytestmark = pytest.mark.browser

FIELD = "[data-testid=field-view]"
SLOW = {"max_steps_per_second": 100, "samples_every": 10}

# Counts of the field canvas's pixels: white ground, the samples' violet (web/src/colours.js POINTS.fake,
# #7c3aed) and everything else. D's heatmap would leave hardly any white.
PIXEL_COUNTS = f"""() => {{
  const c = document.querySelector('{FIELD}');
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let white = 0, violet = 0;
  for (let i = 0; i < data.length; i += 4) {{
    const r = data[i], g = data[i + 1], b = data[i + 2];
    if (r > 245 && g > 245 && b > 245) white++;
    else if (Math.abs(r - 0x7c) < 24 && Math.abs(g - 0x3a) < 24 && Math.abs(b - 0xed) < 24) violet++;
  }}
  return {{ white: white / (data.length / 4), violet }};
}}"""


def frames_shown(page: Page, at_least: int) -> None:
    page.wait_for_function(f"() => Number(document.querySelector('{FIELD}')?.dataset.frames) >= {at_least}")


def pause(page: Page, server: str, run_id: str) -> None:
    """Paused, so the picture stays put while it is checked and shot."""
    assert httpx.post(f"{server}/api/runs/{run_id}/pause").status_code == 202
    expect(page.get_by_test_id("run-status")).to_have_text("paused")


def test_a_vae_runs_field_view_has_no_d_layers_and_shows_its_samples_and_its_decoders_manifold(
    page: Page, server: str, stop_runs: list[str]
):
    run_id = create_run(server, "ring-vae", steps=20_000, stream=SLOW)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    field = page.locator(FIELD)
    frames_shown(page, 2)
    pause(page, server, run_id)
    legend = page.get_by_test_id("field-legend")
    expect(legend).to_contain_text("real data")
    expect(legend).to_contain_text("generated")
    expect(page.get_by_test_id("heat-key")).to_be_hidden()  # "D: fake → real": there is no D
    expect(page.get_by_test_id("pull-key")).to_be_hidden()  # "G's pull": no D, no gradient from it
    shown = legend.inner_text()  # the text as drawn: hidden keys left out
    assert "D: fake" not in shown and "pull" not in shown, shown
    expect(field).to_have_attribute("data-layers", "manifold")
    label = field.get_attribute("aria-label") or ""
    assert "heatmap" not in label and "pull" not in label, label
    counts: dict[str, Any] = field.evaluate(PIXEL_COUNTS)
    assert counts["white"] > 0.8, counts  # no heatmap under the points
    assert counts["violet"] > 300, counts  # the samples are drawn
    assert int(field.get_attribute("data-real") or 0) > 0  # and the data

    switch = page.get_by_test_id("manifold-switch")
    expect(switch).to_be_visible()
    expect(switch).to_have_text("decoder's manifold")
    expect(page.get_by_test_id("manifold-key")).to_be_hidden()  # named once it is drawn
    page.get_by_test_id("manifold-toggle").check()
    expect(field).to_have_attribute("data-manifold-lines", "30")
    expect(page.get_by_test_id("manifold-key")).to_have_text("decoder's image of the latent grid")
    field.screenshot(path="/tmp/famfield-vae-field.png")  # the field alone, to look at closely
    screenshot(page, "run-2d-vae-field")


def test_a_made_runs_field_view_offers_no_manifold_since_it_has_no_latent_code(
    page: Page, server: str, stop_runs: list[str]
):
    run_id = create_run(server, "ring-made", steps=20_000, stream=SLOW)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    field = page.locator(FIELD)
    frames_shown(page, 2)
    pause(page, server, run_id)
    expect(field).to_have_attribute("data-layers", "")
    expect(page.get_by_test_id("manifold-switch")).to_be_hidden()
    expect(page.get_by_test_id("heat-key")).to_be_hidden()
    expect(page.get_by_test_id("pull-key")).to_be_hidden()
    counts: dict[str, Any] = field.evaluate(PIXEL_COUNTS)
    assert counts["white"] > 0.8 and counts["violet"] > 300, counts


def test_a_made_image_run_shows_its_samples_but_offers_no_latent_walk(page: Page, server: str, stop_runs: list[str]):
    """MADE's noise picks each pixel in turn: there is no latent code to walk (the API says 409), so no walk panel."""
    run_id = create_run(server, "digits-made", steps=20_000, stream=SLOW)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    expect(page.get_by_test_id("sample-grid")).to_be_visible(timeout=90_000)  # may wait for the digits judge
    expect(page.get_by_test_id("run-step")).not_to_have_text("step 0", timeout=30_000)
    expect(page.get_by_test_id("latent-walk")).to_be_hidden()


def test_a_gan_runs_field_view_keeps_ds_heatmap_its_key_and_gs_pull(page: Page, server: str, stop_runs: list[str]):
    run_id = create_run(server, "ring-vanilla", steps=20_000, stream=SLOW)
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    field = page.locator(FIELD)
    frames_shown(page, 2)
    expect(field).to_have_attribute("data-layers", "heat,pull,manifold")
    expect(page.get_by_test_id("heat-key")).to_be_visible()
    expect(page.get_by_test_id("pull-key")).to_be_visible()
    expect(page.get_by_test_id("manifold-switch")).to_have_text("G's manifold")
    assert field.evaluate(PIXEL_COUNTS)["white"] < 0.2  # D's heatmap fills the plane
