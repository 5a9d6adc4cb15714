"""Tiny configs (a ring, digits) and data that train in milliseconds a step, for tests of the trainer and tricks."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import torch

from models.config import DigitsData, RunConfig, parse_config
from models.datasets import Dataset, load_dataset


def tiny_config(**sections: Any) -> RunConfig:
    """Section dicts are merged into the tiny defaults (``train={"loss": "hinge"}``); scalars replace them."""
    base: dict[str, Any] = {
        "seed": 3,
        "steps": 100,
        "dataset": {"kind": "ring", "n": 2000},
        "model": {"z_dim": 4, "hidden": 16, "layers": 2},
        "train": {"batch_size": 32, "lr_d": 1e-3, "lr_g": 1e-3},
        "stream": {"eval_every": 1000, "eval_samples": 200},
    }
    for key, value in sections.items():
        base[key] = base.get(key, {}) | value if isinstance(value, dict) else value
    return parse_config(base)


def tiny_digits_config(**sections: Any) -> RunConfig:
    """A tiny DCGAN on digits, quality measured at step 1 only (unless ``stream`` says otherwise)."""
    base: dict[str, Any] = {
        "seed": 3,
        "steps": 100,
        "dataset": {"kind": "digits"},
        "model": {"arch": "dcgan", "z_dim": 8, "hidden": 8},
        "train": {"batch_size": 16},
        "stream": {"eval_every": 1000, "eval_samples": 100},
    }
    for key, value in sections.items():
        base[key] = base.get(key, {}) | value if isinstance(value, dict) else value
    return parse_config(base)


def small_digits(n: int = 300) -> Dataset:
    """The first ``n`` digits, still named digits: its quality judge trains in well under a second (the full set's
    takes seconds), and under its own cache key, so it never stands in for the real digits judge."""
    full = load_dataset(DigitsData(), 0)
    assert full.y is not None
    return dataclasses.replace(full, x=full.x[:n].clone(), y=full.y[:n].clone())


def equal(a: Any, b: Any, path: str = "state") -> None:
    """Nested state (tensors, dicts, lists, numbers) equal bit for bit; the first difference named."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            equal(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            equal(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


@dataclasses.dataclass
class CutShort:
    """Two runs of one config: ``straight`` asked to stop at every check but never told to, and ``cut`` told to stop
    at a random check of each step, resumed, and every ``reload_every``-th time reloaded from its checkpoint."""

    straight: Any
    cut: Any
    expected: list[dict[str, float]]
    got: list[dict[str, float]]
    interrupted: int
    reloaded: int


def cut_short(config: RunConfig, data_dir: Path, steps: int, seed: int, reload_every: int) -> CutShort:
    from models.checkpoint import load_checkpoint, save_checkpoint, trainer_from_checkpoint
    from models.trainer import StepInterruptedError, Trainer

    straight = Trainer(config, data_dir)
    asks = 0

    def count() -> bool:
        nonlocal asks
        asks += 1
        return False

    expected = [straight.step(count) for _ in range(steps)]  # asked, never told to stop: the same run
    asks_per_step = asks // steps
    cut = Trainer(config, data_dir)
    got: list[dict[str, float]] = []
    schedule = random.Random(seed)
    interrupted = reloaded = 0
    while len(got) < steps:
        asked = 0

        def should_stop(stop_at: int = schedule.randint(1, asks_per_step)) -> bool:  # anywhere in a step or its eval
            nonlocal asked
            asked += 1
            return asked >= stop_at

        try:
            got.append(cut.step(should_stop))
        except StepInterruptedError:
            interrupted += 1
            if interrupted % reload_every == 0:  # stopped mid-step and resumed from the checkpoint it saved
                save_checkpoint(cut, data_dir / "cut.pt")
                cut = trainer_from_checkpoint(load_checkpoint(data_dir / "cut.pt"), data_dir)
                reloaded += 1
    return CutShort(straight, cut, expected, got, interrupted, reloaded)
