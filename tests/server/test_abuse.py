"""Abuse over real HTTP and websockets, against a real server with a token, workers and a SQLite file.

Expected outcome of each: refused with a clear 4xx (or websocket close/handshake refusal) naming what is wrong, the
server still healthy, and nothing created (no dataset listed, no file in the data dir's datasets folder, no run).
The upload store's own refusals (txt/exe types, a bad .npz, broken or mixed zips, ``../`` and absolute member names,
a zip declaring a huge size) are proven in test_datasets_api.py; here are the ones it does not cover, end to end.

This module covers each class of abuse by enumeration, so a new route or field is covered (or fails) without a new
test: every free-text config field and every file-path field over every config-carrying route; every read route's
response bound, measured on a crowded store; every mutating route without the token. The suite's other modules
hold the instances that need servers set up their own way: test_hosts.py (the Host/Origin matrix for REST and
websockets, and every mutating route against forged cross-site requests), test_abuse_requests.py (paths under a
data root, upload quotas, nested bodies), test_abuse_responses.py (long histories, samples and export sizes),
test_abuse_frames.py (malformed websocket frames), test_quota.py (parallel create/fork/resume races, paused runs,
snapshot budgets) and test_control_latency.py (control within a second of a costly step).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import socket
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from numpy.lib import format as npy_format
from websockets.sync.client import connect

from models.config import config_schema
from models.presets import PRESETS
from server.api.runs import DETAIL_ENTRIES, RUNS_PAGE, RUNS_PAGE_MAX
from server.db.repository import METRICS_MAX_POINTS
from tests.server.conftest import api_routes, serve
from tests.server.test_runs_api import receive_until, ws_url
from tests.server.test_security import refused_with_4401
from tests.server.upload_files import npz_bytes, png, zip_bytes

TOKEN = "abuse-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_UPLOAD = 256 * 1024
UPLOAD_SLACK = 64 * 1024  # multipart overhead the server allows above max_upload_bytes


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("abuse")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    yield from serve(
        data_dir, warm_workers=1, max_concurrent=1, token=TOKEN, max_upload_bytes=MAX_UPLOAD, max_runs_per_client=4
    )


def stored(server: str, data_dir: Path) -> tuple[list[str], list[str], int]:
    """What exists: dataset ids listed, files in the datasets folder, runs."""
    folder = data_dir / "datasets"
    files = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return (
        [d["id"] for d in httpx.get(f"{server}/api/datasets").json()],
        files,
        len(httpx.get(f"{server}/api/runs").json()),
    )


def refused(response: httpx.Response, status: int) -> str:
    """The response is ``status`` with a ``detail`` that says why; returns the first reason."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    return detail if isinstance(detail, str) else f"{detail[0].get('field')}: {detail[0].get('reason')}"


