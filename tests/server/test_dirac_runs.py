"""The Dirac-GAN through the real server: its state streamed as metrics, its phase portrait as the field frame, a
live trick that bends the circle into a spiral, samples of one number each, and a fork that resumes it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from server.wire import decode
from tests.server.conftest import serve
from tests.server.test_runs_api import Event, create, receive_until, ws_url

STATE = "theta,psi,equilibrium_distance"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("dirac"), warm_workers=1, max_concurrent=2)


def until_completed(base: str, run_id: str) -> list[Event]:
    """The snapshot, its frames and every event up to the run's completion (a short run may be done already)."""
    with connect(ws_url(base, run_id)) as ws:
        snapshot = json.loads(ws.recv(timeout=30))
        frames = [decode(ws.recv(timeout=30)) for _ in range(snapshot["binary_frames"])]  # the newest, binary
        events = [snapshot, *snapshot["frames"], *frames]
        if snapshot["run"]["status"] != "completed":
            events += receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "completed", timeout=120)
    deadline = time.monotonic() + 10
    while httpx.get(f"{base}/api/runs/{run_id}").json()["checkpoint_step"] is None:
        assert time.monotonic() < deadline, "checkpoint step never recorded"
        time.sleep(0.05)
    return events


def state(base: str, run_id: str) -> dict[str, Any]:
    body = httpx.get(f"{base}/api/runs/{run_id}/metrics", params={"names": STATE}).json()
    return {"steps": body["steps"], **body["series"]}


def assert_phase_portrait(frame: Event) -> None:
    assert frame["kind"] == "dirac" and frame["resolution"] == 17
    assert len(frame["vectors"]) == 17 and all(len(row) == 17 and len(row[0]) == 2 for row in frame["vectors"])
    xmin, xmax, ymin, ymax = frame["bounds"]
    assert xmin <= -2 and xmax >= 2 and ymin <= -2 and ymax >= 2
    assert xmin <= frame["point"][0] <= xmax and ymin <= frame["point"][1] <= ymax


def test_the_dirac_gan_preset_streams_its_state_and_phase_portrait_completes_samples_and_forks(server: str):
    run = create(server, preset="dirac-gan")
    events = until_completed(server, run["id"])
    fields = [e for e in events if e["type"] == "field"]
    assert fields, [e["type"] for e in events]
    assert_phase_portrait(fields[-1])
    history = state(server, run["id"])
    assert history["steps"][-1] == 500 and len(history["theta"]) == len(history["psi"]) == 500
    assert 1.3 <= history["equilibrium_distance"][-1] <= 1.6  # still circling: the lesson's effect
    theta = history["theta"][-1]

    url = f"{server}/api/runs/{run['id']}/samples"
    body = httpx.get(url, params={"n": 4, "seed": 1, "format": "json"}).json()
    assert body["shape"] == [4, 1] and all(s == pytest.approx([theta], abs=1e-6) for s in body["samples"])
    png = httpx.get(url, params={"n": 4})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"

    response = httpx.post(
        f"{server}/api/runs/{run['id']}/fork", json={"overrides": {"steps": 700, "tricks": {"r1_gamma": 0.3}}}
    )
    assert response.status_code == 201, response.text
    child = response.json()
    until_completed(server, child["id"])
    resumed = state(server, child["id"])
    assert resumed["steps"][0] == 501 and resumed["steps"][-1] == 700
    assert resumed["equilibrium_distance"][-1] < 0.05  # R1 pulled the circling pair into the equilibrium


def test_turning_r1_on_mid_run_bends_the_circle_into_a_spiral_and_the_field_shows_it(server: str):
    run = create(server, preset="dirac-gan", overrides={"steps": 1_000_000})
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] >= 100)
        response = httpx.patch(f"{server}/api/runs/{run['id']}/config", json={"tricks": {"r1_gamma": 0.3}})
        assert response.status_code == 202
        config = receive_until(ws, lambda e: e["type"] == "config")[-1]

        def converged(e: Event) -> bool:
            return e["type"] == "metrics" and any(r.get("equilibrium_distance", 1) < 0.01 for r in e["rows"])

        receive_until(ws, converged)
        frame = receive_until(ws, lambda e: e["type"] == "field" and e["step"] > config["step"])[-1]
        assert_phase_portrait(frame)
        assert frame["r1_gamma"] == 0.3
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    history = state(server, run["id"])
    before = [d for s, d in zip(history["steps"], history["equilibrium_distance"]) if s < config["step"]]
    assert min(before) > 1.3  # circling until the patch
