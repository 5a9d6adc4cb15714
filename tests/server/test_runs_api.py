"""Runs over real HTTP and a real websocket, trained by real worker processes, stored in a real SQLite file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from server.wire import decode
from tests.server.conftest import BACKENDS, serve

Event = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("api"), warm_workers=2, max_concurrent=2)


def ws_url(base: str, run_id: str) -> str:
    return base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream"


def receive_until(ws: ClientConnection, predicate: Callable[[Event], bool], timeout: float = 60) -> list[Event]:
    """Every event up to and including the first that matches."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = decode(ws.recv(timeout=max(0.01, deadline - time.monotonic())))  # text, or a binary frame
        seen.append(event)
        if predicate(event):
            return seen
    raise AssertionError(f"no matching event in {timeout} s: {[e['type'] for e in seen]}")


def create(base: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/runs", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_run_streams_snapshot_then_metrics_and_takes_a_live_patch(server: str):
    run = create(server, preset="ring-vanilla", overrides={"steps": 100_000, "stream": {"samples_every": 25}})
    with connect(ws_url(server, run["id"])) as ws:
        first = json.loads(ws.recv(timeout=30))
        assert first["type"] == "snapshot" and first["run"]["id"] == run["id"]
        receive_until(ws, lambda e: e["type"] == "metrics")
        receive_until(ws, lambda e: e["type"] == "field")
        with connect(ws_url(server, run["id"])) as late:  # a late subscriber sees the newest picture at once
            snapshot = json.loads(late.recv(timeout=30))
            assert snapshot["type"] == "snapshot" and snapshot["binary_frames"] == 1  # the frames follow it, binary
            assert decode(late.recv(timeout=30))["type"] == "field"
        response = httpx.patch(f"{server}/api/runs/{run['id']}/config", json={"tricks": {"unroll_steps": 5}})
        assert response.status_code == 202
        config = receive_until(ws, lambda e: e["type"] == "config")[-1]
        assert config["changes"] == {"tricks.unroll_steps": 5}
        later = receive_until(ws, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] > config["step"])[-1]
        assert later["rows"][-1]["unroll_steps"] == 5
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    detail = httpx.get(f"{server}/api/runs/{run['id']}").json()
    assert detail["status"] == "stopped"
    assert detail["changes"] == [{"step": config["step"], "changes": {"tricks.unroll_steps": 5}}]
    assert detail["config"]["tricks"]["unroll_steps"] == 5
    series = httpx.get(f"{server}/api/runs/{run['id']}/metrics", params={"names": "d_loss", "max_points": 10}).json()
    assert len(series["steps"]) <= 10 and list(series["series"]) == ["d_loss"]


def test_a_run_completes_and_a_fork_starts_at_its_checkpoint(server: str):
    parent = create(server, preset="ring-vanilla", overrides={"steps": 60})
    with connect(ws_url(server, parent["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "completed")
    deadline = time.monotonic() + 10
    while httpx.get(f"{server}/api/runs/{parent['id']}").json()["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    response = httpx.post(
        f"{server}/api/runs/{parent['id']}/fork", json={"overrides": {"steps": 200, "tricks": {"unroll_steps": 2}}}
    )
    assert response.status_code == 201, response.text
    child = response.json()
    assert child["parent_id"] == parent["id"] and child["parent_step"] == 60
    with connect(ws_url(server, child["id"])) as ws:
        ws.recv(timeout=30)
        running = receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "running")[-1]
        assert running["step"] == 60
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preset": "ring-vanilla", "overrides": {"tricks": {"unroll_steps": 99}}}, "tricks.unroll_steps"),
        ({"config": {"model": {"arch": "dcgan"}}}, "model.arch"),
        ({"preset": "no-such-preset"}, "preset"),
    ],
)
def test_invalid_runs_are_refused_with_the_field_and_nothing_is_created(server: str, body: dict, field: str):
    before = len(httpx.get(f"{server}/api/runs").json())
    response = httpx.post(f"{server}/api/runs", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field
    assert len(httpx.get(f"{server}/api/runs").json()) == before


def test_patch_of_a_non_live_field_is_422_and_unknown_runs_are_404(server: str):
    run = create(server, preset="ring-vanilla", overrides={"steps": 100_000})
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "metrics")
        response = httpx.patch(f"{server}/api/runs/{run['id']}/config", json={"tricks": {"pack": 2}})
        assert response.status_code == 422 and response.json()["detail"][0]["field"] == "tricks.pack"
        assert httpx.post(f"{server}/api/runs/{run['id']}/resume").status_code == 409  # running, not paused
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    assert httpx.get(f"{server}/api/runs/nope").status_code == 404
    assert httpx.patch(f"{server}/api/runs/nope/config", json={"steps": 5}).status_code == 404


