"""GANPLAY_WATCH=owners on a classroom server: a student sees, streams, samples and forks only their own runs and
sweeps (403 naming the rule; lists leave the others out); an admin sees everything and may share a run, which then
everyone may watch and fork, but still not steer. One real server for the module."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.server.classroom import add_user, bearer
from tests.server.conftest import serve


class Room:
    def __init__(self, base: str, tokens: dict[str, str]):
        self.base, self.tokens = base, tokens

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers=bearer(self.tokens[who]), timeout=60, **kwargs)

    def stream_first(self, who: str, run_id: str) -> dict[str, Any]:
        """The first message of the run's stream, or how it was closed."""
        url = self.base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream?token={self.tokens[who]}"
        with connect(url, max_size=None) as ws:
            try:
                return json.loads(ws.recv(timeout=30))
            except ConnectionClosed as closed:
                assert closed.rcvd is not None
                return {"closed": closed.rcvd.code, "reason": closed.rcvd.reason}


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data: Path = tmp_path_factory.mktemp("owners")
    for base in serve(data, auth="users", watch="owners", warm_workers=1, max_concurrent=1):
        r = Room(base, {name: add_user(data, name, name == "teach") for name in ("alice", "bob", "teach")})
        run = r.call("alice", "POST", "/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 40}}).json()
        sweep = r.call(
            "alice", "POST", "/api/sweeps", json={"preset": "ring-vanilla", "overrides": {"steps": 5}, "seeds": [0]}
        ).json()
        deadline = time.monotonic() + 60
        while r.call("alice", "GET", f"/api/runs/{run['id']}").json()["checkpoint_step"] is None:
            assert time.monotonic() < deadline, "the run never wrote a checkpoint"
            time.sleep(0.05)
        yield {"room": r, "run": run["id"], "sweep": sweep["id"]}


def test_a_student_cannot_watch_anothers_run_or_sweep_and_does_not_see_them_listed(room: dict[str, Any]):
    r, run, sweep = room["room"], room["run"], room["sweep"]
    for method, path in [
        ("GET", f"/api/runs/{run}"),
        ("GET", f"/api/runs/{run}/metrics"),
        ("GET", f"/api/runs/{run}/samples"),
        ("GET", f"/api/runs/{run}/walk"),
        ("GET", f"/api/runs/{run}/snapshots"),
        ("GET", f"/api/runs/{run}/checkpoint"),
        ("GET", f"/api/runs/{run}/export"),
        ("POST", f"/api/runs/{run}/fork"),
        ("GET", f"/api/sweeps/{sweep}"),
    ]:
        refused = r.call("bob", method, path, json={"overrides": {}} if method == "POST" else None)
        assert refused.status_code == 403, (path, refused.text)
        assert "only its owner and admins may watch it (GANPLAY_WATCH=owners)" in refused.json()["detail"], path
    closed = r.stream_first("bob", run)
    assert closed["closed"] == 4403 and "GANPLAY_WATCH=owners" in closed["reason"]
    listed = r.call("bob", "GET", "/api/runs")
    assert listed.json() == [] and listed.headers["X-Total-Count"] == "0"
    assert r.call("bob", "GET", "/api/sweeps").json() == []
    mine = r.call("alice", "GET", "/api/runs").json()
    assert run in [x["id"] for x in mine]
    assert r.stream_first("alice", run)["type"] == "snapshot"


def test_an_admin_sees_every_run_and_sweep(room: dict[str, Any]):
    r = room["room"]
    assert room["run"] in [x["id"] for x in r.call("teach", "GET", "/api/runs").json()]
    assert room["sweep"] in [x["id"] for x in r.call("teach", "GET", "/api/sweeps").json()]
    assert r.call("teach", "GET", f"/api/runs/{room['run']}/samples").status_code == 200
    assert r.stream_first("teach", room["run"])["type"] == "snapshot"


def test_a_shared_run_is_open_to_everyone_to_watch_and_fork_but_not_to_steer_and_unsharing_closes_it(
    room: dict[str, Any],
):
    r, run = room["room"], room["run"]
    assert r.call("alice", "PUT", f"/api/runs/{run}/shared", json={"shared": True}).status_code == 403
    shared = r.call("teach", "PUT", f"/api/runs/{run}/shared", json={"shared": True})
    assert shared.status_code == 200 and shared.json()["shared"] is True
    try:
        assert r.call("bob", "GET", f"/api/runs/{run}").json()["can_control"] is False
        assert [x["id"] for x in r.call("bob", "GET", "/api/runs", params={"shared": "true"}).json()] == [run]
        assert r.call("bob", "GET", "/api/runs").headers["X-Total-Count"] == "1"
        assert r.call("bob", "GET", f"/api/runs/{run}/samples").status_code == 200
        assert r.stream_first("bob", run)["type"] == "snapshot"
        fork = r.call("bob", "POST", f"/api/runs/{run}/fork", json={"overrides": {"steps": 45}})
        assert fork.status_code == 201 and fork.json()["owner"] == "bob"
        assert r.call("bob", "DELETE", f"/api/runs/{run}").status_code == 403
        assert r.call("bob", "POST", f"/api/runs/{fork.json()['id']}/stop").status_code in (202, 409)  # bob's own
        assert r.call("bob", "DELETE", f"/api/runs/{fork.json()['id']}").status_code == 204
    finally:
        r.call("teach", "PUT", f"/api/runs/{run}/shared", json={"shared": False})
    assert r.call("bob", "GET", f"/api/runs/{run}").status_code == 403
    assert r.call("bob", "GET", "/api/runs").json() == []


def test_a_students_upload_is_theirs_to_list_and_train_on_and_anothers_is_refused_as_if_it_did_not_exist(
    room: dict[str, Any],
):
    """An upload may be a student's own pictures: under watch=owners only its owner (and an admin) sees it listed
    or trains on it. Everyone else gets the answer an id never made gets (422 on dataset.id, at once, nothing
    created), whether they create a run, a sweep or a fork with it."""
    r, alices_run = room["room"], room["run"]
    points = [[math.cos(2 * math.pi * i / 200), math.sin(2 * math.pi * i / 200)] for i in range(200)]
    made = r.call("bob", "POST", "/api/datasets", json={"points": points, "name": "bob's ring"})
    assert made.status_code == 201, made.text
    bobs = made.json()["id"]

    def listed(who: str) -> list[str]:
        return [d["id"] for d in r.call(who, "GET", "/api/datasets").json()]

    assert bobs in listed("bob") and bobs in listed("teach") and bobs not in listed("alice")

    def config(upload: str) -> dict[str, Any]:
        return {"steps": 5, "dataset": {"kind": "upload", "id": upload}}

    never = r.call("alice", "POST", "/api/runs", json={"config": config("0" * 32)})
    assert never.status_code == 422, never.text
    runs_before = r.call("teach", "GET", "/api/runs").headers["X-Total-Count"]
    attempts = [
        r.call("alice", "POST", "/api/runs", json={"config": config(bobs)}),
        r.call(
            "alice",
            "POST",
            "/api/runs",
            json={"preset": "ring-vanilla", "overrides": {"dataset.kind": "upload", "dataset.id": bobs}},
        ),
        r.call("alice", "POST", "/api/sweeps", json={"config": config(bobs), "seeds": [0, 1]}),
        r.call(
            "alice", "POST", f"/api/runs/{alices_run}/fork", json={"overrides": {"dataset": config(bobs)["dataset"]}}
        ),
    ]
    for refused in attempts:
        assert refused.status_code == 422, refused.text
        (detail,) = refused.json()["detail"]
        assert detail["field"].endswith("dataset.id"), detail
        assert detail["reason"] == never.json()["detail"][0]["reason"].replace("0" * 32, bobs)
    assert r.call("teach", "GET", "/api/runs").headers["X-Total-Count"] == runs_before

    trained = r.call("teach", "POST", "/api/runs", json={"config": config(bobs)})  # an admin may
    assert trained.status_code == 201, trained.text
    assert r.call("teach", "DELETE", f"/api/runs/{trained.json()['id']}").status_code == 204
