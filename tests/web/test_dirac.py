"""The Dirac-GAN in the page, as Mescheder et al. 2018 draw it (Fig. 1): the (θ, ψ) plane with the update field as
arrows and the parameters' path growing live; plain alternating gradient descent circles the equilibrium, and R1
set live bends the circle into a spiral that ends there."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import run_id_of, screenshot

pytestmark = pytest.mark.browser

PORTRAIT = "[data-testid=phase-portrait]"


def portrait_number(page: Page, attribute: str) -> float:
    return float(page.locator(PORTRAIT).get_attribute(f"data-{attribute}") or "nan")


def wait_until(page: Page, condition: str) -> None:
    """Wait for a JavaScript condition on the portrait canvas `c`."""
    page.wait_for_function(f"() => {{ const c = document.querySelector('{PORTRAIT}'); return !!c && ({condition}); }}")


def test_the_dirac_gan_portrait_circles_the_equilibrium_and_r1_set_live_spirals_it_into_the_centre(
    page: Page, stop_runs: list[str]
):
    page.goto("/")
    page.get_by_test_id("preset-select").select_option("dirac-gan")
    page.get_by_test_id("settings").locator("summary").click()
    page.get_by_test_id("field-steps").fill("20000")  # long enough to patch it live; stopped by the fixture
    page.get_by_test_id("start-run").click()
    page.wait_for_url(re.compile(r"\?run=[0-9a-f]{32}$"))
    stop_runs.append(run_id_of(page))
    expect(page.get_by_test_id("run-status")).to_have_text("running")

    portrait = page.locator(PORTRAIT)
    expect(portrait).to_be_visible()
    expect(page.get_by_test_id("field-view")).to_be_hidden()  # the portrait replaces the 2D field view
    box = portrait.bounding_box()
    assert box is not None and box["width"] >= 480 and abs(box["width"] - box["height"]) < 2, box

    # The field's arrows come from a field frame; the path from the metrics, growing with every step.
    wait_until(page, "Number(c.dataset.arrows) > 200 && Number(c.dataset.points) > 50")
    assert portrait.get_attribute("data-r1-gamma") == "0"
    points = int(portrait_number(page, "points"))
    wait_until(page, f"Number(c.dataset.points) > {points + 100}")
    # Plain alternating steps circle the equilibrium at the starting distance √2, neither in nor out.
    assert 1.2 < portrait_number(page, "distance") < 1.7
    screenshot(page, "run-dirac")

    control = page.get_by_test_id("trick-r1_gamma")
    control.fill("0.3")
    control.press("Tab")  # commits the text field: the patch goes out
    expect(page.get_by_test_id("chart-dirac").get_by_test_id("marker")).to_contain_text("r1_gamma=0.3")
    wait_until(page, "c.dataset.r1Gamma === '0.3'")  # a field frame computed with the penalty redrew the arrows
    wait_until(page, "Number(c.dataset.distance) < 0.05")  # and the path spiralled into the equilibrium
    page.evaluate("window.scrollTo(0, 0)")  # Tab moved the focus, and the page, down to the next control
    screenshot(page, "run-dirac-r1")
