"""Datasets for the playground: every config kind in ``models.config`` becomes one in-memory ``Dataset``.

Everything a run trains on is built here, once, from the config and the run's seed, so that a run can be
replayed or forked bit for bit. All data is scaled into [-1, 1] because that is the range a tanh generator
can reach and the range the 2D plots are laid out for. Nothing is cached in module globals: a long-lived
server would otherwise keep every dataset it ever loaded alive.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from models.config import (
    DatasetConfig,
    DigitsData,
    DiracData,
    FashionMnistData,
    GridData,
    MoonsData,
    NpzData,
    PointsData,
    RingData,
    SpiralData,
    UploadData,
)

DEFAULT_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_IMAGES = "train-images-idx3-ubyte"
FASHION_LABELS = "train-labels-idx1-ubyte"
FASHION_CLASSES = 10

NPZ_MAX_ITEMS = 200_000
NPZ_MAX_SIDE = 256
NPZ_MAX_CLASSES = 1000

# IDX type codes (third magic byte) and the big-endian element types they stand for.
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DatasetError(ValueError):
    """A dataset could not be built; the message is meant for the user, so it says what to fix."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A whole dataset held as tensors, ready to be sampled from by the training loop.

    Frozen because a run's data must never change under it; ``eq=False`` because a field-wise ``==`` on
    tensors is ambiguous, so identity comparison is the only honest equality.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor | None
    num_classes: int
    centers: torch.Tensor | None
    std: float | None

    def __post_init__(self) -> None:
        # Cheap structural checks only: a mismatched y would otherwise surface as a wrong label much later.
        if self.x.ndim not in (2, 4):
            raise ValueError(f"Dataset.x must be [N, 2] or [N, C, H, W], got shape {tuple(self.x.shape)}")
        if self.y is not None and tuple(self.y.shape) != (self.x.shape[0],):
            raise ValueError(f"Dataset.y must have shape [{self.x.shape[0]}], got {tuple(self.y.shape)}")

    @property
    def is_image(self) -> bool:
        """True for [N, C, H, W] data; decides between the 2D views and the image grid."""
        return self.x.ndim == 4

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one item, which is what a generator must output."""
        return tuple(self.x.shape[1:])

    @cached_property
    def bounds(self) -> tuple[float, ...]:
        """(xmin, xmax, ymin, ymax) of 2D data plus a 10% margin per axis, so D's field covers the data and
        a little around it, where mode-dropping fakes tend to wander; (xmin, xmax) of 1-D data (the Dirac-GAN's).
        Cached: every field frame asks, and a min/max over 50 000 points costs a quarter of a frame."""
        if self.is_image:
            raise ValueError(f"bounds is defined only for 2D data; '{self.name}' holds images")
        lo = self.x.amin(dim=0).tolist()
        hi = self.x.amax(dim=0).tolist()
        out: list[float] = []
        for a, b in zip(lo, hi, strict=True):
            margin = 0.1 * (b - a) if b > a else 0.1  # a degenerate axis still gets a visible strip
            out += [a - margin, b + margin]
        return tuple(out)

    def to(self, device: torch.device | str) -> Dataset:
        """A copy on ``device``, so the training loop samples without a host-to-device copy per batch."""
        return dataclasses.replace(
            self,
            x=self.x.to(device),
            y=None if self.y is None else self.y.to(device),
            centers=None if self.centers is None else self.centers.to(device),
        )

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` rows drawn uniformly with replacement, and their labels.

        The draw uses only ``generator`` (which must live on ``x``'s device), so a run's batches depend on
        its own random stream and nothing else.
        """
        idx = torch.randint(0, self.x.shape[0], (n,), generator=generator, device=self.x.device)
        return self.x[idx], None if self.y is None else self.y[idx]


def load_dataset(config: DatasetConfig, seed: int, data_dir: Path | None = None) -> Dataset:
    """Build the dataset a config describes.

    The same (config, seed) always gives the same tensors, because every random draw comes from a
    generator seeded here rather than from global state. ``data_dir`` anchors relative file paths, so a
    server can keep user files in one place whatever its working directory.
    """
    if isinstance(config, RingData):
        return _ring(config, seed)
    if isinstance(config, GridData):
        return _grid(config, seed)
    if isinstance(config, SpiralData):
        return _spiral(config, seed)
    if isinstance(config, MoonsData):
        return _moons(config, seed)
    if isinstance(config, PointsData):
        return _points(config, seed)
    if isinstance(config, DigitsData):
        return _digits()
    if isinstance(config, FashionMnistData):
        return _fashion_mnist(config, data_dir)
    if isinstance(config, NpzData):
        return _npz(config, data_dir)
    if isinstance(config, UploadData):
        return _upload(config, data_dir)
    if isinstance(config, DiracData):
        return _dirac()
    raise DatasetError(f"unknown dataset config {type(config).__name__}")


# ----------------------------------------------------------------------------------------- 2D data


def _rng(seed: int) -> np.random.Generator:
    """A private generator, so loading data never disturbs (or depends on) anyone else's random stream."""
    return np.random.default_rng(seed)


def _points_dataset(name: str, x: np.ndarray, centers: np.ndarray | None = None, std: float | None = None) -> Dataset:
    return Dataset(
        name=name,
        x=torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        y=None,
        num_classes=0,
        centers=None if centers is None else torch.from_numpy(np.ascontiguousarray(centers, dtype=np.float32)),
        std=std,
    )


def _fit_box(x: np.ndarray) -> np.ndarray:
    """Centre on the bounding box and divide by the largest half-extent: the data then spans [-1, 1] on
    its wider axis without distorting its shape (one factor for both axes keeps the aspect ratio)."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    half = float(np.max(hi - lo)) / 2
    scaled = (x - (lo + hi) / 2) / (half if half > 0 else 1.0)
    return np.clip(scaled, -1.0, 1.0)  # only float rounding can step outside


def _mixture(name: str, centers: np.ndarray, std: float, n: int, seed: int) -> Dataset:
    """Gaussian modes scaled so that every centre ±3σ fits in [-1, 1], with ``centers`` and ``std`` in the
    same units as x, so mode-coverage metrics can be computed on the scaled data directly.

    Each point picks its mode uniformly. The few points (about 0.1%, all beyond 3σ) that would land
    outside [-1, 1] are redrawn from their mode, keeping the documented range without piling points on
    the border as clipping would.
    """
    rng = _rng(seed)
    s = 1.0 / (float(np.abs(centers).max()) + 3 * std)
    centers, std = centers * s, std * s
    modes = rng.integers(len(centers), size=n)
    x = centers[modes] + std * rng.standard_normal((n, 2))
    while (bad := np.flatnonzero((np.abs(x) > 1).any(axis=1))).size:
        x[bad] = centers[modes[bad]] + std * rng.standard_normal((bad.size, 2))
    return _points_dataset(name, x, centers, std)


def _ring(config: RingData, seed: int) -> Dataset:
    angles = 2 * np.pi * np.arange(config.modes) / config.modes
    centers = config.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _mixture("ring", centers, config.std, config.n, seed)


def _grid(config: GridData, seed: int) -> Dataset:
    ticks = config.spacing * (np.arange(config.side) - (config.side - 1) / 2)
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    centers = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return _mixture("grid", centers, config.std, config.n, seed)


def _spiral(config: SpiralData, seed: int) -> Dataset:
    """One arm whose radius grows linearly with the angle (an Archimedean spiral) out to radius 1.

    The position along the arm is sqrt(uniform), as in the classic two-spirals set: arc length grows with
    the radius, so this spreads points about evenly along the arm instead of crowding the centre.
    """
    rng = _rng(seed)
    t = np.sqrt(rng.random(config.n))
    angle = 2 * np.pi * config.turns * t
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x += config.noise * rng.standard_normal(x.shape)
    return _points_dataset("spiral", _fit_box(x))


def _moons(config: MoonsData, seed: int) -> Dataset:
    from sklearn.datasets import make_moons  # deferred: sklearn is slow to import and most runs never need it

    x, _ = make_moons(n_samples=config.n, noise=config.noise, random_state=seed)
    return _points_dataset("moons", _fit_box(np.asarray(x, dtype=np.float64)))


def _points(config: PointsData, seed: int) -> Dataset:
    """The user's drawing as a distribution: each sample is a drawn point, chosen uniformly, plus jitter."""
    rng = _rng(seed)
    drawn = np.asarray(config.points, dtype=np.float64).reshape(-1, 2)
    x = drawn[rng.integers(len(drawn), size=config.n)] + config.std * rng.standard_normal((config.n, 2))
    return _points_dataset("points", _fit_box(x))


def _dirac() -> Dataset:
    """The Dirac-GAN's data (Mescheder et al. 2018 §2): every real sample is the number 0. One stored point is the
    whole distribution; it has no modes to cover (a mode-coverage score of one point would say nothing)."""
    return _points_dataset("dirac", np.zeros((1, 1)))


# ----------------------------------------------------------------------------------------- images


def _image_dataset(name: str, x: torch.Tensor, y: torch.Tensor | None, num_classes: int) -> Dataset:
    return Dataset(name=name, x=x.contiguous(), y=y, num_classes=num_classes, centers=None, std=None)


def _digits() -> Dataset:
    """scikit-learn's bundled 8×8 digits: a labelled image set that needs no download and trains in seconds."""
    from sklearn.datasets import load_digits  # deferred: see _moons

    bunch = load_digits()
    x = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32)).unsqueeze(1) / 8.0 - 1.0  # 0..16 → -1..1
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    return _image_dataset("digits", x, y, 10)


