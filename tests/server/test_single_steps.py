"""Slow motion and single steps over the API (issue 13, §2): a paused run takes one D update, one G update or one
full step by hand, each one step with one metrics row and a change-log entry; a running run refuses them; the
``stream.max_steps_per_second`` limit caps the pace while pause, stop and patches still act at once; only a run's
owner or an admin may step it. A real server with users, real workers, real websockets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from server.ray_actor import Inbox
from tests.server.classroom import add_user, bearer
from tests.server.conftest import serve

Event = dict[str, Any]
RUN: dict[str, Any] = {
    "preset": "ring-vanilla",
    "overrides": {"steps": 1_000_000, "stream": {"samples_every": 100_000}},
}


class Server:
    def __init__(self, base: str, tokens: dict[str, str]):
        self.base, self.tokens = base, tokens

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers=bearer(self.tokens[role]), timeout=30, **kwargs)

    def ws(self, role: str, run_id: str) -> ClientConnection:
        url = self.base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream?token={self.tokens[role]}"
        return connect(url, max_size=None)

    def run(self, role: str = "owner", **overrides: Any) -> str:
        body = {**RUN, "overrides": {**RUN["overrides"], **overrides}}
        made = self.call(role, "POST", "/api/runs", json=body)
        assert made.status_code == 201, made.text
        return str(made.json()["id"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("steps")
    for base in serve(data, auth="users", warm_workers=1, max_concurrent=2, max_runs_per_client=50):
        tokens = {
            "owner": add_user(data, "alice"),
            "watcher": add_user(data, "bob"),
            "admin": add_user(data, "teach", True),
        }
        yield Server(base, tokens)


def receive(ws: ClientConnection, timeout: float) -> Event:
    """The next message: a JSON event, or ``{"type": "binary"}`` for a frame sent as a binary message."""
    message = ws.recv(timeout=timeout)
    return {"type": "binary"} if isinstance(message, bytes) else json.loads(message)


def receive_until(ws: ClientConnection, predicate: Callable[[Event], bool], timeout: float = 60) -> list[Event]:
    """Every event up to and including the first that matches."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(receive(ws, max(0.01, deadline - time.monotonic())))
        if predicate(seen[-1]):
            return seen
    raise TimeoutError(f"no matching event in {timeout} s; the last: {[e['type'] for e in seen[-10:]]}")


def rows(events: list[Event]) -> list[dict[str, float]]:
    return [row for e in events if e["type"] == "metrics" for row in e["rows"]]


def paused_after_a_few_steps(ws: ClientConnection) -> int:
    """Pause once the run is well under way (its steps known to be fast, so the pause lands between steps); the step
    it paused at."""
    receive(ws, 30)  # the snapshot
    receive_until(ws, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] >= 20)
    ws.send(json.dumps({"type": "pause"}))
    return int(receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "paused")[-1]["step"])


def single(ws: ClientConnection, update: str) -> tuple[list[dict[str, float]], Event]:
    """Ask for one update by hand over the websocket: the rows told before its change-log entry, and that entry."""
    ws.send(json.dumps({"type": "step", "update": update, "id": update}))
    seen = receive_until(ws, lambda e: e["type"] in ("config", "error", "step_rejected") and "manual" in str(e), 30)
    assert seen[-1]["type"] == "config", seen[-1]
    return rows(seen), seen[-1]


