"""The lean stream over a real websocket: what a 2D run's field frames share is sent once, frames are binary in the
documented framing (server/wire.py) and carry the numbers the run emitted, and an image frame is a PNG."""

from __future__ import annotations

import json
import struct
import time
from array import array
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from models.field import FRAME_DECIMALS
from server.wire import STATIC_KEYS, Reader
from tests.server.conftest import serve
from tests.server.test_runs_api import create, ws_url

Event = dict[str, Any]
HALF_ROUNDING = 0.5 * 10**-FRAME_DECIMALS
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RING = {"steps": 100_000, "stream": {"samples_every": 10, "n_samples": 128, "field_resolution": 16}}


@pytest.fixture(scope="module")
def apps() -> list[Any]:
    return []


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, apps: list[Any]) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("wire"), apps, warm_workers=1, max_concurrent=2)


def frame_layout(message: bytes) -> tuple[Event, dict[str, Any]]:
    """The documented framing read by hand, not by server.wire: uint32 LE header length, the JSON header, then
    each array at its offset (a multiple of 8), float32 LE or raw bytes."""
    (length,) = struct.unpack_from("<I", message, 0)
    head = json.loads(message[4 : 4 + length].decode("utf-8"))
    arrays: dict[str, Any] = {}
    end = 4 + length
    for d in head["arrays"]:
        assert d["offset"] % 8 == 0 and d["offset"] >= end, d
        count = 1
        for n in d["shape"]:
            count *= n
        if d["dtype"] == "f4":
            arrays[d["name"]] = (d["shape"], array("f", message[d["offset"] : d["offset"] + 4 * count]).tolist())
            end = d["offset"] + 4 * count
        else:
            assert d["dtype"] == "u1", d
            arrays[d["name"]] = (d["shape"], message[d["offset"] : d["offset"] + count])
            end = d["offset"] + count
    assert end == len(message), "bytes past the last array"
    return head, arrays


def flat(value: Any) -> list[float]:
    return [x for row in value for x in flat(row)] if isinstance(value, list) else [value]


def messages_until(ws: ClientConnection, done: Any, timeout: float = 60) -> list[str | bytes]:
    """Raw messages up to and including the first whose decoded event ``done`` accepts."""
    seen: list[str | bytes] = []
    deadline = time.monotonic() + timeout
    reader = Reader()
    while time.monotonic() < deadline:
        raw = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        seen.append(raw)
        event = reader.read(raw)
        if event is not None and done(event):
            return seen
    raise AssertionError(f"no matching message in {timeout} s")


def is_field(raw: str | bytes) -> bool:
    return isinstance(raw, bytes) and frame_layout(raw)[0]["type"] == "field"


def static_events(seen: list[str | bytes]) -> list[Event]:
    return [json.loads(raw) for raw in seen if isinstance(raw, str) and json.loads(raw)["type"] == "static"]


def stop(base: str, run_id: str) -> None:
    httpx.post(f"{base}/api/runs/{run_id}/stop")


def test_a_late_viewers_snapshot_carries_the_static_parts_once_and_its_frames_come_binary_without_them(server: str):
    run = create(server, preset="ring-vanilla", overrides=RING)
    with connect(ws_url(server, run["id"])) as first:
        messages_until(first, lambda e: e["type"] == "field")
        with connect(ws_url(server, run["id"])) as late:
            snapshot = json.loads(late.recv(timeout=30))
            assert snapshot["type"] == "snapshot" and snapshot["binary_frames"] == 1
            static = snapshot["static"]
            assert len(static["bounds"]) == 4 and len(static["real"]) == 128 and len(static["centers"]) == 8
            seen = [late.recv(timeout=30)]  # the snapshot's newest frame
            count = {"fields": 0}

            def second_live_field(e: Event) -> bool:
                count["fields"] += e["type"] == "field"
                return count["fields"] == 2

            seen += messages_until(late, second_live_field)
    stop(server, run["id"])
    fields = [raw for raw in seen if isinstance(raw, bytes) and is_field(raw)]
    assert len(fields) >= 3, "expected the snapshot's frame and live ones"
    assert static_events(seen) == []  # nothing the snapshot already gave is sent again
    for raw in fields:
        head, arrays = frame_layout(raw)
        assert not set(STATIC_KEYS) & (set(head) | set(arrays)), sorted(head)
        assert arrays["d"][0] == [16, 16] and arrays["samples"][0] == [128, 2] and arrays["directions"][0] == [128, 2]
        assert head["resolution"] == 16 and len(head["covered"]) == 8 and isinstance(head["step"], int)
        assert len(raw) < 4 * (16 * 16 + 4 * 128) + 4 * 15 * 15 * 2 + 1500  # the arrays and a small header


