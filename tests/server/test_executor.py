"""The local executor with real spawned worker processes: warm start, control at step boundaries, failures."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.presets import preset_config
from server.executor import LocalExecutor
from server.paths import checkpoint_path
from server.worker import FLUSH_SECONDS, RunSpec
from tests.server.executor_events import Events


@pytest.fixture(scope="module")
def executor() -> Iterator[LocalExecutor]:
    ex = LocalExecutor(max_concurrent=2, warm=2, cores=2)
    yield ex
    ex.shutdown()


@pytest.fixture(scope="module")
def events(executor: LocalExecutor) -> Events:
    ev = Events(executor)
    deadline = time.monotonic() + 60
    while len(ev.ready_pids) < 2 and time.monotonic() < deadline:
        ev.pump(0.1)
    assert len(ev.ready_pids) >= 2, "warm workers did not start"
    return ev


def spec(tmp_path: Path, run_id: str, preset: str = "ring-vanilla", **overrides: Any) -> RunSpec:
    config = preset_config(preset, {"stream": {"samples_every": 20, "checkpoint_every": 100}} | overrides)
    return RunSpec(run_id, config.model_dump(mode="json"), str(checkpoint_path(tmp_path, run_id)), str(tmp_path))


def test_a_run_starts_on_a_prestarted_worker_and_completes(executor: LocalExecutor, events: Events, tmp_path: Path):
    executor.submit(spec(tmp_path, "warm", steps=200))
    starting = events.status("warm", "starting")
    assert starting["pid"] in events.ready_pids  # torch was already imported: no cold start on this path
    first = events.wait("warm", lambda e: e["type"] == "metrics")
    assert first["rows"][0]["step"] == 1
    events.status("warm", "completed")
    assert Path(checkpoint_path(tmp_path, "warm")).exists()


def test_2d_run_streams_field_frames(executor: LocalExecutor, events: Events, tmp_path: Path):
    executor.submit(
        spec(tmp_path, "field", steps=40, stream={"field_resolution": 8, "n_samples": 64, "samples_every": 20})
    )
    frame = events.wait("field", lambda e: e["type"] == "field")
    assert len(frame["d"]) == 8 and len(frame["d"][0]) == 8
    assert len(frame["samples"]) == 64 and len(frame["directions"]) == 64
    events.status("field", "completed")


def test_frames_are_capped_at_max_frames_per_second_however_small_samples_every_is(
    executor: LocalExecutor, events: Events, tmp_path: Path
):
    executor.submit(
        spec(
            tmp_path,
            "capped",
            steps=1500,
            stream={"field_resolution": 8, "n_samples": 64, "samples_every": 1, "max_frames_per_second": 4},
        )
    )
    events.status("capped", "running")
    t0 = time.monotonic()
    events.status("capped", "completed")
    elapsed = time.monotonic() - t0
    frames = [e["step"] for e in events.by_run["capped"] if e["type"] == "field"]
    assert frames[0] == 1 and len(frames) >= 2, frames
    assert len(frames) <= 4 * elapsed + 2, (len(frames), elapsed)  # 1500 with samples_every=1 alone


def test_metric_rows_at_full_speed_come_batched_at_most_one_message_per_flush_interval(
    executor: LocalExecutor, events: Events, tmp_path: Path
):
    """Without slow motion, rows are sent every ``FLUSH_SECONDS``, not one message per step (a slow-motion change
    once flushed before every step: ~400 messages a second instead of ~20, for every viewer)."""
    executor.submit(spec(tmp_path, "batched", steps=1500, stream={"metrics_every": 1, "samples_every": 1000}))
    events.status("batched", "running")
    t0 = time.monotonic()
    events.status("batched", "completed")
    elapsed = time.monotonic() - t0
    messages = [e for e in events.by_run["batched"] if e["type"] == "metrics"]
    assert sum(len(e["rows"]) for e in messages) == 1500
    # A flush per interval, plus one before each other event (status, frames, checkpoints) that follows rows.
    others = sum(1 for e in events.by_run["batched"] if e["type"] != "metrics")
    assert len(messages) <= elapsed / FLUSH_SECONDS + others + 2, (len(messages), elapsed, others)


def test_patch_is_acknowledged_with_the_step_that_applies_it(executor: LocalExecutor, events: Events, tmp_path: Path):
    executor.submit(spec(tmp_path, "patch", steps=100_000))
    events.wait("patch", lambda e: e["type"] == "metrics")
    assert executor.send("patch", {"type": "patch", "id": "p1", "patch": {"tricks": {"unroll_steps": 3}}})
    accepted = events.wait("patch", lambda e: e["type"] == "patch_accepted")
    config = events.wait("patch", lambda e: e["type"] == "config")
    assert config["step"] == accepted["step"] and config["changes"] == {"tricks.unroll_steps": 3}
    later = events.wait("patch", lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] > config["step"])
    assert later["rows"][-1]["unroll_steps"] == 3
    executor.send("patch", {"type": "patch", "id": "p2", "patch": {"tricks": {"pack": 2}}})
    rejected = events.wait("patch", lambda e: e["type"] == "patch_rejected")
    assert rejected["id"] == "p2" and rejected["errors"][0]["field"] == "tricks.pack"
    executor.send("patch", {"type": "pause"})
    paused = events.status("patch", "paused")
    executor.send("patch", {"type": "resume"})
    events.status("patch", "running")
    executor.send("patch", {"type": "stop"})
    stopped = events.status("patch", "stopped")
    assert stopped["step"] >= paused["step"]


def test_killed_worker_fails_its_run_within_two_seconds_and_spares_the_other(
    executor: LocalExecutor, events: Events, tmp_path: Path
):
    executor.submit(spec(tmp_path, "victim", steps=100_000))
    executor.submit(spec(tmp_path, "bystander", steps=100_000))
    events.wait("victim", lambda e: e["type"] == "metrics")
    events.wait("bystander", lambda e: e["type"] == "metrics")
    os.kill(executor.pids()["victim"], signal.SIGKILL)
    killed = time.monotonic()
    failed = events.status("victim", "failed", timeout=5)
    assert time.monotonic() - killed < 2.0 and "-9" in failed["reason"]
    count = len(events.by_run["bystander"])
    events.wait("bystander", lambda e: e["type"] == "metrics" and events.by_run["bystander"].index(e) >= count)
    executor.send("bystander", {"type": "stop"})
    events.status("bystander", "stopped")


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fails the block with TimeoutError after ``seconds``, even inside a blocking read: a hang becomes a failure."""

    def expire(*_: Any) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_worker_killed_mid_message_fails_only_its_own_run_and_every_other_event_still_flows(
    executor: LocalExecutor, events: Events, tmp_path: Path
):
    """A run streaming ~300 kB frames as fast as it may, while the server reads nothing for a second, is killed with
    its pipe full, half-way through a message. Only its run fails (with the exit code, after every event it sent
    whole); the bystander's events keep coming. With one queue shared by all workers (the design before this test)
    the dead writer kept the queue's lock and left half a message in the shared pipe: every run's events, the
    server's own ``failed`` included, stopped for good (CI: a kill 12 ms into a start-up hung the suite)."""
    heavy = {"samples_every": 1, "max_frames_per_second": 60, "n_samples": 4096, "field_resolution": 128}
    executor.submit(spec(tmp_path, "jam", steps=1_000_000, stream=heavy))
    executor.submit(spec(tmp_path, "calm", steps=1_000_000))
    events.wait("jam", lambda e: e["type"] == "field")
    events.wait("calm", lambda e: e["type"] == "metrics")
    time.sleep(1.0)  # nobody reads: a shared pipe would now be full, its lock held by a blocked writer
    os.kill(executor.pids()["jam"], signal.SIGKILL)
    killed = time.time()
    with deadline(20):
        failed = events.status("jam", "failed", timeout=10)
        assert failed["reason"] == "worker process exited with code -9"
        events.wait("calm", lambda e: e["type"] == "metrics" and e["time"] > killed + 0.5, timeout=10)
    assert events.by_run["jam"][-1] is failed  # nothing of the dead run's came after its failure
    executor.send("calm", {"type": "stop"})
    events.status("calm", "stopped")


