"""The read-only routes, over real HTTP against a real server."""

from __future__ import annotations

import httpx

from models.alerts import ALERT_KINDS
from models.config import live_paths
from models.lessons import LESSONS
from models.metrics import METRICS
from models.presets import PRESETS
from server.status import ACTIONS, ALL_STATUSES, FINAL_STATUSES, LIVE_STATUSES


def test_health_reports_ok_and_devices(live_server: str):
    body = httpx.get(f"{live_server}/api/health").json()
    assert body["status"] == "ok" and body["devices"][0] == "cpu"
    assert body["executor"] == "LocalExecutor" and body["running"] == 0 and body["queued"] == 0


def test_schema_carries_live_flags_and_limits(live_server: str):
    schema = httpx.get(f"{live_server}/api/schema").json()
    tricks = schema["$defs"]["TricksConfig"]["properties"]
    assert tricks["unroll_steps"]["live"] is True and tricks["unroll_steps"]["maximum"] == 20
    assert tricks["pack"]["live"] is False
    assert "tricks.unroll_steps" in live_paths()


def test_presets_lists_every_preset_with_a_valid_config(live_server: str):
    body = httpx.get(f"{live_server}/api/presets").json()
    assert [p["name"] for p in body] == list(PRESETS)
    ring = next(p for p in body if p["name"] == "ring-vanilla")
    assert ring["config"]["dataset"]["kind"] == "ring"
    assert ring["effect"].startswith("modes_covered <= 2 and hq_fraction >= 0.2")


def test_lessons_serve_the_chapter_in_its_order_with_presets_that_exist(live_server: str):
    body = httpx.get(f"{live_server}/api/lessons").json()
    assert [lesson["name"] for lesson in body] == [lesson.name for lesson in LESSONS]
    assert [lesson["name"] for lesson in body][:6] == [
        "density-families",
        "non-convergence",
        "mode-collapse",
        "diminished-gradient",
        "imbalance",
        "hyperparameter-sensitivity",
    ]
    taxonomy, first = body[0], body[1]
    assert (
        taxonomy["kind"] == "taxonomy" and ["ring-made", "ring-vae", "ring-ae", "ring-unrolled"] in taxonomy["together"]
    )
    assert first["problem"][0] == "dirac-gan" and "dirac-gan-r1" in first["fix"] and "theta" in first["watch"]
    named = [
        {*lesson["problem"], *lesson["fix"], *(n for names in lesson["together"] for n in names)} for lesson in body
    ]
    assert all(names <= set(PRESETS) for names in named)


def test_meta_serves_the_vocabulary_defined_once_in_python(live_server: str):
    body = httpx.get(f"{live_server}/api/meta").json()
    statuses = body["statuses"]
    assert statuses["all"] == list(ALL_STATUSES)
    assert set(statuses["live"]) == LIVE_STATUSES and set(statuses["final"]) == FINAL_STATUSES
    assert {k: set(v) for k, v in statuses["actions"].items()} == {k: set(v) for k, v in ACTIONS.items()}
    assert [(a["kind"], a["title"]) for a in body["alerts"]] == list(ALERT_KINDS.items())
    labels = {m.name: m.label for m in METRICS}
    assert {m["name"]: m["label"] for m in body["metrics"]} == labels
    charted = [(s["name"], s["label"]) for chart in body["charts"] for s in chart["series"]]
    assert charted and all(labels[name] == label for name, label in charted)  # every charted series is a metric


def test_root_serves_the_web_page_with_its_modules_and_the_vendored_chart_library(live_server: str):
    response = httpx.get(f"{live_server}/")
    assert response.status_code == 200 and "ganplay" in response.text and 'src="/src/main.js"' in response.text
    for path in ("/src/main.js", "/vendor/uPlot.esm.js", "/vendor/uPlot.min.css"):
        assert httpx.get(f"{live_server}{path}").status_code == 200, path


def test_openapi_describes_every_route_with_a_response_model(live_server: str):
    paths = httpx.get(f"{live_server}/openapi.json").json()["paths"]
    for path in ("/api/health", "/api/presets"):
        assert "schema" in paths[path]["get"]["responses"]["200"]["content"]["application/json"]
