"""Sweep expansion: a grid × seeds becomes cells in a fixed order, each a full validated config; every refusal
names the field as the request spelt it; the two sweep lessons are what the chapter and the literature ask for."""

from __future__ import annotations

import copy
import itertools
import math

import pytest

from models.config import ConfigError
from models.presets import PresetError, preset_config
from models.sweeps import MAX_CELLS, MAX_SEEDS, SWEEP_LESSONS, Sweep, SweepLessonError, build_sweep, get_lesson


def refused(**request: object) -> list[dict[str, str]]:
    with pytest.raises(ConfigError) as error:
        build_sweep(**request)  # type: ignore[arg-type]
    return error.value.errors


def test_cells_run_seed_first_then_the_grid_with_the_last_axis_fastest():
    sweep = build_sweep(
        preset="ring-vanilla", grid={"train.lr_g": [1e-4, 1e-3], "model.hidden": [16, 32, 64]}, seeds=[3, 7]
    )
    points = [(c.params["train.lr_g"], c.params["model.hidden"], c.seed) for c in sweep.cells()]
    assert points == [(lr, h, s) for s in (3, 7) for lr in (1e-4, 1e-3) for h in (16, 32, 64)]
    assert [c.index for c in sweep.cells()] == list(range(12)) and sweep.size == 12


def test_each_cell_is_the_preset_with_overrides_its_values_and_its_seed():
    sweep = build_sweep(
        preset="ring-vanilla", overrides={"steps": 40}, grid={"train.lr_d": [1e-3], "tricks.pack": [2]}, seeds=[5]
    )
    [cell] = sweep.cells()
    expected = preset_config("ring-vanilla", {"steps": 40, "train.lr_d": 1e-3, "tricks.pack": 2, "seed": 5})
    assert cell.config == expected
    assert cell.params == {"train.lr_d": 1e-3, "tricks.pack": 2}


def test_a_config_base_takes_overrides_and_defaults_to_its_own_seed():
    sweep = build_sweep(config={"seed": 9, "steps": 10}, overrides={"train.lr_g": 1e-3}, grid={"steps": [10, 20]})
    assert [(c.seed, c.config.steps, c.config.train.lr_g) for c in sweep.cells()] == [(9, 10, 1e-3), (9, 20, 1e-3)]


def test_a_stored_sweep_expands_to_the_same_cells():
    sweep = build_sweep(preset="ring-vanilla", grid={"model.activation": ["relu", "tanh"]}, seeds=[0, 1])
    stored = Sweep.from_json(sweep.base.model_dump(mode="json"), [a.as_json() for a in sweep.axes], list(sweep.seeds))
    assert stored.cells() == sweep.cells()


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        ({"grid": {"train.lr_g": [1e-4, 1e-3, 2.0]}}, ["grid.train.lr_g[2]"]),
        ({"grid": {"train.lr_g": [1e-4, 1e-3, 1e-4]}}, ["grid.train.lr_g[2]"]),
        ({"grid": {"train.lr_g": 1e-3}}, ["grid.train.lr_g"]),
        ({"grid": {"train.lr_g": []}}, ["grid.train.lr_g"]),
        ({"grid": {"train.no_such": [1]}}, ["grid.train.no_such"]),
        ({"grid": {"seed": [1, 2]}}, ["grid.seed"]),
        ({"grid": ["train.lr_g"]}, ["grid"]),
        ({"grid": {"dataset": [{"kind": "points", "points": [[0.0, 0.0]] * 1000}]}}, ["grid"]),
        ({"grid": {"model.activation": ["relu", "sigmoid"]}, "seeds": [0]}, ["grid.model.activation[1]"]),
        ({"seeds": []}, ["seeds"]),
        ({"seeds": 3}, ["seeds"]),
        ({"seeds": [0, -1, "2", True, 0]}, ["seeds[1]", "seeds[2]", "seeds[3]", "seeds[4]"]),
        ({"seeds": list(range(MAX_SEEDS + 1))}, ["seeds"]),
        ({"overrides": {"tricks": {"unroll_steps": 99}}}, ["tricks.unroll_steps"]),
        # Fine on its own (255 is a batch size), refused with the base's pack of 2: named by the value's index.
        ({"overrides": {"tricks.pack": 2}, "grid": {"train.batch_size": [256, 255]}}, ["grid.train.batch_size[1]"]),
    ],
)
def test_refusals_name_the_field_as_the_request_spelt_it(request_: dict, fields: list[str]):
    errors = refused(preset="ring-vanilla", **request_)
    assert [e["field"] for e in errors] == fields, errors
    assert all(e["reason"] for e in errors)


