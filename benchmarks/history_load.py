"""Many clients opening a run with a long history at once: does the server keep answering, and what does each
snapshot cost?

A completed run gets ``--steps`` steps of metric history (eleven metrics a step, two quality metrics every 50),
written straight through the repository as the event pump would. Then, twice:

* **unread**: ``--clients`` raw websocket handshakes at once that never read a byte after the 101 (frozen tabs,
  or a script holding sockets open); the server must compute and send every snapshot into sockets nobody drains;
* **viewers**: ``--clients`` ordinary viewers connecting at once, each timing connect → snapshot received.

Meanwhile a separate process polls ``/api/health`` back to back and records each answer's latency (goal: p95
under 250 ms). Clients and poller run in processes of their own (this script, re-run with ``--role``), so their
CPU is not the server's; they still share the machine's cores with it. Server RSS is this process's (the server
runs in a thread here), sampled every 50 ms. Also timed: ``GET …/metrics?max_points=2`` and ``=2000`` on the
long run, the cost of a chart's first read.

    python benchmarks/history_load.py [--steps 57000] [--clients 300] [--window 20]

Last line: ``history_load: health p95 N ms …``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server.conftest import long_run as write_history

NAMES = ["d_loss", "g_loss", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "it_per_s", "noise_std"]
NAMES += ["unroll_steps", "d_steps", "replay_fraction"]


# ----------------------------------------------------------------------------------------------- client roles


def unread(url: str, clients: int, window: float) -> dict[str, Any]:
    """``clients`` handshakes at once over raw sockets; after the 101 nothing is read until ``window`` is over."""
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    started = time.time()
    sockets = []
    for _ in range(clients):
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.sendall(request)
        sockets.append(sock)
    upgraded = 0
    for sock in sockets:
        head = b""
        while b"\r\n\r\n" not in head:  # the response headers only: the snapshot after them stays unread
            head += sock.recv(1)
        upgraded += head.startswith(b"HTTP/1.1 101")
    print(json.dumps({"started": started}), flush=True)
    time.sleep(max(0.0, started + window - time.time()))
    for sock in sockets:
        sock.close()
    return {"upgraded": upgraded}


def viewers(url: str, clients: int) -> dict[str, Any]:
    """``clients`` viewers at once; seconds from the start of the connecting to each one's snapshot."""
    from websockets.asyncio.client import connect

    async def one(started: float) -> float:
        async with connect(url, max_size=None, ping_interval=None, compression=None, open_timeout=300) as ws:
            first = await asyncio.wait_for(ws.recv(decode=False), 300)
            took = time.time() - started
            assert b'"type":"snapshot"' in first[:40], first[:80]
            return took

    async def run() -> list[float]:
        started = time.time()
        print(json.dumps({"started": started}), flush=True)
        return list(await asyncio.gather(*(one(started) for _ in range(clients))))

    return {"snapshot_s": asyncio.run(run())}