def test_stream_of_an_unknown_run_is_closed_with_a_reason(server: str):
    with connect(ws_url(server, "nope")) as ws, pytest.raises(Exception, match="4404"):
        ws.recv(timeout=10)


@BACKENDS
def test_runs_left_live_become_interrupted_after_a_restart_and_resume_from_their_checkpoint(
    tmp_path: Path, db_url: str
):
    data = tmp_path / "restart"
    server = serve(data, warm_workers=1, max_concurrent=1, database_url=db_url)
    base = next(server)
    run = create(base, preset="ring-vanilla", overrides={"steps": 100_000, "stream": {"checkpoint_every": 20}})
    with connect(ws_url(base, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "checkpoint")
    next(server, None)  # shut the first server down (its worker dies with it)
    again = serve(data, warm_workers=1, max_concurrent=1, database_url=db_url)
    base = next(again)
    try:
        detail = httpx.get(f"{base}/api/runs/{run['id']}").json()
        assert detail["status"] == "interrupted" and detail["step"] > 0
        with connect(ws_url(base, run["id"])) as ws:
            ws.recv(timeout=30)  # subscribed before the resume: its "running" cannot come before the snapshot
            assert httpx.post(f"{base}/api/runs/{run['id']}/resume").status_code == 202
            running = receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "running")[-1]
            assert running["step"] >= 20
            ws.send(json.dumps({"type": "stop"}))
            receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    finally:
        next(again, None)


def completed_run(server: str, **overrides: Any) -> str:
    run = create(server, preset="ring-vanilla", overrides={"steps": 60} | overrides)
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "completed")
    deadline = time.monotonic() + 10
    while httpx.get(f"{server}/api/runs/{run['id']}").json()["checkpoint_step"] is None:
        assert time.monotonic() < deadline, "checkpoint step never recorded"
        time.sleep(0.05)
    return run["id"]


def test_samples_are_reproducible_for_a_seed_as_png_and_json(server: str):
    run_id = completed_run(server)
    url = f"{server}/api/runs/{run_id}/samples"
    png = httpx.get(url, params={"n": 32, "seed": 7})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content == httpx.get(url, params={"n": 32, "seed": 7}).content
    body = httpx.get(url, params={"n": 32, "seed": 7, "format": "json"}).json()
    assert body["step"] == 60 and body["shape"] == [32, 2]
    again = httpx.get(url, params={"n": 32, "seed": 7, "format": "json"}).json()
    other = httpx.get(url, params={"n": 32, "seed": 8, "format": "json"}).json()
    assert body["samples"] == again["samples"] != other["samples"]
    refused = httpx.get(url, params={"label": 3})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "label"
    assert httpx.get(url, params={"n": 0}).status_code == 422


def test_checkpoint_download_loads_weights_only_and_export_bundles_everything(server: str, tmp_path: Path):
    import io
    import zipfile

    import torch

    run_id = completed_run(server)
    download = httpx.get(f"{server}/api/runs/{run_id}/checkpoint")
    assert download.status_code == 200
    (tmp_path / "c.pt").write_bytes(download.content)
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert state["step"] == 60
    bundle = zipfile.ZipFile(io.BytesIO(httpx.get(f"{server}/api/runs/{run_id}/export").content))
    assert {"config.json", "changes.json", "run.json", "metrics.csv", "checkpoint.pt"} <= set(bundle.namelist())
    rows = bundle.read("metrics.csv").decode().splitlines()
    assert rows[0].startswith("step,") and len(rows) == 61