def test_runs_beyond_the_limit_queue_and_start_in_order(executor: LocalExecutor, events: Events, tmp_path: Path):
    for name in ("q1", "q2", "q3"):
        executor.submit(spec(tmp_path, name, steps=100_000))
    events.status("q3", "queued")
    assert executor.queued() == ["q3"]
    executor.send("q1", {"type": "stop"})
    events.status("q1", "stopped")
    events.wait("q3", lambda e: e["type"] == "metrics")
    for name in ("q2", "q3"):
        executor.send(name, {"type": "stop"})
        events.status(name, "stopped")


def test_divergence_ends_the_run_as_diverged(executor: LocalExecutor, events: Events, tmp_path: Path):
    executor.submit(
        spec(
            tmp_path,
            "nan",
            steps=200,
            train={"optimizer": "sgd", "lr_d": 1.0, "lr_g": 1.0, "loss": "wasserstein_gp", "gp_weight": 0.0},
        )
    )
    diverged = events.status("nan", "diverged")
    assert "diverged at step" in diverged["reason"]


def test_resume_continues_from_the_checkpoint_step(executor: LocalExecutor, events: Events, tmp_path: Path):
    executor.submit(spec(tmp_path, "first", steps=100_000))
    events.wait("first", lambda e: e["type"] == "metrics")
    executor.send("first", {"type": "stop"})
    stopped = events.status("first", "stopped")
    resumed = RunSpec(
        "again",
        {},
        str(checkpoint_path(tmp_path, "again")),
        str(tmp_path),
        resume_from=str(checkpoint_path(tmp_path, "first")),
    )
    executor.submit(resumed)
    running = events.status("again", "running")
    assert running["step"] == stopped["step"]
    executor.send("again", {"type": "stop"})
    events.status("again", "stopped")


