"""What a script sees of a run while it trains: samples from its first metrics on, whatever ``checkpoint_every``
is; live patches validated against the config the worker will have after every patch already accepted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.server.conftest import serve
from tests.server.test_runs_api import create, receive_until, ws_url

NO_CHECKPOINT = {"steps": 1_000_000, "stream": {"checkpoint_every": 1_000_000}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("live"), warm_workers=1, max_concurrent=2)


def stop(server: str, run_id: str) -> None:
    assert httpx.post(f"{server}/api/runs/{run_id}/stop").status_code == 202


def test_a_new_run_serves_samples_as_soon_as_its_first_metrics_arrive(server: str):
    run = create(server, preset="ring-unrolled", overrides=NO_CHECKPOINT)
    url = f"{server}/api/runs/{run['id']}/samples"
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "metrics")
        first = httpx.get(url, params={"format": "json", "seed": 3})  # no retry: the weights are there already
        again = httpx.get(url, params={"format": "json", "seed": 3})
    assert first.status_code == 200, first.text
    assert len(first.json()["samples"]) == 64
    if again.headers["X-Checkpoint-Step"] == first.headers["X-Checkpoint-Step"]:  # no newer weights meanwhile
        assert again.content == first.content
    assert httpx.get(f"{server}/api/runs/{run['id']}").json()["checkpoint_step"] is None  # not from a checkpoint
    stop(server, run["id"])


def test_live_samples_follow_the_training_and_repeat_exactly_for_the_same_weights(server: str):
    run = create(server, preset="ring-vanilla", overrides=NO_CHECKPOINT)
    url = f"{server}/api/runs/{run['id']}/samples"
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "metrics")
        early = int(httpx.get(url, params={"format": "json"}).headers["X-Checkpoint-Step"])
        time.sleep(2.5)  # longer than the worker's interval between generator writes (server/worker.py)
        later = int(httpx.get(url, params={"format": "json"}).headers["X-Checkpoint-Step"])
        assert later > early  # fresh weights, though no checkpoint was written
        assert httpx.post(f"{server}/api/runs/{run['id']}/pause").status_code == 202
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "paused")
    same = [httpx.get(url, params={"format": "json", "seed": 11}) for _ in range(2)]
    assert same[0].content == same[1].content
    assert httpx.get(url, params={"format": "json", "seed": 12}).content != same[0].content
    stop(server, run["id"])


def pause(server: str, ws: Any, run_id: str, snapshot: dict[str, Any]) -> None:
    """Pause once the run is running (pause is valid only then): it may already be in the snapshot."""
    if snapshot["run"]["status"] != "running":
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "running")
    assert httpx.post(f"{server}/api/runs/{run_id}/pause").status_code == 202
    receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "paused")


def patch(server: str, run_id: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.patch(f"{server}/api/runs/{run_id}/config", json=body)


def test_a_patch_is_checked_against_the_patches_accepted_before_it(server: str):
    """Paused, the run applies nothing: each patch must still be judged after the ones already accepted."""
    run = create(server, preset="ring-vanilla", overrides=NO_CHECKPOINT)
    with connect(ws_url(server, run["id"])) as ws:
        pause(server, ws, run["id"], json.loads(ws.recv(timeout=30)))
        assert patch(server, run["id"], {"train": {"loss": "hinge"}}).status_code == 202
        refused = patch(server, run["id"], {"tricks": {"label_smoothing": 0.1}})  # hinge has no target to smooth
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["field"] == "tricks.label_smoothing"
        assert patch(server, run["id"], {"train": {"loss": "minimax"}}).status_code == 202
        assert patch(server, run["id"], {"tricks": {"label_smoothing": 0.1}}).status_code == 202  # fine after it
        assert httpx.post(f"{server}/api/runs/{run['id']}/resume").status_code == 202
        config = receive_until(ws, lambda e: e["type"] in ("config", "patch_rejected"))[-1]
        assert config["type"] == "config", config  # the worker took every patch the API accepted
        assert config["config"]["train"]["loss"] == "minimax"
        assert config["config"]["tricks"]["label_smoothing"] == 0.1
    stop(server, run["id"])


def test_a_patch_the_trainer_would_refuse_is_refused_by_the_api(server: str):
    run = create(server, preset="ring-vanilla", overrides=NO_CHECKPOINT)
    with connect(ws_url(server, run["id"])) as ws:
        pause(server, ws, run["id"], json.loads(ws.recv(timeout=30)))
        assert patch(server, run["id"], {"tricks": {"label_smoothing": 0.2}}).status_code == 202
        refused = patch(server, run["id"], {"train": {"loss": "wasserstein_gp"}})
        assert refused.status_code == 422, refused.text
        ws.send(json.dumps({"type": "patch", "id": "w", "patch": {"train": {"loss": "hinge"}}}))
        error = receive_until(ws, lambda e: e["type"] in ("error", "patch_rejected"))[-1]
        assert error["type"] == "error" and error["id"] == "w"  # refused by the server, never sent to the trainer
    stop(server, run["id"])


def test_an_image_run_on_a_fresh_install_streams_from_its_first_step_while_its_judge_trains(server: str):
    """The module's data dir is new: no quality judge is cached, so digits' judge trains beside the run."""
    run = create(server, preset="digits-dcgan", overrides={"steps": 1_000_000, "stream": {"eval_every": 20}})
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        events = receive_until(ws, lambda e: e["type"] == "metrics")
        notices = [e for e in events if e["type"] == "preparing"]
        assert notices and notices[-1]["done"] is False and "judge" in notices[-1]["message"]
        assert not any("fd" in row for row in events[-1]["rows"])  # training streams before the judge is ready
        with connect(ws_url(server, run["id"])) as late:  # a page opened meanwhile is told too
            snapshot = json.loads(late.recv(timeout=30))
            assert any(f["type"] == "preparing" and not f["done"] for f in snapshot["frames"])
        receive_until(ws, lambda e: e["type"] == "preparing" and e["done"], timeout=300)
        rows = receive_until(ws, lambda e: e["type"] == "metrics" and any("fd" in r for r in e["rows"]))[-1]["rows"]
        assert any(0 <= r.get("class_coverage", 0) <= 10 for r in rows)  # the judge's metrics have joined
    stop(server, run["id"])


def test_a_run_that_ends_before_its_judge_is_ready_tells_its_viewers_the_preparing_is_over(tmp_path: Path):
    """A short image run on a fresh install ends while its quality judge still trains (the judge goes on, in the
    worker, for later runs): its viewers get a closing ``preparing`` before the final status, and a page opened
    afterwards is not told that anything is still being prepared for it."""
    for base in serve(tmp_path / "data", warm_workers=1):
        run = create(base, preset="digits-dcgan", overrides={"steps": 3})
        with connect(ws_url(base, run["id"])) as ws:
            ws.recv(timeout=30)
            events = receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "completed", timeout=60)
        notices = [e for e in events if e["type"] == "preparing"]
        assert notices and notices[0]["done"] is False, "the judge was cached: the run did not outlive nothing"
        assert notices[-1]["done"] is True and events.index(notices[-1]) < len(events) - 1
        with connect(ws_url(base, run["id"])) as late:
            snapshot = json.loads(late.recv(timeout=30))
        assert not any(f["type"] == "preparing" for f in snapshot["frames"])
