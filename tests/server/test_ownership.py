"""A classroom server (GANPLAY_AUTH=users), one real server for the module: the role × action matrix over REST and
the websocket, every route closed to a caller without a valid token, and a revoked token closing an open stream.

Roles: ``owner`` (alice, whose run, sweep and upload are acted on), ``other`` (bob, another student), ``admin``
(an instructor), ``no-token`` and ``revoked`` (carol, whose token was revoked). Each action returns "ok", "401" or
"403" and checks what it should have done, or that a refused one changed nothing. One training slot: the module's
live run ``L`` holds it, so every other run made here waits queued and costs no CPU; the action that pauses ``L``
resumes it before it ends."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from server.wire import decode
from tests.server.classroom import add_user, bearer, revoke_user
from tests.server.conftest import api_routes, serve

ROLES = ("owner", "other", "admin", "no-token", "revoked")
NAMES = {"owner": "alice", "other": "bob", "admin": "teach"}
SIGNED_IN = frozenset({"owner", "other", "admin"})
CONTROLLERS = frozenset({"owner", "admin"})
#: Who may do what; everyone else gets 403, and a caller without a valid token 401 on everything.
ALLOWED: dict[str, frozenset[str]] = {
    "list": SIGNED_IN,
    "read": SIGNED_IN,
    "watch": SIGNED_IN,
    "samples": SIGNED_IN,
    "fork": SIGNED_IN,
    "datasets": SIGNED_IN,
    "upload": SIGNED_IN,
    "sweep_create": SIGNED_IN,
    "sweep_read": SIGNED_IN,
    "patch": CONTROLLERS,
    "pause": CONTROLLERS,
    "resume": CONTROLLERS,
    "stop": CONTROLLERS,
    "delete": CONTROLLERS,
    "ws_patch": CONTROLLERS,
    "ws_pause": CONTROLLERS,
    "ws_stop": CONTROLLERS,
    "sweep_stop": CONTROLLERS,
    "sweep_delete": CONTROLLERS,
    "dataset_delete": CONTROLLERS,
    "share": frozenset({"admin"}),
}
LONG = {"preset": "ring-vanilla", "overrides": {"steps": 10_000_000}}
SWEEP = {"preset": "ring-vanilla", "overrides": {"steps": 20}, "grid": {"train.lr_g": [0.0002]}}
POINTS = {"points": [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], "name": "dots"}


def expected(role: str, action: str) -> str:
    if role not in SIGNED_IN:
        return "401"
    return "ok" if role in ALLOWED[action] else "403"


@dataclass
class Classroom:
    base: str
    data: Path
    tokens: dict[str, str | None]
    finished: str  # alice's completed run, with a checkpoint
    sweep: str  # alice's finished sweep
    upload: str  # alice's dataset
    live: str  # alice's run that trains for the whole module (status running between tests)

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers=bearer(self.tokens[role]), timeout=60, **kwargs)

    def ws(self, role: str, run_id: str) -> ClientConnection:
        token = self.tokens[role]
        query = f"?token={token}" if token else ""
        return connect(self.base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream{query}", max_size=None)

    def run(self, run_id: str) -> httpx.Response:
        return self.call("admin", "GET", f"/api/runs/{run_id}")

    def wait(self, run_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (run := self.run(run_id).json())["status"] not in statuses:
            assert time.monotonic() < deadline, f"run {run_id} is {run['status']}, not {statuses}"
            time.sleep(0.05)
        return run

    def fresh_run(self) -> str:
        """A new run of alice's: queued behind ``live``, so it trains nothing."""
        made = self.call("owner", "POST", "/api/runs", json=LONG)
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def fresh_sweep(self) -> str:
        made = self.call("owner", "POST", "/api/sweeps", json=SWEEP | {"overrides": {"steps": 10_000_000}})
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def fresh_upload(self) -> str:
        made = self.call("owner", "POST", "/api/datasets", json=POINTS)
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def resume_live(self) -> None:
        """``live`` running again (by its owner), whatever an action left it in."""
        if self.run(self.live).json()["status"] == "paused":
            assert self.call("owner", "POST", f"/api/runs/{self.live}/resume").status_code == 202
        self.wait(self.live, "running")


