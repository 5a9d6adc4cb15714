"""A real server for the server benchmarks, and lean websocket clients that time what they receive.

The server is the tests' ``serve`` (uvicorn in a thread of this process, real spawned workers); its data dir is a
fresh temporary one that borrows the cached quality judges of ``./data/judges``, so no run trains a judge on the
clock. Clients are asyncio ``websockets`` connections: one event loop, no thread per client.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from server.wire import decode
from tests.server.conftest import serve

JUDGES = Path(__file__).resolve().parents[1] / "data" / "judges"


@cache
def http() -> httpx.Client:
    """One HTTP client per benchmark process. ``httpx.get`` builds a new client, and with it an SSL context (CA
    certificates read and parsed), on every call: polling a sweep four times a second that way took 3.7 s of CPU per
    8-cell sweep in the server's process (getrusage 5.9 s → 2.2 s; py-spy: ``ssl.create_default_context``), and a
    timed request timed the client's construction too."""
    return httpx.Client(timeout=120)


FINAL = frozenset({"completed", "stopped", "failed", "diverged"})


@dataclass
class Server:
    base: str  # http://127.0.0.1:port
    app: Any  # the FastAPI app, for a Tap on its hub

    @property
    def pid(self) -> int:
        return os.getpid()  # the server runs in a thread of this process


@contextmanager
def live_server(fresh: bool = False, **settings: Any) -> Iterator[Server]:
    """A running server with ``settings`` (e.g. ``warm_workers``, ``max_concurrent``); it shares the repository's
    cached quality judges unless ``fresh`` (a new install's empty data dir)."""
    data = Path(tempfile.mkdtemp(prefix="ganplay-bench-"))
    if JUDGES.is_dir() and not fresh:
        (data / "judges").symlink_to(JUDGES)
    apps: list[Any] = []
    server = serve(data, apps, **settings)
    base = next(server)
    try:
        yield Server(base, apps[0])
    finally:
        next(server, None)
        shutil.rmtree(data, ignore_errors=True)  # checkpoints and a database per server: 80 of them filled /tmp


class Tap:
    """A run's events straight off the server's hub, read from this thread: the worker's own timestamps for
    benchmarks that must not add a websocket client (e.g. the 0-viewer baseline). It costs the server one list
    append per event. Subscribe before the events of interest are emitted."""

    def __init__(self, server: Server, run_id: str):
        self.hub, self.run_id = server.app.state.hub, run_id
        self.subscriber = self.hub.subscribe(run_id)
        self.events: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        pending = self.subscriber.pending
        while pending:
            self.events.append(pending.popleft())  # deque operations are atomic across threads
        return self.events

    def wait_final(self, timeout: float = 600) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["type"] == "status" and e.get("status") in FINAL for e in self.drain()):
                self.hub.unsubscribe(self.run_id, self.subscriber)
                return self.events
            time.sleep(0.05)
        raise TimeoutError(f"run {self.run_id} did not finish in {timeout} s")


def ws_url(base: str, run_id: str) -> str:
    return base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream"


def create_run(base: str, preset: str, overrides: dict[str, Any], device: str | None = None) -> str:
    if device:
        overrides = {**overrides, "device": device}
    response = http().post(f"{base}/api/runs", json={"preset": preset, "overrides": overrides})
    response.raise_for_status()
    return response.json()["id"]


async def follow(
    base: str, run_id: str, on_event: Callable[[dict[str, Any], float], bool | None] | None = None, timeout: float = 300
) -> list[tuple[float, dict[str, Any]]]:
    """Read a run's stream until its final status (or until ``on_event`` returns True); every event with the
    wall time (``time.time()``, the clock the worker stamps events with) at which it was received."""
    received: list[tuple[float, dict[str, Any]]] = []
    async with connect(ws_url(base, run_id), max_size=None, ping_interval=None) as ws:
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout)
            now = time.time()
            event = decode(raw)  # JSON text, or a binary frame (server/wire.py)
            received.append((now, event))
            if on_event is not None and on_event(event, now):
                break
            if event["type"] == "status" and event.get("status") in FINAL:
                break
    return received


def checkpoint_rate(events: list[dict[str, Any]], after: float = 0.0) -> tuple[float, int, int]:
    """Steps per second between the first checkpoint event stamped after ``after`` and the last, from the worker's
    own timestamps; with the two checkpoint steps. Checkpoint events are never merged on the way, unlike metrics."""
    marks = [(e["step"], e["time"]) for e in events if e["type"] == "checkpoint" and e["time"] > after]
    (s0, t0), (s1, t1) = marks[0], marks[-1]
    if s1 <= s0:
        raise RuntimeError(f"need two checkpoints at different steps, got {marks}")
    return (s1 - s0) / (t1 - t0), s0, s1


def wait_ready(base: str, runs: int = 1, seconds: float = 1.0) -> None:
    """Until the warm pool has ``runs`` workers ready: that many throwaway runs at once, start to finish, then a
    pause for the workers to say they are ready again."""

    async def all_runs() -> None:
        ids = [create_run(base, "ring-vanilla", {"steps": 5}) for _ in range(runs)]
        await asyncio.gather(*(follow(base, run_id) for run_id in ids))

    asyncio.run(all_runs())
    time.sleep(seconds)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0–100) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def bare_threads(max_concurrent: int) -> int:
    """The torch threads the server gives each run, for a bare loop that must match it."""
    import os

    from server.executor import threads_per_run

    return threads_per_run(os.cpu_count() or 1, max_concurrent)


class Viewers:
    """``benchmarks/viewers.py`` watching a run from a separate process; construction returns once all are
    connected (``connected_at``), ``result()`` once the run has ended. Without ``deflate`` the viewers do not offer
    permessage-deflate: what a browser gets from ``ganplay serve`` (``ws_compression`` off), which the tests'
    ``serve`` helper, at uvicorn's default, would otherwise negotiate."""

    def __init__(
        self, server: Server, run_id: str, clients: int, timed: int = 10, stalled: int = 0, deflate: bool = False
    ):
        script = Path(__file__).with_name("viewers.py")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(script),
                ws_url(server.base, run_id),
                "--clients",
                str(clients),
                "--timed",
                str(timed),
                "--stalled",
                str(stalled),
                *([] if deflate else ["--no-deflate"]),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("viewers exited before connecting")
        self.connected_at: float = json.loads(line)["connected_at"]

    def result(self, timeout: float = 600) -> dict[str, Any]:
        out, _ = self.process.communicate(timeout=timeout)
        return json.loads(out)
