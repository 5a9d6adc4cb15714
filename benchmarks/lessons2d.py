"""Does each 2D preset show its lesson, and how soon? Trains every 2D preset over several seeds on one thread.

Every preset whose data is not images (the mixtures, and data without modes such as the Dirac-GAN's point mass)
is read from ``models.presets``, so a new preset is measured without touching this file. For each, the effect it
promises (``Preset.effect``, e.g. ``modes_covered <= 2 and hq_fraction >= 0.2`` for mode collapse) is checked
along the run: ``shows at step`` is the step at which it first held (what the machine's load cannot change),
``shows in s`` the wall time then (mean ± s.e. over seeds, and the worst seed), ``≤ 60 s`` how many seeds showed
it within 60 s (the goal: all), ``held after`` the share of the remaining steps in which it kept holding,
``at end`` whether it holds at the end. Beside them, for data with modes, mean ± s.e. over seeds of the final
``modes_covered``, ``hq_fraction`` and ``reverse_kl``, and of ``mode_drift`` averaged over the quality
measurements of the run's second half (one measurement is a single snapshot of a hopping cluster; the average
says how much it keeps moving). Data without modes shows "—" there.

    python benchmarks/lessons2d.py [--seeds 3] [--presets ...] [--set tricks.r1_gamma=0.1 ...] [--jobs 1]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import run_preset

GOAL_S = 60.0
MODE_METRICS = ("modes_covered", "hq_fraction", "reverse_kl")


def lesson(preset: str, seed: int, overrides: dict[str, Any]) -> dict[str, Any]:
    from models.presets import get_preset, preset_config

    effect = get_preset(preset).effect
    assert effect is not None, preset
    eval_every = preset_config(preset, overrides or None).stream.eval_every
    run = run_preset(preset, seed, overrides=overrides)
    first = next((i for i, (_, m) in enumerate(run.trajectory) if effect.holds(m)), None)
    after = run.trajectory[first:] if first is not None else []
    drifts = [
        m["mode_drift"]
        for _, m in run.trajectory
        if "mode_drift" in m and m["step"] > run.steps / 2 and m["step"] % eval_every == 0
    ]
    return {
        "preset": preset,
        "seed": seed,
        "first_s": run.trajectory[first][0] if first is not None else math.nan,
        "first_step": run.trajectory[first][1]["step"] if first is not None else math.nan,
        "held_after": sum(effect.holds(m) for _, m in after) / len(after) if after else 0.0,
        "final": effect.holds(run.final),
        "wall": run.wall,
        "it_per_s": run.it_per_s,
        "effect": str(effect),
        **{k: run.final[k] for k in MODE_METRICS if k in run.final},
        "mode_drift": statistics.fmean(drifts) if drifts else math.nan,
    }


def mean_se(values: list[float], digits: int = 2) -> str:
    """``mean ± standard error``; "—" where the metric does not exist for this data (or never happened)."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} ± {se:.{digits}f}"


def seeds_in_time(firsts: list[float]) -> int:
    """How many seeds showed the effect (first held at these seconds; NaN: never) within the goal."""
    return sum(f <= GOAL_S for f in firsts if not math.isnan(f))


def print_header(header: list[str]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))


def two_d_presets() -> list[str]:
    """Every preset with an effect whose data is not labelled images or the user's own files."""
    from models.config import LABELLED_KINDS
    from models.presets import PRESETS

    return [p.name for p in PRESETS.values() if p.effect and p.config().dataset.kind not in LABELLED_KINDS]


def parse_set(items: list[str]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for item in items:
        path, _, raw = item.partition("=")
        try:
            patch[path] = json.loads(raw)
        except json.JSONDecodeError:
            patch[path] = raw
    return patch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--presets", nargs="+", default=None, help="default: every 2D preset")
    parser.add_argument("--set", nargs="*", default=[], metavar="PATH=VALUE", help="override a field of every preset")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one thread each")
    args = parser.parse_args()
    presets = args.presets or two_d_presets()
    overrides = parse_set(args.set)
    jobs = [(p, s, overrides) for p in presets for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lesson, *zip(*jobs)))
    if overrides:
        print(f"every preset with {overrides}")
    header = ["preset", "effect", "modes covered", "hq fraction", "reverse KL", "mode drift (2nd half)"]
    header += ["shows at step", "shows in s", "worst s", f"≤ {GOAL_S:.0f} s", "held after", "at end", "it/s"]
    print_header(header)
    shown = 0
    for preset in presets:
        rows = [r for r in results if r["preset"] == preset]
        firsts = [r["first_s"] for r in rows]
        in_time = seeds_in_time(firsts)
        shown += in_time == len(rows)
        worst = math.inf if any(math.isnan(f) for f in firsts) else max(firsts)
        cells = [preset, rows[0]["effect"]]
        cells += [mean_se([r.get(k, math.nan) for r in rows]) for k in MODE_METRICS]
        cells += [mean_se([r["mode_drift"] for r in rows], 3), mean_se([r["first_step"] for r in rows], 0)]
        cells += [mean_se(firsts, 1), f"{worst:.1f}", f"{in_time}/{len(rows)}"]
        held, at_end = statistics.fmean(r["held_after"] for r in rows), sum(r["final"] for r in rows)
        cells += [f"{held:.0%}", f"{at_end}/{len(rows)}", f"{statistics.fmean(r['it_per_s'] for r in rows):.0f}"]
        print("| " + " | ".join(cells) + " |")
    print(f"lessons2d: {shown}/{len(presets)} presets showed their effect within {GOAL_S:.0f} s in every seed")


if __name__ == "__main__":
    main()