def outcome(response: httpx.Response) -> str:
    if response.is_success:
        return "ok"
    if response.status_code in (401, 403):
        if response.status_code == 403:
            assert "only its owner or an admin" in response.text or "only an admin" in response.text, response.text
        return str(response.status_code)
    raise AssertionError(
        f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
    )


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Classroom]:
    data = tmp_path_factory.mktemp("classroom")
    for base in serve(data, auth="users", warm_workers=1, max_concurrent=1, max_runs_per_client=50):
        tokens: dict[str, str | None] = {
            role: add_user(data, name, admin=role == "admin") for role, name in NAMES.items()
        }
        tokens["revoked"] = add_user(data, "carol")
        revoke_user(data, "carol")
        tokens["no-token"] = None
        room = Classroom(base, data, tokens, "", "", "", "")
        finished = room.call("owner", "POST", "/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 60}})
        room.finished = finished.json()["id"]
        room.sweep = room.call("owner", "POST", "/api/sweeps", json=SWEEP).json()["id"]
        room.upload = room.fresh_upload()
        assert room.wait(room.finished, "completed")["checkpoint_step"] is not None
        cell = room.call("owner", "GET", f"/api/sweeps/{room.sweep}").json()["cells"][0]["run_id"]
        room.wait(cell, "completed")
        room.live = room.fresh_run()
        room.wait(room.live, "running")
        yield room
        room.call("admin", "POST", f"/api/runs/{room.live}/stop")


# ----------------------------------------------------------------------------------------- the actions


def do_list(c: Classroom, role: str) -> str:
    response = c.call(role, "GET", "/api/runs")
    if response.is_success:
        runs = {run["id"]: run for run in response.json()}
        assert runs[c.finished]["owner"] == "alice" and runs[c.finished]["shared"] is False
    return outcome(response)


def do_read(c: Classroom, role: str) -> str:
    response = c.call(role, "GET", f"/api/runs/{c.finished}")
    if response.is_success:
        run = response.json()
        assert (run["owner"], run["can_control"], run["can_share"]) == ("alice", role in CONTROLLERS, role == "admin")
    return outcome(response)


def do_samples(c: Classroom, role: str) -> str:
    response = c.call(role, "GET", f"/api/runs/{c.finished}/samples", params={"n": 8})
    if response.is_success:
        assert response.headers["content-type"] == "image/png"
    return outcome(response)


def do_fork(c: Classroom, role: str) -> str:
    """A fork belongs to whoever forked it: they may delete it, though they may not steer its parent."""
    response = c.call(role, "POST", f"/api/runs/{c.finished}/fork", json={"overrides": {}})
    if response.is_success:
        fork = response.json()
        assert fork["owner"] == NAMES[role] and fork["parent_id"] == c.finished and fork["can_control"] is True
        assert c.call(role, "DELETE", f"/api/runs/{fork['id']}").status_code == 204
    return outcome(response)


def do_patch(c: Classroom, role: str) -> str:
    before = c.run(c.live).json()["changes_total"]
    response = c.call(role, "PATCH", f"/api/runs/{c.live}/config", json={"train": {"lr_g": 0.00021}})
    if response.is_success:
        assert response.status_code == 202 and response.json()["config"]["train"]["lr_g"] == 0.00021
    else:
        assert c.run(c.live).json()["changes_total"] == before
    return outcome(response)


def do_pause(c: Classroom, role: str) -> str:
    try:
        response = c.call(role, "POST", f"/api/runs/{c.live}/pause")
        if response.is_success:
            c.wait(c.live, "paused")
        else:
            assert c.run(c.live).json()["status"] == "running"
        return outcome(response)
    finally:
        c.resume_live()


def do_resume(c: Classroom, role: str) -> str:
    assert c.call("owner", "POST", f"/api/runs/{c.live}/pause").status_code == 202
    c.wait(c.live, "paused")
    try:
        response = c.call(role, "POST", f"/api/runs/{c.live}/resume")
        if response.is_success:
            c.wait(c.live, "running")
        else:
            assert c.run(c.live).json()["status"] == "paused"
        return outcome(response)
    finally:
        c.resume_live()


def do_stop(c: Classroom, role: str) -> str:
    run_id = c.fresh_run()
    try:
        response = c.call(role, "POST", f"/api/runs/{run_id}/stop")
        if response.is_success:
            c.wait(run_id, "stopped")
        else:
            assert c.run(run_id).json()["status"] == "queued"
        return outcome(response)
    finally:
        c.call("admin", "DELETE", f"/api/runs/{run_id}")


def do_delete(c: Classroom, role: str) -> str:
    run_id = c.fresh_run()
    try:
        response = c.call(role, "DELETE", f"/api/runs/{run_id}")
        assert c.run(run_id).status_code == (404 if response.is_success else 200)
        return outcome(response)
    finally:
        c.call("admin", "DELETE", f"/api/runs/{run_id}")


def do_share(c: Classroom, role: str) -> str:
    try:
        response = c.call(role, "PUT", f"/api/runs/{c.finished}/shared", json={"shared": True})
        assert c.run(c.finished).json()["shared"] is response.is_success
        return outcome(response)
    finally:
        c.call("admin", "PUT", f"/api/runs/{c.finished}/shared", json={"shared": False})


def do_sweep_create(c: Classroom, role: str) -> str:
    """A sweep and its cells' runs belong to whoever made it, who may delete it."""
    response = c.call(role, "POST", "/api/sweeps", json=SWEEP | {"overrides": {"steps": 10_000_000}})
    if response.is_success:
        sweep = response.json()
        assert sweep["owner"] == NAMES[role] and sweep["can_control"] is True
        assert c.run(sweep["cells"][0]["run_id"]).json()["owner"] == NAMES[role]
        assert c.call(role, "DELETE", f"/api/sweeps/{sweep['id']}").status_code == 204
    return outcome(response)


def do_sweep_read(c: Classroom, role: str) -> str:
    response = c.call(role, "GET", f"/api/sweeps/{c.sweep}")
    if response.is_success:
        assert response.json()["owner"] == "alice" and response.json()["can_control"] is (role in CONTROLLERS)
        listed = c.call(role, "GET", "/api/sweeps").json()
        assert any(s["id"] == c.sweep and s["owner"] == "alice" for s in listed)
    return outcome(response)


def do_sweep_stop(c: Classroom, role: str) -> str:
    sweep_id = c.fresh_sweep()
    try:
        response = c.call(role, "POST", f"/api/sweeps/{sweep_id}/stop")
        status = c.call("admin", "GET", f"/api/sweeps/{sweep_id}").json()["status"]
        assert status == ("stopped" if response.is_success else "running")
        return outcome(response)
    finally:
        c.call("admin", "DELETE", f"/api/sweeps/{sweep_id}")


def do_sweep_delete(c: Classroom, role: str) -> str:
    sweep_id = c.fresh_sweep()
    try:
        response = c.call(role, "DELETE", f"/api/sweeps/{sweep_id}")
        assert c.call("admin", "GET", f"/api/sweeps/{sweep_id}").status_code == (404 if response.is_success else 200)
        return outcome(response)
    finally:
        c.call("admin", "DELETE", f"/api/sweeps/{sweep_id}")


def do_datasets(c: Classroom, role: str) -> str:
    response = c.call(role, "GET", "/api/datasets")
    if response.is_success:
        assert {d["id"]: d["owner"] for d in response.json()}[c.upload] == "alice"
    return outcome(response)


def do_upload(c: Classroom, role: str) -> str:
    """An upload belongs to its uploader, who may delete it."""
    response = c.call(role, "POST", "/api/datasets", json=POINTS)
    if response.is_success:
        assert response.json()["owner"] == NAMES[role]
        assert c.call(role, "DELETE", f"/api/datasets/{response.json()['id']}").status_code == 204
    return outcome(response)


def do_dataset_delete(c: Classroom, role: str) -> str:
    upload = c.fresh_upload()
    try:
        response = c.call(role, "DELETE", f"/api/datasets/{upload}")
        listed = [d["id"] for d in c.call("admin", "GET", "/api/datasets").json()]
        assert (upload in listed) is not response.is_success
        return outcome(response)
    finally:
        c.call("admin", "DELETE", f"/api/datasets/{upload}")


@contextlib.contextmanager
def opened(c: Classroom, role: str, run_id: str) -> Iterator[tuple[ClientConnection, dict[str, Any]] | None]:
    """The stream with its snapshot read and this connection's ``access`` event, or None when it was closed with
    4401 (no valid token) before anything was sent."""
    with c.ws(role, run_id) as ws:
        try:
            first = json.loads(ws.recv(timeout=30))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4401, closed
            assert closed.rcvd.reason == "missing, wrong or revoked token"
            yield None
            return
        assert first["type"] == "snapshot"
        access = json.loads(ws.recv(timeout=30))
        assert access["type"] == "access"
        yield ws, access


def receive_until(ws: ClientConnection, test: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        event = decode(ws.recv(timeout=max(0.1, deadline - time.monotonic())))  # text, or a binary frame
        if test(event):
            return event


def ws_command(c: Classroom, role: str, run_id: str, command: dict[str, Any], done: Callable[[dict], bool]) -> str:
    """Send ``command`` on the run's stream: "ok" when ``done`` sees its effect, "403" when the server answers an
    ``error`` event saying only the owner or an admin may, "401" when the stream would not open."""
    with opened(c, role, run_id) as found:
        if found is None:
            return "401"
        ws, access = found
        assert access["can_control"] is (role in CONTROLLERS) and access["owner"] == "alice"
        ws.send(json.dumps(command | {"id": "cmd"}))
        event = receive_until(ws, lambda e: done(e) or e["type"] == "error")
    if event["type"] != "error":
        return "ok"
    [error] = event["errors"]
    assert error["field"] == "type" and f"only its owner or an admin may {command['type']} it" in error["reason"]
    return "403"


def do_watch(c: Classroom, role: str) -> str:
    with opened(c, role, c.finished) as found:
        if found is None:
            return "401"
        access = found[1]
    assert access == {
        "type": "access",
        "user": NAMES[role],
        "admin": role == "admin",
        "owner": "alice",
        "can_control": role in CONTROLLERS,
        "can_share": role == "admin",
    }
    return "ok"


def do_ws_patch(c: Classroom, role: str) -> str:
    result = ws_command(
        c,
        role,
        c.live,
        {"type": "patch", "patch": {"train": {"lr_g": 0.00022}}},
        lambda e: e["type"] == "patch_accepted",
    )
    if result == "403":
        assert c.run(c.live).json()["status"] == "running"
    return result


def do_ws_pause(c: Classroom, role: str) -> str:
    try:
        result = ws_command(
            c, role, c.live, {"type": "pause"}, lambda e: e["type"] == "status" and e["status"] == "paused"
        )
        if result != "ok":
            assert c.run(c.live).json()["status"] == "running"
        return result
    finally:
        c.resume_live()


def do_ws_stop(c: Classroom, role: str) -> str:
    run_id = c.fresh_run()
    try:
        result = ws_command(
            c, role, run_id, {"type": "stop"}, lambda e: e["type"] == "status" and e["status"] == "stopped"
        )
        assert c.run(run_id).json()["status"] == ("stopped" if result == "ok" else "queued")
        return result
    finally:
        c.call("admin", "DELETE", f"/api/runs/{run_id}")


ACTIONS: dict[str, Callable[[Classroom, str], str]] = {name: globals()[f"do_{name}"] for name in ALLOWED}


@pytest.mark.parametrize("action", list(ALLOWED))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_what_the_matrix_says_and_a_refused_action_changes_nothing(
    classroom: Classroom, role: str, action: str
):
    assert ACTIONS[action](classroom, role) == expected(role, action)


# ----------------------------------------------------------------------------------------- every route


def every_route() -> list[tuple[str, str]]:
    return api_routes(mutating=False) + api_routes(mutating=True)


@pytest.mark.parametrize(("method", "path"), every_route())
@pytest.mark.parametrize("role", ["no-token", "revoked", "wrong"])
def test_every_route_but_health_needs_a_valid_user_token_reads_too(
    classroom: Classroom, method: str, path: str, role: str
):
    """401 naming ``authorization`` on every REST route, reads included, for a missing, revoked or made-up token;
    only ``/api/health`` answers anyone (a liveness probe). Nothing is created or changed."""
    c = classroom
    ids = {"run_id": c.finished, "sweep_id": c.sweep, "dataset_id": c.upload, "action": "stop", "step": "1"}
    url = c.base + path.format(**ids)
    runs_before = c.call("admin", "GET", "/api/runs").headers["X-Total-Count"]
    headers = {"Authorization": "Bearer made-up"} if role == "wrong" else bearer(c.tokens[role])
    response = httpx.request(method, url, headers=headers, json=LONG, timeout=30)
    if path == "/api/health":
        assert response.status_code == 200
        return
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == [{"field": "authorization", "reason": "missing, wrong or revoked token"}]
    assert c.call("admin", "GET", "/api/runs").headers["X-Total-Count"] == runs_before
    assert c.upload in [d["id"] for d in c.call("admin", "GET", "/api/datasets").json()]


def test_me_says_who_is_signed_in_and_the_servers_rules(classroom: Classroom):
    me = classroom.call("admin", "GET", "/api/me").json()
    assert me == {"auth": "users", "watch": "everyone", "name": "teach", "admin": True}
    assert classroom.call("other", "GET", "/api/me").json()["admin"] is False


# ----------------------------------------------------------------------------------------- revocation


def test_a_revoked_token_closes_the_users_open_stream_within_a_second_and_its_rest_calls_fail(classroom: Classroom):
    c = classroom
    c.tokens["late"] = add_user(c.data, "dora")
    with opened(c, "late", c.live) as found:
        assert found is not None
        ws, access = found
        assert access["user"] == "dora" and access["can_control"] is False
        receive_until(ws, lambda e: e["type"] == "metrics")  # live events flow
        revoke_user(c.data, "dora")
        revoked_at = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        elapsed = time.monotonic() - revoked_at
    print(f"stream closed {elapsed:.3f} s after the revocation")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert closed.value.rcvd.reason == "token revoked"
    assert elapsed < 1.0, f"the stream closed {elapsed:.2f} s after the revocation"
    assert c.call("late", "GET", "/api/runs").status_code == 401
    assert c.run(c.live).json()["status"] == "running"  # the run it watched is untouched
