"""The ``ganplay`` command: list presets, train headless, sweep a grid of settings, sample from a checkpoint, serve,
and manage the users of a classroom server.

Every user mistake (unknown preset, bad ``--set``, missing data, unreadable checkpoint) ends in one line naming
the field and the reason and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


# What the progress bar shows, where the run reports it: a GAN's two losses, another family's own loss terms
# (models/families/), then the quality measurements.
PROGRESS = (
    ("d", "d_loss"),
    ("g", "g_loss"),
    ("recon", "recon"),
    ("kl", "kl"),
    ("nll", "nll"),
    ("bpd", "bpd"),
    *((key, key) for key in ("modes_covered", "hq_fraction", "fd", "class_coverage")),
)


def _progress_text(metrics: dict[str, float]) -> dict[str, str]:
    return {short: f"{metrics[key]:.3g}" for short, key in PROGRESS if key in metrics}


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


# ----------------------------------------------------------------------------------------- sweep


def split_values(raw: str) -> list[str]:
    """``V1,V2,…`` split at the commas outside brackets and quotes, so a value may be a JSON list or object."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(raw):
        if char == '"' and (i == 0 or raw[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "[{":
            depth += 1
        elif not quoted and char in "]}":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(raw[start:i])
            start = i + 1
    return [*parts, raw[start:]]


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``path=V1,V2,…`` items as a sweep grid; each value is JSON when it parses, else a string."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        path, sep, raw = item.partition("=")
        if not sep or not path or not raw.strip():
            raise CliError(f"--grid {item!r}: expected PATH=V1,V2,…, e.g. train.lr_g=1e-4,1e-3")
        if path in grid:
            raise CliError(f"--grid {path}: given twice; list all its values in one --grid")
        values = []
        for text in split_values(raw):
            if not text.strip():
                raise CliError(f"--grid {item!r}: an empty value; separate values by single commas")
            try:
                values.append(json.loads(text))
            except json.JSONDecodeError:
                values.append(text.strip())
        grid[path] = values
    return grid


_progress: Any = None  # in a sweep's cell process: the queue its progress goes to
_data_dir = "data"


def _cell_process(progress: Any, data_dir: str) -> None:
    """Set up a sweep's cell process: one torch thread (the cells are the parallelism), the progress queue."""
    global _progress, _data_dir
    import torch

    torch.set_num_threads(1)
    _progress, _data_dir = progress, data_dir


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}


def train_cell(index: int, config: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """Train one cell to its end in this process: (index, completed or diverged, its final metrics)."""
    from models.config import parse_config
    from models.trainer import DivergenceError, Trainer

    trainer = Trainer(parse_config(config), _data_dir)
    metrics: dict[str, Any] = {}
    reported = 0
    try:
        while trainer.step_count < trainer.config.steps:
            metrics |= trainer.step()  # quality metrics carried between measurements
            if trainer.step_count - reported >= 25:
                _progress.put(trainer.step_count - reported)
                reported = trainer.step_count
    except DivergenceError as e:
        _progress.put(trainer.config.steps - reported)
        return index, "diverged", _finite(metrics | {"diverged_at": e.step})
    _progress.put(trainer.step_count - reported)
    return index, "completed", _finite(metrics | trainer.evaluate())


def _sweep_from_args(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """The validated sweep the arguments ask for, and the metrics its table shows."""
    from models.metrics import METRICS
    from models.presets import get_preset
    from models.sweeps import build_sweep, get_lesson

    overrides = parse_set(args.set or [])
    if args.steps is not None:
        overrides["steps"] = args.steps
    seeds = list(range(args.seeds)) if args.seeds is not None else None
    if args.lesson:
        if args.grid:
            raise CliError("--grid: a lesson brings its own grid; use --preset to choose one")
        lesson = get_lesson(args.lesson)
        return lesson.sweep(overrides, seeds), list(lesson.watch)
    sweep = build_sweep(preset=args.preset, overrides=overrides, grid=parse_grid(args.grid or []), seeds=seeds)
    watch = get_preset(args.preset).watch or [m.name for m in METRICS if m.summary]
    return sweep, list(watch)


def _table(rows: list[dict[str, Any]], paths: list[str], watch: list[str]) -> str:
    header = [*paths, "seed", "status", *watch]
    body = [
        [
            *(str(row["params"][p]) for p in paths),
            str(row["seed"]),
            row["status"],
            *("" if row["metrics"].get(m) is None else f"{row['metrics'][m]:.3g}" for m in watch),
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [header, *body])


def cmd_sweep(args: argparse.Namespace) -> int:
    """Train every cell of a sweep, ``--jobs`` at a time in processes of their own, then print the table (and
    with ``--json`` the cells as the last line)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from tqdm import tqdm

    sweep, watch = _sweep_from_args(args)
    cells = sweep.cells()
    jobs = min(args.jobs or os.cpu_count() or 1, len(cells))
    ctx = mp.get_context("spawn")
    progress = ctx.Queue()
    results: dict[int, tuple[str, dict[str, Any]]] = {}
    bar = tqdm(
        total=sum(cell.config.steps for cell in cells),
        unit="it",
        disable=args.quiet,
        file=sys.stderr,
        dynamic_ncols=True,
        desc=f"{len(cells)} cells × {jobs} jobs",
    )
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_cell_process, initargs=(progress, args.data_dir))
    try:
        pending = {pool.submit(train_cell, cell.index, cell.config.model_dump(mode="json")) for cell in cells}
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                index, status, metrics = future.result()
                results[index] = (status, metrics)
            _drain(progress, bar)
            bar.set_postfix({"cells done": f"{len(results)}/{len(cells)}"}, refresh=False)
        time.sleep(0.05)
        _drain(progress, bar)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    rows = [
        {"params": cell.params, "seed": cell.seed, "status": results[cell.index][0], "metrics": results[cell.index][1]}
        for cell in cells
    ]
    print(_table(rows, [axis.path for axis in sweep.axes], watch))
    if args.json:
        print(json.dumps({"cells": rows}))
    return 0


def _drain(progress: Any, bar: Any) -> None:
    while True:
        try:
            bar.update(progress.get_nowait())
        except queue.Empty:
            return


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


# ----------------------------------------------------------------------------------------- users


@contextmanager
def _user_session(args: argparse.Namespace) -> Iterator[tuple[Any, str]]:
    """One transaction on the server's database (GANPLAY_DATABASE_URL, else SQLite under --data-dir /
    GANPLAY_DATA_DIR), brought to the newest schema first as the server does at start-up, and the server's
    GANPLAY_AUTH. Committed when the block ends without an error."""
    from pydantic import ValidationError

    from server.db.engine import make_engine, make_session_factory, sqlite_url
    from server.db.migrate import upgrade
    from server.settings import Settings

    try:
        settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    except ValidationError as e:
        raise CliError("; ".join(str(error["msg"]) for error in e.errors())) from None
    if settings.database_url is None:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    url = settings.database_url or sqlite_url(settings.data_dir)
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            yield session, str(settings.auth)
    finally:
        engine.dispose()


def cmd_users_add(args: argparse.Namespace) -> None:
    """The new token goes on the last line, alone, so a script can take it with ``tail -n 1``."""
    from server.users import add_user

    with _user_session(args) as (session, auth):
        token = add_user(session, args.name, admin=args.admin)
    if auth != "users":
        print(f"ganplay: note: GANPLAY_AUTH is {auth} here; tokens count only with GANPLAY_AUTH=users", file=sys.stderr)
    role = "an admin" if args.admin else "a user"
    print(f"added {args.name} as {role}; their token, shown only now (the server keeps only its hash):")
    print(token)


def cmd_users_list(args: argparse.Namespace) -> None:
    from server.users import list_users

    with _user_session(args) as (session, _):
        users = list_users(session)
    if not users:
        print("no users yet: ganplay users add NAME [--admin]")
        return
    rows = [
        [
            u.name,
            "admin" if u.admin else "user",
            f"{u.created_at:%Y-%m-%d %H:%M}",
            "active" if u.revoked_at is None else f"revoked {u.revoked_at:%Y-%m-%d %H:%M}",
        ]
        for u in users
    ]
    header = ["name", "role", "created (UTC)", "status"]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())


def cmd_users_revoke(args: argparse.Namespace) -> None:
    from server.users import revoke_user

    with _user_session(args) as (session, _):
        revoke_user(session, args.name)
    print(
        f"revoked {args.name}: their token stops working now (open pages within a second); their runs keep "
        f"running. A new token: ganplay users add {args.name}"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


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

    p = sub.add_parser(
        "sweep",
        help="train a grid of settings × seeds in parallel processes",
        description="Train a preset over every combination of --grid values and seeds (or a sweep lesson), each cell "
        "in a process of its own with one torch thread; a table of the results at the end.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", help="the preset every cell starts from")
    source.add_argument("--lesson", help="a sweep lesson by name: sensitivity-lr, sensitivity-arch")
    p.add_argument("--grid", action="append", metavar="PATH=V1,V2,…", help="a swept field and its values (repeatable)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a field in every cell (repeatable)")
    p.add_argument("--seeds", type=_positive, help="repeat the grid over seeds 0 … N-1 (default: the preset's seed)")
    p.add_argument("--steps", type=_positive, help="generator updates per cell (overrides the preset)")
    p.add_argument("--jobs", type=_positive, help="cells trained at once (default: the number of cores)")
    p.add_argument("--data-dir", default="data", help="where classifier caches live (default ./data)")
    p.add_argument("--json", action="store_true", help="the cells and their final metrics as JSON on the last line")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

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

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--data-dir", help="the server's data dir, for its SQLite database (default GANPLAY_DATA_DIR, else ./data)"
    )
    p = sub.add_parser(
        "users",
        help="the people of a classroom server (GANPLAY_AUTH=users)",
        description="Add, list and revoke the users of a server run with GANPLAY_AUTH=users, in its database "
        "(GANPLAY_DATABASE_URL, else data/ganplay.db). Each user has a token of their own; admins (instructors) "
        "may steer, delete and share anyone's runs.",
    )
    users = p.add_subparsers(dest="users_command", required=True)
    q = users.add_parser("add", parents=[where], help="add a user (or give a revoked one a new token)")
    q.add_argument("name", help="1–64 letters, digits, '_', '.', '-'")
    q.add_argument("--admin", action="store_true", help="an instructor: may steer, delete and share any run")
    q.set_defaults(func=cmd_users_add)
    q = users.add_parser("list", parents=[where], help="every user, their role and whether they are revoked")
    q.set_defaults(func=cmd_users_list)
    q = users.add_parser("revoke", parents=[where], help="stop a user's token working")
    q.add_argument("name")
    q.set_defaults(func=cmd_users_revoke)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a mistake is, in every command."""
    from server.users import UserError

    return (CliError, UserError)


def _model_errors() -> tuple[type[BaseException], ...]:
    """What a mistake is in the commands that train or sample (importing these imports torch: ``users`` skips it,
    so that adding a class of users is quick)."""
    from models.checkpoint import CheckpointError
    from models.config import ConfigError
    from models.datasets import DatasetError
    from models.presets import PresetError
    from models.sweeps import SweepLessonError

    return (ConfigError, DatasetError, CheckpointError, PresetError, SweepLessonError)


def main(argv: list[str] | None = None) -> int:
    from server.db.engine import DATABASE_ERRORS

    args = build_parser().parse_args(argv)
    mistakes = _user_errors() + (() if args.command == "users" else _model_errors())
    try:
        return args.func(args) or 0
    except mistakes as e:
        print(f"ganplay: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except DATABASE_ERRORS as e:  # unreachable, locked or not a database: a sentence, not a traceback
        reason = (str(getattr(e, "orig", None) or e).strip().splitlines() or [""])[0]
        print(f"ganplay: error: the database is unavailable: {reason}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