def test_workers_are_reused_so_back_to_back_runs_pay_no_new_torch_import(
    executor: LocalExecutor, events: Events, tmp_path: Path
):
    pids = []
    for i in range(4):
        executor.submit(spec(tmp_path, f"reuse{i}", steps=20))
        pids.append(events.status(f"reuse{i}", "starting")["pid"])
        assert pids[-1] in events.ready_pids  # a worker that had imported torch already
        events.status(f"reuse{i}", "completed")
        events.pump(0.3)  # let the worker's "ready again" arrive
    assert len(set(pids)) < len(pids)  # some worker served more than one run


class _Alive:
    """A worker process that is alive and has not exited: all the executor asks of one here."""

    pid = 0
    exitcode = None

    def is_alive(self) -> bool:
        return True


class _Pipe:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_a_queued_run_starts_on_the_worker_that_just_finished_not_on_one_still_importing_torch():
    """A worker back from its run has torch imported and reads its next start at once; a fresh one spawned beside it
    (e.g. to replace a retired worker) may still be importing torch for seconds. The queued run (a sweep's next
    cell) must go to the warm one. Fake processes and pipes: the choice is the executor's alone."""
    from server.executor import Worker

    executor = LocalExecutor(max_concurrent=1, warm=0, cores=2)  # spawns nothing of its own
    executor.warm = 1  # room in the pool for the returning worker
    try:
        cold, warm = Worker(_Alive(), _Pipe(), _Pipe()), Worker(_Alive(), _Pipe(), _Pipe(), run_id="a", runs=1)
        with executor._lock:
            executor._idle.append(cold)
            executor._active["a"] = warm
            executor._waiting.append(RunSpec("b", {}, "unused", "unused"))
        executor._finished("a")
        assert [m["spec"].run_id for m in warm.control.sent if m["type"] == "start"] == ["b"]
        assert cold.control.sent == []
    finally:
        with executor._lock:
            executor._idle, executor._active = [], {}
        executor.shutdown()
