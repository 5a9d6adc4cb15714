"""Tests for the classifier-based image quality metrics (class coverage, class KL, Fréchet distance, label accuracy).

The digits data is built here straight from scikit-learn so these tests do not depend on ``models.datasets``.
Training the digits judge takes a few seconds, so one module-scoped judge is shared by most tests.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from sklearn.datasets import load_digits

from models import image_metrics
from models.image_metrics import (
    FEATURE_DIM,
    ImageJudge,
    QualityClassifier,
    data_fingerprint,
    frechet_distance,
    judge_epochs,
    judge_split,
    load_judge,
)


@dataclass
class Digits:
    x: torch.Tensor  # [N, 1, 8, 8] float32 in [-1, 1]
    y: torch.Tensor  # [N] int64


@dataclass
class Trained:
    judge: ImageJudge
    cache_dir: Path
    seconds: float
    rng_before: torch.Tensor
    rng_after: torch.Tensor
    threads_before: int
    threads_after: int


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits() -> Digits:
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0  # pixel values are 0..16
    return Digits(x=x, y=torch.tensor(data.target, dtype=torch.long))


@pytest.fixture(scope="module")
def trained(digits: Digits, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    cache_dir = tmp_path_factory.mktemp("cache")
    torch.manual_seed(1234)
    rng_before, threads_before = torch.get_rng_state(), torch.get_num_threads()
    start = time.perf_counter()
    judge = load_judge("digits", digits.x, digits.y, 10, cache_dir)
    seconds = time.perf_counter() - start
    return Trained(
        judge, cache_dir, seconds, rng_before, torch.get_rng_state(), threads_before, torch.get_num_threads()
    )


@pytest.fixture(scope="module")
def held_out(digits: Digits) -> Digits:
    _, held_idx = judge_split(digits.x.shape[0])
    return Digits(digits.x[held_idx], digits.y[held_idx])


def _random_spd(d: int, gen: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, generator=gen, dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


# --------------------------------------------------------------------------------------- frechet_distance


def test_frechet_distance_is_zero_for_identical_gaussians() -> None:
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(16, generator=gen, dtype=torch.float64)
    cov = _random_spd(16, gen)
    assert frechet_distance(mu, cov, mu.clone(), cov.clone()) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_closed_form_for_diagonal_covariances() -> None:
    gen = torch.Generator().manual_seed(1)
    mu1, mu2 = torch.randn(8, generator=gen, dtype=torch.float64), torch.randn(8, generator=gen, dtype=torch.float64)
    s1 = torch.rand(8, generator=gen, dtype=torch.float64) + 0.1
    s2 = torch.rand(8, generator=gen, dtype=torch.float64) + 0.1
    expected = float(((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * (s1 * s2).sqrt()).sum())
    assert frechet_distance(mu1, torch.diag(s1), mu2, torch.diag(s2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_is_symmetric() -> None:
    gen = torch.Generator().manual_seed(2)
    mu1, mu2 = torch.randn(12, generator=gen, dtype=torch.float64), torch.randn(12, generator=gen, dtype=torch.float64)
    cov1, cov2 = _random_spd(12, gen), _random_spd(12, gen)
    forward = frechet_distance(mu1, cov1, mu2, cov2)
    assert forward > 0
    assert frechet_distance(mu2, cov2, mu1, cov1) == pytest.approx(forward, rel=1e-9)


def test_frechet_distance_handles_singular_covariances_and_float32_inputs() -> None:
    cov = torch.zeros(4, 4)
    cov[0, 0] = 1.0  # rank 1: the square root must not produce NaNs
    value = frechet_distance(torch.zeros(4), cov, torch.ones(4), torch.eye(4))
    assert math.isfinite(value)
    assert value == pytest.approx(4.0 + (1 + 1 - 2) + 3.0, rel=1e-9)


def test_frechet_distance_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError):
        frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(4), torch.eye(4))


# --------------------------------------------------------------------------------------- classifier


@pytest.mark.parametrize(("channels", "side"), [(1, 8), (1, 28), (3, 32), (3, 16)])
def test_classifier_gives_64_features_and_class_logits_for_any_side(channels: int, side: int) -> None:
    model = QualityClassifier(channels, 7, generator=torch.Generator().manual_seed(0))
    x = torch.zeros(5, channels, side, side)
    assert model.features(x).shape == (5, FEATURE_DIM)
    assert model(x).shape == (5, 7)


def test_classifier_with_generator_does_not_consume_global_rng() -> None:
    before = torch.get_rng_state()
    a = QualityClassifier(1, 10, generator=torch.Generator().manual_seed(0))
    b = QualityClassifier(1, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), before)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_epochs_are_many_for_small_sets_and_few_for_large_ones() -> None:
    assert judge_epochs(1527) >= 15  # digits
    assert judge_epochs(51_000) == 2  # fashion-mnist
    assert judge_epochs(170_000) == 1  # a big user-supplied set still trains for a bounded time


# --------------------------------------------------------------------------------------- the digits judge


def test_judge_on_digits_reaches_95_percent_held_out_accuracy(trained: Trained) -> None:
    assert trained.judge.held_out_accuracy >= 0.95
    assert not trained.judge.classifier.training
    assert not any(p.requires_grad for p in trained.judge.classifier.parameters())


def test_judge_statistics_have_documented_shapes_and_dtypes(trained: Trained) -> None:
    judge = trained.judge
    assert judge.real_mu.shape == (FEATURE_DIM,) and judge.real_mu.dtype == torch.float64
    assert judge.real_cov.shape == (FEATURE_DIM, FEATURE_DIM) and judge.real_cov.dtype == torch.float64
    assert judge.class_freq.shape == (10,) and judge.class_freq.dtype == torch.float64
    assert judge.class_freq.sum().item() == pytest.approx(1.0)


def test_real_held_out_digits_cover_all_classes_with_small_kl(trained: Trained, held_out: Digits) -> None:
    result = trained.judge.evaluate(held_out.x)
    assert result["class_coverage"] == 10.0
    assert result["class_kl"] < 0.05
    assert result["fd"] == pytest.approx(0.0, abs=1e-6)  # the very images the real statistics came from
    assert "label_accuracy" not in result


def test_fd_of_real_digits_is_much_smaller_than_for_noise_or_a_single_class(trained: Trained, digits: Digits) -> None:
    train_idx, _ = judge_split(digits.x.shape[0])
    real = digits.x[train_idx[:400]]
    noise = torch.rand(400, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    single = digits.x[digits.y == 3]
    fd_real = trained.judge.evaluate(real)["fd"]
    fd_noise = trained.judge.evaluate(noise)["fd"]
    fd_single = trained.judge.evaluate(single)["fd"]
    assert fd_real * 5 < fd_noise
    assert fd_real * 5 < fd_single


def test_single_class_samples_give_coverage_one_and_large_kl(trained: Trained, digits: Digits) -> None:
    result = trained.judge.evaluate(digits.x[digits.y == 3])
    assert result["class_coverage"] == 1.0
    assert result["class_kl"] > 1.5  # log(10) = 2.30 for a perfectly collapsed generator


def test_label_accuracy_is_high_for_true_labels_and_chance_for_shuffled(trained: Trained, held_out: Digits) -> None:
    assert trained.judge.evaluate(held_out.x, held_out.y)["label_accuracy"] >= 0.9
    shuffled = held_out.y[torch.randperm(held_out.y.shape[0], generator=torch.Generator().manual_seed(0))]
    assert trained.judge.evaluate(held_out.x, shuffled)["label_accuracy"] < 0.25


def test_evaluate_rejects_wrong_channels_and_too_few_images(trained: Trained, held_out: Digits) -> None:
    with pytest.raises(ValueError):
        trained.judge.evaluate(torch.zeros(4, 3, 8, 8))
    with pytest.raises(ValueError):
        trained.judge.evaluate(held_out.x[:1])
    with pytest.raises(ValueError):
        trained.judge.evaluate(held_out.x[:4], held_out.y[:3])


def test_training_leaves_global_rng_and_thread_count_untouched(trained: Trained) -> None:
    assert torch.equal(trained.rng_before, trained.rng_after)
    assert trained.threads_before == trained.threads_after


# --------------------------------------------------------------------------------------- cache


def _cache_files(cache_dir: Path) -> list[Path]:
    return sorted((cache_dir / "judges").iterdir())


def test_cache_file_is_named_by_dataset_and_fingerprint_and_loads_weights_only(
    trained: Trained, digits: Digits
) -> None:
    files = _cache_files(trained.cache_dir)
    assert [f.name for f in files] == [f"digits-{data_fingerprint(digits.x, digits.y)}.pt"]  # no temp file left
    payload = torch.load(files[0], weights_only=True)
    assert isinstance(payload, dict)


def test_fingerprint_changes_with_data_labels_or_shape(digits: Digits) -> None:
    base = data_fingerprint(digits.x, digits.y)
    assert data_fingerprint(digits.x.clone(), digits.y.clone()) == base
    x2 = digits.x.clone()
    x2[0, 0, 0, 0] += 0.5
    y2 = digits.y.clone()
    y2[0] = (y2[0] + 1) % 10
    assert data_fingerprint(x2, digits.y) != base
    assert data_fingerprint(digits.x, y2) != base
    assert data_fingerprint(digits.x.reshape(-1, 1, 4, 16), digits.y) != base


def test_second_load_hits_cache_is_fast_and_gives_identical_results(
    trained: Trained, digits: Digits, held_out: Digits, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cache hit must not retrain")

    monkeypatch.setattr(image_metrics, "_train_judge", no_training)
    start = time.perf_counter()
    again = load_judge("digits", digits.x, digits.y, 10, trained.cache_dir)
    assert time.perf_counter() - start < min(1.0, trained.seconds / 2)
    _assert_same_judge(again, trained.judge)
    assert again.evaluate(held_out.x, held_out.y) == trained.judge.evaluate(held_out.x, held_out.y)


def test_training_is_bit_identical_in_two_fresh_cache_dirs(trained: Trained, digits: Digits, tmp_path: Path) -> None:
    fresh = load_judge("digits", digits.x, digits.y, 10, tmp_path)
    _assert_same_judge(fresh, trained.judge)
    assert _cache_files(tmp_path)[0].name == _cache_files(trained.cache_dir)[0].name


def test_corrupt_cache_file_is_retrained_and_replaced(
    trained: Trained, digits: Digits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = torch.load(_cache_files(trained.cache_dir)[0], weights_only=True)
    calls: list[int] = []

    def fake_training(*args: object, **kwargs: object) -> dict[str, object]:
        calls.append(1)  # stands in for a real (slow) retraining, which would give exactly this payload
        return good

    monkeypatch.setattr(image_metrics, "_train_judge", fake_training)
    path = tmp_path / "judges" / _cache_files(trained.cache_dir)[0].name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a torch file")
    judge = load_judge("digits", digits.x, digits.y, 10, tmp_path)
    assert calls == [1]
    _assert_same_judge(judge, trained.judge)
    assert isinstance(torch.load(path, weights_only=True), dict)
    assert _cache_files(tmp_path) == [path]


def test_training_progress_rises_to_exactly_one_and_a_cache_hit_reports_done_at_once(
    digits: Digits, tmp_path: Path
) -> None:
    x, y = digits.x[:300], digits.y[:300]  # a small set: the judge trains in a fraction of the full set's time
    fractions: list[float] = []
    load_judge("digits", x, y, 10, tmp_path, progress=fractions.append)
    assert len(fractions) > 2 and fractions[0] > 0
    assert all(a < b for a, b in itertools.pairwise(fractions)) and fractions[-1] == 1.0
    again: list[float] = []
    load_judge("digits", x, y, 10, tmp_path, progress=again.append)
    assert again == [1.0]


def test_load_judge_rejects_labels_out_of_range(digits: Digits, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_judge("digits", digits.x, digits.y, 5, tmp_path)


def _assert_same_judge(a: ImageJudge, b: ImageJudge) -> None:
    sa, sb = a.classifier.state_dict(), b.classifier.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key
    assert torch.equal(a.real_mu, b.real_mu)
    assert torch.equal(a.real_cov, b.real_cov)
    assert torch.equal(a.class_freq, b.class_freq)
    assert a.held_out_accuracy == b.held_out_accuracy
