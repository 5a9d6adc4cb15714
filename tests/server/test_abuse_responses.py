"""Requests that ask the server for a lot: many snapshots of a long run at once, samples bigger than any response
should be, a run's whole history. Each is served at the cost of what it returns, or refused saying why, and the
server keeps answering meanwhile. Real server, real worker, metric rows written straight through the repository."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import os
import re
import socket
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect

from server.api.stream import SNAPSHOT_POINTS
from server.db import repository as repo
from server.settings import MAX_SAMPLES_BYTES
from tests.server.conftest import history_value, serve, wait_until_completed
from tests.server.conftest import long_run as write_history
from tests.server.upload_files import npz_bytes

NAMES = ["d_loss", "g_loss", "d_real", "d_fake", "grad_norm_g", "grad_norm_d", "it_per_s", "noise_std", "d_steps"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    apps: list[Any] = []
    for base in serve(tmp_path_factory.mktemp("abuse-responses"), apps, warm_workers=0, max_concurrent=1):
        yield base, apps[0]


def value(step: int, i: int) -> float:
    return history_value(step, i)


def long_run(app: Any, rows: int) -> str:
    return write_history(app, rows, NAMES)


def ws_url(base: str, run_id: str) -> str:
    return base.replace("http://", "ws://") + f"/api/runs/{run_id}/stream"


async def open_all(base: str, run_id: str, clients: int) -> list[ClientConnection]:
    return list(
        await asyncio.gather(
            *(connect(ws_url(base, run_id), max_size=None, ping_interval=None) for _ in range(clients))
        )
    )


class UnreadHandshake:
    """A websocket handshake over a bare socket that, after the 101, reads nothing unless told to: a frozen tab,
    or a script holding sockets open. Nothing on this side takes the snapshot off the socket or parses it."""

    def __init__(self, base: str, run_id: str):
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /api/runs/{run_id}/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def upgraded(self) -> bool:
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)  # byte by byte: not one byte of the snapshot after the headers
        return head.startswith(b"HTTP/1.1 101")

    def first_message(self) -> dict[str, Any]:
        """The first frame (a text frame, unmasked, from the server), parsed."""
        opcode, length = self._exactly(2)
        assert opcode == 0x81, hex(opcode)  # FIN, text
        length &= 0x7F
        if length >= 126:
            length = int.from_bytes(self._exactly(2 if length == 126 else 8), "big")
        return json.loads(self._exactly(length))

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "closed"
            data += chunk
        return data


def test_health_answers_within_5_s_while_a_hundred_unread_websockets_wait_for_snapshots_of_a_long_run(server):
    base, app = server
    run_id = long_run(app, 40_000)
    clients = [UnreadHandshake(base, run_id) for _ in range(100)]
    try:
        assert all(client.upgraded() for client in clients)  # every snapshot is now wanted; none is read
        started = time.monotonic()
        try:
            health = httpx.get(f"{base}/api/health", timeout=5)
        except httpx.TimeoutException:
            pytest.fail("/api/health did not answer within 5 s while 100 snapshots were wanted")
        elapsed = time.monotonic() - started
        assert health.json()["status"] == "ok" and elapsed < 5
        snapshot = clients[-1].first_message()
    finally:
        for client in clients:
            client.sock.close()
    history = snapshot["metrics"]
    assert len(history["steps"]) == SNAPSHOT_POINTS and history["steps"][0] == 0 and history["steps"][-1] == 39_999
    assert history["series"]["g_loss"] == [value(s, 1) for s in history["steps"]]


def test_a_hundred_viewers_opening_one_run_at_once_share_a_few_history_reads(server, monkeypatch: pytest.MonkeyPatch):
    base, app = server
    run_id = long_run(app, 5000)
    reads: list[str] = []
    real = repo.metrics

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        reads.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(repo, "metrics", counted)

    async def viewers() -> list[dict[str, Any]]:
        clients = await open_all(base, run_id, 100)
        try:
            raw = await asyncio.gather(*(asyncio.wait_for(c.recv(), 120) for c in clients))
            return [json.loads(text) for text in raw]
        finally:
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

    snapshots = asyncio.run(viewers())
    assert all(s["type"] == "snapshot" and s["metrics"]["steps"][-1] == 4999 for s in snapshots)
    assert 1 <= reads.count(run_id) <= 10, f"{reads.count(run_id)} history reads for 100 viewers"


@pytest.fixture(scope="module")
def image_run(server) -> str:
    """A completed run over an uploaded dataset of 3×128×128 images: 49 152 values a sample."""
    base, _ = server
    x = np.random.default_rng(0).integers(0, 256, size=(4, 3, 128, 128), dtype=np.uint8)
    upload = httpx.post(f"{base}/api/datasets", files={"file": ("big.npz", npz_bytes(x=x))}, timeout=60)
    assert upload.status_code == 201, upload.text
    body = {"config": {"dataset": {"kind": "upload", "id": upload.json()["id"]}, "steps": 2}}
    run = httpx.post(f"{base}/api/runs", json=body, timeout=30)
    assert run.status_code == 201, run.text
    return wait_until_completed(base, run.json()["id"])


def refused_n(response: httpx.Response) -> int:
    """The largest ``n`` a 413 says fits; the message must name ``n`` and the limit in bytes."""
    assert response.status_code == 413, (response.status_code, response.text[:200])
    [error] = response.json()["detail"]
    assert error["field"] == "n" and f"limited to {MAX_SAMPLES_BYTES} bytes" in error["reason"], error
    found = re.search(r"n ≤ (\d+)", error["reason"])
    assert found, error
    return int(found.group(1))


def test_json_samples_over_the_response_limit_are_413_naming_n_and_the_largest_n_that_fits(server, image_run: str):
    base, _ = server
    url = f"{base}/api/runs/{image_run}/samples"
    fits = refused_n(httpx.get(url, params={"n": 64, "format": "json"}, timeout=120))
    assert refused_n(httpx.get(url, params={"n": 1024, "format": "json"}, timeout=120)) == fits
    served = httpx.get(url, params={"n": fits, "format": "json"}, timeout=120)
    assert served.status_code == 200 and len(served.content) <= MAX_SAMPLES_BYTES
    assert served.json()["shape"] == [fits, 3, 128, 128]
    assert refused_n(httpx.get(url, params={"n": fits + 1, "format": "json"}, timeout=120)) == fits


def test_png_samples_are_bounded_by_bytes_too_and_the_largest_n_that_fits_is_served(server, image_run: str):
    base, _ = server
    url = f"{base}/api/runs/{image_run}/samples"
    fits = refused_n(httpx.get(url, params={"n": 256}, timeout=120))
    assert refused_n(httpx.get(url, params={"n": 1024}, timeout=120)) == fits
    served = httpx.get(url, params={"n": fits}, timeout=120)
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert httpx.get(url, params={"n": 64}, timeout=120).status_code == 200  # the default still works


def test_metrics_without_max_points_past_the_cap_are_422_naming_max_points_and_pages_are_served(server):
    base, app = server
    run_id = long_run(app, repo.METRICS_MAX_POINTS + 1)
    url = f"{base}/api/runs/{run_id}/metrics"
    whole = httpx.get(url, timeout=60)
    assert whole.status_code == 422, (whole.status_code, whole.text[:200])
    [error] = whole.json()["detail"]
    assert error["field"] == "max_points" and f"at most {repo.METRICS_MAX_POINTS}" in error["reason"]
    assert httpx.get(url, params={"max_points": repo.METRICS_MAX_POINTS + 1}, timeout=60).status_code == 422
    page = httpx.get(url, params={"since": 0, "names": "d_loss"}, timeout=60).json()
    assert page["steps"] == list(range(1, repo.METRICS_MAX_POINTS + 1))
    chart = httpx.get(url, params={"max_points": 500}, timeout=60).json()
    assert len(chart["steps"]) == 500 and chart["steps"][-1] == repo.METRICS_MAX_POINTS


def test_export_of_a_long_history_carries_every_row_yet_never_holds_the_history_in_memory(server):
    base, app = server
    rows = 30_000
    run_id = long_run(app, rows)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        response = httpx.get(f"{base}/api/runs/{run_id}/export", timeout=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text[:200]
    with zipfile.ZipFile(io.BytesIO(response.content)) as z:
        table = list(csv.reader(io.StringIO(z.read("metrics.csv").decode())))
    assert table[0] == ["step", *sorted(NAMES)]
    assert [int(row[0]) for row in table[1:]] == list(range(rows))
    column = table[0].index("grad_norm_g")
    assert [float(row[column]) for row in table[1::997]] == [
        value(s, NAMES.index("grad_norm_g")) for s in range(0, rows, 997)
    ]
    # The history's rows as Python objects alone would be tens of MB; a page of them and the zip's buffers are not.
    assert peak < 16 * 2**20, f"export peaked at {peak / 2**20:.1f} MiB of Python memory"
