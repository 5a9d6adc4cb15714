"""A metric's trip from the worker to a websocket client: p50/p95/p99 of emit → receipt.

The worker stamps each event with the wall time at which it puts it on its event queue (a metrics batch: when
the batch is flushed, at most ``FLUSH_SECONDS`` = 50 ms after its first row, so a row's own age at the client is
this figure plus up to 50 ms of batching). One client in its own process (``viewers.py``) notes the wall time at
which each event arrives; both clocks are this machine's. In between: the worker's queue, the server's event pump
(metric rows persisted, then published), the hub, the websocket. Sample/field frames are shown beside.

    python benchmarks/stream_latency.py [--presets ring-vanilla digits-dcgan] [--steps 4000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import Tap, Viewers, create_run, live_server, percentile, wait_ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["ring-vanilla", "digits-dcgan"])
    parser.add_argument("--steps", type=int, default=4000, help="steps of each run (digits: a quarter)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    print("| preset | events | kind | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    metrics: list[float] = []
    with live_server(warm_workers=1, max_concurrent=1) as server:
        wait_ready(server.base)
        for preset in args.presets:
            steps = args.steps if not preset.startswith(("digits", "fashion")) else args.steps // 4
            run_id = create_run(server.base, preset, {"steps": steps}, args.device)
            tap = Tap(server, run_id)  # only to know when it ends
            viewer = Viewers(server, run_id, clients=1, timed=1)
            tap.wait_final()
            latencies = viewer.result()["latencies"]
            metrics += latencies["metrics"]
            for kind in ("metrics", "field", "samples"):
                values = [v * 1000 for v in latencies.get(kind, [])]
                if values:
                    print(
                        f"| {preset} | {len(values)} | {kind} | {percentile(values, 50):.1f} | "
                        f"{percentile(values, 95):.1f} | {percentile(values, 99):.1f} | {max(values):.1f} |",
                        flush=True,
                    )
    p50, p95, p99 = (percentile(metrics, q) * 1000 for q in (50, 95, 99))
    print(f"stream_latency: metrics p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
