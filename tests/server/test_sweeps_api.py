"""Sweeps over real HTTP: cells are ordinary runs trained by real workers, started through the client's run quota
(cells past it wait and start as the client's runs end), stopped and deleted with nothing left behind."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.sweeps import MAX_CELLS, MAX_SEEDS
from server.paths import run_dir
from server.status import CELL_STATUSES, FINAL_STATUSES, LIVE_STATUSES, SWEEP_STATUSES
from tests.server.conftest import serve

QUOTA = 4  # live runs per client
SWEEP_QUOTA = 2  # live sweeps per client
LONG = {"steps": 1_000_000, "stream": {"samples_every": 1000}}  # trains until stopped

Sweep = dict[str, Any]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sweeps")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    yield from serve(
        data_dir, warm_workers=2, max_concurrent=2, max_runs_per_client=QUOTA, max_sweeps_per_client=SWEEP_QUOTA
    )


@pytest.fixture
def base(server: str) -> Iterator[str]:
    """The server, and after the test no sweep and no live run left to hold the next test's quota."""
    yield server
    for sweep in httpx.get(f"{server}/api/sweeps", timeout=30).json():
        httpx.delete(f"{server}/api/sweeps/{sweep['id']}", timeout=60)
    for run in httpx.get(f"{server}/api/runs", timeout=30).json():
        if run["status"] in LIVE_STATUSES:
            httpx.post(f"{server}/api/runs/{run['id']}/stop", timeout=30)
    wait_until(lambda: not live_runs(server), "every run to end")


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def live_runs(base: str) -> list[str]:
    return [r["id"] for r in httpx.get(f"{base}/api/runs", timeout=30).json() if r["status"] in LIVE_STATUSES]


def create(base: str, **body: Any) -> Sweep:
    response = httpx.post(f"{base}/api/sweeps", json=body, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()


def get(base: str, sweep_id: str) -> Sweep:
    response = httpx.get(f"{base}/api/sweeps/{sweep_id}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def cells_where(base: str, sweep_id: str, predicate: Callable[[dict[str, Any]], bool]) -> Sweep | None:
    sweep = get(base, sweep_id)
    return sweep if all(predicate(cell) for cell in sweep["cells"]) else None


def test_a_sweep_trains_every_cell_as_an_ordinary_run_listed_with_its_sweep(base: str):
    sweep = create(
        base, preset="ring-vanilla", overrides={"steps": 60}, grid={"train.lr_g": [1e-4, 1e-3]}, seeds=[0, 1]
    )
    assert sweep["status"] == "running" and sweep["n_cells"] == 4 and sweep["preset"] == "ring-vanilla"
    assert sweep["axes"] == [{"path": "train.lr_g", "values": [1e-4, 1e-3]}] and sweep["seeds"] == [0, 1]
    assert [(c["index"], c["params"], c["seed"]) for c in sweep["cells"]] == [
        (0, {"train.lr_g": 1e-4}, 0),
        (1, {"train.lr_g": 1e-3}, 0),
        (2, {"train.lr_g": 1e-4}, 1),
        (3, {"train.lr_g": 1e-3}, 1),
    ]
    run_ids = [cell["run_id"] for cell in sweep["cells"]]
    assert all(run_ids) and len(set(run_ids)) == 4  # 4 cells fit the quota: all started at once

    seen_steps: list[list[int]] = [[cell["step"] for cell in sweep["cells"]]]

    def finished() -> Sweep | None:
        now = get(base, sweep["id"])
        seen_steps.append([cell["step"] for cell in now["cells"]])
        return now if now["status"] == "finished" else None

    done = wait_until(finished, "the sweep to finish")
    for earlier, later in itertools.pairwise(seen_steps):
        assert all(a <= b for a, b in zip(earlier, later)), seen_steps  # cells only ever advance
    assert done["counts"] == {"completed": 4}
    for cell, run_id in zip(done["cells"], run_ids):
        assert (cell["run_id"], cell["status"], cell["step"], cell["steps"]) == (run_id, "completed", 60, 60)
        assert {"d_loss", "modes_covered", "hq_fraction"} <= cell["metrics"].keys()  # quality carried to the end
        run = httpx.get(f"{base}/api/runs/{run_id}").json()
        assert (run["sweep_id"], run["sweep_cell"]) == (sweep["id"], cell["index"])
        assert run["config"]["seed"] == cell["seed"] and run["config"]["train"]["lr_g"] == cell["params"]["train.lr_g"]
    listed = httpx.get(f"{base}/api/sweeps", params={"limit": 1}, timeout=30)
    assert [s["id"] for s in listed.json()] == [sweep["id"]] and listed.json()[0]["counts"] == {"completed": 4}
    assert int(listed.headers["X-Total-Count"]) >= 1

    fork = httpx.post(f"{base}/api/runs/{run_ids[0]}/fork", json={"overrides": {"steps": 70}}, timeout=60)
    assert fork.status_code == 201, fork.text
    assert fork.json()["parent_id"] == run_ids[0] and fork.json()["sweep_id"] is None  # a fork is no cell
    httpx.delete(f"{base}/api/runs/{fork.json()['id']}", timeout=30)


def test_a_lesson_runs_by_name_and_cells_past_the_run_quota_wait_for_the_clients_runs_to_end(base: str):
    lessons = httpx.get(f"{base}/api/sweeps/lessons", timeout=30).json()
    assert {"sensitivity-lr", "sensitivity-arch"} <= {lesson["name"] for lesson in lessons}
    sweep = create(base, lesson="sensitivity-lr", overrides=LONG, seeds=[0])
    assert sweep["lesson"] == "sensitivity-lr" and sweep["n_cells"] == 16
    started = [cell for cell in sweep["cells"] if cell["run_id"]]
    assert [cell["index"] for cell in started] == list(range(QUOTA))
    assert {cell["status"] for cell in sweep["cells"][QUOTA:]} == {"pending"}
    refused = httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla"}, timeout=30)
    assert refused.status_code == 429, refused.text  # the sweep's runs hold the client's whole quota

    httpx.post(f"{base}/api/runs/{started[0]['run_id']}/stop", timeout=30)
    after = wait_until(lambda: (s := get(base, sweep["id"]))["cells"][QUOTA]["run_id"] and s, "the next cell")
    assert after["cells"][0]["status"] == "stopped" and after["cells"][QUOTA]["status"] in LIVE_STATUSES
    assert after["cells"][QUOTA + 1]["run_id"] is None and len(live_runs(base)) == QUOTA

    stopped = httpx.post(f"{base}/api/sweeps/{sweep['id']}/stop", timeout=30)
    assert stopped.status_code == 202 and stopped.json()["status"] == "stopped"
    final = wait_until(
        lambda: cells_where(base, sweep["id"], lambda c: c["status"] in FINAL_STATUSES | {"cancelled"}), "the stop"
    )
    assert {c["status"] for c in final["cells"][QUOTA + 1 :]} == {"cancelled"} and not live_runs(base)
    assert httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 5}}).status_code == 201


