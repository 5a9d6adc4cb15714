"""The server's contract tests, run again over HTTP against ``GANPLAY_EXECUTOR=ray`` on a local multi-node Ray
cluster: the same test functions as for the local executor, on a server whose runs train in Ray actors.

The ones chosen are those where a cluster could break the contract: files a run writes (checkpoints, live generator
weights, forks' pinned checkpoints) must reach the server's storage; an uploaded dataset must reach the node;
control and patches must reach the loop; queueing, sweeps and quotas go through the executor's queue. The tests
that only exercise the API (validation, 404s, bounds) say nothing new here and are not repeated."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.status import LIVE_STATUSES
from tests.server import test_live_runs_api as live
from tests.server import test_runs_api as runs
from tests.server import test_sweeps_api as sweeps
from tests.server.conftest import serve
from tests.server.ray_cluster import free_port, local_cluster

CONTRACT: list[Callable[..., None]] = [
    runs.test_a_run_streams_snapshot_then_metrics_and_takes_a_live_patch,
    runs.test_a_run_completes_and_a_fork_starts_at_its_checkpoint,
    runs.test_a_fork_takes_the_config_of_the_checkpoint_it_starts_from,
    runs.test_checkpoint_download_loads_weights_only_and_export_bundles_everything,
    runs.test_an_uploaded_dataset_trains_through_the_api,
    runs.test_samples_of_a_run_that_has_not_started_are_409,
    live.test_a_new_run_serves_samples_as_soon_as_its_first_metrics_arrive,
    live.test_live_samples_follow_the_training_and_repeat_exactly_for_the_same_weights,
    live.test_a_patch_is_checked_against_the_patches_accepted_before_it,
    sweeps.test_a_sweep_trains_every_cell_as_an_ordinary_run_listed_with_its_sweep,
    sweeps.test_deleting_a_running_sweep_stops_and_deletes_its_runs_and_files,
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ray-api")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """Two one-CPU nodes: two runs train at once, as on the local executor's 2-core default. The server joins as a
    Ray Client (``ray://``), as docker-compose.yml's ``ray`` profile has it; tests/server/test_ray_executor.py
    joins by the cluster's own address."""
    port = free_port()
    for _ in local_cluster(client_port=port):
        yield from serve(data_dir, executor="ray", ray_address=f"ray://127.0.0.1:{port}", warm_workers=1)


@pytest.fixture
def base(server: str) -> Iterator[str]:
    """The server, and after the test no live run left to take the next test's slots."""
    yield server
    for sweep in httpx.get(f"{server}/api/sweeps", timeout=30).json():
        httpx.delete(f"{server}/api/sweeps/{sweep['id']}", timeout=60)
    for run in httpx.get(f"{server}/api/runs", params={"limit": 500}, timeout=30).json():
        if run["status"] in LIVE_STATUSES:
            httpx.post(f"{server}/api/runs/{run['id']}/stop", timeout=30)
    sweeps.wait_until(lambda: not sweeps.live_runs(server), "every run to end")


def test_health_reports_the_clusters_nodes_and_free_resources(base: str):
    # The server answers before its bridge has joined the cluster (a Ray Client connection takes seconds on a
    # loaded machine): until then health says it is connecting.
    sweeps.wait_until(lambda: httpx.get(f"{base}/api/health").json()["cluster"]["connected"], "the cluster joined")
    health = httpx.get(f"{base}/api/health").json()
    assert health["executor"] == "RayExecutor"
    cluster = health["cluster"]
    assert cluster["connected"] and cluster["error"] is None
    assert sorted(node["cpus"] for node in cluster["nodes"] if node["alive"]) == [0.0, 1.0, 1.0]
    assert 0 <= cluster["free_cpus"] <= 2 and cluster["free_gpus"] == 0


def contract_id(test: Callable[..., None]) -> str:
    return f"{test.__module__.rsplit('.', 1)[-1]}::{test.__name__}"


@pytest.mark.parametrize("contract", CONTRACT, ids=contract_id)
def test_the_contract_holds_on_ray(contract: Callable[..., None], base: str, data_dir: Path, tmp_path: Path):
    arguments: dict[str, Any] = {"server": base, "base": base, "data_dir": data_dir, "tmp_path": tmp_path}
    names = contract.__code__.co_varnames[: contract.__code__.co_argcount]
    contract(**{name: arguments[name] for name in names})
