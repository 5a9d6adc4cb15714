"""Every benchmark, one after another, sized so the lot fits ``make bench`` (under 15 minutes on a 2-core machine),
then a summary table of their headline figures (each script's last line) beside the goals of issue 5.

Run alone, each script takes longer, more careful defaults (more seeds, pairs, steps); the arguments here trade
precision for time and are printed with each result. The machine is shared and noisy: every speed figure is a
ratio measured side by side within one script, or a latency percentile.

    python benchmarks/run_all.py [--only throughput fanout ...] [--device cuda]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


def numbers(pattern: str, line: str) -> list[float]:
    """Every match of ``pattern``'s one group in ``line``, as numbers."""
    return [float(x) for x in re.findall(pattern, line)]


def fanout_met(line: str) -> bool:
    ratio, p95 = (float(x) for x in re.findall(r"100 viewers it/s ratio (\d+\.\d+) p95 (\d+)", line)[0])
    return ratio >= 0.95 and p95 < 250


@dataclass(frozen=True)
class Bench:
    name: str
    args: list[str]
    goal: str = "—"
    met: Callable[[str], bool] | None = None
    takes_device: bool = False


BENCHES = [
    Bench("presets_speed", ["--seconds", "2"]),
    Bench("modes2d", ["--seeds", "1"]),
    Bench("lessons2d", ["--seeds", "1"]),
    Bench("images", ["--presets", "digits-dcgan"]),
    Bench(
        "families",
        ["--seeds", "1"],
        "every family preset's effect within 60 s",
        lambda line: numbers(r"(\d+)/\d+ presets", line) == numbers(r"\d+/(\d+) presets", line),
    ),
    Bench(
        "throughput",
        ["--pairs", "3"],
        "≥ 0.97 each preset",
        lambda line: min(numbers(r"(\d+\.\d+)", line.split("(min")[0])) >= 0.97,
        True,
    ),
    Bench(
        "first_point",
        ["--runs", "20", "--cold-runs", "10"],
        "warm p95 < 1 s",
        lambda line: numbers(r"warm p95 (\d+)", line)[0] < 1000,
        True,
    ),
    Bench(
        "stream_latency",
        ["--steps", "3000"],
        "p95 < 50 ms",
        lambda line: numbers(r"p95 (\d+\.?\d*)", line)[0] < 50,
        True,
    ),
    Bench(
        "stream_bytes",
        ["--frames", "10"],
        "field and image frames ≤ 25 % of JSON",
        lambda line: all(x <= 0.25 for x in numbers(r"\((\d+\.\d+)\)", line)),
    ),
    Bench("fanout", ["--steps", "3000"], "100 viewers: ratio ≥ 0.95, p95 < 250 ms", fanout_met, True),
    Bench(
        "concurrency",
        ["--steps", "1500"],
        "2 and 4 runs ≥ 1.8×",
        lambda line: all(x >= 1.8 for x in numbers(r"runs (\d+\.\d+)×", line)),
        True,
    ),
    Bench(
        "samples",
        ["--requests", "50"],
        "p95 ≤ 1.3× (bare + empty route)",
        lambda line: all(x <= 1.3 for x in numbers(r" (\d+\.\d+)(?:,|$)", line)),
        True,
    ),
    Bench("unroll_cost", [], "≤ 1.1 at each K", lambda line: numbers(r"K=0\) (\d+\.\d+)", line)[0] <= 1.1, True),
    Bench(
        "ray_executor",
        ["--runs", "10", "--pairs", "3"],
        "warm p95 < 1 s, Ray/local ≥ 0.95",
        lambda line: numbers(r"p95 (\d+) ms", line)[0] < 1000 and numbers(r"ray/local (\d+\.\d+)", line)[0] >= 0.95,
    ),
]


def run(bench: Bench, device: str | None) -> tuple[str, float]:
    """Runs one script, its output passed through; its last line and its wall time."""
    args = [*bench.args, *(["--device", device] if device and bench.takes_device else [])]
    print(f"\n## {bench.name} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(HERE / f"{bench.name}.py"), *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    last = ""
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.strip():
            last = line.strip()
    if process.wait() != 0:
        last = f"{bench.name}: FAILED (exit {process.returncode}) {last}"
    return last, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=None, help="names of the benchmarks to run")
    parser.add_argument("--device", default=None, help="for the benchmarks that take one")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if args.only is None or b.name in args.only]
    started = time.perf_counter()
    rows = []
    for bench in chosen:
        last, seconds = run(bench, args.device)
        met = "—"
        if bench.met is not None:
            try:
                met = "yes" if bench.met(last) else "**no**"
            except (IndexError, ValueError):
                met = "?"
        rows.append((bench.name, last.split(": ", 1)[-1], bench.goal, met, seconds))
    print("\n| benchmark | figure | goal | met | s |")
    print("|---|---|---|---|---|")
    for name, figure, goal, met, seconds in rows:
        print(f"| {name} | {figure} | {goal} | {met} | {seconds:.0f} |")
    print(f"run_all: {len(rows)} benchmarks in {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
