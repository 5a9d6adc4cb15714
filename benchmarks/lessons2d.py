"""Does each 2D preset show its lesson, and how soon? Trains every 2D preset over several seeds on one thread.

For each preset the effect it promises (``Preset.effect``, e.g. ``modes_covered <= 2 and hq_fraction >= 0.2`` for
mode collapse) is
checked along the run: ``first s`` is the wall time at which it first held, ``held after`` the share of the
remaining steps in which it kept holding, ``final`` whether it holds at the end. The goal: every effect shows
within 60 s on one core.

    python benchmarks/lessons2d.py [--seeds 3] [--presets ...] [--jobs 1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import run_preset


def lesson(preset: str, seed: int) -> dict:
    from models.presets import get_preset

    effect = get_preset(preset).effect
    assert effect is not None, preset
    run = run_preset(preset, seed)
    first = next((i for i, (_, m) in enumerate(run.trajectory) if effect.holds(m)), None)
    after = run.trajectory[first:] if first is not None else []
    return {
        "preset": preset,
        "seed": seed,
        "first_s": run.trajectory[first][0] if first is not None else math.nan,
        "held_after": sum(effect.holds(m) for _, m in after) / len(after) if after else 0.0,
        "final": effect.holds(run.final),
        "value": run.final.get(effect.conditions[0][0], math.nan),
        "wall": run.wall,
        "it_per_s": run.it_per_s,
        "effect": str(effect),
    }


def main() -> None:
    from models.presets import PRESETS

    two_d = [p.name for p in PRESETS.values() if p.effect and p.config().dataset.kind in ("ring", "grid")]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=two_d)
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one thread each")
    args = parser.parse_args()
    jobs = [(p, s) for p in args.presets for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lesson, *zip(*jobs)))
    print(
        "| preset | effect | shows in (s, worst seed) | held after it shows | holds at the end | final (1st metric) "
        "| wall s | it/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    worst_overall = 0.0
    for preset in args.presets:
        rows = [r for r in results if r["preset"] == preset]
        worst = max(r["first_s"] for r in rows)
        worst_overall = max(worst_overall, worst) if not math.isnan(worst) else math.inf
        print(
            f"| {preset} | {rows[0]['effect']} | {worst:.1f} | "
            f"{statistics.fmean(r['held_after'] for r in rows):.0%} | {sum(r['final'] for r in rows)}/{len(rows)} "
            f"| {statistics.fmean(r['value'] for r in rows):.3g} | {statistics.fmean(r['wall'] for r in rows):.1f} "
            f"| {statistics.fmean(r['it_per_s'] for r in rows):.0f} |"
        )
    print(f"lessons2d: every effect shown within {worst_overall:.1f} s")


if __name__ == "__main__":
    main()
