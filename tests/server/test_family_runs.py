"""Runs of the families beside the GAN (AE, VAE, MADE) through the real server: each streams its own metrics and
the field view, checkpoints, serves samples over REST and forks, like a GAN run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.server.conftest import serve
from tests.server.test_runs_api import create, receive_until, ws_url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("families"), warm_workers=1, max_concurrent=1)


FIGURES = {"ae": "recon", "vae": "elbo", "made": "nll"}


def finished(server: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (run := httpx.get(f"{server}/api/runs/{run_id}").json())["checkpoint_step"] is None:
        assert time.monotonic() < deadline, "checkpoint step never recorded"
        time.sleep(0.05)
    return run


@pytest.mark.parametrize("family", ["ae", "vae", "made"])
def test_a_family_run_streams_its_metrics_and_field_then_samples_over_rest_and_forks(server: str, family: str):
    # Slow motion (100 steps/s): the 60 steps outlast the websocket's connection, so every event is seen live.
    stream = {"samples_every": 10, "max_steps_per_second": 100}
    overrides = {"steps": 60, "model": {"family": family}, "train": {"lr_g": 1e-3}, "stream": stream}
    run = create(server, preset="ring-vanilla", overrides=overrides)
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        events = receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "completed")
    assert any(e["type"] == "metrics" and FIGURES[family] in str(e) for e in events), events
    assert any(e["type"] == "field" for e in events)
    assert finished(server, run["id"])["checkpoint_step"] == 60
    url = f"{server}/api/runs/{run['id']}/samples"
    body = httpx.get(url, params={"n": 16, "seed": 3, "format": "json"}).json()
    assert body["shape"] == [16, 2]
    assert body == httpx.get(url, params={"n": 16, "seed": 3, "format": "json"}).json()
    assert httpx.get(url, params={"n": 16}).headers["content-type"] == "image/png"
    fork = httpx.post(f"{server}/api/runs/{run['id']}/fork", json={"overrides": {"steps": 80}})
    assert fork.status_code == 201, fork.text
    assert fork.json()["parent_step"] == 60


def test_a_vae_run_takes_a_live_kl_weight_and_refuses_a_gan_trick(server: str):
    overrides = {"steps": 100_000, "model": {"family": "vae"}}
    run = create(server, preset="ring-vanilla", overrides=overrides)
    try:
        with connect(ws_url(server, run["id"])) as ws:
            ws.recv(timeout=30)
            receive_until(ws, lambda e: e["type"] == "metrics", timeout=60)  # running: it takes patches
            config = f"{server}/api/runs/{run['id']}/config"
            accepted = httpx.patch(config, json={"train": {"kl_weight": 0.25}})
            assert accepted.status_code == 202, accepted.text
            refused = httpx.patch(config, json={"tricks": {"unroll_steps": 3}})
            assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "tricks.unroll_steps"
            receive_until(ws, lambda e: e["type"] == "metrics" and "0.25" in str(e), timeout=60)
    finally:
        httpx.post(f"{server}/api/runs/{run['id']}/stop")
