"""Security defaults over real HTTP and websockets: token, origin check, per-client quota."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.server.conftest import serve

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(
        tmp_path_factory.mktemp("secure"), warm_workers=1, max_concurrent=1, token=TOKEN, max_runs_per_client=1
    )


def stop_and_wait(server: str, run_id: str) -> None:
    """Stop a run and wait until the database says so, so it no longer counts against the quota."""
    httpx.post(f"{server}/api/runs/{run_id}/stop", headers=AUTH)
    deadline = time.monotonic() + 30
    while httpx.get(f"{server}/api/runs/{run_id}").json()["status"] in ("queued", "starting", "running", "paused"):
        assert time.monotonic() < deadline, "run did not stop"
        time.sleep(0.05)


def test_mutating_calls_need_the_token_and_reads_do_not(server: str):
    body = {"preset": "ring-vanilla", "overrides": {"steps": 100_000}}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.post(f"{server}/api/runs", json=body, headers=headers)
        assert refused.status_code == 401 and refused.json()["detail"][0]["field"] == "authorization"
    assert httpx.get(f"{server}/api/runs").json() == []  # nothing was created
    created = httpx.post(f"{server}/api/runs", json=body, headers=AUTH)
    assert created.status_code == 201
    run_id = created.json()["id"]
    assert httpx.post(f"{server}/api/runs/{run_id}/stop").status_code == 401
    stop_and_wait(server, run_id)


def refused_with_4401(url: str, **kwargs: Any) -> None:
    """The socket opens, then closes at once with 4401 and its reason: no snapshot sent, no command read."""
    with connect(url, **kwargs) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.send(json.dumps({"type": "stop"}))
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert closed.value.rcvd.reason == "missing or wrong token"


def test_websocket_needs_the_token_and_an_acceptable_origin(server: str):
    created = httpx.post(
        f"{server}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 50}}, headers=AUTH
    )
    run_id = created.json()["id"]
    url = server.replace("http://", "ws://") + f"/api/runs/{run_id}/stream"
    refused_with_4401(url)
    with pytest.raises(InvalidStatus), connect(f"{url}?token={TOKEN}", origin="http://evil.example") as ws:
        ws.recv(timeout=5)
    same_origin = server  # the page served by this server
    with connect(f"{url}?token={TOKEN}", origin=same_origin) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "snapshot"
    stop_and_wait(server, run_id)


def test_a_client_over_its_run_quota_gets_429_and_nothing_is_created(server: str):
    body = {"preset": "ring-vanilla", "overrides": {"steps": 100_000}}
    first = httpx.post(f"{server}/api/runs", json=body, headers=AUTH)
    assert first.status_code == 201
    before = len(httpx.get(f"{server}/api/runs").json())
    over = httpx.post(f"{server}/api/runs", json=body, headers=AUTH)
    assert over.status_code == 429
    assert len(httpx.get(f"{server}/api/runs").json()) == before
    stop_and_wait(server, first.json()["id"])