def test_samples_of_a_run_that_has_not_started_are_409(server: str):
    """Both slots (max_concurrent 2) taken, so the third run waits in the queue with no weights at all."""
    busy = [create(server, preset="ring-vanilla", overrides={"steps": 100_000}) for _ in range(2)]
    waiting = create(server, preset="ring-vanilla", overrides={"steps": 100_000})
    try:
        assert httpx.get(f"{server}/api/runs/{waiting['id']}").json()["status"] == "queued"
        response = httpx.get(f"{server}/api/runs/{waiting['id']}/samples")
        assert response.status_code == 409 and "no weights yet" in response.json()["detail"]
    finally:
        for run in [waiting, *busy]:
            httpx.post(f"{server}/api/runs/{run['id']}/stop")


def test_a_client_that_never_reads_does_not_starve_another_client_or_the_run(server: str):
    run = create(
        server,
        preset="ring-vanilla",
        overrides={"steps": 100_000, "stream": {"samples_every": 5, "max_frames_per_second": 60}},
    )
    url = ws_url(server, run["id"])
    stalled = connect(url, max_queue=1)  # reads nothing: the server's sends to it back up
    try:
        with connect(url) as active:
            active.recv(timeout=30)
            first = receive_until(active, lambda e: e["type"] == "metrics")[-1]["rows"][-1]["step"]
            time.sleep(3)  # the stalled client's buffers fill meanwhile
            later = receive_until(active, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] > first + 100)
            assert later[-1]["rows"][-1]["step"] > first + 100
            active.send(json.dumps({"type": "stop"}))
            receive_until(active, lambda e: e["type"] == "status" and e["status"] == "stopped")
    finally:
        stalled.close()