# ----------------------------------------------------------------------------------------- uploads


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` with (almost) no pixel data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def zip_lying_about_its_size(real_bytes: int, declared: int) -> bytes:
    """A zip whose one member inflates to ``real_bytes`` but whose headers declare ``declared``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z, z.open("a.png", "w", force_zip64=False) as f:
        for _ in range(real_bytes // 2**20):
            f.write(bytes(2**20))
    data = bytearray(buffer.getvalue())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, declared)
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def npz_claiming(shape: tuple[int, ...]) -> bytes:
    """An .npz whose ``x.npy`` header claims ``shape`` (float64) but holds 64 bytes."""
    array = io.BytesIO()
    npy_format.write_array_header_1_0(array, {"descr": "<f8", "fortran_order": False, "shape": shape})
    array.write(bytes(64))
    return zip_bytes({"x.npy": array.getvalue()})


MALFORMED_UPLOADS = {
    "png-header-claiming-100000x100000-in-a-zip": (
        "big.zip",
        zip_bytes({"a.png": png_claiming(100_000, 100_000), "b.png": png()}),
        422,
    ),
    "png-header-claiming-100000x100000-alone": ("big.png", png_claiming(100_000, 100_000), 415),
    "zip-member-inflating-to-64MiB-declaring-100-bytes": ("liar.zip", zip_lying_about_its_size(64 * 2**20, 100), 422),
    "npy-header-claiming-7TiB": ("huge.npz", npz_claiming((10**7, 10**5)), 422),
    "inf-in-npz-points": ("inf.npz", npz_bytes(x=np.array([[np.inf, 0.0], [1.0, 1.0], [2.0, 2.0]])), 422),
    "nan-in-npz-images": ("nan.npz", npz_bytes(x=np.full((4, 8, 8), np.nan)), 422),
    "text-renamed-png-in-a-zip": ("fake.zip", zip_bytes({"a.png": b"just some text", "b.png": png()}), 422),
    "jpeg-renamed-png-in-a-zip": ("jpeg.zip", zip_bytes({"a.png": png(fmt="JPEG"), "b.png": png()}), 422),
    "deep-traversal-member": ("deep.zip", zip_bytes({"../../x.png": png(), "b.png": png()}), 422),
    "backslash-traversal-member": ("back.zip", zip_bytes({"..\\..\\x.png": png(), "b.png": png()}), 422),
    "windows-absolute-member": ("drive.zip", zip_bytes({"C:/x.png": png(), "b.png": png()}), 422),
    "json-file-not-json": ("p.json", b"\xff\xfe not json", 422),
}


@pytest.mark.parametrize("case", list(MALFORMED_UPLOADS))
def test_malformed_upload_is_refused_with_a_4xx_and_leaves_nothing(server: str, data_dir: Path, case: str):
    """Each malformed file: its 4xx with the field and the reason; no dataset listed, no file written."""
    name, content, status = MALFORMED_UPLOADS[case]
    before = stored(server, data_dir)
    started = time.monotonic()
    response = httpx.post(f"{server}/api/datasets", files={"file": (name, content)}, headers=AUTH, timeout=60)
    reason = refused(response, status)
    assert reason.startswith("file: ") and len(reason) > 12
    assert time.monotonic() - started < 20  # nothing was inflated or allocated at the size it claims
    assert stored(server, data_dir) == before
    assert not (data_dir.parent / "x.png").exists() and not (data_dir / "x.png").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": [[1, 2, 3], [4, 5, 6]]}, "points.0"),
        ({"points": [1, 2]}, "points.0"),
        ({"points": [[1, "a"], [2, 3]]}, "points.0"),
        ({"points": [[[1, 2]], [[3, 4]]]}, "points.0"),
        ({"points": [[0, 0], [1, 1e400]]}, "points.1"),
        ({"points": "0,0;1,1"}, "points"),
        ({"points": [[0, 0]]}, "points"),
        ({"points": [[0, 0], [1, 1]], "labels": [0]}, "labels"),
        ({"points": [[0, 0], [1, 1]], "labels": [0, -1]}, "labels"),
        ({"pts": [[0, 0], [1, 1]]}, "points"),
    ],
)
def test_json_points_of_the_wrong_shape_are_422_naming_the_field(server: str, data_dir: Path, body: dict, field: str):
    """Wrong-shaped JSON points: 422 naming the offending field; nothing stored."""
    before = stored(server, data_dir)
    response = httpx.post(
        f"{server}/api/datasets", content=json.dumps(body), headers=AUTH | {"content-type": "application/json"}
    )
    assert refused(response, 422).startswith(f"{field}: ")
    assert stored(server, data_dir) == before


def raw_chunked_upload(base: str, head: bytes, chunk: bytes, chunks: int, content_type: str) -> tuple[int, int, bytes]:
    """POST /api/datasets with Transfer-Encoding: chunked (no Content-Length): ``head``, then ``chunk`` after
    ``chunk`` until the server answers or ``chunks`` are sent. Returns (status, body bytes sent before the answer,
    response body)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        request = (
            f"POST /api/datasets HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(request.encode() + f"{len(head):x}\r\n".encode() + head + b"\r\n")
        sent = len(head)
        sock.setblocking(False)
        answer = b""
        for _ in range(chunks):
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            time.sleep(0.002)
        sock.setblocking(True)
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), sent, rest.partition(b"\r\n\r\n")[2]


MULTIPART_HEAD = (
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.npz"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
)


@pytest.mark.parametrize(
    ("content_type", "head"),
    [("multipart/form-data; boundary=xyz", MULTIPART_HEAD), ("application/json", b'{"points": [')],
    ids=["multipart", "json"],
)
def test_chunked_upload_without_length_is_cut_off_with_413_soon_after_the_limit(
    server: str, data_dir: Path, content_type: str, head: bytes
):
    """A chunked body with no Content-Length, 8× the limit: 413 once the limit (plus multipart slack) is passed,
    before the rest is sent; nothing stored."""
    before = stored(server, data_dir)
    chunk = b"[0.5, 0.25], " * 1260  # 16 KiB that neither parser can refuse early
    status, sent, body = raw_chunked_upload(server, head, chunk, 8 * MAX_UPLOAD // len(chunk), content_type)
    assert status == 413, body
    assert "limited to" in json.loads(body)["detail"][0]["reason"]
    assert sent < MAX_UPLOAD + UPLOAD_SLACK + 1024 * 1024  # cut off near the limit, not after the whole body
    assert stored(server, data_dir) == before
    assert httpx.get(f"{server}/api/health").json()["status"] == "ok"


def test_uploads_within_the_limit_still_pass_the_upload_middleware(server: str, data_dir: Path):
    """The byte-counting middleware refuses only what is over the limit: a chunked JSON upload just under it and a
    normal multipart one are stored (and then listed)."""
    points = [[float(i), float(i % 5)] for i in range(400)]
    body = json.dumps({"points": points}).encode()
    chunked = httpx.post(
        f"{server}/api/datasets",
        content=iter([body[:100], body[100:]]),
        headers=AUTH | {"content-type": "application/json"},
    )
    assert chunked.status_code == 201, chunked.text
    multipart = httpx.post(
        f"{server}/api/datasets", files={"file": ("p.npz", npz_bytes(x=np.zeros((50, 2))))}, headers=AUTH
    )
    assert multipart.status_code == 201, multipart.text
    listed = stored(server, data_dir)[0]
    assert {chunked.json()["id"], multipart.json()["id"]} <= set(listed)


# ----------------------------------------------------------------------------------------- configs


def _leaves(
    node: dict[str, Any], path: str, defs: dict[str, Any], base: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(dotted path, leaf schema, override the leaf needs beside it) for every field of RunConfig's schema; a
    dataset kind's fields come with ``dataset.kind`` set to that kind."""
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    if "properties" in node:
        for key, child in node["properties"].items():
            yield from _leaves(child, f"{path}.{key}" if path else key, defs, base)
    elif "oneOf" in node:  # the dataset union: one branch per kind
        for branch in node["oneOf"]:
            kind = defs[branch["$ref"].rsplit("/", 1)[-1]]["properties"]["kind"]["const"]
            yield from _leaves(branch, path, defs, {"dataset.kind": kind})
    elif "anyOf" in node:  # optional fields: the non-null branch carries the limits
        [typed] = [b for b in node["anyOf"] if b.get("type") != "null"]
        yield from _leaves(typed, path, defs, base)
    elif "const" not in node:
        yield path, node, base


def bad_values(leaf: dict[str, Any]) -> list[tuple[str, Any]]:
    """Values the leaf's schema forbids: each side of each limit, absurd magnitudes, NaN, wrong types."""
    kind = leaf.get("type")
    out: list[tuple[str, Any]] = []
    if kind in ("integer", "number"):
        if "minimum" in leaf:
            out.append(("min-1", leaf["minimum"] - 1))
        if "exclusiveMinimum" in leaf:
            out += [("exclusive-min", leaf["exclusiveMinimum"]), ("min-1", leaf["exclusiveMinimum"] - 1)]
        if "maximum" in leaf:
            out += [("max+1", leaf["maximum"] + 1), ("huge", 10**30), ("inf", math.inf), ("nan", math.nan)]
        out += [("string", "abc"), ("list", [1]), ("object", {"a": 1})]
        if kind == "integer":
            out.append(("fraction", 1.5))
    elif kind == "boolean":
        out += [("string", "maybe"), ("list", []), ("number", 2)]
    elif kind == "string":
        out += [("number", 5), ("list", ["x"])]
        if "enum" in leaf or "pattern" in leaf:
            out.append(("unknown", "no such choice"))
        if "maxLength" in leaf:
            out.append(("too-long", "x" * (leaf["maxLength"] + 1)))
    elif kind == "array":
        out += [("string", "abc"), ("number", 3)]
    return out


def absurd_configs() -> list[Any]:
    """One case per field: its path, the override its dataset kind needs, and its forbidden values."""
    schema = config_schema()
    return [
        pytest.param(path, base, bad_values(leaf), id=path)
        for path, leaf, base in _leaves(schema, "", schema.get("$defs", {}), {})
        if bad_values(leaf)
    ]


ABSURD = absurd_configs()


def test_every_config_field_has_absurd_values_to_try():
    """The generator reaches every field of the schema, including each dataset kind's."""
    paths = {case.values[0] for case in ABSURD}
    assert {
        "steps",
        "train.lr_g",
        "tricks.instance_noise.std",
        "stream.checkpoint_every",
        "dataset.side",
        "model.arch",
        "train.betas",
        "tricks.unroll_lr",
    } <= paths
    assert sum(len(case.values[2]) for case in ABSURD) > 150


@pytest.mark.parametrize(("path", "base", "values"), ABSURD)
def test_absurd_values_of_a_config_field_are_422_naming_it_and_create_no_run(
    server: str, path: str, base: dict, values: list[tuple[str, Any]]
):
    """The field at min-1/max+1, huge, NaN/inf, a string, a list or an object (what applies to its type): each
    422 with an error naming the field; the run list is unchanged."""
    before = len(httpx.get(f"{server}/api/runs").json())
    with httpx.Client(base_url=server, headers=AUTH | {"content-type": "application/json"}) as client:
        for label, value in values:
            body = {"preset": "ring-vanilla", "overrides": base | {path: value}}
            response = client.post("/api/runs", content=json.dumps(body))
            assert response.status_code == 422, (label, response.text)
            fields = [e["field"] for e in response.json()["detail"]]
            assert any(f == path or f.startswith(f"{path}.") for f in fields), (label, fields)
    assert len(httpx.get(f"{server}/api/runs").json()) == before


@pytest.mark.parametrize("overrides", [{"steps": 5, "steps.x": 1}, {"train.lr_g.x": 1}, {"": None, ".": [1]}])
def test_overrides_that_set_a_field_inside_a_value_are_422_not_500(server: str, overrides: dict):
    """A patch putting a field under a value (``steps.x``) was a TypeError (500); now 422 naming it, no run."""
    before = len(httpx.get(f"{server}/api/runs").json())
    response = httpx.post(f"{server}/api/runs", json={"preset": "ring-vanilla", "overrides": overrides}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert len(httpx.get(f"{server}/api/runs").json()) == before


# ----------------------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(("method", "path"), api_routes(mutating=True))
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_every_mutating_route_without_the_right_token_is_401_and_changes_nothing(
    server: str, data_dir: Path, method: str, path: str, headers: dict
):
    """Missing, wrong or non-bearer token on every mutating route: 401 naming ``authorization``; nothing stored."""
    before = stored(server, data_dir)
    url = server + path.replace("{run_id}", "r").replace("{action}", "stop")
    body = {"preset": "ring-vanilla", "overrides": {"steps": 10}}
    response = httpx.request(method, url, json=body, headers=headers, params={"token": "also-wrong"})
    assert refused(response, 401) == "authorization: missing or wrong token"
    assert stored(server, data_dir) == before


def test_websocket_with_a_wrong_token_is_closed_with_4401_and_a_right_one_is_admitted(server: str):
    """A websocket with a wrong or empty token, in the query or a header, is closed with 4401 and a reason before
    anything is sent or read (a browser sees the code, so the page can ask for the token); the run is untouched.
    The right token admits it."""
    run = httpx.post(f"{server}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 20}}, headers=AUTH)
    run_id = run.json()["id"]
    for query in ("?token=wrong", "?token=", f"?token={TOKEN}x"):
        refused_with_4401(ws_url(server, run_id) + query)
    refused_with_4401(ws_url(server, run_id), additional_headers={"Authorization": "Bearer wrong"})
    assert httpx.get(f"{server}/api/runs/{run_id}").json()["status"] not in ("stopped",)
    with connect(ws_url(server, run_id) + f"?token={TOKEN}") as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "snapshot"
    with connect(ws_url(server, run_id), additional_headers=AUTH) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "snapshot"


# ----------------------------------------------------------------------------------------- patch flood


def test_a_flood_of_2000_websocket_patches_is_applied_in_order_while_training_and_the_api_carry_on(server: str):
    """Decision: patches are not rate-limited; each is validated and forwarded in the order sent. 2000 sent as
    fast as the socket takes them are all acknowledged (``patch_accepted``) in order within a minute (a worker
    replayed every pending patch for each new one: quadratic, ~90 s for 2000 here; now ~5 s), the newest value
    wins, training keeps stepping, and /api/health answers within a second meanwhile."""
    run = httpx.post(
        f"{server}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 10_000_000}}, headers=AUTH
    ).json()
    # No client keepalive: the server answers a ping only after the patches queued before it.
    with connect(ws_url(server, run["id"]) + f"?token={TOKEN}", max_queue=None, ping_interval=None) as ws:
        ws.recv(timeout=30)
        first = receive_until(ws, lambda e: e["type"] == "metrics")[-1]["rows"][-1]["step"]
        lrs = [round(0.0001 + i * 1e-7, 10) for i in range(2000)]
        for i, lr in enumerate(lrs):
            ws.send(json.dumps({"type": "patch", "id": str(i), "patch": {"train": {"lr_g": lr}}}))
        started = time.monotonic()
        health = httpx.get(f"{server}/api/health", timeout=10)
        assert health.status_code == 200 and time.monotonic() - started < 1.0
        acks: list[str] = []
        errors: list[dict] = []

        def done(event: dict) -> bool:
            if event["type"] == "patch_accepted":
                acks.append(event["id"])
            elif event["type"] in ("error", "patch_rejected"):
                errors.append(event)
            return len(acks) + len(errors) >= len(lrs)

        receive_until(ws, done, timeout=60)
        assert errors == [] and acks == [str(i) for i in range(len(lrs))]
        later = receive_until(ws, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] > first + 50)
        assert later[-1]["rows"][-1]["step"] > first + 50
        deadline = time.monotonic() + 20
        while httpx.get(f"{server}/api/runs/{run['id']}").json()["config"]["train"]["lr_g"] != lrs[-1]:
            assert time.monotonic() < deadline, "the newest patch never became the run's config"
            time.sleep(0.1)
        ws.send(json.dumps({"type": "stop"}))
        receive_until(ws, lambda e: e["type"] == "status" and e["status"] == "stopped")


# ----------------------------------------------------------------------------------------- file paths, every one


def string_fields(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(model, field, its schema) for every string-valued field of every model in the config schema."""
    for model, definition in [("RunConfig", schema), *schema["$defs"].items()]:
        for name, field in definition.get("properties", {}).items():
            options = field.get("anyOf", [field])
            if any(option.get("type") == "string" for option in options):
                yield model, name, field


def file_path_datasets() -> list[tuple[str, str]]:
    """(dataset kind, field) for every dataset kind with a field the schema marks ``file_path``."""
    schema = config_schema()
    return [
        (schema["$defs"][model]["properties"]["kind"]["const"], name)
        for model, name, field in string_fields(schema)
        if field.get("file_path")
    ]


def test_every_free_text_field_of_the_config_is_a_confined_file_path_or_constrained():
    """A string field the API takes is either a file path (confined to the data root: ``file_path``) or held to a
    pattern or a fixed set of values; a new free-text field fails here until it is one or the other."""
    loose = [
        (model, name)
        for model, name, field in string_fields(config_schema())
        if not field.get("file_path")
        and not any("pattern" in o or "const" in o or "enum" in o for o in field.get("anyOf", [field]))
    ]
    assert loose == []
    assert file_path_datasets(), "the schema marks no file path: the path tests below would test nothing"


@pytest.fixture(scope="module")
def parent_run(server: str) -> str:
    run = httpx.post(f"{server}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 5}}, headers=AUTH)
    assert run.status_code == 201, run.text
    return run.json()["id"]


def config_carrying_requests(parent: str, kind: str, field: str, value: str) -> dict[str, tuple[str, dict]]:
    """Every way a request over the API can set a dataset's file-path field: (url path, JSON body)."""
    block = {"kind": kind, field: value}
    return {
        "create-config": ("/api/runs", {"config": {"steps": 5, "dataset": block}}),
        "create-preset-nested": ("/api/runs", {"preset": "ring-vanilla", "overrides": {"dataset": block}}),
        "create-preset-dotted": (
            "/api/runs",
            {"preset": "ring-vanilla", "overrides": {"dataset.kind": kind, f"dataset.{field}": value}},
        ),
        "fork-nested": (f"/api/runs/{parent}/fork", {"overrides": {"dataset": block}}),
        "fork-dotted": (f"/api/runs/{parent}/fork", {"overrides": {"dataset.kind": kind, f"dataset.{field}": value}}),
        "sweep-overrides": ("/api/sweeps", {"preset": "ring-vanilla", "overrides": {"dataset": block}, "seeds": [0]}),
        "sweep-grid": (
            "/api/sweeps",
            {
                "preset": "ring-vanilla",
                "overrides": {"dataset": block},
                "grid": {f"dataset.{field}": [value]},
                "seeds": [0],
            },
        ),
    }


@pytest.mark.parametrize(("kind", "field"), file_path_datasets())
def test_every_file_path_field_over_every_config_route_is_422_with_one_reason_and_creates_nothing(
    server: str, data_dir: Path, parent_run: str, kind: str, field: str
):
    """Without a data root the API takes no file path: for each field the schema marks, through a create (config or
    preset overrides, nested or dotted) and a fork, a path to an existing file, a missing one, a directory or a
    system file is one and the same 422 naming the field: no oracle for what exists, and no run."""
    before = stored(server, data_dir)
    reasons = set()
    for value in ["/etc/passwd", "/no/such/file.npz", "/tmp", "../../../../etc/hostname", "data.npz"]:
        for form, (path, body) in config_carrying_requests(parent_run, kind, field, value).items():
            response = httpx.post(server + path, json=body, headers=AUTH, timeout=30)
            assert response.status_code == 422, (form, value, response.text)
            [error] = response.json()["detail"]
            assert error["field"] == f"dataset.{field}", (form, value, error)
            reasons.add(error["reason"])
    assert len(reasons) == 1, reasons
    assert stored(server, data_dir) == before


# ----------------------------------------------------------------------------------------- every read's size

CROWD_RUNS = RUNS_PAGE_MAX + 150
CROWD_ENTRIES = 4 * DETAIL_ENTRIES  # config changes and alerts of one run
CROWD_HISTORY = METRICS_MAX_POINTS + 5000  # metric rows of one run
CROWD_NAMES = ["d_loss", "g_loss", "d_real", "d_fake"]
CROWD_UPLOADS = 5
MiB = 2**20

# Every read route, how its answer stays bounded whatever the store holds, and the worst request for it that the
# crowded store below can be asked ({long}: a run with a history past METRICS_MAX_POINTS; {patched}: a run with
# CROWD_ENTRIES changes and alerts), with the bytes it may take; None: proven by the named test of the suite, for
# answers that need a trained run. A new read route fails `test_every_read_route_states_its_bound` until it is here.
READ_BOUNDS: dict[str, tuple[str, str | None, int | str]] = {
    "/api/meta": ("constant: derived from the schema and the metrics", "/api/meta", MiB),
    "/api/health": ("constant", "/api/health", 64 * 1024),
    "/api/me": ("constant: the caller's name and role", "/api/me", 1024),
    "/api/schema": ("constant: the config schema", "/api/schema", MiB),
    "/api/presets": ("constant: the presets", "/api/presets", MiB),
    "/api/lessons": ("constant: the chapter's lessons", "/api/lessons", MiB),
    "/api/presets/runs": (
        "one run summary per known preset, each named once (422 for an unknown one)",
        f"/api/presets/runs?names={','.join([*PRESETS, *PRESETS])}",
        len(PRESETS) * 2048,
    ),
    "/api/sweeps/lessons": ("constant: the sweep lessons", "/api/sweeps/lessons", MiB),
    "/api/sweeps": (
        "pages of at most SWEEPS_PAGE_MAX sweeps",
        None,
        "test_sweeps_api.py::test_the_list_is_a_bounded_page",
    ),
    "/api/sweeps/{sweep_id}": (
        "at most MAX_CELLS cells (422 beyond), each with its summary metrics",
        None,
        "../models/test_sweeps.py::test_more_cells_than_the_limit_is_refused_naming_the_grid_and_the_count",
    ),
    "/api/datasets": ("max_uploads entries", "/api/datasets", CROWD_UPLOADS * 2048),
    "/api/runs": (f"pages of at most {RUNS_PAGE_MAX} runs", f"/api/runs?limit={RUNS_PAGE_MAX}", RUNS_PAGE_MAX * 2048),
    "/api/runs/{run_id}": (
        f"the newest {DETAIL_ENTRIES} changes and alerts",
        "/api/runs/{patched}",
        2 * DETAIL_ENTRIES * 1024,
    ),
    "/api/runs/{run_id}/metrics": (
        f"at most {METRICS_MAX_POINTS} points (422 asking for more)",
        f"/api/runs/{{long}}/metrics?max_points={METRICS_MAX_POINTS}",
        METRICS_MAX_POINTS * (1 + len(CROWD_NAMES)) * 24,
    ),
    "/api/runs/{run_id}/samples": (
        "max_samples_bytes (413 naming the n that fits)",
        None,
        "test_abuse_responses.py::test_json_samples_over_the_response_limit_are_413_naming_n_and_the_largest_n_that_fits",
    ),
    "/api/runs/{run_id}/walk": (
        "at most WALK_MAX_STEPS samples a row, a row per label; max_samples_bytes (413 naming steps)",
        None,
        "test_walk_api.py::test_a_walk_over_the_response_limit_is_413_naming_steps_before_anything_is_drawn",
    ),
    "/api/runs/{run_id}/snapshots": (
        "snapshots_per_run steps: older grids are thinned",
        None,
        "test_quota.py::test_image_snapshots_stay_within_the_budget_spread_evenly_over_the_run",
    ),
    "/api/runs/{run_id}/snapshots/{step}": (
        "one grid of at most 64 samples, streamed from disk",
        None,
        "test_snapshots_api.py",
    ),
    "/api/runs/{run_id}/checkpoint": (
        "one checkpoint: the networks' size is bounded by the schema; streamed from disk",
        None,
        "test_runs_api.py",
    ),
    "/api/runs/{run_id}/export": (
        "the whole history, streamed from a temporary file, never held in memory",
        None,
        "test_abuse_responses.py::test_export_of_a_long_history_carries_every_row_yet_never_holds_the_history_in_memory",
    ),
}


def test_every_read_route_states_its_bound_and_each_named_proof_exists():
    assert {path for _, path in api_routes(mutating=False)} == set(READ_BOUNDS)
    here = Path(__file__).parent
    for _, url, proof in READ_BOUNDS.values():
        if url is None:
            module, _, test = str(proof).partition("::")
            source = (here / module).read_text()
            assert not test or f"def {test}(" in source, proof


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A server whose store holds more of everything than one answer may carry, written through the repository
    (far faster than making it by hand): runs past a page, a run patched and alerted without end, a history past
    the metrics cap, and a full upload store."""
    from server.db import repository as repo
    from tests.server.conftest import long_run

    apps: list[Any] = []
    for base in serve(tmp_path_factory.mktemp("crowded"), apps, warm_workers=0, max_uploads=CROWD_UPLOADS):
        jobs = apps[0].state.jobs
        with jobs.sessions() as session:
            for _ in range(CROWD_RUNS):
                repo.create_run(session, config={}, preset="ring-vanilla", status="completed")
            patched = repo.create_run(session, config={}, preset=None, status="completed").id
            for step in range(CROWD_ENTRIES):
                repo.add_config_change(session, patched, step, {"train.lr_g": 1e-4 + step * 1e-8})
                cleared = step % 2 == 1
                repo.add_alert(session, patched, step, "mode_collapse", "samples on 1 of 8 modes", cleared=cleared)
            session.commit()
        ids = {"patched": patched, "long": long_run(apps[0], CROWD_HISTORY, CROWD_NAMES)}
        for i in range(CROWD_UPLOADS):
            made = httpx.post(f"{base}/api/datasets", files={"file": (f"d{i}.npz", npz_bytes(x=np.ones((50, 2))))})
            assert made.status_code == 201, made.text
        yield base, ids


@pytest.mark.parametrize("route", [route for route, (_, url, _) in READ_BOUNDS.items() if url is not None])
def test_every_read_on_a_crowded_store_stays_within_its_bound(crowded: tuple[str, dict[str, str]], route: str):
    base, ids = crowded
    _, url, limit = READ_BOUNDS[route]
    response = httpx.get(base + str(url).format(**ids), timeout=60)
    assert response.status_code == 200, response.text
    assert len(response.content) <= int(limit), (route, len(response.content))


def test_a_crowded_store_is_read_in_pages_and_a_patched_run_shows_its_newest_entries_with_totals(
    crowded: tuple[str, dict[str, str]],
):
    """The run list pages through every run (X-Total-Count, newest first, no run twice); a run's detail and its
    stream's snapshot carry the newest DETAIL_ENTRIES changes and alerts, oldest first, and how many there are."""
    base, ids = crowded
    first = httpx.get(f"{base}/api/runs")
    total = int(first.headers["X-Total-Count"])
    assert total == CROWD_RUNS + 2 and len(first.json()) == RUNS_PAGE
    seen: list[str] = []
    for offset in range(0, total, RUNS_PAGE_MAX):
        page = httpx.get(f"{base}/api/runs", params={"limit": RUNS_PAGE_MAX, "offset": offset})
        seen += [r["id"] for r in page.json()]
    assert len(seen) == len(set(seen)) == total
    for bad in ({"limit": 0}, {"limit": RUNS_PAGE_MAX + 1}, {"offset": -1}):
        refused_with = httpx.get(f"{base}/api/runs", params=bad)
        assert refused_with.status_code == 422 and next(iter(bad)) in refused_with.text
    detail = httpx.get(f"{base}/api/runs/{ids['patched']}").json()
    with connect(base.replace("http", "ws") + f"/api/runs/{ids['patched']}/stream", max_size=None) as ws:
        snapshot = json.loads(ws.recv(timeout=30))["run"]
    for run in (detail, snapshot):
        assert run["changes_total"] == run["alerts_total"] == CROWD_ENTRIES
        assert [c["step"] for c in run["changes"]] == list(range(CROWD_ENTRIES - DETAIL_ENTRIES, CROWD_ENTRIES))
        assert [a["step"] for a in run["alerts"]] == list(range(CROWD_ENTRIES - DETAIL_ENTRIES, CROWD_ENTRIES))