def running_sweep(base: str, data_dir: Path, cells: int) -> tuple[Sweep, list[str]]:
    """A sweep of long runs, once one of its cells is training and has written its files."""
    sweep = create(base, preset="ring-vanilla", overrides=LONG, grid={"train.lr_g": [1e-4, 2e-4, 3e-4][:cells]})
    run_ids = [cell["run_id"] for cell in sweep["cells"]]
    running = wait_until(
        lambda: [c for c in get(base, sweep["id"])["cells"] if c["status"] == "running" and c["step"] > 0], "a cell"
    )
    wait_until(lambda: run_dir(data_dir, running[0]["run_id"]).exists(), "its files")
    return sweep, run_ids


def assert_nothing_left(base: str, data_dir: Path, sweep_id: str, run_ids: list[str]) -> None:
    assert httpx.get(f"{base}/api/sweeps/{sweep_id}").status_code == 404
    for run_id in run_ids:
        assert httpx.get(f"{base}/api/runs/{run_id}").status_code == 404
    assert not {r["sweep_id"] for r in httpx.get(f"{base}/api/runs").json()} & {sweep_id}
    wait_until(lambda: not any(run_dir(data_dir, run_id).exists() for run_id in run_ids), "the files to go")


def test_stopping_a_running_sweep_stops_every_run_then_deleting_it_leaves_nothing(base: str, data_dir: Path):
    sweep, run_ids = running_sweep(base, data_dir, cells=3)
    stopped = httpx.post(f"{base}/api/sweeps/{sweep['id']}/stop", timeout=30)
    assert stopped.status_code == 202, stopped.text
    done = wait_until(lambda: cells_where(base, sweep["id"], lambda c: c["status"] == "stopped"), "every run")
    assert done["status"] == "stopped" and done["counts"] == {"stopped": 3}
    assert httpx.delete(f"{base}/api/sweeps/{sweep['id']}", timeout=60).status_code == 204
    assert_nothing_left(base, data_dir, sweep["id"], run_ids)