def health(base: str, window: float) -> dict[str, Any]:
    """``/api/health`` back to back for ``window`` seconds; each answer's latency (a timeout counts as its
    timeout)."""
    import httpx

    latencies, failures = [], 0
    print(json.dumps({"started": time.time()}), flush=True)
    end = time.monotonic() + window
    with httpx.Client(timeout=60) as client:
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                ok = client.get(f"{base}/api/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.monotonic() - t0)
            failures += not ok
            time.sleep(0.02)
    return {"latencies": latencies, "failures": failures}


# ----------------------------------------------------------------------------------------------- the server side


class Role:
    """This script in another process, playing one client role; ``result()`` is what it printed last."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([sys.executable, __file__, "--role", *args], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"role {args[0]} exited before starting")

    def result(self, timeout: float = 900) -> dict[str, Any]:
        out, _ = self.process.communicate(timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])


class PeakRss:
    """This process's resident memory, sampled every 50 ms from a thread, relative to when sampling began."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.base = self.me.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.me.memory_info().rss)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return (self.peak - self.base) / 2**20


def long_run(app: Any, steps: int) -> str:
    """A completed run of ``steps`` steps, quality measured every 50 (as a run's sparse columns are)."""
    return write_history(
        app, steps, NAMES, lambda s: {"fd": 1.0 / (1 + s), "modes_covered": 8.0} if s % 50 == 0 else {}
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def timed_get(url: str, params: dict[str, Any], repeat: int = 5) -> float:
    from benchmarks.live_server import http

    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        http().get(url, params=params).raise_for_status()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=57_000)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--window", type=float, default=20.0, help="seconds of health polling per phase")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        role, target, *rest = args.role
        if role == "unread":
            out = unread(target, int(rest[0]), float(rest[1]))
        elif role == "viewers":
            out = viewers(target, int(rest[0]))
        else:
            out = health(target, float(rest[0]))
        print(json.dumps(out), flush=True)
        return

    from benchmarks.live_server import live_server, ws_url

    with live_server(warm_workers=0, max_concurrent=1) as server:
        t0 = time.perf_counter()
        run_id = long_run(server.app, args.steps)
        print(f"{args.steps} steps of history written in {time.perf_counter() - t0:.1f} s", flush=True)
        url = f"{server.base}/api/runs/{run_id}/metrics"
        chart2 = timed_get(url, {"max_points": 2})
        chart2000 = timed_get(url, {"max_points": 2000})
        print(f"metrics max_points=2: {chart2 * 1000:.0f} ms, max_points=2000: {chart2000 * 1000:.0f} ms", flush=True)

        phases: dict[str, dict[str, Any]] = {}
        for phase in ("unread", "viewers"):
            rss = PeakRss()
            poller = Role("health", server.base, str(args.window))
            if phase == "unread":
                clients = Role("unread", ws_url(server.base, run_id), str(args.clients), str(args.window))
            else:
                clients = Role("viewers", ws_url(server.base, run_id), str(args.clients))
            seen = clients.result()
            polled = poller.result()
            lat = [x * 1000 for x in polled["latencies"]]
            phases[phase] = {
                "health_p50": percentile(lat, 50),
                "health_p95": percentile(lat, 95),
                "health_max": max(lat),
                "health_n": len(lat),
                "failures": polled["failures"],
                "rss_mib": rss.stop(),
                **seen,
            }
            snap = ""
            if "snapshot_s" in seen:
                times = [x * 1000 for x in seen["snapshot_s"]]
                phases[phase].update(snap_p50=percentile(times, 50), snap_max=max(times))
                snap = f"; snapshots p50 {percentile(times, 50):.0f} ms, last {max(times):.0f} ms"
            if "upgraded" in seen:
                snap = f"; {seen['upgraded']}/{args.clients} upgraded"
            print(
                f"{phase}: health p50 {percentile(lat, 50):.0f} ms, p95 {percentile(lat, 95):.0f} ms, "
                f"max {max(lat):.0f} ms over {len(lat)} polls ({polled['failures']} failed){snap}; "
                f"server RSS +{phases[phase]['rss_mib']:.0f} MiB",
                flush=True,
            )
            time.sleep(2)  # let the unread sockets' close settle before the next phase

    u, v = phases["unread"], phases["viewers"]
    print(
        f"history_load: health p95 {u['health_p95']:.0f} ms with {args.clients} unread handshakes, "
        f"{v['health_p95']:.0f} ms with {args.clients} viewers (goal < 250 ms); snapshots to {args.clients} "
        f"viewers p50 {v['snap_p50']:.0f} ms, last {v['snap_max']:.0f} ms; server RSS +{u['rss_mib']:.0f} MiB "
        f"(unread); metrics max_points=2 {chart2 * 1000:.0f} ms at {args.steps} steps"
    )


if __name__ == "__main__":
    main()
