"""The latent-space panel of an AE or VAE run: each data point's code drawn in its mode's colour, with the prior's
circles, axis names and a legend; a GAN run has none."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import create_run, screenshot

pytestmark = pytest.mark.browser

LATENT = "[data-testid=latent-view]"

# Pixels of the canvas in a label's colour: saturated, unlike the white ground, the grey grid and the prior's circles.
COLOURED_PIXELS = f"""() => {{
  const c = document.querySelector('{LATENT}');
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {{
    const r = data[i], g = data[i + 1], b = data[i + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }}
  return n;
}}"""


def test_a_vae_run_shows_its_codes_coloured_by_mode_beside_the_priors_circles(
    page: Page, server: str, stop_runs: list[str]
):
    run_id = create_run(server, "ring-vae", steps=20_000, stream={"max_steps_per_second": 100, "samples_every": 10})
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    latent = page.locator(LATENT)
    expect(latent).to_be_visible()
    page.wait_for_function(f"() => Number(document.querySelector('{LATENT}')?.dataset.frames) >= 2")
    assert latent.get_attribute("data-points") == "512"
    assert latent.get_attribute("data-axes") == "z1,z2"
    assert latent.get_attribute("data-labels") == "8"  # a label written over each mode's cloud
    assert page.evaluate(COLOURED_PIXELS) > 500  # the dots are drawn, in colour
    legend = page.get_by_test_id("latent-legend")
    for text in ("mode 0", "mode 7", "prior N(0, I): 1σ and 2σ circles"):
        expect(legend).to_contain_text(text)
    expect(page.get_by_test_id("latent-status")).to_contain_text("μ of q(z|x)")
    step = int(latent.get_attribute("data-step") or 0)
    page.wait_for_function(f"() => Number(document.querySelector('{LATENT}').dataset.step) > {step}")  # it follows
    screenshot(page, "run-latent")


def test_a_gan_run_has_no_latent_panel(page: Page, server: str, stop_runs: list[str]):
    run_id = create_run(server, "ring-vanilla", steps=20_000, stream={"max_steps_per_second": 100})
    stop_runs.append(run_id)
    page.goto(f"/?run={run_id}")
    page.wait_for_function("() => Number(document.querySelector('[data-testid=field-view]')?.dataset.frames) >= 2")
    expect(page.locator(LATENT)).to_be_hidden()
