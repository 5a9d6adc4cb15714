"""Faults against a real server, real workers and real databases; each test's name and docstring state the outcome.

Random points are drawn from a seeded RNG and printed, so a failure names the delay that caused it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from websockets.sync.client import connect

from models.checkpoint import load_checkpoint
from server.paths import checkpoint_path
from tests.server.conftest import _free_port, pg_cluster, serve
from tests.server.test_runs_api import completed_run, create, receive_until, ws_url

RNG = random.Random(5)
ENDLESS = {"steps": 10_000_000}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30, every: float = 0.05) -> Any:
    """``check()``'s first truthy value; fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s")


def run_of(base: str, run_id: str) -> dict[str, Any]:
    return httpx.get(f"{base}/api/runs/{run_id}", timeout=30).json()


def wait_status(base: str, run_id: str, *statuses: str, timeout: float = 30) -> dict[str, Any]:
    return wait_for(
        f"run {run_id} {'/'.join(statuses)}",
        lambda: (run := run_of(base, run_id))["status"] in statuses and run,
        timeout,
    )


def metric_steps(base: str, run_id: str) -> list[int]:
    return httpx.get(f"{base}/api/runs/{run_id}/metrics", params={"names": "d_loss"}, timeout=30).json()["steps"]


def wait_checkpoint(base: str, run_id: str) -> int:
    return wait_for(f"a checkpoint of {run_id}", lambda: run_of(base, run_id)["checkpoint_step"])


def wait_metrics(base: str, run_id: str, through: int) -> list[int]:
    """The stored steps, once they reach ``through``."""
    return wait_for(
        f"rows of {run_id} through step {through}",
        lambda: (steps := metric_steps(base, run_id)) and steps[-1] >= through and steps,
    )


def assert_no_gaps(steps: list[int], through: int) -> None:
    """Every step from 1 through ``through`` is stored (the runs here report metrics every step)."""
    assert steps[:through] == list(range(1, through + 1)), f"gaps before step {through}: {len(steps)} stored"


def stop(base: str, run_id: str) -> None:
    httpx.post(f"{base}/api/runs/{run_id}/stop", timeout=30)
    wait_status(base, run_id, "stopped", "completed", "failed")


def partial_files(base_dir: Path, run_id: str) -> list[Path]:
    return sorted(checkpoint_path(base_dir, run_id).parent.glob(".*.tmp"))


# ----------------------------------------------------------------------------------------- kill -9 of a worker


@pytest.fixture(scope="module")
def killing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, Path]]:
    data = tmp_path_factory.mktemp("kill")
    apps: list[Any] = []
    for base in serve(data, apps, warm_workers=2, max_concurrent=2, max_runs_per_client=20):
        yield base, apps[0], data


def kill_worker_of(app: Any, run_id: str) -> None:
    pid = wait_for("worker pid", lambda: app.state.jobs.executor.pids().get(run_id), timeout=30, every=0.001)
    os.kill(pid, signal.SIGKILL)


def assert_killed_run_failed_and_bystander_carries_on(base: str, victim: str, bystander: str) -> None:
    failed = wait_status(base, victim, "failed", timeout=10)
    assert failed["reason"] == "worker process exited with code -9"
    step = run_of(base, bystander)["step"]
    wait_for("bystander training on", lambda: run_of(base, bystander)["step"] > step + 20)
    assert httpx.get(f"{base}/api/health").json()["status"] == "ok"


@pytest.mark.parametrize("phase", ["start-up", "mid-step"])
def test_kill_9_of_a_worker_at_a_random_point_fails_its_run_with_the_exit_code_and_spares_another(
    killing: tuple[str, Any, Path], phase: str
):
    """kill -9 during start-up (building the trainer) or at a random moment of training: the run becomes
    ``failed`` with "worker process exited with code -9", a bystander run keeps training, the API stays up."""
    base, app, _ = killing
    bystander = create(base, preset="ring-vanilla", overrides=ENDLESS)["id"]
    wait_for("bystander running", lambda: run_of(base, bystander)["step"] > 0)
    overrides = ENDLESS | ({"dataset": {"kind": "ring", "n": 300_000}} if phase == "start-up" else {})
    victim = create(base, preset="ring-vanilla", overrides=overrides)["id"]
    delay = RNG.uniform(0, 0.02) if phase == "start-up" else RNG.uniform(0.05, 1.5)
    print(f"{phase}: kill after {delay:.3f} s")
    if phase == "mid-step":
        wait_for("victim training", lambda: run_of(base, victim)["step"] > 0)
    time.sleep(delay)
    kill_worker_of(app, victim)
    assert_killed_run_failed_and_bystander_carries_on(base, victim, bystander)
    trained = run_of(base, victim)["step"]
    assert trained == 0 if phase == "start-up" else trained > 0  # it was killed in the phase the test names
    stop(base, bystander)


