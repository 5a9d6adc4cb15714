"""Sweeps: one config trained over a grid of values × seeds, each combination (a cell) an ordinary run.

Hyperparameter sensitivity is one of the chapter's GAN problems: the learning rates, the number of layers, the
hidden units or the activation decide whether the same GAN covers the data, collapses or diverges. A sweep makes that
visible by training every combination of a few values, over several seeds so that the spread a seed alone causes is
seen beside the effect of the values (Lucic et al. 2018, "Are GANs Created Equal?", make the same point at scale).

Pure: this module expands and validates a sweep into full ``RunConfig``s; who trains the cells (the server's
executor, or the CLI's process pool) is not its business. Every refusal is a ``ConfigError`` naming the field as the
request spelt it: ``grid.train.lr_g[2]`` for the third value of that axis, ``seeds[1]``, ``grid`` for the sweep's
size or a combination of values that no single value explains.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models.config import ConfigError, RunConfig, apply_patch, parse_config, path_exists
from models.presets import preset_config

#: Cells (grid points × seeds) one sweep may have: enough for a 4 × 4 grid over 4 seeds, few enough that a sweep
#: finishes on a small machine and that its page can show every cell as a tile.
MAX_CELLS = 64
#: Seeds one sweep may repeat its grid over.
MAX_SEEDS = 16
#: The grid as JSON: hyperparameters are small values, and every listing of a sweep carries its grid.
MAX_GRID_BYTES = 4096
SEED_LIMIT = 2**31 - 1  # RunConfig.seed's bound


@dataclass(frozen=True)
class Axis:
    """One swept field: a dotted config path and the values it takes, in the order given."""

    path: str
    values: tuple[Any, ...]

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "values": list(self.values)}


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: the value of each axis (``params``, by path), its seed and its full config."""

    index: int
    params: dict[str, Any]
    seed: int
    config: RunConfig


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the base config, its axes and its seeds. Cells are ordered seed first, then the grid in
    the axes' order (the last axis varying fastest), so the first pass over the grid, one seed, finishes before any
    cell of the next seed starts: a heatmap is whole early and fills in its spread as the seeds follow."""

    base: RunConfig
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    preset: str | None = None
    lesson: str | None = None

    @classmethod
    def from_json(
        cls,
        base: dict[str, Any],
        axes: list[dict[str, Any]],
        seeds: list[int],
        preset: str | None = None,
        lesson: str | None = None,
    ) -> Sweep:
        """A sweep as it was stored (``base`` a full config, ``axes`` as ``Axis.as_json`` wrote them)."""
        return cls(
            parse_config(base),
            tuple(Axis(a["path"], tuple(a["values"])) for a in axes),
            tuple(seeds),
            preset=preset,
            lesson=lesson,
        )

    @property
    def size(self) -> int:
        return math.prod(len(axis.values) for axis in self.axes) * len(self.seeds)

    def points(self) -> list[tuple[dict[str, Any], int]]:
        """(params, seed) of every cell, in cell order."""
        return grid_points(self.axes, self.seeds)

    def cell(self, index: int) -> Cell:
        params, seed = self.points()[index]
        return Cell(index, params, seed, cell_config(self.base, params, seed))

    def cells(self) -> list[Cell]:
        return [
            Cell(i, params, seed, cell_config(self.base, params, seed))
            for i, (params, seed) in enumerate(self.points())
        ]


def grid_points(
    axes: tuple[Axis, ...] | list[Axis], seeds: tuple[int, ...] | list[int]
) -> list[tuple[dict[str, Any], int]]:
    """(params, seed) of every cell of a grid over ``axes`` × ``seeds``, in cell order (see ``Sweep``)."""
    grid = list(itertools.product(*(axis.values for axis in axes)))
    paths = [axis.path for axis in axes]
    return [(dict(zip(paths, values)), seed) for seed in seeds for values in grid]


def cell_config(base: RunConfig, params: dict[str, Any], seed: int) -> RunConfig:
    """The base config with the cell's values and seed: any field, live or not (a cell is a run of its own)."""
    return apply_patch(base, {**params, "seed": seed}, live_only=False)