def test_a_paused_run_takes_one_d_update_one_g_update_and_one_full_step_each_one_step_with_one_row(server: Server):
    run_id = server.run()
    with server.ws("owner", run_id) as ws:
        step = paused_after_a_few_steps(ws)
        for update, label, has, lacks in [
            ("d", "one D update", "d_loss", "g_loss"),
            ("g", "one G update", "g_loss", "d_loss"),
            ("both", "one step", "g_loss", None),
        ]:
            got, entry = single(ws, update)
            step += 1
            assert [row["step"] for row in got] == [step], (update, got)
            assert has in got[0] and (lacks is None or lacks not in got[0])
            assert entry["step"] == step and entry["changes"] == {"manual": label}
        rest = server.call("owner", "POST", f"/api/runs/{run_id}/step", json={"update": "g"})
        assert rest.status_code == 202, rest.text
        got = rows(receive_until(ws, lambda e: e["type"] == "config"))
        assert [row["step"] for row in got] == [step + 1]
        with pytest.raises(TimeoutError):  # still paused: nothing more is trained
            receive_until(ws, lambda e: e["type"] == "metrics", timeout=1.0)
    detail = server.call("owner", "GET", f"/api/runs/{run_id}").json()
    assert detail["status"] == "paused" and detail["step"] == step + 1
    manual = [c["changes"]["manual"] for c in detail["changes"]]
    assert manual == ["one D update", "one G update", "one step", "one G update"]
    history = server.call("owner", "GET", f"/api/runs/{run_id}/metrics", params={"since": step - 3}).json()
    assert history["steps"] == [step - 2, step - 1, step, step + 1]
    assert server.call("owner", "POST", f"/api/runs/{run_id}/stop").status_code == 202


def test_a_step_is_refused_with_a_clear_error_while_the_run_trains_and_an_unknown_update_names_the_field(
    server: Server,
):
    run_id = server.run()
    with server.ws("owner", run_id) as ws:
        receive(ws, 30)
        receive_until(ws, lambda e: e["type"] == "metrics")  # it trains
        ws.send(json.dumps({"type": "step", "update": "d", "id": "early"}))
        error = receive_until(ws, lambda e: e["type"] == "error")[-1]
        assert error["id"] == "early"
        assert error["errors"] == [{"field": "type", "reason": "cannot step a run that is running: pause it first"}]
        ws.send(json.dumps({"type": "step", "update": "x"}))
        error = receive_until(ws, lambda e: e["type"] == "error")[-1]
        assert error["errors"][0]["field"] == "update" and "one D update" in error["errors"][0]["reason"]
    response = server.call("owner", "POST", f"/api/runs/{run_id}/step", json={"update": "both"})
    assert response.status_code == 409 and "pause it first" in response.text
    assert server.call("owner", "POST", f"/api/runs/{run_id}/step", json={"update": "dd"}).status_code == 422
    assert server.call("owner", "POST", f"/api/runs/{run_id}/stop").status_code == 202


def rate(ws: ClientConnection, seconds: float) -> tuple[float, list[dict[str, float]]]:
    """Steps a second over ``seconds`` of the run's metric events (timed by the worker), and their rows."""
    events: list[Event] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = receive(ws, left)
        except TimeoutError:
            break
        if event["type"] == "metrics":
            events.append(event)
    assert len(events) >= 2, events
    first, last = rows(events[:1])[-1]["step"], rows(events)[-1]["step"]
    return (last - first) / (events[-1]["time"] - events[0]["time"]), rows(events[1:])


def test_slow_motion_caps_the_pace_and_lifting_it_acts_at_once(server: Server):
    run_id = server.run()
    with server.ws("owner", run_id) as ws:
        receive(ws, 30)
        receive_until(ws, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] >= 20)
        ws.send(json.dumps({"type": "patch", "id": "slow", "patch": {"stream": {"max_steps_per_second": 5}}}))
        receive_until(ws, lambda e: e["type"] == "config")
        receive_until(ws, lambda e: e["type"] == "metrics")  # the first paced row
        measured, steps = rate(ws, 2.5)
        print(f"slow motion at 5 steps/s: {measured:.2f} steps/s measured over 2.5 s")
        assert 3.0 <= measured <= 5.5, measured  # 5 a second, give or take a busy machine: not hundreds
        paced = [row["it_per_s"] for row in steps]
        assert all(row_rate <= 6.0 for row_rate in paced), paced  # it/s reports the pace it is held to
        receive_until(ws, lambda e: e["type"] in ("field", "binary"), 5)  # a frame: slow motion shows its steps
        ws.send(json.dumps({"type": "patch", "id": "fast", "patch": {"stream": {"max_steps_per_second": 0}}}))
        sent = time.monotonic()
        receive_until(ws, lambda e: e["type"] == "patch_accepted" and e["id"] == "fast", 5)
        assert time.monotonic() - sent < 1.0
        measured, _ = rate(ws, 1.5)
        print(f"slow motion lifted: {measured:.0f} steps/s")
        assert measured > 20, measured
    assert server.call("owner", "POST", f"/api/runs/{run_id}/stop").status_code == 202


