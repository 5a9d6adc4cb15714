"""Uploaded datasets: validate a client's file, store it as ``<data_dir>/datasets/<id>.npz`` plus metadata.

Plain functions, no HTTP. Three formats, picked by the client file name's extension only:

- ``.npz`` with ``x`` ([N,2], [N,H,W] or [N,C,H,W]) and optional integer ``y``, checked by loading it with the
  very loader a run uses (``models.datasets.load_npz_file``, never unpickling);
- ``.zip`` of PNG/JPEG images, all the same size (at most 64×64), optionally in one folder per class
  (``label/xxx.png``: labels are the sorted folder names' indices);
- ``.json`` points ``{"points": [[x, y], ...], "labels": [...]?}``.

The id is generated here (uuid4 hex); the client's file name is stored as metadata and never used as a path.
Everything is validated in memory before anything is written, and files are written atomically (a temporary
file, then ``os.replace``), metadata last, so a failed upload leaves nothing and a listing never sees half of one.
Zip archives are checked before decompressing: member names (no ``..``, absolute paths or symlinks), the
declared uncompressed size of each member and of the whole, and the number of images.

Stored uploads are bounded twice (``UploadQuota``): per client (429 beyond) and in all (507 beyond). A full store
refuses new uploads rather than evicting old ones: eviction would let one client's uploads delete another's data,
and a finished run whose upload vanished could no longer be forked or resumed. ``delete_upload`` frees room.
"""

from __future__ import annotations

import io
import json
import math
import re
import stat
import threading
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from models.atomic import write_atomically
from models.datasets import DatasetError, load_npz_file

MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # total declared size of a zip's (or npz's) members
MAX_MEMBER_BYTES = 4 * 1024 * 1024  # one image file in a zip
MAX_IMAGES = 20_000
MAX_IMAGE_SIDE = 64
MAX_POINTS = 10_000
MIN_ITEMS = 2
MAX_NAME_CHARS = 200
IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
FORMATS = {".npz": "npz", ".zip": "zip", ".json": "points"}
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")

# Counting the stored uploads and writing a new one happen under this lock, so two uploads arriving together cannot
# both take the last free place. One lock per process: the server runs one process per data dir.
_STORE_LOCK = threading.Lock()


