"""Training speed through the server against a bare loop over ``models/``: what the server costs a run.

For each preset, pairs of (a) a bare in-process loop of ``Trainer.step()`` and (b) the same config as a server run
(real server, warm worker process) streamed to one websocket client, in ABBA order so drift in the machine's load
hits both sides alike; the figure is the median over pairs of b/a it/s.

Like with like: both sides train the same config (seed included) with the same torch thread count (the one the
server gives a run when it trains alone, ``threads_per_run``), and both are timed over the same step window, from
the end of step c₁ to the end of step c₂, where c₁ and c₂ are the run's first and last checkpoint steps. The
server side's clock is the worker's own: the wall times stamped on its ``checkpoint`` events, read off the hub in
this process (``Tap``, free to the server). The websocket viewer runs in its own process (``viewers.py``) and
takes every byte off the socket, as a page would, parsing only status events, so its cost to the 2 cores stays
small and is not billed to the server's process. So start-up (process hand-over, dataset and model
building, the first steps' lazy initialisation) is outside both windows, and inside the server's window is
everything the server adds to training: metric batches, sample/field frames, checkpoints (one save per
interval; a few ms against seconds of training), the event pump and the websocket — on the same 2 cores.

    python benchmarks/throughput.py [--pairs 3] [--presets ring-vanilla ring-unrolled digits-dcgan] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import (
    Server,
    Tap,
    Viewers,
    bare_threads,
    checkpoint_rate,
    create_run,
    live_server,
    wait_ready,
)

# checkpoint interval and intervals timed, per preset: windows of 4–6 s on one CPU thread
WINDOWS = {"ring-vanilla": (500, 4), "ring-unrolled": (150, 3), "digits-dcgan": (250, 2), "fashion-dcgan": (50, 2)}


def overrides(preset: str, scale: float, device: str | None) -> dict[str, Any]:
    every, intervals = WINDOWS.get(preset, (250, 2))
    every = max(10, round(every * scale))
    extra: dict[str, Any] = {"device": device} if device else {}
    return {"steps": every * (intervals + 1), "stream": {"checkpoint_every": every}, **extra}


def bare(preset: str, config_overrides: dict[str, Any], threads: int) -> float:
    """it/s of ``Trainer.step()`` from the end of step c₁ to the end of step c₂ (the server run's checkpoints)."""
    import torch

    from models.presets import preset_config
    from models.trainer import Trainer

    torch.set_num_threads(threads)
    config = preset_config(preset, config_overrides)
    every = config.stream.checkpoint_every
    trainer = Trainer(config, "data")
    ends: dict[int, float] = {}
    for _ in range(config.steps):
        trainer.step()
        if trainer.step_count % every == 0:
            ends[trainer.step_count] = time.perf_counter()
    first, last = min(ends), max(ends)
    return (last - first) / (ends[last] - ends[first])


def served(server: Server, preset: str, config_overrides: dict[str, Any]) -> float:
    """it/s of a server run streamed to one websocket viewer, between its first and last checkpoint."""
    run_id = create_run(server.base, preset, config_overrides)
    tap = Tap(server, run_id)
    viewer = Viewers(server, run_id, clients=1, timed=0)
    rate, _, _ = checkpoint_rate(tap.wait_final())
    viewer.result()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=["ring-vanilla", "ring-unrolled", "digits-dcgan"])
    parser.add_argument("--scale", type=float, default=1.0, help="shrink (or grow) every timed window")
    parser.add_argument("--device", default=None, help="cpu, cuda, … (default: the preset's)")
    args = parser.parse_args()
    threads = bare_threads(1)
    print(f"| preset | pair | bare it/s | server it/s | ratio |  (torch threads {threads} on both sides)")
    print("|---|---|---|---|---|")
    medians = {}
    with live_server(warm_workers=1, max_concurrent=1) as server:
        wait_ready(server.base)
        for preset in args.presets:
            config_overrides = overrides(preset, args.scale, args.device)
            ratios = []
            for pair in range(args.pairs):
                if pair % 2 == 0:
                    a = bare(preset, config_overrides, threads)
                    b = served(server, preset, config_overrides)
                else:
                    b = served(server, preset, config_overrides)
                    a = bare(preset, config_overrides, threads)
                ratios.append(b / a)
                print(f"| {preset} | {pair + 1} | {a:.1f} | {b:.1f} | {b / a:.3f} |", flush=True)
            medians[preset] = statistics.median(ratios)
    print(
        "throughput: " + ", ".join(f"{p} {r:.3f}" for p, r in medians.items()) + " server/bare it/s (min "
        f"{min(medians.values()):.3f})"
    )


if __name__ == "__main__":
    main()