def test_a_viewer_there_before_the_first_frame_gets_the_static_parts_once_and_again_after_n_samples_changes(
    server: str,
):
    run = create(server, preset="ring-vanilla", overrides=RING)
    with connect(ws_url(server, run["id"])) as ws:
        seen = messages_until(ws, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] >= 60)
        response = httpx.patch(f"{server}/api/runs/{run['id']}/config", json={"stream": {"n_samples": 64}})
        assert response.status_code == 202
        seen += messages_until(ws, lambda e: e["type"] == "field" and len(e["samples"]) == 64)
        seen += messages_until(ws, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] >= 200)
    stop(server, run["id"])
    snapshot = json.loads(seen[0])
    statics = static_events(seen)
    if snapshot["static"] is None:  # joined before the first frame: the parts came with it, once
        first_field = next(i for i, raw in enumerate(seen) if is_field(raw))
        assert json.loads(seen[first_field - 1])["type"] == "static"
        assert [len(s["real"]) for s in statics] == [128, 64]
    else:
        assert [len(s["real"]) for s in statics] == [64]
    changed = next(
        i
        for i, raw in enumerate(seen)
        if isinstance(raw, str) and '"type":"static"' in raw[:20] and len(json.loads(raw)["real"]) == 64
    )
    after = [frame_layout(raw)[1]["samples"][0] for raw in seen[changed:] if isinstance(raw, bytes) and is_field(raw)]
    assert after and all(shape == [64, 2] for shape in after)


def test_binary_field_frames_decode_to_the_numbers_the_run_emitted(server: str, apps: list[Any]):
    """What the JSON frame carried is the event the run published on the hub: the decoded frame, with the static
    parts put back, has the same fields and every number within the frame's rounding."""
    hub = apps[0].state.hub
    run = create(server, preset="ring-vanilla", overrides=RING)
    tap = hub.subscribe(run["id"])
    emitted: dict[int, Event] = {}
    try:
        with connect(ws_url(server, run["id"])) as ws:
            reader = Reader()
            decoded: list[Event] = []
            deadline = time.monotonic() + 60
            while len(decoded) < 4 and time.monotonic() < deadline:
                raw = ws.recv(timeout=30)
                event = reader.read(raw)
                while tap.pending:  # drained as they come: the hub keeps only a subscriber's newest unsent frame
                    published = tap.pending.popleft()
                    if published["type"] == "field":
                        emitted[published["step"]] = published
                if event is not None and event["type"] == "field":
                    assert isinstance(raw, bytes), "a field frame sent as text"
                    decoded.append(event)
    finally:
        hub.unsubscribe(run["id"], tap)
        stop(server, run["id"])
    compared = 0
    for frame in decoded:
        before = emitted.get(frame["step"])
        if before is None:
            continue  # the snapshot's frame, published before the tap subscribed
        assert sorted(frame) == sorted(before)
        for key, value in before.items():
            if isinstance(value, list) and value and isinstance(value[0], list):
                got, want = flat(frame[key]), flat(value)
                assert len(got) == len(want), key
                assert max(abs(a - b) for a, b in zip(got, want, strict=True)) <= HALF_ROUNDING, key
            else:
                assert frame[key] == value, key
        compared += 1
    assert compared >= 2


def test_an_image_frame_is_a_binary_png(server: str):
    run = create(server, preset="digits-dcgan", overrides={"steps": 3})
    with connect(ws_url(server, run["id"])) as ws:
        seen = messages_until(ws, lambda e: e["type"] == "samples", timeout=120)
    frames = [raw for raw in seen if isinstance(raw, bytes)]
    assert frames, [type(raw) for raw in seen]
    head, arrays = frame_layout(frames[-1])
    assert head["type"] == "samples" and "png" not in head
    shape, png = arrays["png"]
    assert shape == [len(png)] and png.startswith(PNG_SIGNATURE)
    assert len(frames[-1]) < len(png) + 600  # the PNG's bytes and a small header: no base64
