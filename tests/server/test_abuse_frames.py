"""Malformed websocket frames (issue 10, item 9): each bad text frame is answered with an ``error`` event naming what
is wrong and the socket stays usable; a binary frame closes it with 1003; the server logs no traceback for any."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.server.conftest import serve
from tests.server.test_runs_api import create, receive_until, ws_url

BAD_TEXT_FRAMES = [
    ("not json {", "message"),
    ("[1, 2]", "message"),
    ('"pause"', "message"),
    ("[" * 100_000, "message"),
    ('{"type": "patch", "patch": [1, 2]}', "patch"),
    ('{"type": "patch", "patch": "lr_g=1"}', "patch"),
    ('{"type": "explode", "id": "x"}', "type"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("frames"), warm_workers=1, max_concurrent=1)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything the server logs, uvicorn's own loggers included (they do not propagate to the root logger)."""
    caplog.set_level(logging.INFO)
    extra = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "server")]
    for logger in extra:
        logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for logger in extra:
            logger.removeHandler(caplog.handler)


def no_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, [f"{r.name}: {r.getMessage()}" for r in loud]


def patch_works(ws: ClientConnection, lr: float, patch_id: str) -> None:
    """A valid patch on this socket is taken by the run."""
    ws.send(json.dumps({"type": "patch", "id": patch_id, "patch": {"train": {"lr_g": lr}}}))
    receive_until(ws, lambda e: e["type"] == "patch_accepted" and e["id"] == patch_id)


def test_bad_text_frames_get_an_error_event_and_the_socket_stays_usable(server: str, logged):
    run = create(server, preset="ring-vanilla", overrides={"steps": 100_000, "stream": {"samples_every": 1000}})
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "metrics")
        for i, (frame, field) in enumerate(BAD_TEXT_FRAMES):
            ws.send(frame)
            error = receive_until(ws, lambda e: e["type"] == "error")[-1]
            assert error["errors"][0]["field"] == field, (frame[:40], error)
            assert error["errors"][0]["reason"]
            patch_works(ws, 1e-4 * (i + 1), f"after-{i}")
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    no_traceback_logged(logged)


def test_a_binary_frame_closes_the_socket_with_1003_and_the_run_and_server_carry_on(server: str, logged):
    run = create(server, preset="ring-vanilla", overrides={"steps": 100_000, "stream": {"samples_every": 1000}})
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)
        receive_until(ws, lambda e: e["type"] == "metrics")
        ws.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    with connect(ws_url(server, run["id"])) as ws:  # a new socket to the same run works as before
        ws.recv(timeout=30)
        patch_works(ws, 3e-4, "after-binary")
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")
    assert httpx.get(f"{server}/api/runs/{run['id']}").json()["status"] == "stopped"
    no_traceback_logged(logged)
