"""The Ray executor against the local one, on a simulated 2-node Ray cluster (``ray.cluster_utils.Cluster``: a head
that trains nothing and two one-CPU nodes, all processes of this machine). Executor level, no HTTP: what the executor
itself adds (the bridge process, the actors, the long poll, checkpoints and live weights shipped to the server).

- first point: ``submit`` → the first ``metrics`` event, ``ring-vanilla``, on a warm actor (the run before has
  ended and its actor is back in the pool), and the same on a warm local worker.
- throughput: one ``ring-vanilla`` run at a time, one torch thread, it/s between its first checkpoint and its end
  (the worker's own timestamps); local and Ray alternate (local, Ray, Ray, local per pair) so a drift in the
  machine's speed falls on both; the figure is the median over pairs of Ray ÷ local.
- sweep: 16 cells (``ring-vanilla`` over 4 learning rates × 4 seeds) submitted at once; the executor starts two
  (the cluster's room) and queues the rest. wall ÷ ideal, where ideal = the cells' times alone (submit to final
  status, measured one at a time on the same executor) summed ÷ 2 slots: 1.0 when the two slots never idle and two
  runs at once train as fast as one (on 2 shared cores they cannot quite).

    python benchmarks/ray_executor.py [--runs 10] [--pairs 3] [--steps 2000] [--cells 16] [--cell-steps 400]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import percentile
from models.presets import preset_config
from server.executor import LocalExecutor
from server.paths import checkpoint_path
from server.ray_executor import RayExecutor
from server.status import FINAL_STATUSES
from server.worker import RunSpec
from tests.server.ray_cluster import local_cluster

Executor = LocalExecutor | RayExecutor
DATA = Path(tempfile.gettempdir())  # set in main (not at import: spawned workers import this module too)


def spec(run_id: str, steps: int, seed: int = 0, lr_g: float | None = None, checkpoint_every: int = 100) -> RunSpec:
    overrides: dict[str, Any] = {"steps": steps, "seed": seed, "stream": {"checkpoint_every": checkpoint_every}}
    if lr_g is not None:
        overrides["train"] = {"lr_g": lr_g}
    config = preset_config("ring-vanilla", overrides).model_dump(mode="json")
    return RunSpec(run_id, config, str(checkpoint_path(DATA, run_id)), str(DATA))


def until_final(executor: Executor, run_ids: set[str], on_event: Any = None) -> dict[str, float]:
    """Pull events until every run in ``run_ids`` has a final status; returns when each ended (perf_counter)."""
    ended: dict[str, float] = {}
    while len(ended) < len(run_ids):
        event = executor.next_event(1.0)
        if event is None or event.get("run_id") not in run_ids:
            continue
        if on_event is not None:
            on_event(event)
        if event["type"] == "status" and event["status"] in FINAL_STATUSES:
            assert event["status"] == "completed", event
            ended[event["run_id"]] = time.perf_counter()
    return ended


def warm_again(executor: Executor) -> None:
    """Until a worker or actor is idle and warm (the previous run's has come back, or the pool's first is up)."""
    deadline = time.monotonic() + 60
    if isinstance(executor, RayExecutor):
        while executor.ready_actors() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        return
    while time.monotonic() < deadline:  # a local worker says so as it waits for its next run
        event = executor.next_event(0.1)
        if event is not None and event["type"] == "worker_ready":
            return


def first_points(executor: Executor, label: str, runs: int) -> list[float]:
    latencies = []
    for i in range(runs):
        warm_again(executor)
        run_id = f"{label}-first-{i}"
        metrics: list[float] = []
        started = time.perf_counter()
        executor.submit(spec(run_id, 50))
        until_final(
            executor, {run_id}, lambda e, seen=metrics: e["type"] == "metrics" and seen.append(time.perf_counter())
        )
        latencies.append(metrics[0] - started)
    return latencies


def its(executor: Executor, label: str, steps: int) -> float:
    """it/s between the run's first checkpoint and its end, by the worker's own clock."""
    run_id = f"{label}-{time.monotonic_ns()}"
    checkpoints: list[tuple[int, float]] = []
    warm_again(executor)
    executor.submit(spec(run_id, steps, checkpoint_every=steps // 10))
    until_final(executor, {run_id}, lambda e: e["type"] == "checkpoint" and checkpoints.append((e["step"], e["time"])))
    (s0, t0), (s1, t1) = checkpoints[0], checkpoints[-1]
    return (s1 - s0) / (t1 - t0)


def sweep(executor: RayExecutor, cells: int, steps: int) -> tuple[float, float]:
    """Wall time of ``cells`` submitted at once, and the mean time of a cell alone (4 cells before the sweep and the
    same 4 after it, so a drift in the machine's speed falls on both sides)."""
    rates = [1e-4, 2e-4, 5e-4, 1e-3]
    configs = [(rates[i % len(rates)], i // len(rates)) for i in range(cells)]
    alone: list[float] = []

    def alone_runs(label: str) -> None:
        for lr_g, seed in configs[:4]:  # each pays what a lone run pays: hand-over, start-up
            warm_again(executor)
            run_id = f"alone-{label}-{lr_g}-{seed}"
            started = time.perf_counter()
            executor.submit(spec(run_id, steps, seed, lr_g, checkpoint_every=steps))
            alone.append(until_final(executor, {run_id})[run_id] - started)

    alone_runs("before")
    warm_again(executor)
    ids = {f"cell-{i}" for i in range(cells)}
    started = time.perf_counter()
    for i, (lr_g, seed) in enumerate(configs):
        executor.submit(spec(f"cell-{i}", steps, seed, lr_g, checkpoint_every=steps))
    ended = until_final(executor, ids)
    wall = max(ended.values()) - started
    alone_runs("after")
    return wall, statistics.mean(alone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="first-point runs on each executor")
    parser.add_argument("--pairs", type=int, default=3, help="throughput pairs (local, Ray, Ray, local)")
    parser.add_argument("--steps", type=int, default=2000, help="steps of each throughput run")
    parser.add_argument("--cells", type=int, default=16)
    parser.add_argument("--cell-steps", type=int, default=400)
    args = parser.parse_args()
    global DATA
    DATA = Path(tempfile.mkdtemp(prefix="ganplay-bench-ray-"))
    for cluster in local_cluster():
        local = LocalExecutor(max_concurrent=1, warm=1, cores=2)
        ray = RayExecutor(cluster.address, cpus_per_run=1, warm=1)
        try:
            local_first = first_points(local, "local", args.runs)
            ray_first = first_points(ray, "ray", args.runs)
            print("| executor | runs | first point p50 ms | p95 ms | max ms |")
            print("|---|---|---|---|---|")
            for label, latencies in (("local", local_first), ("ray", ray_first)):
                p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
                worst = max(latencies)
                print(f"| {label} | {len(latencies)} | {p50 * 1000:.0f} | {p95 * 1000:.0f} | {worst * 1000:.0f} |")
            ratios = []
            print("| pair | local it/s | ray it/s | ratio |")
            print("|---|---|---|---|")
            for pair in range(args.pairs):
                a, b = its(local, "local", args.steps), its(ray, "ray", args.steps)
                c, d = its(ray, "ray", args.steps), its(local, "local", args.steps)
                ratio = (b + c) / (a + d)
                ratios.append(ratio)
                print(f"| {pair} | {(a + d) / 2:.0f} | {(b + c) / 2:.0f} | {ratio:.3f} |", flush=True)
            local.shutdown()
            wall, alone = sweep(ray, args.cells, args.cell_steps)
            ideal = args.cells * alone / 2
            print(f"| sweep | {args.cells} cells × {args.cell_steps} steps | wall {wall:.1f} s | ideal {ideal:.1f} s |")
        finally:
            local.shutdown()
            ray.shutdown()
            shutil.rmtree(DATA, ignore_errors=True)
        print(
            f"ray_executor: warm first point p95 {percentile(ray_first, 95) * 1000:.0f} ms (local "
            f"{percentile(local_first, 95) * 1000:.0f}), throughput ray/local {statistics.median(ratios):.3f}, "
            f"{args.cells}-cell sweep on 2 nodes wall/ideal {wall / ideal:.2f}"
        )


if __name__ == "__main__":
    main()