def test_kill_9_during_a_checkpoint_write_leaves_the_previous_checkpoint_good_and_no_partial_file(
    killing: tuple[str, Any, Path],
):
    """A run writing a ~3 MB checkpoint every step is killed the moment a checkpoint's temp file is seen (retried
    until the kill lands with the write still open): the run is ``failed``; checkpoint.pt is never half-written —
    it loads, samples are served from it, a fork starts from it; the killed write's temp file is removed once the
    run is failed."""
    base, app, data = killing
    bystander = create(base, preset="ring-vanilla", overrides=ENDLESS)["id"]
    big = ENDLESS | {"model": {"hidden": 256, "layers": 3}, "stream": {"checkpoint_every": 1}}
    for attempt in range(5):
        victim = create(base, preset="ring-vanilla", overrides=big)["id"]
        wait_checkpoint(base, victim)
        deadline = time.monotonic() + 5
        while not partial_files(data, victim) and time.monotonic() < deadline:
            pass  # spin: a write is open for milliseconds, a sleeping poll would mostly miss it
        kill_worker_of(app, victim)
        mid_write = partial_files(data, victim)
        print(f"attempt {attempt}: partial files at the kill {mid_write}")
        assert_killed_run_failed_and_bystander_carries_on(base, victim, bystander)
        state = load_checkpoint(checkpoint_path(data, victim))
        assert state["step"] >= run_of(base, victim)["checkpoint_step"]
        samples = httpx.get(f"{base}/api/runs/{victim}/samples", params={"n": 8})
        assert samples.status_code == 200 and samples.headers["x-checkpoint-step"] == str(state["step"])
        if mid_write:
            assert partial_files(data, victim) == []
            fork = httpx.post(f"{base}/api/runs/{victim}/fork", json={"overrides": {"steps": state["step"] + 5}})
            assert fork.status_code == 201, fork.text
            assert wait_status(base, fork.json()["id"], "completed")["step"] == state["step"] + 5
            break
    else:
        raise AssertionError("no kill landed during a checkpoint write in 5 attempts")
    stop(base, bystander)


