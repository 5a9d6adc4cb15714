"""Tiny configs (a ring, digits) and data that train in milliseconds a step, for tests of the trainer and tricks."""

from __future__ import annotations

import dataclasses
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
