"""The job manager's bookkeeping on disk: a deleted run leaves no files, a fork keeps the step it was forked at."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from server.paths import run_dir
from tests.server.conftest import serve
from tests.server.test_runs_api import completed_run, create, receive_until, ws_url


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """One run at a time, so a fork waits in the queue behind its parent."""
    yield from serve(data_dir, warm_workers=1, max_concurrent=1)


def test_deleting_a_finished_run_removes_its_files(server: str, data_dir: Path):
    run_id = completed_run(server)
    assert (run_dir(data_dir, run_id) / "checkpoint.pt").is_file()
    assert httpx.delete(f"{server}/api/runs/{run_id}").status_code == 204
    assert not run_dir(data_dir, run_id).exists()


def test_deleting_a_running_run_removes_its_files_once_its_worker_has_stopped(server: str, data_dir: Path):
    run = create(
        server,
        preset="digits-dcgan",
        overrides={"steps": 100_000, "stream": {"samples_every": 1, "checkpoint_every": 5}},
    )
    folder = run_dir(data_dir, run["id"])
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "checkpoint")
        assert (folder / "samples").is_dir()  # image snapshots, written by the server as frames arrive
        assert httpx.delete(f"{server}/api/runs/{run['id']}").status_code == 204
        # The worker's final status comes after its stop-time checkpoint and its last frame; the server removes the
        # files on that status before it publishes it, so once a watcher sees it nothing may be left.
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    assert not folder.exists()


def test_a_queued_fork_starts_at_its_step_although_the_parent_trained_on_and_was_deleted(server: str, data_dir: Path):
    parent = create(server, preset="ring-vanilla", overrides={"steps": 100_000, "stream": {"checkpoint_every": 25}})
    with connect(ws_url(server, parent["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "checkpoint")
        response = httpx.post(f"{server}/api/runs/{parent['id']}/fork", json={"overrides": {"steps": 100_000}})
        assert response.status_code == 201, response.text
        child = response.json()
        assert child["status"] == "queued"  # the only slot is the parent's
        forked_at = child["parent_step"]
        assert forked_at > 0 and forked_at % 25 == 0
        receive_until(ws, lambda e: e["type"] == "checkpoint" and e["step"] > forked_at)  # the parent moved on
    assert httpx.delete(f"{server}/api/runs/{parent['id']}").status_code == 204
    with connect(ws_url(server, child["id"])) as ws:
        ws.recv(timeout=30)
        running = receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "running")[-1]
        assert running["step"] == forked_at
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    assert not run_dir(data_dir, parent["id"]).exists()
    assert not list((data_dir / "runs").glob(".fork-*"))  # nothing staged left behind


def test_a_fork_interrupted_before_its_first_checkpoint_resumes_as_the_fork(tmp_path: Path):
    data = tmp_path / "data"
    first = serve(data, warm_workers=1, max_concurrent=1)
    base = next(first)
    parent = create(base, preset="ring-vanilla", overrides={"steps": 100_000, "stream": {"checkpoint_every": 20}})
    with connect(ws_url(base, parent["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "checkpoint")
        child = httpx.post(
            f"{base}/api/runs/{parent['id']}/fork",
            json={"overrides": {"steps": 100_000, "tricks": {"unroll_steps": 2}}},
        ).json()
    assert child["status"] == "queued"
    next(first, None)  # the server goes down with the fork still queued
    again = serve(data, warm_workers=1, max_concurrent=1)
    base = next(again)
    try:
        assert httpx.get(f"{base}/api/runs/{child['id']}").json()["status"] == "interrupted"
        with connect(ws_url(base, child["id"])) as ws:
            ws.recv(timeout=30)  # subscribed before the resume: its "running" cannot come before the snapshot
            assert httpx.post(f"{base}/api/runs/{child['id']}/resume").status_code == 202
            running = receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "running")[-1]
            assert running["step"] == child["parent_step"]  # the parent's weights, not a fresh start
            rows = receive_until(ws, lambda e: e["type"] == "metrics")[-1]["rows"]
            assert rows[-1]["unroll_steps"] == 2  # under the fork's own config
            ws.send(json.dumps({"type": "stop"}))
            receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    finally:
        next(again, None)
