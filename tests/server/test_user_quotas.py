"""With GANPLAY_AUTH=users the quotas count per user, not per address: two students on the same machine (here both
on 127.0.0.1) each get their own live runs, sweeps and uploads, and the one over a limit gets 429 naming it. One
real server for the module, one training slot and quotas of one: every run past the first waits queued."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.classroom import add_user, bearer
from tests.server.conftest import serve

LONG = {"preset": "ring-vanilla", "overrides": {"steps": 10_000_000}}
POINTS = {"points": [[0.0, 1.0], [1.0, 0.0]], "name": "two"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data: Path = tmp_path_factory.mktemp("quotas")
    for base in serve(
        data,
        auth="users",
        warm_workers=0,
        max_concurrent=1,
        max_runs_per_client=1,
        max_sweeps_per_client=1,
        max_uploads_per_client=1,
    ):
        tokens = {name: add_user(data, name) for name in ("alice", "bob")} | {"teach": add_user(data, "teach", True)}
        yield {"base": base, "tokens": tokens}
        for run in httpx.get(f"{base}/api/runs", headers=bearer(tokens["teach"])).json():
            httpx.post(f"{base}/api/runs/{run['id']}/stop", headers=bearer(tokens["teach"]))


def post(server: dict[str, Any], who: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server["base"] + path, json=body, headers=bearer(server["tokens"][who]), timeout=60)


def test_live_runs_count_per_user_not_per_address(server: dict[str, Any]):
    assert post(server, "alice", "/api/runs", LONG).status_code == 201
    over = post(server, "alice", "/api/runs", LONG)
    assert over.status_code == 429
    assert over.json()["detail"] == "user alice already has 1 live runs; stop one first"
    assert post(server, "bob", "/api/runs", LONG).status_code == 201  # same address, another user: room


def test_sweeps_count_per_user_and_their_cells_wait_for_the_users_own_run_quota(server: dict[str, Any]):
    sweep = {"preset": "ring-vanilla", "overrides": {"steps": 10_000_000}, "grid": {"train.lr_g": [1e-4, 2e-4]}}
    first = post(server, "alice", "/api/sweeps", sweep)
    assert first.status_code == 201
    assert {c["status"] for c in first.json()["cells"]} == {"pending"}  # alice's one live run is her quota
    over = post(server, "alice", "/api/sweeps", sweep)
    assert over.status_code == 429
    assert over.json()["detail"] == "user alice already has 1 live sweeps; stop one first"
    assert post(server, "teach", "/api/sweeps", sweep).status_code == 201


def test_uploads_count_per_user_with_a_429_naming_the_limit(server: dict[str, Any]):
    assert post(server, "alice", "/api/datasets", POINTS).status_code == 201
    over = post(server, "alice", "/api/datasets", POINTS)
    assert over.status_code == 429
    [error] = over.json()["detail"]
    assert error["field"] == "file"
    assert error["reason"].startswith("user alice already has 1 stored uploads (max_uploads_per_client)")
    assert post(server, "bob", "/api/datasets", POINTS).status_code == 201