def build_sweep(
    *,
    preset: str | None = None,
    config: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    grid: Any = None,
    seeds: Any = None,
    lesson: str | None = None,
    check: Callable[[RunConfig], RunConfig] | None = None,
) -> Sweep:
    """Validate a sweep request into a ``Sweep`` whose every cell's config is valid.

    The base is a preset (with ``overrides``) or a full ``config``; ``grid`` maps dotted config paths to lists of
    values; ``seeds`` is a list of seeds (default: the base config's own). ``check`` is applied to every cell's
    config (the server confines file paths and checks devices there); its refusals are named like the grid's.
    Raises ConfigError naming each bad field, or PresetError for an unknown preset."""
    if (preset is None) == (config is None):
        raise ConfigError([{"field": "preset", "reason": "give either preset or config"}])
    base = preset_config(preset, overrides or None) if preset is not None else parse_config(config or {})
    if preset is None and overrides:
        base = apply_patch(base, overrides, live_only=False)
    if check is not None:
        base = check(base)
    axes = _axes(base, grid)
    sweep = Sweep(base, axes, _seeds(seeds, base.seed), preset=preset, lesson=lesson)
    if sweep.size > MAX_CELLS:
        shape = " × ".join(str(len(a.values)) for a in axes)
        n_seeds = f"{len(sweep.seeds)} seed{'s' if len(sweep.seeds) > 1 else ''}"
        counted = f"{shape} values × {n_seeds}" if axes else n_seeds
        raise ConfigError(
            [{"field": "grid" if axes else "seeds", "reason": f"{sweep.size} cells ({counted}); at most {MAX_CELLS}"}]
        )
    for params, seed in sweep.points():
        try:
            checked = cell_config(base, params, seed)
            if check is not None:
                check(checked)
        except ConfigError as e:
            raise ConfigError([_cell_error(axes, params, seed, error) for error in e.errors]) from None
    return sweep


def _axes(base: RunConfig, grid: Any) -> tuple[Axis, ...]:
    if grid is None:
        return ()
    if not isinstance(grid, dict):
        raise ConfigError([{"field": "grid", "reason": "must be an object of {config path: [values]}"}])
    if len(json.dumps(grid)) > MAX_GRID_BYTES:
        raise ConfigError([{"field": "grid", "reason": f"at most {MAX_GRID_BYTES} bytes of JSON; sweep small values"}])
    errors: list[dict[str, str]] = []
    axes = []
    for path, values in grid.items():
        field = f"grid.{path}"
        if path == "seed":
            errors.append({"field": field, "reason": "seeds are swept by 'seeds', not the grid"})
        elif not path_exists(path, base.model_dump(mode="json")):
            errors.append({"field": field, "reason": "no such field in the config"})
        elif not isinstance(values, list) or not values:
            errors.append({"field": field, "reason": "must be a non-empty list of values"})
        else:
            errors += _value_errors(base, path, values)
            axes.append(Axis(path, tuple(values)))
    if errors:
        raise ConfigError(errors)
    return tuple(axes)


def _value_errors(base: RunConfig, path: str, values: list[Any]) -> list[dict[str, str]]:
    """Each value on its own against the base: the first reason each bad one is refused, by its index."""
    errors = []
    seen: dict[str, int] = {}
    for i, value in enumerate(values):
        field = f"grid.{path}[{i}]"
        key = json.dumps(value, sort_keys=True)
        if key in seen:
            errors.append({"field": field, "reason": f"repeats grid.{path}[{seen[key]}]"})
            continue
        seen[key] = i
        try:
            apply_patch(base, {path: value}, live_only=False)
        except ConfigError as e:
            first = e.errors[0]
            reason = first["reason"] if first["field"] == path else f"{first['field']}: {first['reason']}"
            errors.append({"field": field, "reason": reason})
    return errors


def _seeds(seeds: Any, default: int) -> tuple[int, ...]:
    if seeds is None:
        return (default,)
    if not isinstance(seeds, list) or not seeds:
        raise ConfigError([{"field": "seeds", "reason": "must be a non-empty list of integers"}])
    if len(seeds) > MAX_SEEDS:
        raise ConfigError([{"field": "seeds", "reason": f"{len(seeds)} seeds; at most {MAX_SEEDS}"}])
    errors = []
    for i, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_LIMIT:
            errors.append({"field": f"seeds[{i}]", "reason": f"must be an integer from 0 to {SEED_LIMIT}"})
        elif seed in seeds[:i]:
            errors.append({"field": f"seeds[{i}]", "reason": f"repeats seeds[{seeds.index(seed)}]"})
    if errors:
        raise ConfigError(errors)
    return tuple(seeds)


def _cell_error(axes: tuple[Axis, ...], params: dict[str, Any], seed: int, error: dict[str, str]) -> dict[str, str]:
    """A cell's refusal, named by the grid value it comes from where one axis is that field, else by the cell."""
    for axis in axes:
        if axis.path == error["field"]:
            return {"field": f"grid.{axis.path}[{axis.values.index(params[axis.path])}]", "reason": error["reason"]}
    where = json.dumps(params, sort_keys=True)
    return {"field": "grid", "reason": f"the cell {where} with seed {seed}: {error['field']}: {error['reason']}"}


