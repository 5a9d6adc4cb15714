"""A tiny ring config that trains in milliseconds per step, for tests of the trainer and its tricks."""

from __future__ import annotations

from typing import Any

from models.config import RunConfig, parse_config


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
