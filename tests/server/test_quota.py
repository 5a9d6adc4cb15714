"""Limits that hold under pressure (issue 10): the live-run quota under parallel creates and forks, training slots
that paused runs give back, and a bounded number of image snapshots per run."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from server.paths import snapshots_dir
from server.status import LIVE_STATUSES
from tests.server.conftest import serve
from tests.server.test_runs_api import create, receive_until, ws_url

QUOTA = 8
PARALLEL = 20
LONG = {"steps": 100_000, "stream": {"samples_every": 1000}}


def live_runs(base: str) -> list[str]:
    return [r["id"] for r in httpx.get(f"{base}/api/runs", timeout=30).json() if r["status"] in LIVE_STATUSES]


def stop_all(base: str) -> None:
    """Every live run stopped, and the server has recorded it (the quota counts recorded statuses)."""
    for run_id in live_runs(base):
        httpx.post(f"{base}/api/runs/{run_id}/stop", timeout=30)
    deadline = time.monotonic() + 120
    while live := live_runs(base):
        assert time.monotonic() < deadline, f"still live: {live}"
        time.sleep(0.2)


def all_at_once(request: Callable[[], httpx.Response]) -> list[int]:
    """``PARALLEL`` copies of the request, released together; their status codes."""
    gate = threading.Barrier(PARALLEL)

    def one() -> int:
        gate.wait()
        return request().status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        return [f.result() for f in [pool.submit(one) for _ in range(PARALLEL)]]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quota")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    yield from serve(data_dir, warm_workers=0, max_concurrent=1, max_runs_per_client=QUOTA)


def test_parallel_creates_past_the_quota_make_exactly_the_quota_of_live_runs(server: str):
    body = {"preset": "ring-vanilla", "overrides": LONG}
    codes = all_at_once(lambda: httpx.post(f"{server}/api/runs", json=body, timeout=60))
    try:
        assert sorted(codes) == [201] * QUOTA + [429] * (PARALLEL - QUOTA)
        assert len(live_runs(server)) == QUOTA
    finally:
        stop_all(server)


def test_parallel_forks_past_the_quota_make_exactly_the_quota_of_live_runs(server: str):
    parent = create(server, preset="ring-vanilla", overrides={"steps": 5})["id"]
    deadline = time.monotonic() + 120
    while httpx.get(f"{server}/api/runs/{parent}").json()["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    fork = {"overrides": {"steps": 100_000}}
    codes = all_at_once(lambda: httpx.post(f"{server}/api/runs/{parent}/fork", json=fork, timeout=60))
    try:
        assert sorted(codes) == [201] * QUOTA + [429] * (PARALLEL - QUOTA)
        assert len(live_runs(server)) == QUOTA
    finally:
        stop_all(server)


def test_resuming_an_interrupted_run_counts_against_the_quota(tmp_path: Path):
    body = {"preset": "ring-vanilla", "overrides": LONG}
    for base in serve(tmp_path, warm_workers=0, max_concurrent=1, max_runs_per_client=2):
        cut_off = create(base, **body)["id"]  # live when the server goes: interrupted by the next one
    for base in serve(tmp_path, warm_workers=0, max_concurrent=1, max_runs_per_client=2):
        assert httpx.get(f"{base}/api/runs/{cut_off}").json()["status"] == "interrupted"
        create(base, **body)
        create(base, **body)
        refused = httpx.post(f"{base}/api/runs/{cut_off}/resume", timeout=30)
        assert refused.status_code == 429, refused.text
        assert httpx.get(f"{base}/api/runs/{cut_off}").json()["status"] == "interrupted"
        stop_all(base)
        assert httpx.post(f"{base}/api/runs/{cut_off}/resume", timeout=30).status_code == 202
        stop_all(base)


# ----------------------------------------------------------------------------------------- paused runs, snapshots


@pytest.fixture(scope="module")
def apps() -> list[Any]:
    return []


@pytest.fixture(scope="module")
def two_slots(tmp_path_factory: pytest.TempPathFactory, apps: list[Any]) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("slots"), apps, warm_workers=2, max_concurrent=2)


def status_is(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["type"] == "status" and e["status"] == status


@contextmanager
def opened(base: str, run_id: str) -> Iterator[ClientConnection]:
    """The run's stream, past its snapshot."""
    with connect(ws_url(base, run_id)) as ws:
        ws.recv(timeout=30)
        yield ws


def test_paused_runs_give_their_slots_to_new_runs_and_queue_to_resume_when_none_is_free(two_slots: str):
    base = two_slots
    try:
        a, b = (create(base, preset="ring-vanilla", overrides=LONG)["id"] for _ in range(2))
        with opened(base, a) as wa, opened(base, b) as wb:
            paused = {}
            for run_id, ws in ((a, wa), (b, wb)):
                receive_until(ws, lambda e: e["type"] == "metrics")
                ws.send('{"type": "pause"}')
                paused[run_id] = receive_until(ws, status_is("paused"))[-1]["step"]
            c = create(base, preset="ring-vanilla", overrides=LONG)["id"]
            with opened(base, c) as wc:
                receive_until(wc, lambda e: e["type"] == "metrics")  # trains while both others are paused
                wa.send('{"type": "resume"}')
                back = receive_until(wa, lambda e: e["type"] == "status" and e["status"] in ("queued", "running"))
                assert back[-1]["status"] == "running"  # a slot was free: straight back
                receive_until(wa, lambda e: e["type"] == "metrics")
                wb.send('{"type": "resume"}')
                queued = receive_until(wb, lambda e: e["type"] == "status" and e["status"] in ("queued", "running"))[-1]
                assert queued["status"] == "queued"  # a and c hold both slots
                assert httpx.get(f"{base}/api/runs/{b}").json()["status"] == "queued"
                wc.send('{"type": "stop"}')
                receive_until(wc, status_is("stopped"))
            running = receive_until(wb, status_is("running"))[-1]  # c's slot, once c stopped
            assert running["step"] == paused[b]
            receive_until(wb, lambda e: e["type"] == "metrics")
            for ws in (wa, wb):
                ws.send('{"type": "stop"}')
                receive_until(ws, status_is("stopped"))
    finally:
        stop_all(base)  # nothing left to hold a slot, should this fail


def test_image_snapshots_stay_within_the_budget_spread_evenly_over_the_run(two_slots: str, apps: list[Any]):
    jobs = apps[0].state.jobs
    budget = 10
    jobs.snapshots_per_run = budget
    run = create(
        two_slots,
        preset="digits-dcgan",
        overrides={"steps": 100_000, "stream": {"samples_every": 1, "max_frames_per_second": 60}},
    )
    with opened(two_slots, run["id"]) as ws:
        frames = [e["step"] for e in receive_until(ws, lambda e: e["type"] == "samples") if e["type"] == "samples"]
        while len(frames) < 4 * budget:
            frames.append(receive_until(ws, lambda e: e["type"] == "samples")[-1]["step"])
        ws.send('{"type": "stop"}')
        receive_until(ws, status_is("stopped"))
    kept = httpx.get(f"{two_slots}/api/runs/{run['id']}/snapshots").json()["steps"]
    on_disk = sorted(int(p.stem) for p in snapshots_dir(jobs.data_dir, run["id"]).glob("*.png"))
    assert kept == on_disk and len(kept) <= budget
    assert kept[0] == 1 and kept[-1] >= frames[-1]  # the first and the newest stay
    even = (kept[-1] - kept[0]) / (budget - 1)
    gaps = [b - a for a, b in itertools.pairwise(kept)]
    assert max(gaps) <= 3 * even, (kept, frames)