# ----------------------------------------------------------------------------------------- lessons


def log_spaced(low: float, high: float, n: int) -> list[float]:
    """``n`` values from ``low`` to ``high``, evenly spaced in log scale, rounded to 3 significant digits."""
    step = (math.log10(high) - math.log10(low)) / (n - 1)
    return [float(f"{10 ** (math.log10(low) + i * step):.3g}") for i in range(n)]


@dataclass(frozen=True)
class SweepLesson:
    """A sweep that teaches: a preset, the grid to train it over, the seeds, and what to look for."""

    name: str
    title: str
    description: str
    preset: str
    grid: dict[str, list[Any]]
    seeds: tuple[int, ...]
    overrides: dict[str, Any]
    watch: tuple[str, ...]

    def sweep(
        self,
        overrides: dict[str, Any] | None = None,
        seeds: Any = None,
        check: Callable[[RunConfig], RunConfig] | None = None,
    ) -> Sweep:
        """The lesson's sweep; ``overrides`` go over the lesson's own (e.g. fewer steps), ``seeds`` replace its."""
        return build_sweep(
            preset=self.preset,
            overrides=self.overrides | (overrides or {}),
            grid=self.grid,
            seeds=list(self.seeds) if seeds is None else seeds,
            lesson=self.name,
            check=check,
        )


#: Lucic et al. 2018 searched learning rates over [1e-5, 1e-2], log-uniformly: one value per decade here.
LR_RANGE = log_spaced(1e-5, 1e-2, 4)

SWEEP_LESSONS: dict[str, SweepLesson] = {
    lesson.name: lesson
    for lesson in [
        SweepLesson(
            "sensitivity-lr",
            "Hyperparameter sensitivity: the two learning rates",
            "ring-vanilla trained at every pair of generator and discriminator learning rates from 1e-5 to 1e-2 "
            "(one per decade, the range Lucic et al. 2018 searched), over two seeds. Watch modes_covered and "
            "hq_fraction across the lr_g × lr_d heatmap: at the smallest rates little is learnt in the time given; "
            "a generator much faster than its discriminator throws its samples off the data, a discriminator much "
            "faster than its generator pins them to a mode or two; only where both rates are high and matched does "
            "the plain GAN cover the ring, and beside that band the two seeds disagree.",
            "ring-vanilla",
            {"train.lr_g": LR_RANGE, "train.lr_d": LR_RANGE},
            (0, 1),
            {"steps": 1500},
            ("modes_covered", "hq_fraction", "mode_drift"),
        ),
        SweepLesson(
            "sensitivity-arch",
            "Hyperparameter sensitivity: hidden units and layers",
            "ring-vanilla at matched learning rates (lr_g = lr_d = 1e-3, where sensitivity-lr finds the plain GAN "
            "on the edge of covering the ring) with the networks' hidden units (16, 64, 256) and hidden layers "
            "(1, 2, 4) swept, over two seeds: the chapter's 'number of layers, hidden nodes'. Watch modes_covered "
            "and hq_fraction: the same optimiser settings cover the ring with some sizes of network and collapse "
            "with others, and the seeds disagree where the outcome hangs in the balance. Sweep the activation the "
            "same way (model.activation: relu, leaky_relu, tanh).",
            "ring-vanilla",
            {"model.hidden": [16, 64, 256], "model.layers": [1, 2, 4]},
            (0, 1),
            # ring-vanilla's own rates (a slow D, a fast G) collapse nearly every size: nothing left to compare.
            {"steps": 1500, "train.lr_g": 1e-3, "train.lr_d": 1e-3},
            ("modes_covered", "hq_fraction", "mode_drift"),
        ),
    ]
}


class SweepLessonError(KeyError):
    def __str__(self) -> str:
        return f"unknown sweep lesson '{self.args[0]}'; known: {', '.join(SWEEP_LESSONS)}"


def get_lesson(name: str) -> SweepLesson:
    if name not in SWEEP_LESSONS:
        raise SweepLessonError(name)
    return SWEEP_LESSONS[name]


__all__ = [
    "MAX_CELLS",
    "MAX_GRID_BYTES",
    "MAX_SEEDS",
    "SWEEP_LESSONS",
    "Axis",
    "Cell",
    "Sweep",
    "SweepLesson",
    "SweepLessonError",
    "build_sweep",
    "cell_config",
    "get_lesson",
    "grid_points",
]
