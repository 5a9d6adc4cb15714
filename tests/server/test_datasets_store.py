"""The upload store: each format, and every way a hostile or broken file is refused with nothing written."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.config import RunConfig, UploadData, parse_config
from models.datasets import DatasetError, load_dataset
from server.datasets_store import UploadError, list_uploads, save_upload
from tests.server.upload_files import npz_bytes, png, zip_bytes

MAX = 5 * 1024 * 1024


def stored(data_dir: Path) -> list[str]:
    d = data_dir / "datasets"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def refused(data_dir: Path, filename: str, content: bytes, status: int, max_bytes: int = MAX) -> UploadError:
    with pytest.raises(UploadError) as info:
        save_upload(data_dir, filename, content, max_bytes)
    assert info.value.status_code == status, info.value
    assert stored(data_dir) == []
    return info.value


def test_npz_points_with_labels_is_stored_and_loads_as_a_run_dataset(tmp_path: Path):
    x = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    meta = save_upload(tmp_path, "../../my data.npz", npz_bytes(x=x, y=np.arange(50) % 3), MAX)
    assert meta["format"] == "npz" and meta["name"] == "my data.npz"
    assert meta["shape"] == [50, 2] and meta["n"] == 50 and meta["labels"] == 3
    assert len(meta["id"]) == 32 and stored(tmp_path) == [f"{meta['id']}.json", f"{meta['id']}.npz"]
    ds = load_dataset(UploadData(id=meta["id"]), seed=0, data_dir=tmp_path)
    assert tuple(ds.x.shape) == (50, 2) and ds.num_classes == 3 and float(ds.x.abs().max()) <= 1


def test_npz_images_and_config(tmp_path: Path):
    x = np.random.default_rng(0).integers(0, 256, size=(10, 8, 8), dtype=np.uint8)
    meta = save_upload(tmp_path, "imgs.NPZ", npz_bytes(x=x), MAX)
    assert meta["shape"] == [10, 1, 8, 8] and meta["labels"] == 0
    cfg = parse_config({"dataset": {"kind": "upload", "id": meta["id"]}, "model": {"arch": "dcgan"}})
    assert isinstance(cfg, RunConfig) and cfg.dataset.id == meta["id"]


def test_missing_upload_names_the_id(tmp_path: Path):
    with pytest.raises(DatasetError, match="0" * 32):
        load_dataset(UploadData(id="0" * 32), seed=0, data_dir=tmp_path)


def test_zip_of_flat_greyscale_images(tmp_path: Path):
    members = {f"img{i}.png": png(value=i * 20) for i in range(5)}
    meta = save_upload(tmp_path, "x.zip", zip_bytes(members | {"__MACOSX/._img0.png": b"junk", ".DS_Store": b"j"}), MAX)
    assert meta["format"] == "zip" and meta["shape"] == [5, 1, 8, 8] and meta["labels"] == 0
    assert meta["classes"] is None


def test_zip_class_folders_give_labels_and_colour_gives_rgb(tmp_path: Path):
    members = {
        f"root/{label}/{i}.png": png((16, 16), colour=True, value=i)
        for label in ("cat", "dog", "ant")
        for i in range(3)
    }
    members["root/dog/extra.jpg"] = png((16, 16), colour=True, fmt="JPEG")
    meta = save_upload(tmp_path, "pets.zip", zip_bytes(members), MAX)
    assert meta["shape"] == [10, 3, 16, 16] and meta["labels"] == 3 and meta["classes"] == ["ant", "cat", "dog"]
    ds = load_dataset(UploadData(id=meta["id"]), seed=0, data_dir=tmp_path)
    assert sorted(np.bincount(ds.y.numpy()).tolist()) == [3, 3, 4]


def test_json_points(tmp_path: Path):
    body = {"points": [[0, 0], [1, 2.5], [3, -1]], "labels": [0, 1, 1]}
    meta = save_upload(tmp_path, "p.json", json.dumps(body).encode(), MAX)
    assert meta["format"] == "points" and meta["shape"] == [3, 2] and meta["labels"] == 2


@pytest.mark.parametrize(
    ("filename", "content", "status"),
    [
        ("a.txt", b"hello", 415),
        ("setup.exe", b"MZ\x90\x00", 415),
        ("noext", b"x", 415),
        ("setup.npz", b"MZ\x90\x00 not a zip", 422),
        ("broken.zip", b"PK\x03\x04 truncated", 422),
        ("nan.npz", npz_bytes(x=np.array([[0.0, np.nan], [1, 1]])), 422),
        ("pickle.npz", npz_bytes(x=np.array([object(), 1], dtype=object)), 422),
        ("noX.npz", npz_bytes(z=np.zeros((4, 2))), 422),
        ("p.json", b'{"points": [[0, NaN], [1, 1]]}', 422),
        ("p.json", b'{"points": [[0, 1]]}', 422),
        ("p.json", b'{"points": [[0, 1], [1, 1]], "labels": [0]}', 422),
        ("p.json", b"{not json", 422),
        ("mixed.zip", zip_bytes({"a.png": png((8, 8)), "b.png": png((9, 8))}), 422),
        ("big.zip", zip_bytes({"a.png": png((65, 8)), "b.png": png((65, 8))}), 422),
        ("fake.zip", zip_bytes({"a.png": b"not a png", "b.png": png()}), 422),
        ("jpgaspng.zip", zip_bytes({"a.png": png(fmt="JPEG"), "b.png": png()}), 422),
        ("other.zip", zip_bytes({"a.png": png(), "b.png": png(), "notes.txt": b"hi"}), 422),
        ("nesting.zip", zip_bytes({"a.png": png(), "cls/b.png": png()}), 422),
        ("evil.zip", zip_bytes({"../evil.png": png(), "b.png": png()}), 422),
        ("abs.zip", zip_bytes({"/abs.png": png(), "b.png": png()}), 422),
        ("win.zip", zip_bytes({"..\\evil.png": png(), "b.png": png()}), 422),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_written(tmp_path: Path, filename: str, content: bytes, status: int):
    refused(tmp_path, filename, content, status)
    assert list(tmp_path.rglob("*.png")) == []


def test_too_large(tmp_path: Path):
    refused(tmp_path, "x.npz", npz_bytes(x=np.zeros((100, 2))), 413, max_bytes=100)


def test_symlink_member_is_refused(tmp_path: Path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
        z.writestr("b.png", png())
    assert "symbolic link" in refused(tmp_path, "l.zip", buffer.getvalue(), 422).reason


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """201 MB of zeros in one member: a few hundred KB compressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z, z.open("x.npy", "w") as f:
        chunk = bytes(1 << 20)
        for _ in range(201):
            f.write(chunk)
    return buffer.getvalue()


def test_zip_bombs_are_refused_before_decompressing(tmp_path: Path, bomb: bytes):
    assert len(bomb) < 2 * 1024 * 1024
    refused(tmp_path, "bomb.zip", bomb, 413)
    refused(tmp_path, "bomb.npz", bomb, 413)
    one = zip_bytes({"a.png": png(), "huge.png": bytes(8 * 1024 * 1024)})
    assert "huge.png" in refused(tmp_path, "one.zip", one, 413).reason


def test_too_many_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("server.datasets_store.MAX_IMAGES", 3)
    refused(tmp_path, "many.zip", zip_bytes({f"{i}.png": png() for i in range(4)}), 422)


def test_list_newest_first(tmp_path: Path):
    assert list_uploads(tmp_path) == []
    ids = [save_upload(tmp_path, f"{i}.json", b'{"points": [[0, 0], [1, 1]]}', MAX)["id"] for i in range(3)]
    (tmp_path / "datasets" / "garbage.json").write_text("{")
    assert [m["id"] for m in list_uploads(tmp_path)] == ids[::-1]
