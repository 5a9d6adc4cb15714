"""Server-side streaming figures, on a real server with real workers on this machine.

1. first point: ``POST /api/runs`` → the first ``metrics`` event at a websocket client, warm pool, p50/p95.
2. stalled client: the same run's it/s with no client, and with one client that never reads plus one that does,
   alternated A/B so machine noise hits both; the ratio is B/A.

    python benchmarks/server_stream.py [--runs 20] [--steps 4000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server.conftest import serve


def ws_url(base: str, run_id: str) -> str:
    return base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream"


def wait_ready(base: str) -> None:
    """Until the warm pool has a worker ready: one throwaway run, start to finish."""
    run = httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 5}}).json()
    with connect(ws_url(base, run["id"])) as ws:
        while json.loads(ws.recv(timeout=120)).get("status") != "completed":
            pass
    time.sleep(1.0)  # the pool refills off the request path


def first_point(base: str) -> float:
    started = time.perf_counter()
    run = httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 200}}).json()
    with connect(ws_url(base, run["id"])) as ws:
        while True:
            event = json.loads(ws.recv(timeout=60))
            if event["type"] == "metrics" or (event["type"] == "snapshot" and event["metrics"]["steps"]):
                elapsed = time.perf_counter() - started
                break
        while not (event["type"] == "status" and event.get("status") == "completed"):
            event = json.loads(ws.recv(timeout=60))
    time.sleep(1.0)
    return elapsed


def timed_run(base: str, steps: int, stalled: bool) -> float:
    """Training it/s of one run (from its own steps and wall time), optionally under a stalled viewer."""
    run = httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": steps}}).json()
    viewers = [connect(ws_url(base, run["id"]), max_queue=1)] if stalled else []
    try:
        with connect(ws_url(base, run["id"])) as ws:
            start_step = start = None
            while True:
                event = json.loads(ws.recv(timeout=120))
                if event["type"] == "metrics" and start is None:
                    start, start_step = time.perf_counter(), event["rows"][-1]["step"]
                if event["type"] == "status" and event.get("status") == "completed":
                    return (steps - start_step) / (time.perf_counter() - start)
    finally:
        for viewer in viewers:
            viewer.close()
        time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    server = serve(Path(tempfile.mkdtemp()), warm_workers=1, max_concurrent=1)
    base = next(server)
    try:
        wait_ready(base)
        latencies = sorted(first_point(base) for _ in range(args.runs))
        p50 = statistics.median(latencies)
        p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        print(f"first point (POST → first metrics at a websocket client, warm pool, {args.runs} runs): "
              f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
        ratios = []
        for _ in range(args.pairs):
            plain = timed_run(base, args.steps, stalled=False)
            loaded = timed_run(base, args.steps, stalled=True)
            ratios.append(loaded / plain)
            print(f"ring-vanilla it/s: one reader {plain:.0f}, plus a stalled client {loaded:.0f} "
                  f"(ratio {loaded / plain:.2f})")
        print(f"server_stream: first point p95 {p95 * 1000:.0f} ms; stalled-client it/s ratio "
              f"{statistics.median(ratios):.2f}")
    finally:
        next(server, None)


if __name__ == "__main__":
    main()
