"""The run view puts the picture first and can be used by everyone (issue 13 §2): the field view is the largest
thing on a 1280 × 800 screen and spans a phone; the live controls come grouped by the fix they are, each with its
paper; every control has an accessible name and a visible focus ring; and with reduced motion asked for, nothing
on the page animates and the field view is redrawn at most once a second."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import DESKTOP, PHONE, create_run, record

pytestmark = pytest.mark.browser

FIELD = "[data-testid=field-view]"
# Every other thing on the page that shows a picture: the charts, the model graph, any canvas, image or svg.
PICTURE_AREAS = """(main) => {
    const box = (el) => el.getBoundingClientRect();
    const shown = (el) => { const b = box(el); return b.width > 0 && b.height > 0; };
    const m = box(main);
    const others = [...document.querySelectorAll("canvas, img, svg, figure, .uplot, .model-graph")]
        .filter((el) => el !== main && !main.contains(el) && !el.contains(main) && shown(el))
        .map((el) => ({what: el.dataset.testid || el.className.baseVal || el.className || el.tagName,
                       area: box(el).width * box(el).height}));
    return {main: m.width * m.height, others};
}"""
# Controls whose accessible name Chromium computes, from its own accessibility tree (what a screen reader reads).
CONTROL_ROLES = {
    "button",
    "checkbox",
    "switch",
    "slider",
    "textbox",
    "combobox",
    "spinbutton",
    "link",
    "radio",
    "DisclosureTriangle",
    "ListBox",
}


# The focused element and its ring: an outline, or (an SVG part, which has none) a thick stroke on its shapes.
FOCUS_RING = """() => {
    const el = document.activeElement; const s = getComputedStyle(el);
    const svg = el instanceof SVGElement;
    const width = svg ? Math.max(0, ...[...el.querySelectorAll('rect, circle, path, text')]
        .map((c) => parseFloat(getComputedStyle(c).strokeWidth) || 0)) : parseFloat(s.outlineWidth);
    return {id: el.dataset.testid || el.dataset.trick || el.id || el.tagName, visible: el.matches(':focus-visible'),
            outline: svg ? 'stroke' : s.outlineStyle, width};
}"""


@pytest.fixture(scope="module")
def ring_run(server: str) -> Iterator[str]:
    """One long ring-vanilla run the tests of this file watch; stopped after them."""
    run_id = create_run(server, "ring-vanilla", steps=100_000)
    yield run_id
    httpx.post(f"{server}/api/runs/{run_id}/stop", timeout=10)


def open_run(page: Page, run_id: str) -> None:
    page.goto(f"/?run={run_id}")
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    page.wait_for_function(f"() => Number(document.querySelector('{FIELD}')?.dataset.frames || 0) > 0")


def test_the_2d_picture_is_at_least_480_px_square_and_the_largest_thing_at_1280_by_800(page: Page, ring_run: str):
    open_run(page, ring_run)
    box = page.locator(FIELD).bounding_box()
    assert box is not None and box["width"] >= 480 and abs(box["width"] - box["height"]) < 2, box
    # It starts near the top, under the run's title, status and any alert: at least 480 px of it on the first screen.
    assert DESKTOP["height"] - box["y"] >= 480, f"the picture starts too far down: {box}"
    areas = page.locator(FIELD).evaluate(PICTURE_AREAS)
    record(
        "run_view_picture_1280",
        {
            "side_px": box["width"],
            "top_px": box["y"],
            "next_largest_px2": max(o["area"] for o in areas["others"]),
            "picture_px2": areas["main"],
        },
    )
    bigger = [o for o in areas["others"] if o["area"] >= areas["main"]]
    assert len(areas["others"]) >= 5 and not bigger, (areas["main"], bigger)  # charts and the graph are all smaller


def test_on_a_390_px_phone_the_picture_spans_the_screen_without_sideways_scrolling(page: Page, ring_run: str):
    page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    open_run(page, ring_run)
    box = page.locator(FIELD).bounding_box()
    assert box is not None and box["width"] >= 0.9 * PHONE["width"] and box["x"] >= 0, box
    assert box["x"] + box["width"] <= PHONE["width"], box
    record("run_view_picture_390", {"side_px": box["width"], "left_px": box["x"]})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the run view is {overflow}px wider than the phone"


def test_live_controls_come_grouped_by_fix_with_its_paper_and_fixed_settings_are_folded_away(page: Page, ring_run: str):
    open_run(page, ring_run)
    papers = {
        "unroll": "Metz et al. 2017",
        "instance_noise": "Sønderby et al. 2017",
        "label_smoothing": "Salimans et al. 2016",
        "feature_matching": "Salimans et al. 2016",
        "replay": "Pfau & Vinyals 2016",
        "r1": "Mescheder et al. 2018",
        "two_time_scale": "Heusel et al. 2017",
    }
    for fix, paper in papers.items():
        expect(page.get_by_test_id(f"controls-{fix}").locator("cite")).to_contain_text(paper)
    expect(page.get_by_test_id("controls-unroll").get_by_test_id("trick-unroll_steps")).to_be_visible()
    expect(page.get_by_test_id("controls-two_time_scale").get_by_test_id("trick-lr_d")).to_be_visible()
    fixed = page.get_by_test_id("fixed-settings")
    expect(fixed).not_to_have_attribute("open", "")
    expect(fixed.locator("dd").first).to_be_hidden()  # folded: the list is there, out of the way
    fixed.locator("summary").click()
    expect(fixed).to_contain_text("Minibatch packing (PacGAN)")  # packing is fixed for a run's life: listed here
    expect(fixed).to_contain_text("model · Z Dim")
    expect(page.get_by_test_id("controls-pack")).to_have_count(0)  # and not among the live controls


def test_every_control_in_the_run_view_has_an_accessible_name_and_tab_shows_a_focus_ring(page: Page, ring_run: str):
    open_run(page, ring_run)
    page.get_by_test_id("controls-run").locator("summary").click()  # the folded groups' controls too
    page.get_by_test_id("fixed-settings").locator("summary").click()
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    controls = [n for n in nodes if not n.get("ignored") and n.get("role", {}).get("value") in CONTROL_ROLES]
    unnamed = [(n["role"]["value"], n.get("backendDOMNodeId")) for n in controls if not n.get("name", {}).get("value")]
    assert len(controls) > 30 and not unnamed, f"{len(controls)} controls, unnamed: {unnamed}"

    # Keyboard: Tab reaches the live controls, and whatever has the focus shows a ring of at least 2 px.
    page.locator("header a").first.focus()  # from the top of the page
    reached: set[str] = set()
    for _ in range(150):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_RING)
        if focus["id"] == "BODY":  # past the last control
            break
        assert focus["visible"] and focus["outline"] != "none" and focus["width"] >= 2, focus
        reached.add(focus["id"])
    assert {"pause-run", "trick-unroll_steps", "trick-lr_d"} <= reached, reached


def test_with_reduced_motion_nothing_animates_and_the_field_is_redrawn_at_most_once_a_second(
    browser: Browser, server: str, ring_run: str
):
    context = browser.new_context(
        viewport={"width": DESKTOP["width"], "height": DESKTOP["height"]}, base_url=server, reduced_motion="reduce"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        open_run(page, ring_run)
        # Switching a trick on live lights it up in the model graph: a flash and a fade where motion is welcome.
        page.get_by_test_id("trick-label_smoothing").fill("0.1")
        page.wait_for_selector(".model-graph .trick[data-active=true]")
        running = page.evaluate("""() => document.getAnimations()
            .filter((a) => a.playState === 'running').map((a) => a.animationName || a.transitionProperty || 'js')""")
        assert running == [], running
        assert page.evaluate("getComputedStyle(document.querySelector('.model-graph .trick')).transitionDuration") in (
            "0s",
            "",
        )
        # The stream brings several field frames a second; the view draws the newest once a second at most.
        times = page.evaluate("""() => new Promise((done) => {
            const c = document.querySelector('[data-testid=field-view]'); const seen = [];
            new MutationObserver(() => seen.push(performance.now())).observe(c, {attributeFilter: ['data-frames']});
            setTimeout(() => done(seen), 4500);
        })""")
        gaps = [b - a for a, b in pairwise(times)]
        assert len(times) >= 2 and min(gaps) >= 900, times
    finally:
        context.close()
    assert not errors, errors