# ----------------------------------------------------------------------------------------- corrupt checkpoints


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda good: good[: len(good) // 2],
    "garbage": lambda good: os.urandom(len(good)),
    "empty": lambda good: b"",
    "zip-of-something-else": lambda good: good[:4] + bytes(len(good) - 4),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupt_checkpoint_gives_409_for_samples_and_fork_and_the_run_stays_as_it_was(
    killing: tuple[str, Any, Path], corruption: str
):
    """The checkpoint of a completed run truncated, overwritten or emptied: samples and fork answer 409 saying the
    checkpoint is unreadable (never 500), no run is created, and the run is still ``completed``."""
    base, _, data = killing
    run_id = completed_run(base)
    path = checkpoint_path(data, run_id)
    path.write_bytes(CORRUPTIONS[corruption](path.read_bytes()))
    runs = len(httpx.get(f"{base}/api/runs").json())
    samples = httpx.get(f"{base}/api/runs/{run_id}/samples")
    assert samples.status_code == 409 and "checkpoint" in samples.json()["detail"], samples.text
    fork = httpx.post(f"{base}/api/runs/{run_id}/fork", json={"overrides": {}})
    assert fork.status_code == 409 and "checkpoint" in fork.json()["detail"], fork.text
    assert len(httpx.get(f"{base}/api/runs").json()) == runs
    assert run_of(base, run_id)["status"] == "completed"


def test_resuming_an_interrupted_run_whose_checkpoint_is_corrupt_is_409_and_it_stays_interrupted(tmp_path: Path):
    """A server stops mid-run; the checkpoint is then truncated; after a restart the run is ``interrupted`` and
    resuming it answers 409 naming the checkpoint (nothing is queued), the run staying ``interrupted``."""
    data = tmp_path / "data"
    first = serve(data, warm_workers=1, max_concurrent=1)
    base = next(first)
    run_id = create(base, preset="ring-vanilla", overrides=ENDLESS | {"stream": {"checkpoint_every": 20}})["id"]
    wait_checkpoint(base, run_id)
    next(first, None)
    path = checkpoint_path(data, run_id)
    path.write_bytes(path.read_bytes()[:100])
    for base in serve(data, warm_workers=0, max_concurrent=1):
        assert run_of(base, run_id)["status"] == "interrupted"
        resume = httpx.post(f"{base}/api/runs/{run_id}/resume")
        assert resume.status_code == 409 and "checkpoint" in resume.json()["detail"], resume.text
        time.sleep(0.5)
        assert run_of(base, run_id)["status"] == "interrupted"


# ----------------------------------------------------------------------------------------- the server killed


def start_server(data: Path, port: int, ray_address: str | None = None) -> subprocess.Popen:
    """``ganplay serve`` in a process of its own; with ``ray_address``, on that Ray cluster (its token and session
    folder are in this process's environment, which the server inherits)."""
    env = os.environ | {"GANPLAY_WARM_WORKERS": "1", "GANPLAY_MAX_CONCURRENT": "1"}
    if ray_address is not None:
        env |= {"GANPLAY_EXECUTOR": "ray", "GANPLAY_RAY_ADDRESS": ray_address}
    cli = Path(sys.executable).parent / "ganplay"
    process = subprocess.Popen(
        [str(cli), "serve", "--port", str(port), "--data-dir", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        assert process.poll() is None, "ganplay serve exited"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for("ganplay serve up", up, timeout=60, every=0.2)
    return process


@pytest.fixture
def ray_cluster() -> Iterator[Any]:
    """Only the Ray case of the test below starts one, and removes it before the module's next test."""
    from tests.server.ray_cluster import local_cluster

    yield from local_cluster()


def run_actors() -> list[psutil.Process]:
    """The processes of this machine's Ray actors that train runs (Ray titles them ``ray::RunActor...``)."""
    return [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [""])[0].startswith("ray::RunActor")]


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_server_killed_mid_run_restarts_with_the_run_interrupted_and_resumes_with_no_metric_gaps(
    executor: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """``ganplay serve`` (a real process) is killed with -9 while a run trains: its workers exit on their own (no
    orphan keeps training; on Ray, the bridge process and the run's actor end with it, as Ray ends the actors of a
    driver that has gone); restarted on the same data dir, the run is ``interrupted``, every metric row stored
    before the kill is still there with no gap, and resuming continues from the newest checkpoint's step. Rows the
    server held unflushed when it died (under a second of them) are lost: if the worker had checkpointed past
    them, the resumed series has exactly that gap and no other; rows stored past the checkpoint are retrained and
    overwritten."""
    data, port = tmp_path / "data", _free_port()
    base = f"http://127.0.0.1:{port}"
    ray_address = request.getfixturevalue("ray_cluster").address if executor == "ray" else None
    server = start_server(data, port, ray_address)
    try:
        run_id = create(
            base, preset="ring-vanilla", overrides=ENDLESS | {"stream": {"checkpoint_every": 100, "metrics_every": 1}}
        )["id"]
        wait_checkpoint(base, run_id)
        time.sleep(RNG.uniform(0.2, 1.5))
        workers = psutil.Process(server.pid).children(recursive=True) + run_actors()
        assert executor == "local" or len(workers) > 1, "no bridge or no actor found"
        stored = metric_steps(base, run_id)[-1]
        checkpoint = run_of(base, run_id)["checkpoint_step"]
        server.kill()
        server.wait(timeout=30)
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == [], f"workers outlived the killed server: {alive}"
        server = start_server(data, port, ray_address)
        run = run_of(base, run_id)
        assert run["status"] == "interrupted" and run["checkpoint_step"] >= checkpoint
        kept = metric_steps(base, run_id)
        assert_no_gaps(kept, stored)
        assert_no_gaps(kept, kept[-1])
        with connect(ws_url(base, run_id)) as ws:
            ws.recv(timeout=30)  # subscribed before the resume: its "running" cannot come before the snapshot
            assert httpx.post(f"{base}/api/runs/{run_id}/resume").status_code == 202
            running = receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "running")[-1]
            resumed_at = running["step"]
            assert resumed_at == load_checkpoint(checkpoint_path(data, run_id))["step"] >= checkpoint
            after = receive_until(ws, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] > kept[-1] + 20)
            ws.send(json.dumps({"type": "stop"}))
            receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
        steps = wait_metrics(base, run_id, after[-1]["rows"][-1]["step"])
        # what was stored is kept, everything from the checkpoint on is stored; a gap only between the two
        assert steps == sorted(set(range(1, kept[-1] + 1)) | set(range(resumed_at + 1, steps[-1] + 1)))
    finally:
        children = psutil.Process(server.pid).children(recursive=True) if server.poll() is None else []
        server.terminate()
        server.wait(timeout=30)
        psutil.wait_procs(children, timeout=30)


# ----------------------------------------------------------------------------------------- disk full


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs (we run as root), unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path, leave: int) -> Path:
    """A file taking all the free space of ``path``'s filesystem but ``leave`` bytes."""
    filler = path / "filler"
    stat = os.statvfs(path)
    with filler.open("wb") as f:
        f.write(bytes(max(0, stat.f_bavail * stat.f_frsize - leave)))
    return filler


