"""Train a preset on one thread and keep its trajectory: shared by the benchmark scripts in this folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PresetRun:
    preset: str
    seed: int
    steps: int
    wall: float  # seconds of training, model building excluded
    final: dict[str, float]  # the last step's metrics plus a fresh quality measurement
    trajectory: list[tuple[float, dict[str, float]]] = field(default_factory=list)  # (seconds, metrics so far)

    @property
    def it_per_s(self) -> float:
        return self.steps / self.wall


def run_preset(
    preset: str, seed: int, steps: int | None = None, data_dir: str = "data", overrides: dict[str, Any] | None = None
) -> PresetRun:
    """One training run of ``preset`` at one thread; quality metrics are carried forward between measurements.
    ``overrides``: any other fields, dotted (``{"tricks.r1_gamma": 0.1}``)."""
    import torch

    torch.set_num_threads(1)
    from models.presets import preset_config
    from models.trainer import Trainer

    patch: dict[str, Any] = (overrides or {}) | {"seed": seed}
    if steps:
        patch["steps"] = steps
    config = preset_config(preset, patch)
    trainer = Trainer(config, data_dir)
    trainer.evaluate()  # builds any quality classifier before the clock starts
    carried: dict[str, float] = {}
    trajectory = []
    started = time.perf_counter()
    for _ in range(config.steps):
        carried |= trainer.step()
        trajectory.append((time.perf_counter() - started, dict(carried)))
    wall = time.perf_counter() - started
    return PresetRun(preset, seed, config.steps, wall, carried | trainer.evaluate(), trajectory)