def test_a_combination_of_valid_values_is_named_by_the_axis_the_refusal_names_or_else_by_its_cell():
    """Each value is valid against the base (pack 2 with batch 256; batch 255 with pack 1); together they are not,
    and the refusal names train.batch_size: that axis's value. A refusal naming no axis names the cell."""
    [error] = refused(preset="ring-vanilla", grid={"tricks.pack": [1, 2], "train.batch_size": [256, 255]})
    assert error == {"field": "grid.train.batch_size[1]", "reason": "must be a multiple of tricks.pack"}

    def small_lr_only(config):
        if config.train.lr_g > 1e-3 and config.seed == 1:
            raise ConfigError([{"field": "steps", "reason": "too few"}])
        return config

    [error] = refused(preset="ring-vanilla", grid={"train.lr_g": [1e-4, 1e-2]}, seeds=[0, 1], check=small_lr_only)
    assert error["field"] == "grid" and '{"train.lr_g": 0.01} with seed 1: steps: too few' in error["reason"]


def test_more_cells_than_the_limit_is_refused_naming_the_grid_and_the_count():
    side = math.isqrt(MAX_CELLS) + 1
    values = [1e-5 * (i + 1) for i in range(side)]
    [error] = refused(preset="ring-vanilla", grid={"train.lr_g": values, "train.lr_d": values})
    assert error["field"] == "grid" and str(side * side) in error["reason"] and str(MAX_CELLS) in error["reason"]
    [error] = refused(preset="ring-vanilla", seeds=list(range(MAX_SEEDS)), grid={"steps": [1, 2, 3, 4, 5]})
    assert error["field"] == "grid"
    assert build_sweep(preset="ring-vanilla", grid={"train.lr_g": values[: MAX_CELLS // side]}).size <= MAX_CELLS


def test_one_source_is_required_and_an_unknown_preset_is_a_preset_error():
    assert refused()[0]["field"] == "preset"
    assert refused(preset="ring-vanilla", config={})[0]["field"] == "preset"
    with pytest.raises(PresetError):
        build_sweep(preset="no-such-preset")


def test_a_check_refusal_is_named_by_the_grid_value_it_comes_from():
    def no_cuda(config):
        if config.device != "cpu":
            raise ConfigError([{"field": "device", "reason": "no CUDA here"}])
        return config

    errors = refused(
        preset="ring-vanilla", overrides={"device": "cpu"}, grid={"device": ["cpu", "cuda"]}, check=no_cuda
    )
    assert errors == [{"field": "grid.device[1]", "reason": "no CUDA here"}]


# ----------------------------------------------------------------------------------------- lessons


def test_sensitivity_lr_spans_lucic_et_als_range_log_spaced_over_both_learning_rates():
    lesson = get_lesson("sensitivity-lr")
    sweep = lesson.sweep()
    lr_g, lr_d = (axis.values for axis in sweep.axes)
    assert [a.path for a in sweep.axes] == ["train.lr_g", "train.lr_d"] and lr_g == lr_d
    assert lr_g[0] == pytest.approx(1e-5) and lr_g[-1] == pytest.approx(1e-2) and len(lr_g) >= 4
    ratios = [b / a for a, b in itertools.pairwise(lr_g)]
    assert max(ratios) == pytest.approx(min(ratios), rel=0.01)  # evenly spaced in log scale
    assert len(sweep.seeds) >= 2 and sweep.size <= MAX_CELLS


def test_sensitivity_arch_sweeps_hidden_units_and_layers():
    sweep = get_lesson("sensitivity-arch").sweep()
    assert [a.path for a in sweep.axes] == ["model.hidden", "model.layers"]
    assert all(len(a.values) >= 3 for a in sweep.axes) and len(sweep.seeds) >= 2 and sweep.size <= MAX_CELLS


def without(config: dict, paths: list[str]) -> dict:
    out = copy.deepcopy(config)
    for path in paths:
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node[part]
        node.pop(leaf)
    return out


@pytest.mark.parametrize("name", list(SWEEP_LESSONS))
def test_sweep_lessons_keep_ring_vanillas_settings_outside_their_axes_and_stated_overrides(name: str):
    """Based on ring-vanilla: only the swept fields, the seed and the lesson's own overrides (a shorter run; for
    sensitivity-arch, matched learning rates) differ from the preset."""
    vanilla = preset_config("ring-vanilla").model_dump()
    lesson = get_lesson(name)
    assert set(lesson.overrides) <= {"steps", "train.lr_g", "train.lr_d"}
    for cell in lesson.sweep().cells():
        dropped = [*cell.params, "seed", *lesson.overrides]
        assert without(cell.config.model_dump(), dropped) == without(vanilla, dropped), (name, cell.params)


def test_a_lessons_overrides_and_seeds_replace_its_own():
    sweep = get_lesson("sensitivity-lr").sweep({"steps": 30}, [4])
    assert sweep.seeds == (4,) and {c.config.steps for c in sweep.cells()} == {30} and sweep.lesson == "sensitivity-lr"


def test_an_unknown_lesson_names_the_known_ones():
    with pytest.raises(SweepLessonError) as error:
        get_lesson("sensitivity-nope")
    assert "sensitivity-lr" in str(error.value)