class UploadError(ValueError):
    """An upload refused; ``status_code`` is the HTTP status (413, 415, 422), ``field`` and ``reason`` say why."""

    def __init__(self, status_code: int, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.status_code, self.field, self.reason = status_code, field, reason


@dataclass(frozen=True)
class UploadQuota:
    """Who is uploading and how many stored uploads the store may hold: for that client, and in all."""

    client: str
    per_client: int
    total: int


def datasets_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "datasets"


def check_room(data_dir: Path, quota: UploadQuota) -> None:
    """UploadError (429 for the client's own limit, 507 for the store's) when one more upload would not fit."""
    metas = _stored_metadata(datasets_dir(data_dir))
    if len(metas) >= quota.total:
        raise UploadError(
            507, "file", f"the server stores at most {quota.total} uploads (max_uploads); delete one first"
        )
    mine = sum(1 for m in metas if m.get("client") == quota.client)
    if mine >= quota.per_client:
        raise UploadError(
            429,
            "file",
            f"{quota.client} already has {quota.per_client} stored uploads (max_uploads_per_client); "
            "delete one (DELETE /api/datasets/{id}) first",
        )


def save_upload(
    data_dir: Path,
    filename: str,
    content: bytes,
    max_bytes: int,
    quota: UploadQuota | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """Validate ``content`` (format from ``filename``'s extension), store it, and return its metadata. With a
    ``quota``, the upload is counted against it (and refused beyond it) and its client recorded; ``owner`` is the
    user who uploaded it (GANPLAY_AUTH=users), who alone (or an admin) may delete it."""
    if len(content) > max_bytes:
        raise UploadError(413, "file", f"{len(content)} bytes; uploads are limited to {max_bytes} bytes")
    name = _display_name(filename)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in FORMATS:
        raise UploadError(
            415,
            "file",
            f"unsupported file type '{suffix or name}'; upload .npz, .zip (PNG/JPEG images) or .json points",
        )
    fmt = FORMATS[suffix]
    if fmt == "npz":
        x, y, classes = _read_npz(content), None, None
        payload = content  # validated as-is: store the user's own bytes
    else:
        x, y, classes = _read_zip(content) if fmt == "zip" else _read_points(content)
        buffer = io.BytesIO()
        arrays: dict[str, Any] = {"x": x} if y is None else {"x": x, "y": y}
        np.savez_compressed(buffer, **arrays)
        payload = buffer.getvalue()
        x = _read_npz(payload)  # the stored file passes the same loader a run will use
    meta: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "name": name,
        "format": fmt,
        "shape": list(x.x.shape),
        "n": int(x.x.shape[0]),
        "labels": int(x.num_classes),
        "classes": classes,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "owner": owner,
    }
    if quota is not None:
        meta["client"] = quota.client  # for the quota only; the API's response model leaves it out
    directory = datasets_dir(data_dir)
    with _STORE_LOCK:
        if quota is not None:
            check_room(data_dir, quota)
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(directory / f"{meta['id']}.npz", lambda f: f.write(payload))
        write_atomically(directory / f"{meta['id']}.json", lambda f: f.write(json.dumps(meta).encode()))
    return meta


def list_uploads(data_dir: Path) -> list[dict[str, Any]]:
    """Metadata of every stored upload, newest first; unreadable metadata files are skipped."""
    metas = _stored_metadata(datasets_dir(data_dir))
    return sorted(metas, key=lambda m: str(m.get("created_at", "")), reverse=True)


def get_upload(data_dir: Path, upload_id: str) -> dict[str, Any] | None:
    """A stored upload's metadata, or None when there is none by that id (an id the store never makes included)."""
    if not UPLOAD_ID.fullmatch(upload_id):
        return None
    directory = datasets_dir(data_dir)
    try:
        meta = json.loads((directory / f"{upload_id}.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and (directory / f"{upload_id}.npz").is_file() else None


def delete_upload(data_dir: Path, upload_id: str) -> bool:
    """Remove a stored upload; False when there is none by that id. The id must look like one the store made, so
    it is never a path. Metadata goes first, so a listing never shows an upload whose data is gone."""
    if not UPLOAD_ID.fullmatch(upload_id):
        return False
    directory = datasets_dir(data_dir)
    with _STORE_LOCK:
        found = False
        for suffix in (".json", ".npz"):
            try:
                (directory / f"{upload_id}{suffix}").unlink()
                found = True
            except FileNotFoundError:
                pass
    return found


def _stored_metadata(directory: Path) -> list[dict[str, Any]]:
    """Metadata of every complete upload (metadata and data both present), in no order."""
    if not directory.is_dir():
        return []
    out = []
    for path in directory.glob("*.json"):
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(meta, dict) and (directory / f"{meta.get('id')}.npz").is_file():
            out.append(meta)
    return out


# ----------------------------------------------------------------------------------------- helpers


def _display_name(filename: str) -> str:
    """The client's base name, for display only: no directories, no control characters, bounded length."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable())
    return base[-MAX_NAME_CHARS:] or "upload"


def _open_zip(content: bytes, what: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise UploadError(422, "file", f"not a valid {what} archive: {e}") from None
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if total > MAX_UNCOMPRESSED_BYTES:
            archive.close()
            raise UploadError(413, "file", f"the archive declares over {MAX_UNCOMPRESSED_BYTES} bytes uncompressed")
    return archive


def _read_npz(content: bytes):  # -> models.datasets.Dataset
    with _open_zip(content, ".npz"):
        pass  # declared sizes checked before numpy decompresses anything
    try:
        return load_npz_file(io.BytesIO(content), source="the uploaded .npz")
    except DatasetError as e:
        raise UploadError(422, "file", str(e)) from None


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """A member's safe relative path, or None for entries to ignore; refuses anything that could escape."""
    raw = info.filename
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UploadError(422, "file", f"archive member '{raw}' has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UploadError(422, "file", f"archive member '{raw}' points outside the archive ('..')")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UploadError(422, "file", f"archive member '{raw}' is a symbolic link")
    if info.is_dir() or not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return None
    return PurePosixPath(*parts)


def _read_zip(content: bytes) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    from PIL import Image, UnidentifiedImageError

    with _open_zip(content, ".zip") as archive:
        members: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        for info in archive.infolist():
            path = _member_path(info)
            if path is None:
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise UploadError(422, "file", f"archive member '{info.filename}' is not a .png or .jpg image")
            if info.file_size > MAX_MEMBER_BYTES:
                raise UploadError(
                    413,
                    "file",
                    f"archive member '{info.filename}' declares {info.file_size} bytes; "
                    f"an image may have at most {MAX_MEMBER_BYTES}",
                )
            members.append((info, path))
            if len(members) > MAX_IMAGES:
                raise UploadError(422, "file", f"more than {MAX_IMAGES} images")
        if len(members) < MIN_ITEMS:
            raise UploadError(422, "file", f"the archive holds {len(members)} images; need at least {MIN_ITEMS}")
        folders = _class_folders([p for _, p in members])

        images, size = [], None
        for info, path in members:
            try:
                with archive.open(info) as f:
                    data = f.read(info.file_size + 1)
                img = Image.open(io.BytesIO(data))
                expected = IMAGE_SUFFIXES[path.suffix.lower()]
                if img.format != expected:
                    raise UploadError(422, "file", f"'{info.filename}' is not a {expected} image ({img.format})")
                if max(img.size) > MAX_IMAGE_SIDE:
                    w, h = img.size
                    raise UploadError(
                        422,
                        "file",
                        f"'{info.filename}' is {w}×{h} px; images may be at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE}",
                    )
                if size is None:
                    size = img.size
                elif img.size != size:
                    raise UploadError(
                        422,
                        "file",
                        f"'{info.filename}' is {img.size[0]}×{img.size[1]} px but earlier "
                        f"images are {size[0]}×{size[1]}; all must be the same size",
                    )
                images.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
            except UploadError:
                raise
            except (
                UnidentifiedImageError,
                OSError,
                ValueError,
                EOFError,
                zipfile.BadZipFile,
                Image.DecompressionBombError,
            ) as e:
                raise UploadError(422, "file", f"cannot read '{info.filename}': {e}") from None

    rgb = np.stack(images)  # [N, H, W, 3]
    grey = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all())
    x = np.ascontiguousarray(rgb[..., 0] if grey else rgb.transpose(0, 3, 1, 2))
    if folders is None:
        return x, None, None
    classes = sorted(set(folders))
    y = np.asarray([classes.index(f) for f in folders], dtype=np.int64)
    return x, y, classes


def _class_folders(paths: list[PurePosixPath]) -> list[str] | None:
    """Each image's class folder, or None when unlabelled. A folder shared by every image (the archive's own
    root folder) is dropped first; then either no image or every image must sit in exactly one folder."""
    dirs = [p.parts[:-1] for p in paths]
    common = 0
    while all(len(d) > common for d in dirs) and len({d[common] for d in dirs}) == 1:
        common += 1
    rest = [d[common:] for d in dirs]
    depths = {len(d) for d in rest}
    if depths == {0}:
        return None
    if depths == {1}:
        return [d[0] for d in rest]
    raise UploadError(
        422, "file", "images must all be at the top level, or all in one folder per class (label/image.png), not a mix"
    )


def _read_points(content: bytes) -> tuple[np.ndarray, np.ndarray | None, None]:
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError) as e:
        raise UploadError(422, "file", f"not valid JSON: {e}") from None
    except RecursionError:  # the parser recurses once per level: "[[[[…" deeper than the stack is not points
        raise UploadError(422, "file", "not valid points JSON: nested too deeply") from None
    if not isinstance(body, dict) or not isinstance(body.get("points"), list):
        raise UploadError(422, "points", 'expected {"points": [[x, y], ...]}')
    points = body["points"]
    if not MIN_ITEMS <= len(points) <= MAX_POINTS:
        raise UploadError(422, "points", f"{len(points)} points; need {MIN_ITEMS}..{MAX_POINTS}")
    for i, p in enumerate(points):
        if not (isinstance(p, list) and len(p) == 2 and all(_is_number(v) for v in p)):
            raise UploadError(422, f"points.{i}", "each point must be [x, y] with two finite numbers")
        if not all(math.isfinite(v) for v in p):
            raise UploadError(422, f"points.{i}", "coordinates must be finite (no NaN or infinity)")
    x = np.asarray(points, dtype=np.float64)
    labels = body.get("labels")
    if labels is None:
        return x, None, None
    if not (
        isinstance(labels, list)
        and len(labels) == len(points)
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1000 for v in labels)
    ):
        raise UploadError(422, "labels", f"expected {len(points)} integer labels in 0..999, one per point")
    return x, np.asarray(labels, dtype=np.int64), None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
