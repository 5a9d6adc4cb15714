"""The ``ganplay`` command: list presets, train headless, sample from a checkpoint.

Every user mistake (unknown preset, bad ``--set``, missing data, unreadable checkpoint) ends in one line naming
the field and the reason and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
EXIT_DIVERGED = 3


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def parse_set(items: list[str]) -> dict[str, Any]:
    """``path=value`` pairs as a dotted patch; values are JSON when they parse (5, 0.1, true, [0.5, 0.9]), else
    strings (``train.loss=hinge``)."""
    patch: dict[str, Any] = {}
    for item in items:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise CliError(f"--set {item!r}: expected path=value, e.g. tricks.unroll_steps=5")
        try:
            patch[path] = json.loads(raw)
        except json.JSONDecodeError:
            patch[path] = raw
    return patch


def cmd_presets(args: argparse.Namespace) -> None:
    from models.presets import PRESETS

    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": p.name,
                        "title": p.title,
                        "group": p.group,
                        "description": p.description,
                        "config": p.config().model_dump(mode="json"),
                    }
                    for p in PRESETS.values()
                ],
                indent=2,
            )
        )
        return
    width = max(len(n) for n in PRESETS)
    for p in PRESETS.values():
        print(f"{p.name:<{width}}  {p.title}")
        if args.verbose:
            print(f"{'':<{width}}  {p.description}\n")


def _progress_text(metrics: dict[str, float]) -> dict[str, str]:
    shown = {"d": metrics["d_loss"], "g": metrics["g_loss"]}
    for key in ("modes_covered", "hq_fraction", "fd", "class_coverage"):
        if key in metrics:
            shown[key] = metrics[key]
    return {k: f"{v:.3g}" for k, v in shown.items()}


def cmd_train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from models.checkpoint import save_checkpoint
    from models.metrics import QUALITY_METRICS
    from models.presets import preset_config
    from models.sampling import image_grid, scatter_plot
    from models.trainer import DivergenceError, Trainer

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = parse_set(args.set or [])
    if args.steps is not None:
        overrides["steps"] = args.steps
    config = preset_config(args.preset, overrides or None)
    trainer = Trainer(config, args.data_dir)
    out: Path | None = Path(args.out) if args.out else None
    quality: dict[str, float] = {}
    bar = tqdm(total=config.steps, unit="it", disable=args.quiet, file=sys.stderr, dynamic_ncols=True)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.model_dump(mode="json"), indent=2))
    log = (out / "metrics.jsonl").open("w") if out else None
    try:
        while trainer.step_count < trainer.config.steps:
            metrics = trainer.step()
            quality |= {k: v for k, v in metrics.items() if k in QUALITY_METRICS}
            bar.update(1)
            if trainer.step_count % 10 == 0 or trainer.step_count == config.steps:
                bar.set_postfix(_progress_text(metrics | quality), refresh=False)
            if log:
                log.write(json.dumps(metrics) + "\n")
            if out and trainer.step_count % trainer.config.stream.checkpoint_every == 0:
                save_checkpoint(trainer, out / "checkpoint.pt")
    except DivergenceError as e:
        bar.close()
        print(f"ganplay: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    finally:
        bar.close()
        if log:
            log.close()
    final = metrics | trainer.evaluate()
    if out:
        save_checkpoint(trainer, out / "checkpoint.pt")
        samples = trainer.sample(64, seed=0).cpu()
        picture = (
            image_grid(samples, scale=4)
            if trainer.data.is_image
            else scatter_plot(trainer.sample(1000, seed=0).cpu(), trainer.meta["bounds"], trainer.meta.get("centers"))
        )
        picture.save(out / "samples.png")
    summary = {"preset": args.preset, "steps": trainer.step_count, **final}
    if args.json:
        print(json.dumps(summary))
    else:
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
    return 0


def cmd_sample(args: argparse.Namespace) -> None:
    from models.checkpoint import load_checkpoint
    from models.sampling import load_generator, sample, samples_png

    loaded = load_generator(load_checkpoint(args.checkpoint))
    try:
        samples = sample(loaded, args.n, args.seed, args.label)
    except ValueError as e:
        raise CliError(str(e)) from None
    Path(args.output).write_bytes(samples_png(loaded, samples))
    print(f"wrote {args.n} samples of step {loaded.step} to {args.output}")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from server.app import create_app
    from server.logs import log_config
    from server.settings import Settings

    given = {"host": args.host, "port": args.port, "data_dir": args.data_dir}
    settings = Settings(**{k: v for k, v in given.items() if v is not None})  # flags over GANPLAY_* over defaults
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=log_config(),
        ws_per_message_deflate=settings.ws_compression,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganplay", description="An interactive GAN playground.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("presets", help="list the presets")
    p.add_argument("-v", "--verbose", action="store_true", help="with their descriptions")
    p.add_argument("--json", action="store_true", help="names, descriptions and full configs as JSON")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("train", help="train a preset headless")
    p.add_argument("--preset", required=True)
    p.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a config field (repeatable)")
    p.add_argument("--steps", type=int, help="generator updates (overrides the preset)")
    p.add_argument("--out", help="directory for checkpoint.pt, metrics.jsonl, samples.png, config.json")
    p.add_argument("--data-dir", default="data", help="where classifier caches live (default ./data)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    p.add_argument("--json", action="store_true", help="final metrics as one JSON object on the last line")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="sample from a checkpoint to a PNG")
    p.add_argument("checkpoint")
    p.add_argument("-n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None, help="class to draw (conditional runs)")
    p.add_argument("-o", "--output", default="samples.png")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("serve", help="serve the web page and the API")
    p.add_argument("--host", help="bind address (default GANPLAY_HOST, else 127.0.0.1: loopback only)")
    p.add_argument("--port", type=int, help="default GANPLAY_PORT, else 8000")
    p.add_argument("--data-dir", help="default GANPLAY_DATA_DIR, else ./data")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    from models.checkpoint import CheckpointError
    from models.config import ConfigError
    from models.datasets import DatasetError
    from models.presets import PresetError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (CliError, ConfigError, DatasetError, CheckpointError, PresetError) as e:
        print(f"ganplay: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