def test_an_uploaded_dataset_trains_through_the_api(server: str):
    points = [[float(i % 7), float(i // 7)] for i in range(49)]
    upload = httpx.post(f"{server}/api/datasets", json={"points": points, "name": "drawn"})
    assert upload.status_code == 201, upload.text
    dataset_id = upload.json()["id"]
    assert dataset_id in [d["id"] for d in httpx.get(f"{server}/api/datasets").json()]
    run = create(
        server, preset="ring-vanilla", overrides={"steps": 30, "dataset": {"kind": "upload", "id": dataset_id}}
    )
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "completed")

    # Once deleted, a new run on it is refused at once (not a run that fails in its worker), and nothing is made.
    assert httpx.delete(f"{server}/api/datasets/{dataset_id}", timeout=30).status_code == 204
    before = httpx.get(f"{server}/api/runs", timeout=30).headers["X-Total-Count"]
    gone = httpx.post(
        f"{server}/api/runs", json={"config": {"dataset": {"kind": "upload", "id": dataset_id}}}, timeout=30
    )
    assert gone.status_code == 422 and gone.json()["detail"][0]["field"] == "dataset.id", gone.text
    assert httpx.get(f"{server}/api/runs", timeout=30).headers["X-Total-Count"] == before


def test_an_overpowered_discriminator_raises_alerts_that_are_streamed_and_stored(server: str):
    run = create(server, preset="vanishing-minimax", overrides={"steps": 300})
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        alert = receive_until(ws, lambda e: e["type"] == "alert")[-1]
        assert alert["kind"] in ("d_overpowering", "vanishing_gradient") and alert["message"]
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "completed")
    deadline = time.monotonic() + 10
    while not httpx.get(f"{server}/api/runs/{run['id']}").json()["alerts"]:
        assert time.monotonic() < deadline, "alert never stored"
        time.sleep(0.05)
    stored = httpx.get(f"{server}/api/runs/{run['id']}").json()["alerts"]
    assert {"d_overpowering", "vanishing_gradient"} & {a["kind"] for a in stored}


@pytest.mark.parametrize("loss", ["minimax", "hinge"])
def test_an_alerts_suggested_fix_is_a_patch_the_run_accepts(server: str, loss: str):
    """The fix comes with the alert, for the run's own config: under hinge there is no real label to smooth, so an
    overpowering D is offered another trick (every kind × loss × arch: tests/models/test_alerts.py)."""
    run = create(server, preset="d-overpowered", overrides={"steps": 100_000, "train": {"loss": loss}})
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        alert = receive_until(ws, lambda e: e["type"] == "alert" and not e["cleared"], timeout=120)[-1]
        assert alert["fix"] is not None, alert
        response = httpx.patch(f"{server}/api/runs/{run['id']}/config", json=alert["fix"]["patch"])
        assert response.status_code == 202, (alert, response.text)
        stored = httpx.get(f"{server}/api/runs/{run['id']}").json()["alerts"]
        assert all(a["fix"] is None or a["fix"]["label"] for a in stored)
    assert httpx.post(f"{server}/api/runs/{run['id']}/stop").status_code == 202


def test_a_killed_worker_fails_its_run_while_the_api_and_another_run_carry_on(tmp_path: Path):
    import os
    import signal

    apps: list[Any] = []
    server = serve(tmp_path / "kill", apps, warm_workers=2, max_concurrent=2)
    base = next(server)
    try:
        victim = create(base, preset="ring-vanilla", overrides={"steps": 100_000})
        bystander = create(base, preset="ring-vanilla", overrides={"steps": 100_000})
        with connect(ws_url(base, victim["id"])) as v, connect(ws_url(base, bystander["id"])) as b:
            v.recv(timeout=30)
            b.recv(timeout=30)
            receive_until(v, lambda e: e["type"] == "metrics")
            receive_until(b, lambda e: e["type"] == "metrics")
            os.kill(apps[0].state.jobs.executor.pids()[victim["id"]], signal.SIGKILL)
            killed = time.monotonic()
            failed = receive_until(v, lambda e: e["type"] == "status" and e["status"] == "failed", timeout=5)[-1]
            assert time.monotonic() - killed < 2.0 and "-9" in failed["reason"]
            assert httpx.get(f"{base}/api/health").json()["status"] == "ok"
            step = receive_until(b, lambda e: e["type"] == "metrics")[-1]["rows"][-1]["step"]
            receive_until(b, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] > step + 50)
            b.send(json.dumps({"type": "stop"}))
            receive_until(b, lambda e: e["type"] == "status" and e["status"] == "stopped")
        deadline = time.monotonic() + 5
        while httpx.get(f"{base}/api/runs/{victim['id']}").json()["status"] != "failed":
            assert time.monotonic() < deadline, "failure not persisted"
            time.sleep(0.05)
    finally:
        next(server, None)


def test_a_fork_takes_the_config_of_the_checkpoint_it_starts_from(server: str):
    run = create(server, preset="ring-vanilla", overrides={"steps": 100_000, "stream": {"checkpoint_every": 100_000}})
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "metrics")
        ws.send(json.dumps({"type": "pause"}))  # pausing writes the checkpoint
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "paused")
        ws.send(json.dumps({"type": "patch", "patch": {"train": {"lr_g": 0.01}}}))
        ws.send(json.dumps({"type": "resume"}))
        receive_until(ws, lambda e: e["type"] == "config")  # applied after the checkpoint: not in its weights
        deadline = time.monotonic() + 10
        while httpx.get(f"{server}/api/runs/{run['id']}").json()["config"]["train"]["lr_g"] != 0.01:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child = httpx.post(f"{server}/api/runs/{run['id']}/fork", json={"overrides": {"steps": 100_000}}).json()
        assert child["config"]["train"]["lr_g"] == preset_lr_g() and child["config"]["steps"] == 100_000
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    httpx.post(f"{server}/api/runs/{child['id']}/stop")


def preset_lr_g() -> float:
    from models.presets import preset_config

    return preset_config("ring-vanilla").train.lr_g
