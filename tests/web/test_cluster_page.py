"""A server that trains on a Ray cluster (GANPLAY_EXECUTOR=ray), seen from the page: the header names the cluster's
training nodes and free room, says when the server loses its link to the cluster (and that the runs on it were
interrupted), and returns to the cluster's state once the server has reconnected by itself. The link is cut for
real: the bridge process that holds it is killed, as Ray ends a driver whose cluster has gone."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from server import ray_executor
from tests.server.conftest import serve
from tests.server.ray_cluster import local_cluster
from tests.web.conftest import create_run

pytestmark = pytest.mark.browser
ROOM = re.compile(r"^Ray cluster: 2 training nodes, [012] free CPUs?$")


def wait_for_status(server: str, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while httpx.get(f"{server}/api/runs/{run_id}", timeout=30).json()["status"] != status:
        assert time.monotonic() < deadline, f"run {run_id} not {status} within 60 s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def apps() -> list[Any]:
    return []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, apps: list[Any]) -> Iterator[str]:
    """Replaces the browser suite's server for this module: one on a local cluster (head + 2 one-CPU nodes)."""
    for cluster in local_cluster():
        yield from serve(
            tmp_path_factory.mktemp("web-ray"), apps, executor="ray", ray_address=cluster.address, warm_workers=1
        )


def test_the_header_follows_the_cluster_and_says_when_the_server_lost_it(
    page: Page, server: str, apps: list[Any], monkeypatch: pytest.MonkeyPatch
):
    """The server waits 6 s before reconnecting here (1 s by default), so the page's 2-s poll surely sees the loss
    itself; once reconnected, the header still tells of it."""
    monkeypatch.setattr(ray_executor, "RECONNECT_SECONDS", (6.0,))
    page.goto("/")
    status = page.get_by_test_id("cluster-status")
    expect(status).to_have_attribute("data-state", "connected")
    expect(status).to_have_text(ROOM)  # a warm actor holds a CPU it trains the next run with
    run_id = create_run(server, "ring-vanilla", steps=10_000_000)
    wait_for_status(server, run_id, "running")

    os.kill(apps[0].state.jobs.executor._bridge.pid, signal.SIGKILL)
    expect(status).to_have_attribute("data-state", "lost")
    expect(status).to_contain_text("runs that were training on it are interrupted")
    assert httpx.get(f"{server}/api/runs/{run_id}", timeout=30).json()["status"] == "interrupted"

    expect(status).to_have_attribute("data-state", "connected")
    expect(status).to_contain_text("reconnected after losing it at")
    expect(status).to_contain_text("1 run interrupted (resume them)")
    assert ROOM.match(status.inner_text().split(" · ")[0])


def test_a_server_on_the_local_executor_shows_no_cluster_line(page: Page, tmp_path: Path):
    for base in serve(tmp_path / "data", warm_workers=0):
        page.goto(base)
        expect(page.get_by_test_id("run-list")).to_be_visible()
        expect(page.get_by_test_id("cluster-status")).to_be_hidden()
