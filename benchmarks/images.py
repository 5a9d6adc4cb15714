"""Image presets over their whole run: fd, class coverage and class KL at every quality measurement.

Proves (or disproves) that ``digits-dcgan`` reaches 10/10 classes and that its fd falls over the preset's steps.

    python benchmarks/images.py [--presets digits-dcgan ...] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from preset_runs import run_preset

QUALITY = ("fd", "class_coverage", "class_kl", "label_accuracy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["digits-dcgan"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    headline = []
    for name in args.presets:
        run = run_preset(name, args.seed, data_dir=args.data_dir)
        print(f"## {name} (seed {args.seed}, {run.steps} steps, {run.wall:.0f} s, {run.it_per_s:.1f} it/s)")
        print("| step | s | " + " | ".join(k for k in QUALITY if k in run.final) + " |")
        print("|---" * (2 + sum(k in run.final for k in QUALITY)) + "|")
        seen = None
        for step, (t, m) in enumerate(run.trajectory, start=1):
            if m.get("fd") != seen:
                seen = m.get("fd")
                print(f"| {step} | {t:.0f} | " + " | ".join(f"{m[k]:.3g}" for k in QUALITY if k in m) + " |")
        first_fd = run.trajectory[0][1]["fd"]
        headline.append(f"{name} fd {first_fd:.2f}→{run.final['fd']:.2f} classes {run.final['class_coverage']:.0f}")
    print("images: " + "; ".join(headline))


if __name__ == "__main__":
    main()
