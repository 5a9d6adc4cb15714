"""How well a sweep fills the server's training slots: its wall time against the time its runs take one at a time.

A sweep of ``ring-vanilla`` cells (a learning-rate axis × seeds) is POSTed to a server with its defaults (slots =
``max_concurrent``, the default run quota, so cells past it wait and start as runs end); its wall time runs from
the POST to the last cell's final status. Each cell's config is also run alone, one after another, through the same
server (POST to final status, so each pays what a lone run pays: queue, worker hand-over, start-up). The figure is

    efficiency = (sum of the runs' times alone ÷ slots) ÷ the sweep's wall time

1.0 when the sweep keeps every slot busy from the first cell to the last and two runs at once train as fast as one
alone; the start, the last cells running fewer than ``slots`` at once, any gap between one run's end and the next
cell's start, and the machine's own limits on running ``slots`` trainings at once lower it. That last limit is
measured beside it in the same rounds, with no server: the same configs as bare training loops (one torch thread
each) one after another, and in a pool of ``slots`` processes (``bare ceiling``); on a 2-core machine whose cores
other work shares, it can be far below 1, and no sweep can beat it. Two figures say where a sweep's time goes:
``packing`` (the sum of its runs' own times, worker start to final status, ÷ slots ÷ its wall time: 1.0 when a
slot never waits between cells) and how much longer its runs take than the same runs alone (company on the cores).
Each round goes alone, sweep, sweep, alone, each
server phase next to its bare twin, so a drift in the machine's speed falls on both sides; figures are ratios of the
means. Final statuses are
read from the database (``runs.updated_at``, written when the pump stores each status), not from polling.

    python benchmarks/sweep_efficiency.py [--steps 1000] [--values 4] [--seeds 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import FINAL, Server, Tap, http, live_server, wait_ready

GOAL = 0.85


def final_times(server: Server, run_ids: list[str]) -> dict[str, float]:
    """When each run's final status was stored (epoch seconds)."""
    from server.db import repository as repo
    from server.status import FINAL_STATUSES

    with server.app.state.jobs.sessions() as session:
        runs = [repo.get_run(session, run_id) for run_id in run_ids]
        out = {}
        for run in runs:
            if run is None or run.status not in FINAL_STATUSES:
                raise RuntimeError(f"run {run_ids} not final: {run and run.status}")
            if run.status != "completed":
                raise RuntimeError(f"run {run.id} ended {run.status}: {run.reason}")
            out[run.id] = run.updated_at.replace(tzinfo=timezone.utc).timestamp()
        return out


def wait(condition: Any, timeout: float = 1800) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        time.sleep(0.25)
    return found


def span(tap: Tap, posted: float) -> float:
    """A run's time from its worker's "starting" (or, where the tap subscribed after it, the POST) to its end."""
    tap.wait_final()
    times = {e["status"]: e["time"] for e in tap.events if e["type"] == "status"}
    return max(times[s] for s in FINAL if s in times) - times.get("starting", posted)


def run_sweep(server: Server, body: dict[str, Any]) -> tuple[float, list[float], list[dict[str, Any]]]:
    """The sweep's wall time, each cell's run time, and the cells' configs (for the alone rounds)."""
    started = datetime.now(timezone.utc).timestamp()
    created = http().post(f"{server.base}/api/sweeps", json=body)
    created.raise_for_status()
    sweep_id = created.json()["id"]
    taps: dict[str, Tap] = {}

    def finished() -> dict[str, Any] | None:
        sweep = http().get(f"{server.base}/api/sweeps/{sweep_id}").json()
        for cell in sweep["cells"]:  # cells past the quota start later: tapped as they appear
            if cell["run_id"] and cell["run_id"] not in taps:
                taps[cell["run_id"]] = Tap(server, cell["run_id"])
        return sweep if sweep["status"] == "finished" else None

    sweep = wait(finished)
    run_ids = [cell["run_id"] for cell in sweep["cells"]]
    wall = max(final_times(server, run_ids).values()) - started
    spans = [span(taps[run_id], started) for run_id in run_ids]
    configs = [http().get(f"{server.base}/api/runs/{run_id}").json()["config"] for run_id in run_ids]
    http().delete(f"{server.base}/api/sweeps/{sweep_id}").raise_for_status()
    return wall, spans, configs


