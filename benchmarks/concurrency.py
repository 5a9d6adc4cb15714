"""Several runs submitted at once: aggregate training it/s against one run alone, with the server's defaults.

N ``ring-vanilla`` runs of the same length are POSTed together; the aggregate rate is N × steps over the wall
time from the first POST to the last run's final status (the worker's stamp, read off the hub by a ``Tap``), so
start-up and any queueing are inside it, as a user would see them. Levels go 1, 2, 4, 4, 2, 1 (ABBA) and each
level's figure is the mean of its two rounds ÷ that of one run alone. Runs are not watched by a websocket client,
so the figure is the executor's: how many runs train at once (``max_concurrent``) and with how many threads each.

The machine's own ceiling is measured beside it, in the same rounds: the same N trainings as bare loops in a pool
of ``max_concurrent`` already-started processes (one torch thread each, no server), timed from the first loop's
start to the last one's end. A 2-core VM whose cores are busy with other work (or are SMT siblings on the host)
cannot scale 2×, and the bare figure says so.

    python benchmarks/concurrency.py [--runs 1 2 4] [--steps 2000] [--max-concurrent N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import Server, Tap, create_run, live_server, wait_ready


def _bare_run(steps: int) -> tuple[float, float]:
    """One ``ring-vanilla`` training in a pool process: (start, end) wall times of its loop."""
    import torch

    from models.presets import preset_config
    from models.trainer import Trainer

    torch.set_num_threads(1)
    trainer = Trainer(preset_config("ring-vanilla", {"steps": steps}), "data")
    started = time.time()
    for _ in range(steps):
        trainer.step()
    return started, time.time()


def bare_aggregate(pool: ProcessPoolExecutor, runs: int, steps: int) -> float:
    spans = list(pool.map(_bare_run, [steps] * runs))
    return runs * steps / (max(end for _, end in spans) - min(start for start, _ in spans))


def aggregate(server: Server, runs: int, steps: int, device: str | None) -> float:
    """it/s of ``runs`` runs submitted together, over all of them."""
    started = time.time()
    taps = [Tap(server, create_run(server.base, "ring-vanilla", {"steps": steps}, device)) for _ in range(runs)]
    ends = []
    for tap in taps:
        final = [e for e in tap.wait_final() if e["type"] == "status" and e["status"] == "completed"]
        if not final:
            raise RuntimeError(f"run {tap.run_id} did not complete: {tap.events[-1]}")
        ends.append(final[-1]["time"])
    time.sleep(0.5)  # workers back in the pool
    return runs * steps / (max(ends) - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--max-concurrent", type=int, default=None, help="default: the server's default")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    settings: dict[str, Any] = {} if args.max_concurrent is None else {"max_concurrent": args.max_concurrent}
    rates: dict[int, list[float]] = {n: [] for n in args.runs}
    bare: dict[int, list[float]] = {n: [] for n in args.runs}
    with live_server(**settings) as server:
        slots = server.app.state.jobs.executor.max_concurrent
        print(f"# {os.cpu_count()} cores, max_concurrent {slots}")
        wait_ready(server.base, runs=slots)
        with ProcessPoolExecutor(slots) as pool:
            list(pool.map(_bare_run, [5] * slots))  # the pool's processes started, torch imported
            for n in [*args.runs, *reversed(args.runs)]:
                rates[n].append(aggregate(server, n, args.steps, args.device))
                bare[n].append(bare_aggregate(pool, n, args.steps))
                print(f"# {n} runs: {rates[n][-1]:.0f} it/s in all, bare {bare[n][-1]:.0f}", flush=True)
    alone, bare_alone = statistics.fmean(rates[args.runs[0]]), statistics.fmean(bare[args.runs[0]])
    print("| runs submitted | aggregate it/s | × one run alone | bare loops: × one alone |")
    print("|---|---|---|---|")
    for n in args.runs:
        print(
            f"| {n} | {statistics.fmean(rates[n]):.0f} | {statistics.fmean(rates[n]) / alone:.2f} "
            f"| {statistics.fmean(bare[n]) / bare_alone:.2f} |"
        )
    print(
        "concurrency: "
        + ", ".join(
            f"{n} runs {statistics.fmean(rates[n]) / alone:.2f}× (bare {statistics.fmean(bare[n]) / bare_alone:.2f}×)"
            for n in args.runs[1:]
        )
        + f" one run's it/s (max_concurrent {slots})"
    )


if __name__ == "__main__":
    main()
