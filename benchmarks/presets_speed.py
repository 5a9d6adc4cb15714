"""Iterations per second of every preset on one thread, quality measurements included as the preset sets them.

Each preset warms up for a few steps, then trains for about ``--seconds`` of wall time. A quality classifier the
preset needs is trained (or loaded from the data dir's cache) before the clock starts.

    python benchmarks/presets_speed.py [--seconds 5] [--presets ...]
"""

from __future__ import annotations

import argparse
import time


def measure(name: str, seconds: float, data_dir: str) -> tuple[float, int]:
    import torch

    from models.datasets import DatasetError
    from models.presets import preset_config
    from models.trainer import Trainer

    torch.set_num_threads(1)
    try:
        trainer = Trainer(preset_config(name), data_dir)
    except DatasetError as e:
        print(f"# {name}: skipped ({e})")
        return float("nan"), 0
    trainer.evaluate()
    for _ in range(3):
        trainer.step()
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds and trainer.step_count < trainer.config.steps:
        trainer.step()
        steps += 1
    return steps / (time.perf_counter() - started), steps


def main() -> None:
    from models.presets import PRESETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    print("| preset | it/s (1 thread) | steps timed | preset steps | minutes for the whole preset |")
    print("|---|---|---|---|---|")
    rates = {}
    for name in args.presets:
        rate, steps = measure(name, args.seconds, args.data_dir)
        total = PRESETS[name].config().steps
        rates[name] = rate
        print(f"| {name} | {rate:.1f} | {steps} | {total} | {total / rate / 60:.1f} |", flush=True)
    print("presets_speed: " + ", ".join(f"{n} {r:.1f}" for n, r in rates.items()) + " it/s")


if __name__ == "__main__":
    main()
