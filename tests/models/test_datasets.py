"""Tests of models.datasets: every config kind loads deterministically into [-1, 1] with the documented
shapes, and every bad input is refused with a message that says what is wrong."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from models import datasets as ds
from models.config import (
    DigitsData,
    FashionMnistData,
    GridData,
    MoonsData,
    NpzData,
    PointsData,
    RingData,
    SpiralData,
)
from models.datasets import (
    DEFAULT_FASHION_MNIST_DIR,
    Dataset,
    DatasetError,
    load_dataset,
    parse_idx,
    read_idx,
)

SMALL_2D = {
    "ring": RingData(n=2000),
    "grid": GridData(n=2000),
    "spiral": SpiralData(n=2000),
    "moons": MoonsData(n=2000),
    "points": PointsData(points=[(0.0, 0.0), (3.0, 1.0), (-2.0, 5.0)], std=0.3, n=2000),
}


# ----------------------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file written independently of the reader under test: magic, big-endian dims, big-endian data."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big).tobytes()


def write_fashion(directory: Path, images: np.ndarray, labels: np.ndarray, gz: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stem, arr in ((ds.FASHION_IMAGES, images), (ds.FASHION_LABELS, labels)):
        raw = idx_bytes(arr)
        (directory / (stem + ".gz" if gz else stem)).write_bytes(gzip.compress(raw) if gz else raw)


def save_npz(tmp_path: Path, **arrays: np.ndarray) -> NpzData:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return NpzData(path=str(path))


def in_unit_box(x: torch.Tensor) -> bool:
    return bool(x.min() >= -1.0) and bool(x.max() <= 1.0)


# ----------------------------------------------------------------------------------------- 2D data


@pytest.mark.parametrize("kind", SMALL_2D)
def test_2d_data_is_identical_for_a_seed_and_differs_across_seeds(kind: str) -> None:
    a, b, c = (load_dataset(SMALL_2D[kind], seed) for seed in (3, 3, 4))
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, c.x)


@pytest.mark.parametrize("kind", SMALL_2D)
def test_2d_data_is_float32_points_within_the_unit_box_without_labels(kind: str) -> None:
    data = load_dataset(SMALL_2D[kind], 0)
    assert data.name == kind
    assert data.x.dtype == torch.float32 and data.x.shape == (2000, 2)
    assert in_unit_box(data.x)
    assert data.y is None and data.num_classes == 0
    assert not data.is_image and data.sample_shape == (2,)


def test_loading_does_not_touch_the_global_random_streams() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    expected_torch, expected_np = torch.rand(3), np.random.rand(3)
    torch.manual_seed(0)
    np.random.seed(0)
    for config in SMALL_2D.values():
        load_dataset(config, 1)
    assert torch.equal(torch.rand(3), expected_torch)
    assert np.array_equal(np.random.rand(3), expected_np)


def test_ring_centres_and_std_are_scaled_so_centres_plus_three_sigma_fit_the_box() -> None:
    data = load_dataset(RingData(modes=8, radius=1.0, std=0.05, n=20_000), 0)
    assert data.centers is not None and data.std is not None
    assert data.centers.shape == (8, 2) and data.centers.dtype == torch.float32
    torch.testing.assert_close(data.centers.norm(dim=1), torch.full((8,), 1 / 1.15))
    assert data.std == pytest.approx(0.05 / 1.15)
    angles = torch.atan2(data.centers[:, 1], data.centers[:, 0]) % (2 * torch.pi)
    torch.testing.assert_close(angles.sort().values, torch.arange(8) * (2 * torch.pi / 8), atol=1e-5, rtol=0)


def test_ring_points_lie_near_their_modes_with_the_reported_std() -> None:
    data = load_dataset(RingData(modes=8, radius=1.0, std=0.05, n=20_000), 0)
    assert data.centers is not None and data.std is not None
    dist, nearest = torch.cdist(data.x, data.centers).min(dim=1)
    # A 2D Gaussian puts exp(-4.5) ≈ 1.1% of its mass beyond 3σ and exp(-8) ≈ 0.03% beyond 4σ.
    assert (dist <= 3 * data.std).float().mean() > 0.98
    assert (dist <= 4 * data.std).float().mean() > 0.999
    offsets = data.x - data.centers[nearest]
    assert offsets.std().item() == pytest.approx(data.std, rel=0.05)
    assert torch.bincount(nearest, minlength=8).min() > 20_000 / 8 * 0.85  # every mode is populated


def test_grid_centres_sit_on_a_centred_lattice_scaled_by_the_outermost_centre_plus_three_sigma() -> None:
    data = load_dataset(GridData(side=5, spacing=2.0, std=0.05, n=5000), 0)
    assert data.centers is not None and data.std is not None
    s = 1 / (4.0 + 0.15)
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0]) * s
    expected = torch.cartesian_prod(ticks, ticks)
    got = data.centers[torch.argsort(data.centers[:, 0] * 100 + data.centers[:, 1])]
    torch.testing.assert_close(got, expected)
    assert data.std == pytest.approx(0.05 * s)
    dist = torch.cdist(data.x, data.centers).min(dim=1).values
    assert (dist <= 4 * data.std).float().mean() > 0.999


def test_wide_modes_are_kept_inside_the_box_by_redrawing_rather_than_clipping() -> None:
    data = load_dataset(GridData(side=2, spacing=1.0, std=0.5, n=20_000), 0)
    assert in_unit_box(data.x)
    assert (data.x.abs() == 1.0).sum() == 0  # clipping would pile points on the border


def test_box_scaled_2d_data_touches_the_box_and_keeps_its_aspect_ratio() -> None:
    data = load_dataset(PointsData(points=[(0.0, 0.0), (4.0, 0.0), (0.0, 2.0)], std=0.0, n=500), 0)
    xs, ys = data.x[:, 0], data.x[:, 1]
    assert (xs.min().item(), xs.max().item()) == (-1.0, 1.0)
    assert (ys.min().item(), ys.max().item()) == (-0.5, 0.5)
    assert {tuple(p) for p in data.x.tolist()} == {(-1.0, -0.5), (1.0, -0.5), (-1.0, 0.5)}
    for kind in ("spiral", "moons", "points"):
        x = load_dataset(SMALL_2D[kind], 0).x
        assert x.abs().max().item() == pytest.approx(1.0)


def test_points_are_drawn_from_every_user_point() -> None:
    data = load_dataset(PointsData(points=[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)], std=0.0, n=3000), 0)
    values, counts = data.x[:, 0].unique(return_counts=True)
    torch.testing.assert_close(values, torch.tensor([-1.0, 0.0, 1.0]))
    assert counts.min() > 800


def test_identical_points_without_jitter_do_not_divide_by_zero() -> None:
    data = load_dataset(PointsData(points=[(2.0, 2.0), (2.0, 2.0)], std=0.0, n=100), 0)
    assert torch.equal(data.x, torch.zeros(100, 2))
    assert data.bounds == pytest.approx((-0.1, 0.1, -0.1, 0.1))


def test_spiral_is_one_arm_whose_radius_grows_linearly_with_angle() -> None:
    data = load_dataset(SpiralData(turns=1.5, noise=0.0, n=1000), 0)
    # The reference curve r = θ / (2π·turns), box-scaled the same way: every noiseless sample lies on it.
    t = torch.linspace(0, 1, 20_001, dtype=torch.float64)
    angle = 2 * torch.pi * 1.5 * t
    curve = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], dim=1)
    lo, hi = curve.amin(dim=0), curve.amax(dim=0)
    curve = ((curve - (lo + hi) / 2) / ((hi - lo).max() / 2)).float()
    assert torch.cdist(data.x, curve).min(dim=1).values.max() < 0.01
    noisy = load_dataset(SpiralData(turns=1.5, noise=0.05, n=1000), 0)
    assert torch.cdist(noisy.x, curve).min(dim=1).values.mean() > 0.01


# ----------------------------------------------------------------------------------------- Dataset API


def test_bounds_cover_the_data_with_a_ten_percent_margin_per_axis() -> None:
    x = torch.tensor([[-1.0, 0.0], [1.0, 0.5]])
    data = Dataset(name="t", x=x, y=None, num_classes=0, centers=None, std=None)
    assert data.bounds == pytest.approx((-1.2, 1.2, -0.05, 0.55))


def test_bounds_are_refused_for_images() -> None:
    with pytest.raises(ValueError, match="2D"):
        _ = load_dataset(DigitsData(), 0).bounds


def test_sample_draws_rows_with_torch_randint_on_the_given_generator() -> None:
    x = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    data = Dataset(name="t", x=x, y=torch.arange(10), num_classes=10, centers=None, std=None)
    xs, ys = data.sample(64, torch.Generator().manual_seed(7))
    idx = torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(7))
    assert torch.equal(xs, x[idx])
    assert ys is not None and torch.equal(ys, idx)
    again, _ = data.sample(64, torch.Generator().manual_seed(7))
    other, _ = data.sample(64, torch.Generator().manual_seed(8))
    assert torch.equal(xs, again) and not torch.equal(xs, other)


def test_sample_returns_labels_aligned_with_their_images() -> None:
    data = load_dataset(DigitsData(), 0)
    assert data.y is not None
    xs, ys = data.sample(200, torch.Generator().manual_seed(0))
    assert xs.shape == (200, 1, 8, 8) and ys is not None and ys.shape == (200,)
    matches = (xs.flatten(1)[:, None, :] == data.x.flatten(1)[None, :, :]).all(dim=2)
    for row, label in zip(matches, ys, strict=True):
        assert label in data.y[row]


def test_sample_without_labels_returns_none() -> None:
    xs, ys = load_dataset(SMALL_2D["ring"], 0).sample(5, torch.Generator().manual_seed(0))
    assert xs.shape == (5, 2) and ys is None


def test_to_moves_every_tensor_and_keeps_the_rest() -> None:
    data = load_dataset(SMALL_2D["ring"], 0)
    moved = data.to("meta")
    assert moved.x.device.type == "meta" and moved.centers is not None and moved.centers.device.type == "meta"
    assert (moved.name, moved.std, moved.num_classes) == (data.name, data.std, data.num_classes)
    assert data.x.device.type == "cpu"  # the original is untouched
    labelled = load_dataset(DigitsData(), 0).to("meta")
    assert labelled.y is not None and labelled.y.device.type == "meta"


def test_dataset_is_frozen() -> None:
    data = load_dataset(SMALL_2D["ring"], 0)
    with pytest.raises(AttributeError):
        data.name = "other"  # type: ignore[misc]


def test_dataset_refuses_labels_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="y"):
        Dataset(
            name="t", x=torch.zeros(4, 2), y=torch.zeros(3, dtype=torch.int64), num_classes=1, centers=None, std=None
        )


# ----------------------------------------------------------------------------------------- digits


def test_digits_are_1797_labelled_8x8_images_scaled_to_the_unit_range() -> None:
    data = load_dataset(DigitsData(), 0)
    assert data.name == "digits" and data.is_image
    assert data.x.shape == (1797, 1, 8, 8) and data.x.dtype == torch.float32
    assert data.x.min().item() == -1.0 and data.x.max().item() == 1.0
    assert data.y is not None and data.y.dtype == torch.int64 and data.y.shape == (1797,)
    assert data.num_classes == 10 and set(data.y.tolist()) == set(range(10))
    assert data.centers is None and data.std is None


# ----------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_idx_round_trips_every_element_type(code: int) -> None:
    array = np.arange(24).reshape(2, 3, 4) - (0 if code == 0x08 else 5)
    out = parse_idx(idx_bytes(array, code))
    assert out.shape == (2, 3, 4) and out.dtype.isnative
    assert np.array_equal(out, array)


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_reads_gzipped_and_plain_files(tmp_path: Path, gz: bool) -> None:
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    raw = idx_bytes(labels)
    path = tmp_path / "labels"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8 and np.array_equal(out, labels)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\x00", "not an IDX file"),
        (b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00", "magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown element type"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated IDX header"),
        (idx_bytes(np.zeros((3, 4, 4), np.uint8))[:-1], "truncated"),
        (idx_bytes(np.zeros((3, 4, 4), np.uint8)) + b"\x00", "unexpected bytes"),
    ],
    ids=["short", "bad-magic", "bad-type", "no-dims", "short-header", "truncated-data", "trailing-data"],
)
def test_idx_parser_refuses_malformed_files(raw: bytes, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        parse_idx(raw)


def test_read_idx_refuses_a_truncated_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 8, 8), np.uint8)))[:-20])
    with pytest.raises(DatasetError, match=str(path)):
        read_idx(path)


# ----------------------------------------------------------------------------------------- fashion-mnist


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_loads_synthetic_idx_files_from_a_configured_directory(tmp_path: Path, gz: bool) -> None:
    images = np.arange(6 * 5 * 4, dtype=np.uint8).reshape(6, 5, 4)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = np.array([0, 9, 2, 3, 4, 5], dtype=np.uint8)
    write_fashion(tmp_path / "fm", images, labels, gz=gz)
    data = load_dataset(FashionMnistData(path=str(tmp_path / "fm")), 0)
    assert data.name == "fashion_mnist" and data.num_classes == 10
    assert data.x.shape == (6, 1, 5, 4) and data.x.dtype == torch.float32
    torch.testing.assert_close(data.x, torch.from_numpy(images).float().unsqueeze(1) / 127.5 - 1)
    assert data.x.min().item() == -1.0 and data.x.max().item() == 1.0
    assert data.y is not None and data.y.dtype == torch.int64 and data.y.tolist() == labels.tolist()


def test_fashion_mnist_limit_takes_the_first_items(tmp_path: Path) -> None:
    images = np.arange(150, dtype=np.uint8)[:, None, None].repeat(2, 1).repeat(2, 2)
    write_fashion(tmp_path, images, (np.arange(150) % 10).astype(np.uint8))
    data = load_dataset(FashionMnistData(path=str(tmp_path), limit=100), 0)
    assert data.x.shape == (100, 1, 2, 2)
    assert data.y is not None and data.y.tolist() == [i % 10 for i in range(100)]
    torch.testing.assert_close(data.x[:, 0, 0, 0], torch.arange(100) / 127.5 - 1)


def test_fashion_mnist_relative_path_is_resolved_against_data_dir(tmp_path: Path) -> None:
    write_fashion(tmp_path / "sub", np.zeros((2, 3, 3), np.uint8), np.array([1, 2], np.uint8))
    data = load_dataset(FashionMnistData(path="sub"), 0, data_dir=tmp_path)
    assert data.x.shape == (2, 1, 3, 3)


def test_fashion_mnist_missing_files_name_the_debian_package_and_the_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset(FashionMnistData(path=str(tmp_path)), 0)
    message = str(err.value)
    assert "dataset-fashion-mnist" in message and str(tmp_path) in message
    assert "train-images-idx3-ubyte" in message


def test_fashion_mnist_missing_labels_alone_are_reported(tmp_path: Path) -> None:
    write_fashion(tmp_path, np.zeros((2, 3, 3), np.uint8), np.array([1, 2], np.uint8))
    (tmp_path / (ds.FASHION_LABELS + ".gz")).unlink()
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte") as err:
        load_dataset(FashionMnistData(path=str(tmp_path)), 0)
    assert "train-images" not in str(err.value)


def test_fashion_mnist_default_directory_is_used_when_no_path_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "not-installed"
    monkeypatch.setattr(ds, "DEFAULT_FASHION_MNIST_DIR", absent)
    with pytest.raises(DatasetError, match="dataset-fashion-mnist") as err:
        load_dataset(FashionMnistData(), 0)
    assert str(absent) in str(err.value) and "no such directory" in str(err.value)


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((3, 2, 2), np.uint8), np.zeros(4, np.uint8), "3 images but 4 labels"),
        (np.zeros((3, 2, 2), np.uint8), np.array([0, 10, 1], np.uint8), "label 10"),
        (np.zeros((3, 4), np.uint8), np.zeros(3, np.uint8), "images"),
        (np.zeros((3, 2, 2), np.uint8), np.zeros((3, 1), np.uint8), "labels"),
    ],
    ids=["count-mismatch", "label-out-of-range", "images-not-3d", "labels-not-1d"],
)
def test_fashion_mnist_refuses_inconsistent_files(
    tmp_path: Path, images: np.ndarray, labels: np.ndarray, message: str
) -> None:
    write_fashion(tmp_path, images, labels)
    with pytest.raises(DatasetError, match=message):
        load_dataset(FashionMnistData(path=str(tmp_path)), 0)


@pytest.mark.skipif(
    not DEFAULT_FASHION_MNIST_DIR.is_dir(),
    reason=f"{DEFAULT_FASHION_MNIST_DIR} absent (Debian package dataset-fashion-mnist not installed)",
)
def test_installed_fashion_mnist_loads_with_a_limit() -> None:
    data = load_dataset(FashionMnistData(limit=500), 0)
    assert data.x.shape == (500, 1, 28, 28) and data.x.dtype == torch.float32
    assert in_unit_box(data.x) and data.x.min().item() == -1.0
    assert data.y is not None and data.y.shape == (500,) and set(data.y.tolist()) == set(range(10))
    assert data.num_classes == 10


# ----------------------------------------------------------------------------------------- npz


def test_npz_points_are_box_scaled_like_drawn_points(tmp_path: Path) -> None:
    x = np.array([[0, 0], [4, 0], [0, 2]], dtype=np.int32)
    data = load_dataset(save_npz(tmp_path, x=x), 0)
    assert data.name == "npz" and not data.is_image and data.x.dtype == torch.float32
    torch.testing.assert_close(data.x, torch.tensor([[-1.0, -0.5], [1.0, -0.5], [-1.0, 0.5]]))
    assert data.y is None and data.num_classes == 0 and data.centers is None


def test_npz_points_may_carry_labels(tmp_path: Path) -> None:
    data = load_dataset(save_npz(tmp_path, x=np.random.default_rng(0).normal(size=(10, 2)), y=np.arange(10) % 3), 0)
    assert data.num_classes == 3 and data.y is not None and data.y.dtype == torch.int64


def test_npz_uint8_images_without_channel_get_one_and_map_0_255_to_the_unit_range(tmp_path: Path) -> None:
    x = np.zeros((4, 6, 5), np.uint8)
    x[0, 0, 0], x[1, 2, 3] = 255, 51
    data = load_dataset(save_npz(tmp_path, x=x), 0)
    assert data.is_image and data.x.shape == (4, 1, 6, 5) and data.sample_shape == (1, 6, 5)
    assert data.x[0, 0, 0, 0].item() == 1.0 and data.x[2].eq(-1.0).all()
    assert data.x[1, 0, 2, 3].item() == pytest.approx(51 / 127.5 - 1)


def test_npz_float_images_in_the_unit_interval_are_kept_as_such(tmp_path: Path) -> None:
    x = np.full((3, 3, 4, 4), 0.25, np.float64)
    x[0, 0, 0, 0] = 0.75
    data = load_dataset(save_npz(tmp_path, x=x), 0)
    assert data.x.shape == (3, 3, 4, 4) and data.x.dtype == torch.float32
    assert data.x[0, 0, 0, 0].item() == pytest.approx(0.5) and data.x[1].eq(-0.5).all()


def test_npz_float_images_outside_the_unit_interval_are_min_max_scaled(tmp_path: Path) -> None:
    x = np.linspace(-3.0, 7.0, 2 * 1 * 2 * 3).reshape(2, 1, 2, 3)
    data = load_dataset(save_npz(tmp_path, x=x), 0)
    assert data.x.min().item() == -1.0 and data.x.max().item() == 1.0
    torch.testing.assert_close(data.x.flatten(), torch.linspace(-1, 1, 12))


def test_npz_image_labels_set_the_number_of_classes(tmp_path: Path) -> None:
    data = load_dataset(save_npz(tmp_path, x=np.zeros((5, 8, 8), np.uint8), y=np.array([0, 4, 1, 1, 2], np.uint8)), 0)
    assert data.num_classes == 5 and data.y is not None and data.y.tolist() == [0, 4, 1, 1, 2]


def test_npz_relative_path_is_resolved_against_data_dir(tmp_path: Path) -> None:
    np.savez(tmp_path / "mine.npz", x=np.zeros((3, 2)))
    assert load_dataset(NpzData(path="mine.npz"), 0, data_dir=tmp_path).x.shape == (3, 2)


def test_npz_relative_path_without_data_dir_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    np.savez(tmp_path / "mine.npz", x=np.zeros((3, 2)))
    monkeypatch.chdir(tmp_path)
    assert load_dataset(NpzData(path="mine.npz"), 0).x.shape == (3, 2)


def test_npz_missing_file_is_refused_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found") as err:
        load_dataset(NpzData(path="absent.npz"), 0, data_dir=tmp_path)
    assert str(tmp_path / "absent.npz") in str(err.value)


def test_npz_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"definitely not numpy")
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(NpzData(path="junk.npz"), 0, data_dir=tmp_path)
    np.save(tmp_path / "single.npy", np.zeros((3, 2)))
    with pytest.raises(DatasetError, match=r"not an \.npz archive"):
        load_dataset(NpzData(path="single.npy"), 0, data_dir=tmp_path)


def test_npz_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(NpzData(path="obj.npz"), 0, data_dir=tmp_path)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"points": np.zeros((3, 2))}, "no array named 'x'"),
        ({"x": np.zeros(5)}, "expected \\[N, 2\\]"),
        ({"x": np.zeros((2, 1, 2, 2, 2))}, "expected \\[N, 2\\]"),
        ({"x": np.zeros((5, 3))}, "must be \\[N, 2\\] points"),
        ({"x": np.zeros((5, 2, 4, 4))}, "2 channels"),
        ({"x": np.zeros((1, 2))}, "at least 2"),
        ({"x": np.zeros((200_001, 2), np.float32)}, "at most 200000"),
        ({"x": np.zeros((2, 257, 8), np.uint8)}, "257×8 px"),
        ({"x": np.zeros((2, 1, 8, 300), np.uint8)}, "8×300 px"),
        ({"x": np.array([[0.0, 1.0], [np.nan, 2.0]])}, "NaN or infinite"),
        ({"x": np.array([[0.0, 1.0], [np.inf, 2.0]])}, "NaN or infinite"),
        ({"x": np.array([["a", "b"], ["c", "d"]])}, "integers or floats"),
        ({"x": np.zeros((3, 2)), "y": np.array([0, 1])}, "one label per item"),
        ({"x": np.zeros((3, 2)), "y": np.zeros((3, 1), np.int64)}, "one label per item"),
        ({"x": np.zeros((3, 2)), "y": np.array([0.0, 1.0, 2.0])}, "integer class labels"),
        ({"x": np.zeros((3, 2)), "y": np.array([0, -1, 2])}, "negative"),
        ({"x": np.zeros((3, 2)), "y": np.array([0, 1, 10**6])}, "classes"),
    ],
    ids=[
        "missing-x",
        "x-1d",
        "x-5d",
        "x-3-columns",
        "two-channels",
        "one-item",
        "too-many-items",
        "too-tall",
        "too-wide",
        "nan",
        "inf",
        "strings",
        "y-short",
        "y-2d",
        "y-float",
        "y-negative",
        "y-huge",
    ],
)
def test_npz_refuses_bad_arrays_saying_what_is_wrong(
    tmp_path: Path, arrays: dict[str, np.ndarray], message: str
) -> None:
    with pytest.raises(DatasetError, match=message):
        load_dataset(save_npz(tmp_path, **arrays), 0)


def test_dataset_error_is_a_value_error() -> None:
    assert issubclass(DatasetError, ValueError)
