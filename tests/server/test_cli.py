"""Tests of the ``ganplay`` command, run for real in subprocesses: presets are listed, a short headless run
writes its outputs and a JSON summary, sampling is reproducible, and every bad input ends in one line naming
the field and the reason with exit status 2, never a traceback."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from models.presets import PRESETS, preset_config

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds per command: generous, so a loaded machine slows the suite rather than failing it


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m server.cli ARGS`` from the repository root, the way a user runs the console script."""
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``train --preset ring-unrolled --steps 30`` into a directory that does not exist yet."""
    out = tmp_path_factory.mktemp("cli") / "runs" / "ring"
    result = cli(
        "train",
        "--preset",
        "ring-unrolled",
        "--steps",
        "30",
        "--json",
        "--threads",
        "1",
        "--out",
        str(out),
        "--data-dir",
        str(out.parent / "data"),
    )
    assert result.returncode == 0, explain(result)
    return result, out


# ----------------------------------------------------------------------------------------- presets


def test_presets_lists_every_preset_name():
    result = cli("presets")
    assert result.returncode == 0, explain(result)
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert listed == list(PRESETS)


# ----------------------------------------------------------------------------------------- train


def test_train_json_summary_is_the_last_stdout_line(trained):
    result, _ = trained
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 30
    assert summary["preset"] == "ring-unrolled"
    for key in ("modes_covered", "hq_fraction", "reverse_kl", "d_loss", "g_loss"):
        assert isinstance(summary[key], float), key
    assert 0 <= summary["modes_covered"] <= 8
    assert 0 <= summary["hq_fraction"] <= 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("preset", "loss"), [("ring-vae", "recon"), ("ring-made", "nll"), ("ring-ae", "recon")])
def test_train_of_a_family_without_d_shows_its_own_loss_in_the_progress_bar(preset: str, loss: str, tmp_path: Path):
    """The bar showed a GAN's d and g losses, and a VAE, AE or MADE run has neither: it shows the family's own."""
    result = cli("train", "--preset", preset, "--steps", "20", "--json", "--threads", "1", "--data-dir", str(tmp_path))
    assert result.returncode == 0, explain(result)
    assert f"{loss}=" in result.stderr and not re.search(r"[ ,]d=", result.stderr), explain(result)
    assert isinstance(json.loads(result.stdout.strip().splitlines()[-1])[loss], float)


def test_train_out_dir_holds_checkpoint_metrics_samples_and_config(trained):
    from models.checkpoint import load_checkpoint

    _, out = trained
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "metrics.jsonl", "samples.png"]
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 30
    with Image.open(out / "samples.png") as picture:
        assert picture.format == "PNG"
    config = json.loads((out / "config.json").read_text())
    assert config == preset_config("ring-unrolled", {"steps": 30}).model_dump(mode="json")


def test_train_metrics_jsonl_has_one_line_per_step(trained):
    _, out = trained
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 30
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == list(range(1, 31))
    assert all({"d_loss", "g_loss", "grad_norm_d", "grad_norm_g"} <= r.keys() for r in records)
    assert "modes_covered" in records[0]  # quality is measured at the first step


# ----------------------------------------------------------------------------------------- sample


def test_sample_writes_a_png_and_the_same_seed_gives_identical_bytes(trained, tmp_path):
    checkpoint = str(trained[1] / "checkpoint.pt")
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    for output in (first, again):
        result = cli("sample", checkpoint, "-n", "16", "--seed", "0", "-o", str(output))
        assert result.returncode == 0, explain(result)
        assert result.stdout.strip() == f"wrote 16 samples of step 30 to {output}"
    with Image.open(first) as picture:
        assert picture.format == "PNG"
        assert picture.size == (512, 512)  # a 2D run is drawn as a scatter plot
    assert first.read_bytes() == again.read_bytes()
    # (that another seed gives other samples is shown in-process by tests/models/test_checkpoint.py)


# ----------------------------------------------------------------------------------------- bad inputs

TRAIN = ["train", "--threads", "1", "-q"]
# id -> (arguments, what the one error line says after "ganplay: error: ": the field (or file), then the reason).
# One case per way a user's mistake reaches main(): --set syntax, each kind of config refusal, an unknown preset,
# missing data, unreadable checkpoints and a bad sampling request. {tmp} and {run} are filled in by `placeholders`.
BAD_INPUTS: dict[str, tuple[list[str], str]] = {
    "set-without-equals": (
        [*TRAIN, "--preset", "ring-vanilla", "--set", "garbage"],
        r"--set 'garbage': expected path=value, .*",
    ),
    "unknown-field": (
        [*TRAIN, "--preset", "ring-vanilla", "--set", "nosuchfield=1"],
        r"nosuchfield: Extra inputs are not permitted",
    ),
    "value-over-limit": (
        [*TRAIN, "--preset", "ring-vanilla", "--set", "tricks.unroll_steps=99"],
        r"tricks\.unroll_steps: .*less than or equal to 20",
    ),
    "batch-not-multiple-of-pack": (
        [*TRAIN, "--preset", "ring-vanilla", "--set", "train.batch_size=255", "--set", "tricks.pack=2"],
        r"train\.batch_size: must be a multiple of tricks\.pack",
    ),
    "unknown-preset": ([*TRAIN, "--preset", "nosuch"], r"unknown preset 'nosuch'; known: .*ring-vanilla, .*"),
    "dcgan-on-2d-data": (
        [*TRAIN, "--preset", "digits-dcgan", "--set", "dataset.kind=ring"],
        r"model\.arch: dcgan needs an image dataset, not 'ring'",
    ),
    "missing-data-file": (
        [*TRAIN, "--preset", "digits-dcgan", "--set", "dataset.kind=npz", "--set", "dataset.path={tmp}/missing.npz"],
        r"npz file not found: .*missing\.npz",
    ),
    "missing-checkpoint": (["sample", "{tmp}/missing.pt"], r".*missing\.pt: no such checkpoint"),
    "random-bytes-checkpoint": (["sample", "{tmp}/random.pt"], r".*random\.pt: not a readable checkpoint .*"),
    "label-on-unconditional-run": (
        ["sample", "{run}/checkpoint.pt", "--label", "3", "-o", "{tmp}/x.png"],
        r"label: this run is not conditional",
    ),
}


@pytest.fixture(scope="module")
def placeholders(trained, tmp_path_factory) -> dict[str, str]:
    """What {tmp} and {run} in BAD_INPUTS stand for; {tmp} holds a checkpoint of random bytes."""
    tmp = tmp_path_factory.mktemp("bad")
    (tmp / "random.pt").write_bytes(random.Random(0).randbytes(4096))
    return {"tmp": str(tmp), "run": str(trained[1])}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_naming_field_and_reason(case, placeholders):
    args, expected = BAD_INPUTS[case]
    result = cli(*(arg.format(**placeholders) for arg in args))
    assert result.returncode == 2, explain(result)
    assert "Traceback" not in result.stderr, explain(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, explain(result)
    assert re.fullmatch("ganplay: error: " + expected, lines[0]), lines[0]
    assert result.stdout == ""


def test_divergence_exits_3_with_one_line_naming_step_and_metric():
    # SGD at learning rate 1 on a Wasserstein critic without its gradient penalty blows up in 6-10 steps for
    # every one of 20 seeds tried, so 50 steps leave a wide margin.
    result = cli(
        *TRAIN,
        "--preset",
        "ring-vanilla",
        "--steps",
        "50",
        "--set",
        "train.optimizer=sgd",
        "--set",
        "train.lr_d=1",
        "--set",
        "train.lr_g=1",
        "--set",
        "train.loss=wasserstein_gp",
        "--set",
        "train.gp_weight=0",
    )
    assert result.returncode == 3, explain(result)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, explain(result)
    match = re.fullmatch(r"ganplay: diverged at step (\d+): (\w+) = (\S+)", lines[0])
    assert match, lines[0]
    assert 1 <= int(match[1]) <= 50
    assert match[3] in {"nan", "inf", "-inf"}
    assert result.stdout == ""
