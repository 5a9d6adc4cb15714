"""Many websocket viewers of one run: what they cost training, how late their frames arrive, the server's CPU.

For each level (1, 10, 100, 300 viewers, and one reader plus one stalled client that never reads) a
``ring-vanilla`` run — the preset with the most events: a metrics batch every 50 ms and a ~90 kB field frame
every 50 steps, about ten a second — is trained twice, once watched by nobody and once by that many viewers,
back to back (A/B, then B/A for the next level) so machine noise hits both; the figure is B/A training it/s.
it/s comes from the worker's own checkpoint stamps (see ``throughput.py``), read off the hub in this process
(``Tap``), counted only once every viewer is connected. Frame latency is worker stamp → receipt at a viewer,
over every event ten viewers (spread over the connection order) receive; server CPU is this process's (the
server runs in a thread here) over the same window.

Fair on 2 cores: the viewers run in their own process (``viewers.py``), one asyncio loop, and all but the timed
ten only take the bytes off the socket, so the client costs as little as a client can; its CPU is reported
beside the server's. It still shares the 2 cores with the server and the worker, which real browsers on other
machines would not: on this machine the figure is a pessimistic bound. The viewers do not negotiate
permessage-deflate, as with ``ganplay serve`` (setting ``ws_compression``, off): with it, compressing each frame
for each viewer was over half the server's CPU at 100 viewers (about 1.3 ms per 90 kB frame per viewer).

    python benchmarks/fanout.py [--viewers 1 10 100 300] [--steps 4000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import (
    Server,
    Tap,
    Viewers,
    checkpoint_rate,
    create_run,
    live_server,
    percentile,
    wait_ready,
)


def watched(server: Server, viewers: int, steps: int, stalled: int = 0, device: str | None = None) -> dict[str, Any]:
    """One run under ``viewers`` (0: nobody but the in-process tap): it/s, latencies, CPU."""
    run_id = create_run(server.base, "ring-vanilla", {"steps": steps, "stream": {"checkpoint_every": 250}}, device)
    tap = Tap(server, run_id)
    me = psutil.Process()
    group = Viewers(server, run_id, viewers, stalled=stalled) if viewers or stalled else None
    since = group.connected_at if group else time.time()
    cpu0, wall0 = me.cpu_times(), time.time()
    events = tap.wait_final()
    cpu1, wall1 = me.cpu_times(), time.time()
    rate, first, last = checkpoint_rate(events, after=since)
    out: dict[str, Any] = {
        "rate": rate,
        "window": (first, last),
        "server_cpu": (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (wall1 - wall0),
    }
    if group:
        result = group.result()
        out["latencies"] = [s for kind in result["latencies"].values() for s in kind]
        out["client_cpu"] = result["cpu_s"] / max(wall1 - group.connected_at, 1e-9)
    time.sleep(0.5)  # the worker back in the pool
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", nargs="+", type=int, default=[1, 10, 100, 300])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    print("| viewers | it/s alone | it/s watched | ratio | frame latency p50 / p95 ms | server CPU | viewers' CPU |")
    print("|---|---|---|---|---|---|---|")
    figures = {}
    with live_server(warm_workers=1, max_concurrent=1) as server:
        wait_ready(server.base)
        levels: list[tuple[str, int, int]] = [(str(n), n, 0) for n in args.viewers] + [("1 + 1 stalled", 1, 1)]
        for i, (label, n, stalled) in enumerate(levels):
            if i % 2 == 0:  # ABBA over the levels: a drift in the machine's load does not favour one side
                alone = watched(server, 0, args.steps, device=args.device)
                seen = watched(server, n, args.steps, stalled, args.device)
            else:
                seen = watched(server, n, args.steps, stalled, args.device)
                alone = watched(server, 0, args.steps, device=args.device)
            ratio = seen["rate"] / alone["rate"]
            p50, p95 = (percentile(seen["latencies"], q) * 1000 for q in (50, 95))
            figures[label] = (ratio, p95)
            print(
                f"| {label} | {alone['rate']:.0f} | {seen['rate']:.0f} | {ratio:.3f} | {p50:.0f} / {p95:.0f} "
                f"| {seen['server_cpu']:.0%} (alone {alone['server_cpu']:.0%}) | {seen['client_cpu']:.0%} |",
                flush=True,
            )
    print(
        "fanout: "
        + ", ".join(f"{label} viewers it/s ratio {r:.2f} p95 {p:.0f} ms" for label, (r, p) in figures.items())
    )


if __name__ == "__main__":
    main()
