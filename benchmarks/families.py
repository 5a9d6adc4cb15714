"""The chapter's taxonomy measured: each family of the density lesson on each dataset, judged by the same numbers.

Reads the sets of the "explicit, approximate and implicit density" lesson (``models.lessons``, ``together``: MADE,
VAE, AE and a GAN on the ring, the same on the digits), trains every preset of them over several seeds on one
thread each, and prints one row per preset, mean ± s.e. over seeds: the final ``modes_covered``, ``hq_fraction``
(2D), ``fd``, ``class_coverage`` (digits), ``nll`` where the family has an exact one (MADE: nats per point of the
quantised ring, per binarised image on the digits; ``bpd`` beside it on the digits), ``ms_per_sample`` (the
sampler's own measured cost), the wall time of the whole preset, and when its effect (``Preset.effect``) first
held, with how many seeds showed it within 60 s.

    python benchmarks/families.py [--seeds 3] [--jobs 1]
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
from lessons2d import GOAL_S, mean_se, print_header, seeds_in_time
from preset_runs import run_preset

COLUMNS = (  # (metric, header, digits)
    ("modes_covered", "modes", 2),
    ("hq_fraction", "hq_fraction", 2),
    ("fd", "fd", 0),
    ("class_coverage", "classes", 1),
    ("nll", "nll (nats)", 2),
    ("bpd", "bits/dim", 3),
    ("ms_per_sample", "ms per sample", 4),
)


def measure(preset: str, seed: int) -> dict[str, Any]:
    from models.presets import get_preset

    effect = get_preset(preset).effect
    assert effect is not None, preset
    run = run_preset(preset, seed)
    first = next((t for t, m in run.trajectory if effect.holds(m)), math.nan)
    return {
        "preset": preset,
        "family": get_preset(preset).config().model.family,
        "wall": run.wall,
        "first_s": first,
        "final": effect.holds(run.final),
        **{metric: run.final.get(metric, math.nan) for metric, _, _ in COLUMNS},
    }


def density_sets() -> tuple[tuple[str, ...], ...]:
    from models.lessons import LESSONS

    return next(lesson.together for lesson in LESSONS if lesson.kind == "taxonomy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one thread each")
    args = parser.parse_args()
    presets = [name for names in density_sets() for name in names]
    jobs = [(p, s) for p in presets for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(measure, *zip(*jobs)))
    header = ["preset", "family", *(h for _, h, _ in COLUMNS), "wall s", "effect shows in s", f"≤ {GOAL_S:.0f} s"]
    header.append("at end")
    print_header(header)
    shown = 0
    for preset in presets:
        rows = [r for r in results if r["preset"] == preset]
        firsts = [r["first_s"] for r in rows]
        in_time = seeds_in_time(firsts)
        shown += in_time == len(rows)
        cells = [preset, rows[0]["family"]]
        cells += [mean_se([r[metric] for r in rows], digits) for metric, _, digits in COLUMNS]
        cells += [mean_se([r["wall"] for r in rows], 1), mean_se(firsts, 1), f"{in_time}/{len(rows)}"]
        cells.append(f"{sum(r['final'] for r in rows)}/{len(rows)}")
        print("| " + " | ".join(cells) + " |")
    made = [r["ms_per_sample"] for r in results if r["family"] == "made" and not math.isnan(r["fd"])]
    vae = [r["ms_per_sample"] for r in results if r["family"] == "vae" and not math.isnan(r["fd"])]
    cost = f"; digits sampling MADE ÷ VAE {statistics.fmean(made) / statistics.fmean(vae):.0f}" if made and vae else ""
    print(f"families: {shown}/{len(presets)} presets showed their effect within {GOAL_S:.0f} s in every seed{cost}")


if __name__ == "__main__":
    main()