def test_a_full_disk_fails_the_run_with_a_clear_reason_keeps_the_old_checkpoint_and_recovers(small_disk: Path):
    """The data dir's disk fills up while a run writes ~3 MB checkpoints: the run is ``failed`` with "No space
    left on device", its last good checkpoint still loads, no partial file is left, the server stays healthy;
    once space is freed a new run trains and completes."""
    data = small_disk / "data"
    for base in serve(data, warm_workers=1, max_concurrent=1):
        run_id = create(
            base,
            preset="ring-vanilla",
            overrides=ENDLESS | {"model": {"hidden": 256, "layers": 3}, "stream": {"checkpoint_every": 100}},
        )["id"]
        good = wait_checkpoint(base, run_id)
        filler = fill(small_disk, leave=1024 * 1024)
        failed = wait_status(base, run_id, "failed", timeout=60)
        assert "No space left on device" in failed["reason"], failed["reason"]
        assert httpx.get(f"{base}/api/health").json()["status"] == "ok"
        assert load_checkpoint(checkpoint_path(data, run_id))["step"] >= good
        assert partial_files(data, run_id) == []
        filler.unlink()
        again = create(base, preset="ring-vanilla", overrides={"steps": 30})["id"]
        wait_status(base, again, "completed")


# ----------------------------------------------------------------------------------------- the database


def test_a_locked_sqlite_database_gives_503_then_recovers_with_no_lost_metrics(tmp_path: Path):
    """Another connection holds SQLite's write lock for 8 s while a run trains: reads still answer (WAL), a create
    answers 503 with Retry-After after the busy timeout (no 500, no run created); once the lock is released
    creates work again and every metric row of the run is stored, with no gap."""
    data = tmp_path / "data"
    for base in serve(data, warm_workers=1, max_concurrent=2):
        run_id = create(base, preset="ring-vanilla", overrides=ENDLESS | {"stream": {"metrics_every": 1}})["id"]
        wait_metrics(base, run_id, 1)
        runs = len(httpx.get(f"{base}/api/runs").json())
        locker = sqlite3.connect(data / "ganplay.db", timeout=30, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            assert len(httpx.get(f"{base}/api/runs", timeout=30).json()) == runs
            refused = httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla"}, timeout=30)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "5", refused.text
            assert "database" in refused.json()["detail"]
            time.sleep(max(0.0, 8 - 5))
        finally:
            locker.rollback()
            locker.close()
        assert len(httpx.get(f"{base}/api/runs").json()) == runs
        stop(base, run_id)
        assert_no_gaps(wait_metrics(base, run_id, run_of(base, run_id)["step"]), run_of(base, run_id)["step"])
        assert (
            httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 5}}).status_code
            == 201
        )


def test_postgresql_going_away_gives_503_and_the_server_recovers_with_no_lost_metrics(tmp_path: Path):
    """The PostgreSQL server is stopped while a run trains: reads and creates answer 503 (no 500), health stays
    ok, training goes on; when PostgreSQL is back the API answers again and every metric row, including those
    made while it was down, is stored with no gap."""
    for cluster in pg_cluster():
        for base in serve(tmp_path / "data", warm_workers=1, max_concurrent=1, database_url=f"{cluster.url}/postgres"):
            run_id = create(base, preset="ring-vanilla", overrides=ENDLESS | {"stream": {"metrics_every": 1}})["id"]
            wait_metrics(base, run_id, 1)
            cluster.stop()
            try:
                for response in (
                    httpx.get(f"{base}/api/runs", timeout=30),
                    httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla"}, timeout=30),
                ):
                    assert response.status_code == 503, response.text
                assert httpx.get(f"{base}/api/health").json()["status"] == "ok"
                time.sleep(2)
            finally:
                cluster.start()
            wait_for(
                "the API back",
                lambda url=f"{base}/api/runs": httpx.get(url, timeout=30).status_code == 200,
                timeout=30,
                every=0.5,
            )
            stop(base, run_id)
            assert_no_gaps(wait_metrics(base, run_id, run_of(base, run_id)["step"]), run_of(base, run_id)["step"])