def parse_idx(raw: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode one IDX file (the MNIST format) held in memory, strictly.

    Every header field and the exact byte count are checked, because a silently short file would
    otherwise be trained on as misaligned images and labels. The result is a native-endian copy.
    """
    if len(raw) < 4:
        raise DatasetError(f"{source}: not an IDX file (only {len(raw)} bytes, shorter than the 4-byte magic)")
    if raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{source}: not an IDX file (magic {raw[:4].hex()} does not start with 0000)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DatasetError(f"{source}: not an IDX file (unknown element type 0x{code:02x} in magic)")
    if ndim == 0:
        raise DatasetError(f"{source}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{source}: truncated IDX header ({len(raw)} bytes, need {header} for {ndim} dims)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    count = math.prod(dims)
    expected = header + count * dtype.itemsize
    if len(raw) < expected:
        raise DatasetError(f"{source}: truncated IDX file: dims {list(dims)} need {expected} bytes, found {len(raw)}")
    if len(raw) > expected:
        raise DatasetError(f"{source}: {len(raw) - expected} unexpected bytes after the IDX data (dims {list(dims)})")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzipped or not; compression is detected from the content, not the name."""
    try:
        raw = Path(path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: cannot read: {e}") from None
    return parse_idx(raw, source=str(path))


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _resolve(path: str, data_dir: Path | None) -> Path:
    """A relative path is taken relative to ``data_dir`` (or the working directory), never elsewhere."""
    p = Path(path)
    return p if p.is_absolute() else (data_dir if data_dir is not None else Path.cwd()) / p


def _fashion_mnist(config: FashionMnistData, data_dir: Path | None) -> Dataset:
    """Fashion-MNIST's training split, read from local IDX files (by default Debian's package), never
    downloaded, so the playground works offline and the files' provenance is the system's."""
    directory = _resolve(config.path, data_dir) if config.path else DEFAULT_FASHION_MNIST_DIR
    images_path, labels_path = _find_idx(directory, FASHION_IMAGES), _find_idx(directory, FASHION_LABELS)
    if images_path is None or labels_path is None:
        missing = [s for s, p in ((FASHION_IMAGES, images_path), (FASHION_LABELS, labels_path)) if p is None]
        where = str(directory) if directory.is_dir() else f"{directory} (no such directory)"
        raise DatasetError(
            f"Fashion-MNIST not found: looked in {where} for {' and '.join(m + '[.gz]' for m in missing)}. "
            f"Install the Debian package `{FASHION_MNIST_PACKAGE}` (apt install {FASHION_MNIST_PACKAGE}), "
            f"or set dataset.path to a directory holding these files."
        )
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DatasetError(
            f"{images_path}: expected unsigned-byte images [N, H, W] (magic 00000803), "
            f"got {images.dtype} with {images.ndim} dims"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{labels_path}: expected unsigned-byte labels [N] (magic 00000801), "
            f"got {labels.dtype} with {labels.ndim} dims"
        )
    if len(images) != len(labels):
        raise DatasetError(f"{directory}: {len(images)} images but {len(labels)} labels")
    if labels.size and int(labels.max()) >= FASHION_CLASSES:
        raise DatasetError(f"{labels_path}: label {int(labels.max())} is not a Fashion-MNIST class (0..9)")
    if config.limit is not None:
        images, labels = images[: config.limit], labels[: config.limit]
    x = torch.from_numpy(images).unsqueeze(1).float() / 127.5 - 1.0
    y = torch.from_numpy(labels.astype(np.int64))
    return _image_dataset("fashion_mnist", x, y, FASHION_CLASSES)


# ----------------------------------------------------------------------------------------- npz


def _upload(config: UploadData, data_dir: Path | None) -> Dataset:
    """An upload the server stored as ``<data_dir>/datasets/<id>.npz``; the id is hex only, so it is never a path."""
    path = (data_dir if data_dir is not None else Path.cwd()) / "datasets" / f"{config.id}.npz"
    if not path.is_file():
        raise DatasetError(f"uploaded dataset {config.id} not found (no {path})")
    return load_npz_file(path)


def _npz(config: NpzData, data_dir: Path | None) -> Dataset:
    """A user's own data. Everything is validated up front with a message naming the problem, because a
    bad array would otherwise fail deep inside training (or, with NaN, train into garbage silently)."""
    path = _resolve(config.path, data_dir)
    if not path.is_file():
        raise DatasetError(f"npz file not found: {path}")
    return load_npz_file(path)


def load_npz_file(file: Path | BinaryIO, source: str | None = None) -> Dataset:
    """Load and validate a .npz (a path or an open binary file) of ``x`` and optional ``y``, never unpickling:
    the checks every user file passes. ``source`` names the file in messages (default: the path)."""
    path = source if source is not None else file
    try:
        loaded = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DatasetError(f"{path}: cannot read as .npz: {e}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path}: not an .npz archive (a single .npy array?); save with np.savez")
    with loaded as archive:
        if "x" not in archive.files:
            raise DatasetError(f"{path}: no array named 'x' (found: {', '.join(archive.files) or 'none'})")
        try:
            x = np.asarray(archive["x"])
            y = np.asarray(archive["y"]) if "y" in archive.files else None
        except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as e:  # object arrays, corrupt members
            raise DatasetError(f"{path}: cannot read its arrays: {e}") from None
        except MemoryError:  # an .npy header may claim any shape, whatever the file holds: numpy allocates it first
            raise DatasetError(f"{path}: an array's header claims more data than memory holds") from None
    return _npz_dataset(x, y, str(path))


def _npz_dataset(x: np.ndarray, y: np.ndarray | None, source: str) -> Dataset:
    if x.dtype.kind not in "iuf":
        raise DatasetError(f"{source}: x must hold integers or floats, not {x.dtype}")
    shape = tuple(x.shape)
    if x.ndim not in (2, 3, 4):
        raise DatasetError(f"{source}: x has shape {shape}; expected [N, 2], [N, H, W] or [N, C, H, W]")
    if x.ndim == 2 and shape[1] != 2:
        raise DatasetError(f"{source}: 2D x must be [N, 2] points, got {shape}")
    if x.ndim == 4 and shape[1] not in (1, 3):
        raise DatasetError(f"{source}: x has {shape[1]} channels; images need 1 or 3 ([N, C, H, W])")
    n = shape[0]
    if n < 2:
        raise DatasetError(f"{source}: x holds {n} items; need at least 2")
    if n > NPZ_MAX_ITEMS:
        raise DatasetError(f"{source}: x holds {n} items; at most {NPZ_MAX_ITEMS} are allowed")
    if x.ndim >= 3:
        h, w = shape[-2:]
        if min(h, w) < 1 or max(h, w) > NPZ_MAX_SIDE:
            raise DatasetError(f"{source}: images are {h}×{w} px; each side must be 1..{NPZ_MAX_SIDE}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DatasetError(f"{source}: x contains NaN or infinite values")

    labels, num_classes = None, 0
    if y is not None:
        if y.dtype.kind not in "iu":
            raise DatasetError(f"{source}: y must hold integer class labels, not {y.dtype}")
        if tuple(y.shape) != (n,):
            raise DatasetError(f"{source}: y has shape {tuple(y.shape)}; expected [{n}] (one label per item of x)")
        if int(y.min()) < 0:
            raise DatasetError(f"{source}: y contains negative labels (min {int(y.min())}); labels must be >= 0")
        num_classes = int(y.max()) + 1
        if num_classes > NPZ_MAX_CLASSES:
            raise DatasetError(
                f"{source}: y's largest label is {num_classes - 1}; at most {NPZ_MAX_CLASSES} classes are supported"
            )
        labels = torch.from_numpy(y.astype(np.int64))

    if x.ndim == 2:
        data = _points_dataset("npz", _fit_box(x.astype(np.float64)))
        return dataclasses.replace(data, y=labels, num_classes=num_classes)
    if x.ndim == 3:
        x = x[:, None]
    return _image_dataset("npz", _unit_to_signed(x), labels, num_classes)


def _unit_to_signed(x: np.ndarray) -> torch.Tensor:
    """Images to [-1, 1]: uint8 is read as 0..255; other values already in [0, 1] are taken as such; any
    other range is min-max scaled over the whole set (not per image, which would erase brightness)."""
    if x.dtype == np.uint8:
        return torch.from_numpy(x).float() / 127.5 - 1.0
    t = torch.from_numpy(x.astype(np.float32))
    lo, hi = float(t.min()), float(t.max())
    if not (lo >= 0.0 and hi <= 1.0):
        t = (t - lo) / (hi - lo) if hi > lo else torch.zeros_like(t)
    return (t * 2.0 - 1.0).clamp_(-1.0, 1.0)