def test_pause_patch_and_stop_act_at_once_while_a_step_waits_its_turn(server: Server):
    run_id = server.run(stream={"samples_every": 100_000, "max_steps_per_second": 0.2})  # a step every 5 s
    with server.ws("owner", run_id) as ws:
        receive(ws, 30)
        # The first step this socket sees (step 1, or step 2 when step 1 came before it subscribed); the next
        # waits its turn, 5 s away.
        seen_step = receive_until(ws, lambda e: e["type"] == "metrics")[-1]["rows"][-1]["step"]
        time.sleep(0.3)
        sent = time.monotonic()
        ws.send(json.dumps({"type": "patch", "id": "p", "patch": {"tricks": {"label_smoothing": 0.1}}}))
        receive_until(ws, lambda e: e["type"] == "patch_accepted", 5)
        patched = time.monotonic() - sent
        sent = time.monotonic()
        ws.send(json.dumps({"type": "pause"}))
        seen = receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "paused", 5)
        paused = time.monotonic() - sent
        assert seen[-1]["step"] == seen_step
        ws.send(json.dumps({"type": "resume"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "running", 5)
        receive_until(ws, lambda e: e["type"] == "metrics", 10)  # step 2 at once after the resume
        sent = time.monotonic()
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped", 5)
        stopped = time.monotonic() - sent
    print(
        f"while throttled: patch acknowledged in {patched:.3f} s, paused in {paused:.3f} s, stopped in {stopped:.3f} s"
    )
    assert max(patched, paused, stopped) < 1.0, (patched, paused, stopped)


def test_a_watcher_may_not_step_a_run_but_its_owner_and_an_admin_may(server: Server):
    run_id = server.run()
    with server.ws("owner", run_id) as ws:
        step = paused_after_a_few_steps(ws)
        with server.ws("watcher", run_id) as watcher:
            receive(watcher, 30)
            watcher.send(json.dumps({"type": "step", "update": "d", "id": "mine"}))
            error = receive_until(watcher, lambda e: e["type"] == "error")[-1]
        assert error["id"] == "mine" and "only its owner or an admin may step it" in error["errors"][0]["reason"]
        refused = server.call("watcher", "POST", f"/api/runs/{run_id}/step", json={"update": "g"})
        assert refused.status_code == 403 and "only its owner or an admin" in refused.text
        assert server.call("admin", "POST", f"/api/runs/{run_id}/step", json={"update": "d"}).status_code == 202
        got = rows(receive_until(ws, lambda e: e["type"] == "config"))
        assert [row["step"] for row in got] == [step + 1]  # the admin's, and nothing of the watcher's
    assert server.call("owner", "GET", f"/api/runs/{run_id}").json()["step"] == step + 1
    assert server.call("owner", "POST", f"/api/runs/{run_id}/stop").status_code == 202


def test_the_ray_actors_inbox_wakes_a_slow_motion_wait_when_a_message_comes():
    """The actor stands in for the worker's pipe: ``poll(timeout)`` blocks without spinning and returns at once when
    the bridge puts a message, so slow motion on a cluster gives way to control as the local worker does."""
    inbox = Inbox()
    started = time.monotonic()
    assert inbox.poll(0.05) is False and time.monotonic() - started >= 0.04
    threading.Timer(0.1, lambda: inbox.put(0, {"type": "pause"})).start()
    started = time.monotonic()
    assert inbox.poll(10) is True and time.monotonic() - started < 1.0
    assert inbox.recv() == {"type": "pause"}
