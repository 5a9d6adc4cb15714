"""Pause and stop act at once however long a step is: the trainer gives way between updates and, in a slow step,
inside them, and a step it cut short carries on exactly as it would have gone (issue 10, item 7a)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

import models.trainer as trainer_module
from models.checkpoint import load_checkpoint
from models.config import parse_config
from models.trainer import StepInterruptedError, Trainer
from server.paths import checkpoint_path
from tests.models.tiny import cut_short, equal
from tests.server.conftest import serve
from tests.server.test_runs_api import create, receive_until, ws_url

STEPS = 6


def unlabelled_images(tmp_path: Path) -> str:
    """An 8×8 image set with no labels: a DCGAN with batch norm, and no quality judge to train."""
    path = tmp_path / "images.npz"
    np.savez(path, x=np.random.default_rng(0).random((256, 8, 8)).astype(np.float32))
    return str(path)


def configs(tmp_path: Path) -> list[dict[str, Any]]:
    return [
        {  # every random draw of a D update and of an unrolled, second-order G update
            "device": "cpu",  # bit for bit: CUDA kernels need not be deterministic
            "dataset": {"kind": "ring", "n": 1000},
            "model": {"hidden": 16},
            "train": {"batch_size": 32, "d_steps": 3, "loss": "wasserstein_gp"},
            "tricks": {
                "unroll_steps": 2,
                "unroll_order": "second",
                "replay": {"size": 50},
                "instance_noise": {"std": 0.1, "anneal_steps": 4},
            },
            "stream": {"eval_every": 2, "eval_samples": 100},
        },
        {  # batch-norm statistics in G and D, and feature matching's extra forward pass
            "device": "cpu",
            "dataset": {"kind": "npz", "path": unlabelled_images(tmp_path)},
            "model": {"arch": "dcgan", "hidden": 8},
            "train": {"batch_size": 16, "d_steps": 2},
            "tricks": {"feature_matching": {"enabled": True}},
            "stream": {"eval_every": 2},
        },
    ]


@pytest.mark.parametrize("case", [0, 1], ids=["gp-unrolled-replay-noise", "dcgan-batchnorm-feature-matching"])
def test_a_step_cut_short_anywhere_carries_on_bit_identically_even_through_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: int
):
    monkeypatch.setattr(trainer_module, "CHECK_SECONDS", 0.0)  # ask at every layer
    monkeypatch.setattr(trainer_module, "INTERRUPTIBLE_UPDATES_SECONDS", -1.0)  # every step counts as slow
    config = parse_config(configs(tmp_path)[case])
    run = cut_short(config, tmp_path, steps=STEPS, seed=case, reload_every=3)
    assert run.interrupted >= 6 and run.reloaded >= 2, (run.interrupted, run.reloaded)
    equal(run.straight.state_dict(), run.cut.state_dict())
    for want, have in zip(run.expected, run.got):
        assert [want[k] for k in ("d_loss", "g_loss", "grad_norm_d", "grad_norm_g")] == [
            have[k] for k in ("d_loss", "g_loss", "grad_norm_d", "grad_norm_g")
        ]


def test_a_patch_made_during_a_cut_short_step_waits_for_the_next_step(tmp_path: Path):
    trainer = Trainer(parse_config(configs(tmp_path)[0]), tmp_path)
    trainer.step()
    with pytest.raises(StepInterruptedError):
        trainer.step(lambda: True)  # gives way after its first D update
    assert trainer.next_patch_step == 3  # step 2 keeps the config it began with
    trainer.patch({"train": {"d_steps": 1}})
    assert trainer.step()["d_steps"] == 3
    assert trainer.step()["d_steps"] == 1 and trainer.change_log[-1]["step"] == 3


# ----------------------------------------------------------------------------------------- over the API


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("latency")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    yield from serve(data_dir, warm_workers=1, max_concurrent=1)


def test_pause_and_stop_during_a_step_of_the_largest_model_act_before_that_step_ends(server: str, data_dir: Path):
    """d_steps 20 at batch 4096 on the widest, deepest MLP: minutes per step on a CPU. The run starts cheap and is
    patched into that step; once the step has begun (its config change is told as it begins), a pause and a stop
    are honoured before it completes, and the checkpoint they leave holds the step's progress."""
    run = create(
        server,
        config={
            "steps": 100_000,
            "dataset": {"kind": "ring", "n": 10_000},
            "model": {"hidden": 1024, "layers": 8},
            "train": {"batch_size": 64, "d_steps": 1},
            "stream": {"samples_every": 100_000, "eval_samples": 100, "n_samples": 16, "field_resolution": 4},
        },
    )
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "metrics")
        ws.send(json.dumps({"type": "patch", "id": "slow", "patch": {"train": {"d_steps": 20, "batch_size": 4096}}}))
        accepted = receive_until(ws, lambda e: e["type"] == "patch_accepted" and e["id"] == "slow")[-1]
        slow_step = accepted["step"]
        seen = receive_until(ws, lambda e: e["type"] == "config")  # the slow step has begun
        assert seen[-1]["step"] == slow_step
        ws.send(json.dumps({"type": "pause"}))
        seen += receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "paused")
        assert seen[-1]["step"] == slow_step - 1  # the slow step did not have to finish first
        ws.send(json.dumps({"type": "stop"}))
        seen += receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    assert seen[-1]["step"] == slow_step - 1
    steps = [row["step"] for e in seen if e["type"] == "metrics" for row in e["rows"]]
    assert max(steps, default=0) < slow_step
    detail = httpx.get(f"{server}/api/runs/{run['id']}").json()
    assert detail["status"] == "stopped" and detail["config"]["train"]["d_steps"] == 20
    state = load_checkpoint(checkpoint_path(data_dir, run["id"]))
    assert state["step"] == slow_step - 1 and state["config"].train.d_steps == 20
    assert state["partial"] is not None  # resuming finishes the slow step where it was cut short
