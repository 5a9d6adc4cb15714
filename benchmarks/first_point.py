"""``POST /api/runs`` → the first ``metrics`` event at a websocket client: how long "Start" takes to show a point.

Real server, real workers, ``ring-vanilla``. The clock starts before the POST and stops when the client, which
connects as soon as the POST returns, holds a metrics event (or a snapshot that already has metric rows).

- warm: the default pool (one idle worker with torch imported); each run trains to the end and the worker is
  back in the pool before the next run, as when a user starts runs one after another.
- cold: no pool (``warm_workers=0``) and a fresh server per run, so every run pays a process spawn, the torch
  import and the worker's warm-up step: what the first run after a restart costs without the pool.
- fresh install, image presets: a new server on an empty data dir (no quality judge cached yet), warm pool, one
  ``digits-dcgan`` and one ``fashion-dcgan`` run (when Debian's dataset-fashion-mnist is installed): the judge
  trains beside the run, which must stream from its first step all the same.

    python benchmarks/first_point.py [--runs 20] [--cold-runs 20] [--device cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import create_run, follow, live_server, percentile, wait_ready

FASHION = Path("/usr/share/datasets/fashion-mnist")


def has_point(event: dict[str, Any]) -> bool:
    return event["type"] == "metrics" or (event["type"] == "snapshot" and bool(event["metrics"]["steps"]))


def first_point(base: str, device: str | None, preset: str = "ring-vanilla", steps: int = 50) -> float:
    """Seconds from the POST to the first metric at the client; the run is then followed to its end."""
    seen: list[float] = []

    def on_event(event: dict[str, Any], _: float) -> None:
        if not seen and has_point(event):
            seen.append(time.perf_counter())

    started = time.perf_counter()
    run_id = create_run(base, preset, {"steps": steps}, device)
    asyncio.run(follow(base, run_id, on_event))
    return seen[0] - started


def summary(label: str, latencies: list[float]) -> tuple[float, float]:
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(
        f"| {label} | {len(latencies)} | {p50 * 1000:.0f} | {p95 * 1000:.0f} | {max(latencies) * 1000:.0f} |",
        flush=True,
    )
    return p50, p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cold-runs", type=int, default=20)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    print("| pool | runs | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    with live_server(warm_workers=1, max_concurrent=1) as server:
        wait_ready(server.base)
        warm = []
        for _ in range(args.runs):
            warm.append(first_point(server.base, args.device))
            time.sleep(0.5)  # the worker back in the pool and ready
    _, warm_p95 = summary("warm", warm)
    cold = []
    for _ in range(args.cold_runs):
        with live_server(warm_workers=0, max_concurrent=1) as server:
            cold.append(first_point(server.base, args.device))
    _, cold_p95 = summary("cold", cold) if cold else (0.0, float("nan"))
    fresh = {}
    presets = ["digits-dcgan"] + (["fashion-dcgan"] if FASHION.is_dir() else [])
    for preset in presets:
        with live_server(fresh=True, warm_workers=1, max_concurrent=1) as server:
            wait_ready(server.base)
            fresh[preset] = first_point(server.base, args.device, preset, steps=5)
            summary(f"warm, fresh data dir, {preset}", [fresh[preset]])
    print(
        f"first_point: warm p95 {warm_p95 * 1000:.0f} ms, cold p95 {cold_p95 * 1000:.0f} ms, fresh install "
        + ", ".join(f"{preset} {seconds * 1000:.0f} ms" for preset, seconds in fresh.items())
    )


if __name__ == "__main__":
    main()