def test_deleting_a_running_sweep_stops_and_deletes_its_runs_and_files(base: str, data_dir: Path):
    sweep, run_ids = running_sweep(base, data_dir, cells=2)
    assert httpx.delete(f"{base}/api/sweeps/{sweep['id']}", timeout=60).status_code == 204
    assert_nothing_left(base, data_dir, sweep["id"], run_ids)
    wait_until(lambda: not live_runs(base), "the workers to stop")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preset": "ring-vanilla", "grid": {"train.lr_g": [1e-4, 1e-3, 5.0]}}, "grid.train.lr_g[2]"),
        ({"preset": "ring-vanilla", "grid": {"train.lr_g": "1e-3"}}, "grid.train.lr_g"),
        ({"preset": "ring-vanilla", "grid": {"train.nope": [1]}}, "grid.train.nope"),
        ({"preset": "ring-vanilla", "seeds": [0, "one"]}, "seeds[1]"),
        ({"preset": "ring-vanilla", "seeds": []}, "seeds"),
        ({"preset": "ring-vanilla", "grid": {"steps": list(range(1, 66))}}, "grid"),
        ({"preset": "ring-vanilla", "grid": {"device": ["cpu", "cuda:7"]}}, "grid.device[1]"),
        ({"preset": "ring-vanilla", "overrides": {"dataset": {"kind": "npz", "path": "/etc/passwd"}}}, "dataset.path"),
        ({"preset": "no-such-preset"}, "preset"),
        ({"preset": "ring-vanilla", "lesson": "sensitivity-lr"}, "preset"),
        ({"lesson": "no-such-lesson"}, "lesson"),
        ({"lesson": "sensitivity-lr", "grid": {"train.lr_g": [1e-3]}}, "grid"),
    ],
)
def test_invalid_sweeps_are_422_naming_the_field_and_nothing_is_created(base: str, body: dict, field: str):
    before = httpx.get(f"{base}/api/sweeps").headers["X-Total-Count"]
    runs = len(httpx.get(f"{base}/api/runs").json())
    response = httpx.post(f"{base}/api/sweeps", json=body, timeout=30)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == field, response.text
    assert httpx.get(f"{base}/api/sweeps").headers["X-Total-Count"] == before
    assert len(httpx.get(f"{base}/api/runs").json()) == runs


def test_unknown_sweeps_are_404(base: str):
    missing = "0" * 32
    assert httpx.get(f"{base}/api/sweeps/{missing}").status_code == 404
    assert httpx.post(f"{base}/api/sweeps/{missing}/stop").status_code == 404
    assert httpx.delete(f"{base}/api/sweeps/{missing}").status_code == 404


def test_the_list_is_a_bounded_page(base: str):
    assert httpx.get(f"{base}/api/sweeps", params={"limit": 201}).status_code == 422
    assert httpx.get(f"{base}/api/sweeps", params={"limit": 0}).status_code == 422
    assert httpx.get(f"{base}/api/sweeps", params={"offset": 10**6}).json() == []


def test_parallel_sweep_creates_past_the_quotas_make_exactly_the_quotas_of_sweeps_and_runs(base: str):
    """Ten creates of 3-cell sweeps released together: exactly the sweep quota is created (429 for the rest), and
    of their 6 cells exactly the run quota has started; the rest wait."""
    gate = threading.Barrier(10)
    body = {"preset": "ring-vanilla", "overrides": LONG, "grid": {"train.lr_g": [1e-4, 2e-4, 3e-4]}}

    def one() -> int:
        gate.wait()
        return httpx.post(f"{base}/api/sweeps", json=body, timeout=60).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = [f.result() for f in [pool.submit(one) for _ in range(10)]]
    assert sorted(codes) == [201] * SWEEP_QUOTA + [429] * (10 - SWEEP_QUOTA)
    sweeps = [get(base, s["id"]) for s in httpx.get(f"{base}/api/sweeps").json()]
    started = [cell for sweep in sweeps for cell in sweep["cells"] if cell["run_id"]]
    assert len(sweeps) == SWEEP_QUOTA and len(started) == QUOTA and len(live_runs(base)) == QUOTA


def test_meta_serves_the_sweep_vocabulary_and_limits(base: str):
    sweeps = httpx.get(f"{base}/api/meta", timeout=30).json()["sweeps"]
    assert sweeps == {
        "statuses": list(SWEEP_STATUSES),
        "cell_statuses": list(CELL_STATUSES),
        "max_cells": MAX_CELLS,
        "max_seeds": MAX_SEEDS,
    }
