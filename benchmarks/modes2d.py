"""Mode coverage of the 2D presets over several seeds, printed like PacGAN's Table 1 (Lin et al. 2018).

Each (preset, seed) trains on one thread in its own process; the quality numbers are those of the final step,
averaged over seeds as mean ± standard error. ``first ¾ s`` is when the run first covered three quarters of
the modes (wall seconds), ``≤¼ after`` the share of measurements after the first 10 s with at most a quarter
of the modes covered: the two numbers that say whether the lesson shows, and shows quickly.

    python benchmarks/modes2d.py [--seeds 3] [--presets ring-vanilla ring-unrolled ...] [--jobs 1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import run_preset

from models.presets import preset_config

DEFAULT_PRESETS = ["ring-vanilla", "ring-unrolled", "grid-vanilla", "grid-unrolled"]


def train_one(preset: str, seed: int, steps: int | None) -> dict[str, Any]:
    run = run_preset(preset, seed, steps)
    modes_total = _modes(preset)
    quarter = [m["modes_covered"] for t, m in run.trajectory if t > 10 and "modes_covered" in m]
    first_most = next((t for t, m in run.trajectory if m.get("modes_covered", 0) >= 0.75 * modes_total), math.nan)
    return {
        "preset": preset,
        "seed": seed,
        "modes": run.final["modes_covered"],
        "modes_total": modes_total,
        "hq": run.final["hq_fraction"],
        "rkl": run.final["reverse_kl"],
        "wall": run.wall,
        "it_per_s": run.it_per_s,
        "first_most": first_most,
        "late_collapsed": (sum(m <= modes_total / 4 for m in quarter) / len(quarter)) if quarter else math.nan,
    }


def _modes(preset: str) -> int:
    dataset = preset_config(preset).dataset
    return dataset.modes if dataset.kind == "ring" else dataset.side**2  # type: ignore[union-attr]


def mean_se(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {se:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS)
    parser.add_argument("--steps", type=int, default=None, help="override every preset's step count")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one thread each")
    args = parser.parse_args()
    jobs = [(p, s, args.steps) for p in args.presets for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(train_one, *zip(*jobs)))
    for r in results:
        print(
            f"# {r['preset']} seed {r['seed']}: modes {r['modes']:.0f}/{r['modes_total']} hq {r['hq']:.3f} "
            f"rkl {r['rkl']:.3f} {r['wall']:.1f}s {r['it_per_s']:.0f} it/s first-¾ {r['first_most']:.1f}s "
            f"late≤¼ {r['late_collapsed']:.2f}"
        )
    print()
    print(
        "| preset | modes covered | % high quality | reverse KL | wall s | it/s | first ≥¾ of modes, s | "
        "share ≤¼ of modes after 10 s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for preset in args.presets:
        rows = [r for r in results if r["preset"] == preset]
        print(
            f"| {preset} | {mean_se([r['modes'] for r in rows])} (of {rows[0]['modes_total']}) "
            f"| {mean_se([100 * r['hq'] for r in rows])} | {mean_se([r['rkl'] for r in rows])} "
            f"| {mean_se([r['wall'] for r in rows])} | {mean_se([r['it_per_s'] for r in rows])} "
            f"| {mean_se([r['first_most'] for r in rows])} | {mean_se([r['late_collapsed'] for r in rows])} |"
        )
    cover = {p: statistics.fmean(r["modes"] for r in results if r["preset"] == p) for p in args.presets}
    print("modes2d: " + ", ".join(f"{p} {v:.2f}" for p, v in cover.items()) + " modes")


if __name__ == "__main__":
    main()