def run_alone(server: Server, configs: list[dict[str, Any]]) -> tuple[float, list[float]]:
    """The sum of each config's time as the only run on the server, one after another, and each one's run time."""
    total, spans = 0.0, []
    for config in configs:
        started = datetime.now(timezone.utc).timestamp()
        created = http().post(f"{server.base}/api/runs", json={"config": config})
        created.raise_for_status()
        run_id = created.json()["id"]
        spans.append(span(Tap(server, run_id), started))
        wait(lambda: http().get(f"{server.base}/api/runs/{run_id}").json()["status"] == "completed")  # noqa: B023
        total += final_times(server, [run_id])[run_id] - started
        http().delete(f"{server.base}/api/runs/{run_id}").raise_for_status()
    return total, spans


def _bare_loop(config: dict[str, Any]) -> tuple[float, float]:
    """One cell's training as a bare loop in a pool process, one torch thread: (start, end) of the loop."""
    import torch

    from models.config import parse_config
    from models.trainer import Trainer

    torch.set_num_threads(1)
    trainer = Trainer(parse_config(config), "data")
    started = time.time()
    while trainer.step_count < trainer.config.steps:
        trainer.step()
    return started, time.time()


def bare(pool: ProcessPoolExecutor, configs: list[dict[str, Any]], together: bool) -> float:
    """All configs' loops in the pool at once: the wall time; else one after another: the sum of their times."""
    if together:
        spans = list(pool.map(_bare_loop, configs))
        return max(end for _, end in spans) - min(start for start, _ in spans)
    return sum(end - start for start, end in (pool.submit(_bare_loop, c).result() for c in configs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="steps per cell")
    parser.add_argument("--values", type=int, default=4, help="learning rates on the sweep's one axis")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="ABBA rounds of (alone, sweep, sweep, alone)")
    args = parser.parse_args()
    lrs = [round(1e-4 * 3**i, 6) for i in range(args.values)]
    body = {
        "preset": "ring-vanilla",
        "overrides": {"steps": args.steps},
        "grid": {"train.lr_g": lrs},
        "seeds": list(range(args.seeds)),
    }
    with live_server() as server:
        slots = server.app.state.jobs.executor.max_concurrent
        cells = args.values * args.seeds
        quota = server.app.state.jobs.max_runs_per_client
        print(f"# {os.cpu_count()} cores, {slots} slots, run quota {quota}, {cells} cells of {args.steps} steps")
        wait_ready(server.base, runs=slots)
        *_, configs = run_sweep(server, body)  # warm-up, and the cells' configs
        walls, alones, bare_walls, bare_alones = [], [], [], []
        packing, slowdown = [], []  # where a sweep's time goes: gaps between cells, and runs slowed by company
        with ProcessPoolExecutor(slots) as pool:
            bare(pool, configs[:slots], together=True)  # the pool's processes started, torch imported

            def alone() -> None:
                total, spans = run_alone(server, configs)
                alones.append(total)
                alone_spans.append(sum(spans))

            def sweep() -> None:
                wall, spans, _ = run_sweep(server, body)
                walls.append(wall)
                packing.append(sum(spans) / slots / wall)
                sweep_spans.append(sum(spans))

            alone_spans: list[float] = []
            sweep_spans: list[float] = []
            for _ in range(args.rounds):  # each server phase beside its bare twin: the machine's load drifts
                alone()
                bare_alones.append(bare(pool, configs, together=False))
                sweep()
                bare_walls.append(bare(pool, configs, together=True))
                bare_walls.append(bare(pool, configs, together=True))
                sweep()
                bare_alones.append(bare(pool, configs, together=False))
                alone()
                slowdown.append(sum(sweep_spans[-2:]) / sum(alone_spans[-2:]))
                print(
                    f"# round: server alone {alones[-2]:.1f} s, {alones[-1]:.1f} s; sweep {walls[-2]:.1f} s, "
                    f"{walls[-1]:.1f} s (packing {packing[-2]:.2f}, {packing[-1]:.2f}; its runs {slowdown[-1]:.2f}× "
                    f"as long as alone); bare alone {bare_alones[-2]:.1f} s, {bare_alones[-1]:.1f} s; bare pool "
                    f"{bare_walls[-2]:.1f} s, {bare_walls[-1]:.1f} s",
                    flush=True,
                )

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    efficiency = mean(alones) / slots / mean(walls)
    ceiling = mean(bare_alones) / slots / mean(bare_walls)
    print(
        f"sweep efficiency {efficiency:.2f} (goal ≥ {GOAL}), bare ceiling {ceiling:.2f}, sweep ÷ ceiling "
        f"{efficiency / ceiling:.2f}, packing {mean(packing):.2f}, runs in the sweep {mean(slowdown):.2f}× as long "
        f"as alone: {cells} cells, {slots} slots, sweep wall {mean(walls):.1f} s, runs alone {mean(alones):.1f} s"
    )


if __name__ == "__main__":
    main()
