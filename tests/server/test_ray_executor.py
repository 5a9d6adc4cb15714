"""The Ray executor on a real local Ray cluster (head + 2 one-CPU nodes, ``ray.cluster_utils.Cluster``): the local
executor's event semantics, control at step boundaries, checkpoints in the server's storage, queueing, a paused run
giving its slot back, a node removed mid-run, and the bridge to the cluster lost. One cluster and one executor for
the module: a cluster costs ~7 s to start and an actor ~3 s (torch imported)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models.checkpoint import load_checkpoint
from models.presets import preset_config
from server.paths import checkpoint_path, live_generator_path
from server.ray_executor import RayExecutor
from server.worker import RunSpec
from tests.server.executor_events import Events
from tests.server.ray_cluster import local_cluster

LONG = 1_000_000  # steps: trains until stopped


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    yield from local_cluster()


@pytest.fixture(scope="module")
def executor(cluster: Any) -> Iterator[RayExecutor]:
    ex = RayExecutor(cluster.address, cpus_per_run=1, warm=1)
    deadline = time.monotonic() + 60
    while ex.ready_actors() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ex.ready_actors() == 1, f"no warm actor: {ex.cluster_status()}"
    yield ex
    ex.shutdown()


@pytest.fixture(scope="module")
def events(executor: RayExecutor) -> Events:
    return Events(executor)


def spec(data_dir: Path, run_id: str, steps: int = LONG, **overrides: Any) -> RunSpec:
    stream = {"samples_every": 20, "checkpoint_every": 100, "field_resolution": 8, "n_samples": 64}
    config = preset_config("ring-vanilla", {"steps": steps, "stream": stream} | overrides)
    return RunSpec(run_id, config.model_dump(mode="json"), str(checkpoint_path(data_dir, run_id)), str(data_dir))


def stop(executor: RayExecutor, events: Events, *run_ids: str) -> None:
    for run_id in run_ids:
        executor.send(run_id, {"type": "stop"})
    for run_id in run_ids:
        events.status(run_id, "stopped")


def test_a_run_on_a_warm_actor_streams_every_metric_row_and_ends_like_a_local_run(
    executor: RayExecutor, events: Events, tmp_path: Path
):
    submitted = time.monotonic()
    executor.submit(spec(tmp_path, "plain", steps=150, stream={"samples_every": 50, "checkpoint_every": 100}))
    events.wait("plain", lambda e: e["type"] == "metrics")
    first_point = time.monotonic() - submitted
    completed = events.status("plain", "completed")
    assert events.statuses("plain") == ["starting", "running", "completed"]
    steps = [row["step"] for e in events.by_run["plain"] if e["type"] == "metrics" for row in e["rows"]]
    assert steps == list(range(1, 151))  # batched, none dropped, in order
    checkpoints = [e for e in events.by_run["plain"] if e["type"] == "checkpoint"]
    assert [c["step"] for c in checkpoints] == [100, 150]
    assert checkpoints[-1]["path"] == str(checkpoint_path(tmp_path, "plain"))  # the server's path, not the node's
    assert load_checkpoint(checkpoint_path(tmp_path, "plain"))["step"] == completed["step"] == 150
    assert live_generator_path(tmp_path, "plain").exists()  # samples of the run can be drawn on the server
    assert {"field", "config"} & set(events.kinds("plain")) == {"field"}
    assert first_point < 3.0, f"first point {first_point:.2f} s after submit on a warm actor"


def test_patch_pause_resume_and_stop_reach_the_loop_at_step_boundaries(
    executor: RayExecutor, events: Events, tmp_path: Path
):
    executor.submit(spec(tmp_path, "control"))
    events.wait("control", lambda e: e["type"] == "metrics")
    assert executor.send("control", {"type": "patch", "id": "p1", "patch": {"tricks": {"unroll_steps": 3}}})
    accepted = events.wait("control", lambda e: e["type"] == "patch_accepted")
    config = events.wait("control", lambda e: e["type"] == "config")
    assert accepted["id"] == "p1" and config["step"] == accepted["step"]
    assert events.metrics_after("control", config["step"])["rows"][-1]["unroll_steps"] == 3
    executor.send("control", {"type": "patch", "id": "p2", "patch": {"tricks": {"pack": 2}}})
    rejected = events.wait("control", lambda e: e["type"] == "patch_rejected")
    assert rejected["id"] == "p2" and rejected["errors"][0]["field"] == "tricks.pack"
    executor.send("control", {"type": "pause"})
    paused = events.status("control", "paused")
    assert load_checkpoint(checkpoint_path(tmp_path, "control"))["step"] == paused["step"]
    executor.send("control", {"type": "resume"})
    assert events.status_after("control", "running", paused)["step"] == paused["step"]
    events.metrics_after("control", paused["step"])
    stop(executor, events, "control")
    assert events.statuses("control")[-1] == "stopped"


def test_runs_beyond_the_clusters_room_queue_and_start_in_order(executor: RayExecutor, events: Events, tmp_path: Path):
    for name in ("q1", "q2", "q3"):
        executor.submit(spec(tmp_path, name))
    queued = events.status("q3", "queued")
    assert queued["position"] == 1 and executor.queued() == ["q3"]
    events.wait("q2", lambda e: e["type"] == "metrics")
    stop(executor, events, "q1")
    events.wait("q3", lambda e: e["type"] == "metrics")
    stop(executor, events, "q2", "q3")


def test_a_paused_run_gives_its_actor_to_a_waiting_run_and_resumes_from_its_checkpoint_with_its_patches(
    executor: RayExecutor, events: Events, tmp_path: Path
):
    """Both slots busy, one run paused: a new run takes the paused run's actor (the paused run's checkpoint is in
    the server's storage). The paused run takes patches meanwhile; resumed, it waits for a slot, continues from the
    step it paused at, and applies them."""
    executor.submit(spec(tmp_path, "keep"))
    executor.submit(spec(tmp_path, "sleeper"))
    events.wait("keep", lambda e: e["type"] == "metrics")
    events.wait("sleeper", lambda e: e["type"] == "metrics")
    executor.send("sleeper", {"type": "pause"})
    paused = events.status("sleeper", "paused")
    executor.submit(spec(tmp_path, "newcomer"))
    events.wait("newcomer", lambda e: e["type"] == "metrics", timeout=30)
    assert "sleeper" in executor.running()  # still a live run, paused without an actor
    assert executor.send("sleeper", {"type": "patch", "id": "late", "patch": {"tricks": {"unroll_steps": 2}}})
    assert executor.send("sleeper", {"type": "resume"})
    assert events.status("sleeper", "queued")["position"] == 1
    stop(executor, events, "newcomer")
    assert events.status_after("sleeper", "running", paused)["step"] == paused["step"]
    config = events.wait("sleeper", lambda e: e["type"] == "config")
    assert config["changes"] == {"tricks.unroll_steps": 2}
    assert events.statuses("sleeper") == ["starting", "running", "paused", "queued", "running"]
    stop(executor, events, "keep", "sleeper")


def test_a_killed_actor_fails_its_run_within_seconds_and_spares_the_other(
    executor: RayExecutor, events: Events, tmp_path: Path
):
    """Its own process dying (a segfault, an OOM kill) fails a run, as a local worker's death does; only a node's
    death interrupts it."""
    executor.submit(spec(tmp_path, "victim"))
    executor.submit(spec(tmp_path, "bystander"))
    pid = events.status("victim", "starting")["pid"]  # the cluster's nodes are this machine's processes
    events.wait("victim", lambda e: e["type"] == "metrics")
    events.wait("bystander", lambda e: e["type"] == "metrics")
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    failed = events.status("victim", "failed", timeout=10)
    assert time.monotonic() - killed < 3.0 and "worker process has died" in failed["reason"]
    last = next(e for e in reversed(events.by_run["bystander"]) if e["type"] == "metrics")
    events.metrics_after("bystander", last["rows"][-1]["step"])
    stop(executor, events, "bystander")


def test_a_lost_bridge_interrupts_its_runs_and_the_executor_reconnects(
    executor: RayExecutor, events: Events, tmp_path: Path
):
    """The server's link to the cluster dies (what Ray does to a driver whose cluster is gone): its runs become
    interrupted, the cluster is reported unreachable, and a new bridge reconnects by itself."""
    executor.submit(spec(tmp_path, "cut"))
    events.wait("cut", lambda e: e["type"] == "metrics")
    os.kill(executor._bridge.pid, signal.SIGKILL)
    interrupted = events.status("cut", "interrupted", timeout=5)
    assert "lost the Ray cluster" in interrupted["reason"]
    lost = executor.cluster_status()["last_lost"]  # told after the reconnection too (the page shows it)
    assert lost["interrupted"] == 1 and lost["error"] and abs(lost["at"] - time.time()) < 10
    deadline = time.monotonic() + 30
    while not executor.cluster_status()["connected"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert executor.cluster_status()["connected"]
    executor.submit(spec(tmp_path, "after", steps=30))
    events.status("after", "completed")


def test_a_removed_node_leaves_its_run_interrupted_within_seconds_resumable_on_the_other_node(
    cluster: Any, executor: RayExecutor, events: Events, tmp_path: Path
):
    executor.submit(spec(tmp_path, "doomed", stream={"checkpoint_every": 20}))
    executor.submit(spec(tmp_path, "survivor"))
    events.wait("doomed", lambda e: e["type"] == "checkpoint")
    events.wait("survivor", lambda e: e["type"] == "metrics")
    nodes = executor.nodes()
    assert nodes["doomed"] != nodes["survivor"]  # spread over the nodes
    node = next(n for n in cluster.worker_nodes if n.node_id == nodes["doomed"])
    cluster.remove_node(node, allow_graceful=False)  # as a crash: no goodbye from its processes
    removed = time.monotonic()
    interrupted = events.status("doomed", "interrupted", timeout=15)
    assert time.monotonic() - removed < 5.0
    assert "died" in interrupted["reason"]
    saved = load_checkpoint(checkpoint_path(tmp_path, "doomed"))["step"]
    stop(executor, events, "survivor")
    resumed = spec(tmp_path, "doomed")
    executor.submit(RunSpec(**{**resumed.__dict__, "resume_from": resumed.checkpoint_path}))
    assert events.status_after("doomed", "running", interrupted)["step"] == saved
    assert executor.nodes()["doomed"] == nodes["survivor"]
    stop(executor, events, "doomed")
