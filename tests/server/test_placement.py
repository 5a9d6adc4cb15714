"""Where runs train: the executor places only runs that leave it the choice (``auto``, bare ``cuda``) and honours
``cpu`` and ``cuda:N``, for new runs, forks and resumes alike. The host here has no GPU, so it is made to report two
(the executor's ``gpus``); a run placed on a GPU then fails in its real worker with the device it was given, which
is exactly what these tests read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.executor import place_device
from tests.server.conftest import serve

QUICK = {"steps": 100_000, "stream": {"checkpoint_every": 20}}


def test_place_device_chooses_only_for_auto_and_bare_cuda():
    assert [place_device("auto", 2, turn) for turn in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]
    assert place_device("cuda", 2, 1) == "cuda:1"
    assert place_device("cpu", 2, 0) == "cpu"
    assert place_device("cuda:1", 2, 0) == "cuda:1"
    assert place_device("auto", 0, 5) == "cpu"


@pytest.fixture(scope="module")
def two_gpu_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    apps: list[Any] = []
    for base in serve(tmp_path_factory.mktemp("placement"), apps, warm_workers=1, max_concurrent=2):
        apps[0].state.jobs.executor.gpus = 2  # the host reports two CUDA devices; none is real
        yield base


def create(base: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{base}/api/runs", json=body, timeout=30)


def wait_run(base: str, run_id: str, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{base}/api/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is {run['status']}, not in {statuses}, after {timeout} s")


def stop(base: str, run_id: str) -> None:
    httpx.post(f"{base}/api/runs/{run_id}/stop")
    wait_run(base, run_id, {"stopped", "completed", "failed"})


def test_a_cpu_run_trains_on_the_cpu_of_a_host_with_gpus(two_gpu_host: str):
    run = create(two_gpu_host, preset="ring-vanilla", overrides={"device": "cpu", **QUICK}).json()
    running = wait_run(two_gpu_host, run["id"], {"running", "failed"})
    assert (running["status"], running["device"]) == ("running", "cpu"), running["reason"]
    stop(two_gpu_host, run["id"])


def test_an_explicit_cuda_device_is_honoured_not_replaced_by_the_round_robin(two_gpu_host: str):
    for _ in range(2):  # whatever turn the round-robin is at
        run = create(two_gpu_host, preset="ring-vanilla", overrides={"device": "cuda:1"}).json()
        failed = wait_run(two_gpu_host, run["id"], {"failed", "running"})
        assert "cuda:1" in (failed["reason"] or ""), failed["reason"]


def test_auto_runs_are_placed_round_robin(two_gpu_host: str):
    reasons = []
    for _ in range(2):
        run = create(two_gpu_host, preset="ring-vanilla", overrides={"device": "auto"}).json()
        reasons.append(wait_run(two_gpu_host, run["id"], {"failed", "running"})["reason"] or "")
    placed = sorted("cuda:0" if "cuda:0" in r else "cuda:1" if "cuda:1" in r else r for r in reasons)
    assert placed == ["cuda:0", "cuda:1"], reasons


def test_a_device_the_host_does_not_have_is_422_naming_the_field(two_gpu_host: str, tmp_path: Path):
    response = create(two_gpu_host, preset="ring-vanilla", overrides={"device": "cuda:2"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "device"
    for no_gpu in serve(tmp_path / "data", warm_workers=0):
        response = create(no_gpu, preset="ring-vanilla", overrides={"device": "cuda"})
        assert response.status_code == 422 and response.json()["detail"][0]["field"] == "device"


def test_a_fork_set_to_auto_is_placed_like_a_new_run(two_gpu_host: str):
    parent = create(two_gpu_host, preset="ring-vanilla", overrides={"device": "cpu", **QUICK}).json()
    wait_run(two_gpu_host, parent["id"], {"running"})
    deadline = time.monotonic() + 60
    while httpx.get(f"{two_gpu_host}/api/runs/{parent['id']}").json()["checkpoint_step"] is None:
        assert time.monotonic() < deadline, "no checkpoint"
        time.sleep(0.05)
    fork = httpx.post(f"{two_gpu_host}/api/runs/{parent['id']}/fork", json={"overrides": {"device": "auto"}})
    assert fork.status_code == 201, fork.text
    placed = wait_run(two_gpu_host, fork.json()["id"], {"failed", "running"})
    assert "cuda:" in (placed["reason"] or ""), placed  # placed on a (reported) GPU, not left to the worker
    stop(two_gpu_host, parent["id"])
    cpu_fork = httpx.post(f"{two_gpu_host}/api/runs/{parent['id']}/fork", json={"overrides": {}}).json()
    kept = wait_run(two_gpu_host, cpu_fork["id"], {"running", "failed", "completed"})
    assert kept["device"] == "cpu", kept  # a fork of a cpu run keeps its device
    stop(two_gpu_host, cpu_fork["id"])
