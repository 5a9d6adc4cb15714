"""The taxonomy lesson on the page (issue 14): its card starts one model family of each kind of density on the same
ring and opens the four side by side, every one streaming, charted together only where they share a metric; and a
run of a family other than the GAN is offered only the settings it reads (no D, no unrolling), a GAN all of them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.server.conftest import serve
from tests.web.conftest import create_run, screenshot

pytestmark = pytest.mark.browser

LESSON = "density-families"
RING_SET = ["ring-made", "ring-vae", "ring-ae", "ring-unrolled"]
ROLES = ["explicit: MADE", "approximate: VAE", "approximate: AE", "implicit: GAN"]
# Every step counter a compare column shows, per run, in the order they came: recorded from the page's first moment,
# so a run whose counter only ever showed one value (it never moved while watched) is told apart from a streaming one.
RECORD_STEPS = """
window.stepsSeen = {};
new MutationObserver((records) => {
  for (const r of records) {
    const id = r.target.dataset && r.target.dataset.runId;
    if (id) (window.stepsSeen[id] ??= []).push(Number(r.target.dataset.step));
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-step"] });
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Room for the four families at once (the suite's server runs three), so each is watched while it trains."""
    yield from serve(tmp_path_factory.mktemp("web-density"), warm_workers=1, max_concurrent=4, max_runs_per_client=50)


def test_the_density_lesson_starts_its_ring_families_side_by_side_and_every_one_streams(
    page: Page, server: str, stop_runs: list[str]
):
    page.add_init_script(RECORD_STEPS)
    page.goto("/")
    card = page.get_by_test_id("lesson-card").first
    expect(card).to_have_attribute("data-lesson", LESSON)  # the chapter's taxonomy comes first
    expect(card.get_by_test_id("lesson-set-select").locator("option")).to_have_text(["ring", "digits"])
    pictures = card.get_by_test_id("lesson-picture")
    expect(pictures).to_have_count(4)
    assert [p.get_attribute("data-preset") for p in pictures.all()] == RING_SET
    expect(card.get_by_test_id("lesson-picture-role")).to_have_text(ROLES)
    card.get_by_test_id("lesson-set-select").select_option(label="digits")
    expect(pictures.first).to_have_attribute("data-preset", "digits-made")
    expect(card.get_by_test_id("lesson-picture-role").last).to_have_text("implicit: GAN")  # digits-dcgan
    card.get_by_test_id("lesson-set-select").select_option(label="ring")
    expect(card.locator(".lesson-pic-box[data-source=loading]")).to_have_count(0)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "density-lesson-card")

    start = card.get_by_test_id("lesson-together-start")
    expect(start).to_have_text("Run all 4 side by side")
    start.click()
    page.wait_for_url(re.compile(rf"\?compare=(?:[0-9a-f]{{32}},){{3}}[0-9a-f]{{32}}&lesson={LESSON}$"))
    ids = parse_qs(urlparse(page.url).query)["compare"][0].split(",")
    stop_runs.extend(ids)
    runs = [httpx.get(f"{server}/api/runs/{i}", timeout=10).json() for i in ids]
    assert [r["preset"] for r in runs] == RING_SET
    assert len({r["config"]["seed"] for r in runs}) == 1  # one seed: the families differ, nothing else does

    view = page.get_by_test_id("run-pair")
    expect(view.locator("h1")).to_contain_text("Explicit, approximate and implicit density")
    for i, role in enumerate(ROLES):
        expect(page.get_by_test_id(f"compare-family-{i}")).to_have_text(role)
    # Every run streams: its column's step counter moved while the page watched (not one value from a snapshot).
    page.wait_for_function(
        "(ids) => ids.every((id) => new Set(window.stepsSeen[id] || []).size >= 2"
        " && Math.max(...window.stepsSeen[id]) > 0)",
        arg=ids,
    )
    for i in range(4):
        expect(page.get_by_test_id(f"compare-field-{i}")).to_be_visible()

    # Shared metrics get one chart with a line per run that reports them; a family's own metric stays in its column.
    shared = view.locator(".compare-charts")
    expect(shared.get_by_test_id("chart-modes_covered")).to_have_attribute("data-series", "4")
    expect(shared.get_by_test_id("chart-ms_per_sample")).to_have_attribute("data-series", "4")
    expect(shared.get_by_test_id("chart-recon")).to_have_attribute("data-series", "2")  # the VAE's and the AE's
    for own in ("d_loss", "nll", "kl"):
        expect(shared.get_by_test_id(f"chart-{own}")).to_be_hidden()
    expect(page.get_by_test_id("compare-own-0-likelihood")).to_be_visible()  # MADE: nll, bpd
    expect(page.get_by_test_id("compare-own-0-likelihood")).to_have_attribute("data-series", "2")
    expect(page.get_by_test_id("compare-own-1-recon")).to_have_attribute("data-series", "2")  # VAE: kl, elbo
    expect(page.get_by_test_id("compare-own-3-loss")).to_be_visible()  # the GAN's D and G loss
    expect(page.get_by_test_id("compare-own-2").locator("figure.chart:not([hidden])")).to_have_count(0)
    for i in (0, 1, 2):
        expect(page.get_by_test_id(f"compare-own-{i}-loss")).to_be_hidden()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "density-lesson")


@pytest.fixture
def small_quota(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Page, list[str]]]:
    """A server where a client may have only two live runs, so the third of a set is refused; a page on it, and the
    errors its console logs (a refused start logs its 429 there, so the suite's page fixture would fail on it)."""
    errors: list[str] = []
    for base in serve(tmp_path_factory.mktemp("web-quota"), warm_workers=1, max_concurrent=1, max_runs_per_client=2):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
        page = context.new_page()
        page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
        yield base, page, errors
        context.close()


def test_when_one_of_the_set_cannot_start_those_already_started_are_stopped_and_the_card_says_so(
    small_quota: tuple[str, Page, list[str]],
):
    base, page, errors = small_quota
    page.goto("/")
    card = page.get_by_test_id("lesson-card").first
    card.get_by_test_id("lesson-together-start").click()
    note = card.get_by_test_id("lesson-error")
    expect(note).to_contain_text("Could not start all 4:")
    expect(note).to_contain_text("live runs")  # the server's reason: its quota
    expect(note).to_contain_text("(stopped the 2 already started)")
    expect(card.get_by_test_id("lesson-together-start")).to_be_enabled()  # it may be tried again
    assert "compare=" not in page.url
    runs = httpx.get(f"{base}/api/runs", timeout=10).json()
    assert sorted(r["preset"] for r in runs) == ["ring-made", "ring-vae"]
    for run in runs:
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/api/runs/{run['id']}", timeout=10).json()["status"] != "stopped":
            assert time.monotonic() < deadline, f"{run['preset']} was not stopped"
            time.sleep(0.2)
    # The refused start logged its 429, and nothing else went wrong on the page.
    assert errors and all("429" in e and e.endswith("/api/runs") for e in errors), errors


def test_a_vae_run_is_offered_its_own_settings_and_no_gan_trick_while_a_gan_keeps_them(
    page: Page, server: str, stop_runs: list[str]
):
    slow = {"max_steps_per_second": 30}  # live for the whole test, at little cost to the shared cores
    vae = create_run(server, "ring-vae", stream=slow)
    gan = create_run(server, "ring-unrolled", stream=slow)
    stop_runs.extend([vae, gan])

    page.goto(f"/?run={vae}")
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    expect(page.get_by_test_id("trick-kl_weight")).to_be_enabled()  # the VAE's β, live
    expect(page.get_by_test_id("trick-lr_g")).to_be_visible()
    for gan_only in ("trick-lr_d", "trick-d_steps", "trick-loss", "trick-unroll_steps", "trick-instance_noise-std"):
        expect(page.get_by_test_id(gan_only)).to_have_count(0)
    expect(page.locator("[data-testid=controls-unroll], [data-testid=controls-two_time_scale]")).to_have_count(0)
    expect(page.get_by_test_id("step-d")).to_be_hidden()  # no D to update on its own
    expect(page.get_by_test_id("model-graph")).to_be_hidden()  # GAN Lab's z → G → D describes a GAN
    expect(page.get_by_test_id("fixed-settings")).not_to_contain_text("PacGAN")
    expect(page.get_by_test_id("chart-recon")).to_be_visible()  # its own metrics are charted...
    expect(page.get_by_test_id("chart-recon")).to_have_attribute("data-series", "3")
    expect(page.get_by_test_id("loss-chart")).to_be_hidden()  # ...and D's are not drawn as empty boxes
    expect(page.get_by_test_id("chart-dout")).to_be_hidden()
    # Its sampling cost is a fraction of a microsecond a point: the axis still tells its ticks apart.
    cost = page.get_by_test_id("chart-sampling_cost")
    expect(cost).to_have_attribute("data-y-ticks", re.compile(r"\d"))
    ticks = (cost.get_attribute("data-y-ticks") or "").split()
    assert len(set(ticks)) == len(ticks) > 1, ticks
    screenshot(page, "density-vae-run")

    page.goto(f"/?run={gan}")
    expect(page.get_by_test_id("run-status")).to_have_text("running")
    for control in ("trick-lr_d", "trick-unroll_steps", "trick-d_steps", "trick-lr_g"):
        expect(page.get_by_test_id(control)).to_be_visible()
    expect(page.get_by_test_id("trick-unroll_steps")).to_have_value("5")
    expect(page.get_by_test_id("trick-kl_weight")).to_have_count(0)
    expect(page.get_by_test_id("model-graph")).to_be_visible()
    expect(page.get_by_test_id("loss-chart")).to_be_visible()
    expect(page.get_by_test_id("chart-recon")).to_be_hidden()


def test_the_start_form_shows_the_chosen_family_s_settings_and_a_gan_preset_starts_as_a_vae(
    page: Page, server: str, stop_runs: list[str]
):
    page.goto("/")
    page.get_by_test_id("preset-select").select_option("ring-vae")
    page.get_by_test_id("settings").locator("summary").click()
    expect(page.get_by_test_id("field-train.kl_weight")).to_be_visible()
    expect(page.get_by_test_id("field-model.decoder_std")).to_be_visible()
    expect(page.get_by_test_id("field-train.lr_d")).to_be_hidden()
    expect(page.get_by_test_id("field-tricks.unroll_steps")).to_be_hidden()
    expect(page.locator(".config-form .section-tricks")).to_be_hidden()  # nothing in it applies

    page.get_by_test_id("preset-select").select_option("ring-unrolled")
    expect(page.get_by_test_id("field-tricks.unroll_steps")).to_have_value("5")
    expect(page.get_by_test_id("field-train.kl_weight")).to_be_hidden()
    expect(page.get_by_test_id("field-model.bins")).to_be_hidden()
    # The GAN preset as a VAE: its unrolling is hidden and goes as "off", so the server takes the config.
    page.get_by_test_id("field-model.family").select_option("vae")
    expect(page.get_by_test_id("field-tricks.unroll_steps")).to_be_hidden()
    expect(page.get_by_test_id("field-train.kl_weight")).to_be_visible()
    page.get_by_test_id("field-steps").fill("50")
    page.get_by_test_id("start-run").click()
    page.wait_for_url(re.compile(r"\?run=[0-9a-f]{32}$"))
    run_id = page.url.split("run=")[1]
    stop_runs.append(run_id)
    config = httpx.get(f"{server}/api/runs/{run_id}", timeout=10).json()["config"]
    assert config["model"]["family"] == "vae"
    assert config["tricks"]["unroll_steps"] == 0
    assert config["steps"] == 50
