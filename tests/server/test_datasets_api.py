"""GET/POST /api/datasets on a small app holding only this router (TestClient; no workers or database)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from models.config import UploadData
from models.datasets import load_dataset
from server.api import datasets
from server.settings import Settings
from tests.server.upload_files import npz_bytes, png, zip_bytes

LIMIT = 1024 * 1024


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(datasets.router)
    app.state.settings = Settings(data_dir=data_dir, max_upload_bytes=LIMIT)
    with TestClient(app) as c:
        yield c


def post_file(client: TestClient, name: str, content: bytes):
    return client.post("/api/datasets", files={"file": (name, content, "application/octet-stream")})


def files_under(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file()) if data_dir.exists() else []


def assert_error(response, status: int, field: str = "file") -> str:
    assert response.status_code == status, response.text
    [error] = response.json()["detail"]
    assert error["field"] == field
    return error["reason"]


def test_npz_upload_is_listed_and_trains_as_a_dataset(client: TestClient, data_dir: Path):
    x = np.random.default_rng(0).normal(size=(40, 2))
    r = post_file(client, "points.npz", npz_bytes(x=x, y=np.arange(40) % 4))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["shape"] == [40, 2] and out["n"] == 40 and out["labels"] == 4 and out["format"] == "npz"
    ds = load_dataset(UploadData(id=out["id"]), seed=0, data_dir=data_dir)
    assert ds.num_classes == 4 and tuple(ds.x.shape) == (40, 2)
    assert client.get("/api/datasets").json() == [out]


def test_zip_with_class_folders(client: TestClient, data_dir: Path):
    members = {f"{label}/{i}.png": png(value=10 * i + 100 * k) for k, label in enumerate("ab") for i in range(3)}
    r = post_file(client, "letters.zip", zip_bytes(members))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["shape"] == [6, 1, 8, 8] and out["labels"] == 2 and out["classes"] == ["a", "b"]
    ds = load_dataset(UploadData(id=out["id"]), seed=0, data_dir=data_dir)
    assert ds.y.tolist() == [0, 0, 0, 1, 1, 1]


def test_json_points_body_and_file(client: TestClient):
    r = client.post("/api/datasets", json={"points": [[0, 0], [1, 1], [2, 0]], "labels": [0, 0, 1], "name": "tri"})
    assert r.status_code == 201, r.text
    assert r.json()["shape"] == [3, 2] and r.json()["labels"] == 2 and r.json()["name"] == "tri.json"
    r = post_file(client, "p.json", b'{"points": [[0, 0], [1, 1]]}')
    assert r.status_code == 201 and r.json()["labels"] == 0


def test_too_large_is_413_and_nothing_written(client: TestClient, data_dir: Path):
    big = npz_bytes(x=np.random.default_rng(0).normal(size=(LIMIT // 8, 2)))
    assert_error(post_file(client, "big.npz", big), 413)  # refused from Content-Length, unread
    assert_error(post_file(client, "edge.npz", bytes(LIMIT + 10)), 413)  # within the multipart slack: read, then cut
    assert_error(
        client.post("/api/datasets", content=b"[" * (LIMIT + 1), headers={"content-type": "application/json"}), 413
    )
    assert files_under(data_dir) == []


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("notes.txt", b"hello", 415),
        ("tool.exe", b"MZ\x90\x00", 415),
        ("tool.npz", b"MZ\x90\x00", 422),
        ("broken.zip", b"PK\x03\x04broken", 422),
        ("nan.npz", npz_bytes(x=np.array([[np.nan, 0.0], [1.0, 1.0]])), 422),
        ("mixed.zip", zip_bytes({"a.png": png(value=1), "b.png": png(value=2, side=(9, 9))}), 422),
        ("evil.zip", zip_bytes({"../evil.png": png(value=1), "b.png": png(value=2)}), 422),
        ("abs.zip", zip_bytes({"/abs.png": png(value=1), "b.png": png(value=2)}), 422),
    ],
)
def test_bad_files_are_refused(client: TestClient, data_dir: Path, name: str, content: bytes, status: int):
    assert_error(post_file(client, name, content), status)
    assert files_under(data_dir) == []
    assert not (data_dir.parent / "evil.png").exists() and not Path("/abs.png").exists()


def test_zip_bomb_is_refused(client: TestClient, data_dir: Path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z, z.open("a.png", "w") as f:
        for _ in range(201):
            f.write(bytes(1 << 20))
    assert len(buffer.getvalue()) < LIMIT
    assert "uncompressed" in assert_error(post_file(client, "bomb.zip", buffer.getvalue()), 413)
    assert files_under(data_dir) == []


def test_wrong_content_type_and_missing_field(client: TestClient):
    assert_error(
        client.post("/api/datasets", content=b"x", headers={"content-type": "text/plain"}), 415, "content-type"
    )
    assert_error(client.post("/api/datasets", data={"other": "1"}, files={"nofile": ("a.npz", b"x")}), 422)


def test_list_is_newest_first(client: TestClient):
    assert client.get("/api/datasets").json() == []
    ids = [client.post("/api/datasets", json={"points": [[0, i], [1, 1]]}).json()["id"] for i in range(3)]
    assert [d["id"] for d in client.get("/api/datasets").json()] == ids[::-1]
