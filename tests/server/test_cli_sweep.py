"""``ganplay sweep``: the cells train in processes of their own, each exactly its config; the JSON last line and
the table report every cell; bad arguments end in one line and exit status 2, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from models.metrics import TIMING_METRICS
from models.presets import get_preset
from models.sweeps import MAX_CELLS, MAX_SEEDS
from server.cli import build_parser, main, parse_grid
from tests.server.test_cli import cli, explain

SWEEP = ["sweep", "--preset", "ring-vanilla", "--grid", "train.lr_g=1e-4,1e-3", "--steps", "30", "--jobs", "2"]


@pytest.fixture(scope="module")
def swept() -> subprocess.CompletedProcess[str]:
    result = cli(*SWEEP, "--json")
    assert result.returncode == 0, explain(result)
    return result


def test_sweep_json_last_line_has_every_cell_with_its_params_seed_and_final_metrics(swept):
    cells = json.loads(swept.stdout.strip().splitlines()[-1])["cells"]
    assert [(c["params"], c["seed"], c["status"]) for c in cells] == [
        ({"train.lr_g": 1e-4}, 0, "completed"),
        ({"train.lr_g": 1e-3}, 0, "completed"),
    ]
    for cell in cells:
        assert {"d_loss", "g_loss", "modes_covered", "hq_fraction", "reverse_kl"} <= cell["metrics"].keys()


def test_sweep_prints_a_table_of_the_cells_and_its_progress_on_stderr(swept):
    table = swept.stdout.strip().splitlines()[:-1]
    assert table[0].split() == ["train.lr_g", "seed", "status", *get_preset("ring-vanilla").watch]
    assert [line.split()[:3] for line in table[1:]] == [["0.0001", "0", "completed"], ["0.001", "0", "completed"]]
    assert "60/60" in swept.stderr and "2 cells × 2 jobs" in swept.stderr
    assert "Traceback" not in swept.stderr


def test_each_cell_trains_exactly_its_config_as_train_alone_would(swept):
    """The second cell against `ganplay train` with the same settings at one thread: the same final metrics."""
    alone = cli(
        "train", "--preset", "ring-vanilla", "--set", "train.lr_g=1e-3", "--steps", "30", "--threads", "1", "--json"
    )
    assert alone.returncode == 0, explain(alone)
    expected = json.loads(alone.stdout.strip().splitlines()[-1])
    cell = json.loads(swept.stdout.strip().splitlines()[-1])["cells"][1]["metrics"]
    shared = (expected.keys() & cell.keys()) - TIMING_METRICS - {"step", "steps"}
    assert {"d_loss", "g_loss", "modes_covered", "reverse_kl"} <= shared
    assert {k: cell[k] for k in shared} == {k: expected[k] for k in shared}


def test_grid_values_are_json_split_at_top_level_commas_else_strings():
    assert parse_grid(["train.betas=[0.5,0.9],[0.0,0.9]", "model.activation=relu,tanh", "steps=10,20"]) == {
        "train.betas": [[0.5, 0.9], [0.0, 0.9]],
        "model.activation": ["relu", "tanh"],
        "steps": [10, 20],
    }


def test_a_lesson_takes_steps_and_seeds_from_the_arguments():
    from server.cli import _sweep_from_args

    args = build_parser().parse_args(["sweep", "--lesson", "sensitivity-arch", "--steps", "30", "--seeds", "1"])
    sweep, watch = _sweep_from_args(args)
    assert sweep.size == 9 and {c.config.steps for c in sweep.cells()} == {30} and "modes_covered" in watch


BAD = ["sweep", "--preset", "ring-vanilla"]
BAD_ARGUMENTS: dict[str, tuple[list[str], str]] = {
    "unknown-field": ([*BAD, "--grid", "nosuch=1,2"], r"grid\.nosuch: no such field"),
    "value-over-limit": ([*BAD, "--grid", "train.lr_g=1e-4,5"], r"grid\.train\.lr_g\[1\]: .*less than or equal to 1"),
    "grid-without-values": ([*BAD, "--grid", "train.lr_g"], r"--grid 'train\.lr_g': expected PATH=V1,V2"),
    "empty-value": ([*BAD, "--grid", "train.lr_g=1e-4,,1e-3"], r"--grid .*: an empty value"),
    "axis-twice": ([*BAD, "--grid", "steps=1", "--grid", "steps=2"], r"--grid steps: given twice"),
    "too-many-cells": ([*BAD, "--grid", "steps=" + ",".join(map(str, range(1, MAX_CELLS + 2)))], r"grid: \d+ cells"),
    "too-many-seeds": ([*BAD, "--seeds", str(MAX_SEEDS + 1)], r"seeds: \d+ seeds; at most"),
    "unknown-preset": (["sweep", "--preset", "nope"], r"unknown preset 'nope'"),
    "unknown-lesson": (["sweep", "--lesson", "nope"], r"unknown sweep lesson 'nope'; known: sensitivity-lr"),
    "lesson-with-grid": (["sweep", "--lesson", "sensitivity-lr", "--grid", "steps=1"], r"a lesson brings its own grid"),
}
USAGE_ERRORS: dict[str, tuple[list[str], str]] = {
    "zero-seeds": ([*BAD, "--seeds", "0"], r"argument --seeds: 0 is not at least 1"),
    "jobs-not-a-number": ([*BAD, "--jobs", "two"], r"argument --jobs: 'two' is not a whole number"),
    "preset-and-lesson": ([*BAD, "--lesson", "sensitivity-lr"], r"argument --lesson: not allowed with argument"),
    "neither": (["sweep"], r"one of the arguments --preset --lesson is required"),
}


@pytest.mark.parametrize(("argv", "message"), list(BAD_ARGUMENTS.values()), ids=list(BAD_ARGUMENTS))
def test_bad_sweep_arguments_end_in_one_line_naming_the_field_and_exit_2(capsys, argv: list[str], message: str):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(f"ganplay: error: .*{message}.*", err), err


@pytest.mark.parametrize(("argv", "message"), list(USAGE_ERRORS.values()), ids=list(USAGE_ERRORS))
def test_malformed_sweep_arguments_are_usage_errors_with_exit_2(capsys, argv: list[str], message: str):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert re.search(message, capsys.readouterr().err)
