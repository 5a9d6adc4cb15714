"""Sample-quality metrics for labelled image datasets, judged by a small classifier trained on the dataset itself.

The playground wants an FID-like number for digits and fashion-mnist without downloading Inception weights
(the server may have no network, and Inception features mean little for 8x8 or 28x28 greyscale images). So each
dataset gets its own small CNN judge: its argmax predictions give ``class_coverage`` / ``class_kl`` (is the
generator dropping or over-producing classes, i.e. mode collapse), its penultimate features give ``fd`` (a
Fréchet distance, like FID but in this judge's feature space), and for conditional GANs the predictions checked
against the conditioning labels give ``label_accuracy``.

The judge is trained once per dataset and cached on disk, keyed by a fingerprint of the data, so runs on the
same data share it and a changed dataset can never reuse a stale judge. Training is deterministic and uses only
its own ``torch.Generator``: it must not perturb the global RNG that GAN runs rely on for reproducibility.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.atomic import write_atomically

__all__ = [
    "FEATURE_DIM",
    "ImageJudge",
    "QualityClassifier",
    "cached_judge",
    "data_fingerprint",
    "frechet_distance",
    "judge_epochs",
    "judge_split",
    "load_judge",
]

FEATURE_DIM = 64
"""Width of the penultimate layer, i.e. the space in which ``fd`` is measured."""

JUDGE_VERSION = 2
"""Bumped whenever the architecture or training recipe changes, so old cache files are not reused."""

SEED = 0
POOLED_SIDE = 4
"""The last feature map is pooled to 4×4, not 1×1: keeping coarse layout raises held-out accuracy at the same
training budget, most on Fashion-MNIST, whose shirts, coats and pullovers differ mostly in where their mass is."""
HELD_OUT_FRACTION = 0.15
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
TARGET_SAMPLES = 60_000
"""Training images the judge should see in total (rounded up to whole epochs). Small sets need many epochs to
classify well; big sets get one or two, which bounds the cost per image. A judge trained that briefly on a big set
is a mediocre classifier, but good enough to see dropped classes, and its fd still puts noise far further from the
real statistics than real images."""
MIN_EPOCHS = 1
MAX_EPOCHS = 50
COVERAGE_SHARE = 0.25
"""A class counts as covered when it gets at least this share of the predictions it would get on real data."""
EVAL_BATCH = 1024
_KL_FLOOR = 1e-12
"""Floor on reference class frequencies so ``class_kl`` stays finite (JSON-safe) if the judge predicts a class
that never occurred in the training labels."""


class QualityClassifier(nn.Module):
    """A small CNN for [N, C, H, W] images with sides of 8..32 pixels.

    It is deliberately tiny: it only has to be good enough to tell classes apart and give a feature space in
    which real and generated images are comparable, and it has to train in seconds on a CPU. Adaptive pooling
    makes the same architecture fit any image side. Parameters are allocated on the meta device and then
    initialised from ``generator`` (PyTorch's default uniform fan-in scheme), so building one never consumes the
    global RNG when a generator is given.
    """

    def __init__(self, in_channels: int, num_classes: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if in_channels < 1 or num_classes < 1:
            raise ValueError(f"in_channels and num_classes must be positive, got {in_channels}, {num_classes}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1, device="meta")
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1, device="meta")
        self.conv3 = nn.Conv2d(64, 64, 3, stride=2, padding=1, device="meta")
        self.fc = nn.Linear(64 * POOLED_SIDE**2, FEATURE_DIM, device="meta")
        self.head = nn.Linear(FEATURE_DIM, num_classes, device="meta")
        self.to_empty(device="cpu")
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-initialise like PyTorch's defaults (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) but from ``generator``.

        ``nn.init`` would draw from the global RNG; drawing from our own generator is what makes judge training
        reproducible without touching global state.
        """
        for layer in (self.conv1, self.conv2, self.conv3, self.fc, self.head):
            fan_in = layer.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            layer.weight.uniform_(-bound, bound, generator=generator)
            assert layer.bias is not None  # every layer above is built with a bias
            layer.bias.uniform_(-bound, bound, generator=generator)

    def features(self, x: Tensor) -> Tensor:
        """The 64-d penultimate features (the Linear output before its ReLU).

        Taken before the ReLU so they are not half-clipped at zero: a Gaussian fit, which ``fd`` relies on,
        describes them better.
        """
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.conv2(h), 0.2)
        h = F.leaky_relu(self.conv3(h), 0.2)
        h = F.adaptive_avg_pool2d(h, POOLED_SIDE).flatten(1)  # (N, 64 * POOLED_SIDE**2)
        return self.fc(h)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits."""
        return self.head(F.relu(self.features(x)))


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2), computed in float64.

    ``|mu1 - mu2|^2 + tr(cov1) + tr(cov2) - 2 tr((sqrt(cov1) cov2 sqrt(cov1))^(1/2))``. The trace of the matrix
    square root is taken from the eigenvalues of the symmetric PSD matrix ``sqrt(cov1) cov2 sqrt(cov1)``
    (negative round-off eigenvalues clamped to 0), which is stable, needs no scipy, and never yields complex
    values the way ``sqrtm(cov1 @ cov2)`` can.
    """
    mu1, cov1, mu2, cov2 = (torch.as_tensor(t).detach().to("cpu", torch.float64) for t in (mu1, cov1, mu2, cov2))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(
            f"shape mismatch: mu1 {tuple(mu1.shape)}, cov1 {tuple(cov1.shape)}, "
            f"mu2 {tuple(mu2.shape)}, cov2 {tuple(cov2.shape)}"
        )
    sqrt1 = _psd_sqrt(cov1)
    middle = sqrt1 @ cov2 @ sqrt1
    middle = (middle + middle.T) / 2
    tr_covmean = torch.linalg.eigvalsh(middle).clamp_min(0).sqrt().sum()
    diff = mu1 - mu2
    value = diff @ diff + torch.trace(cov1) + torch.trace(cov2) - 2 * tr_covmean
    # Round-off can push a true 0 slightly negative; a distance never is.
    return max(float(value), 0.0)


def _psd_sqrt(cov: Tensor) -> Tensor:
    """Symmetric square root of a (numerically) PSD matrix; tiny negative eigenvalues are treated as 0."""
    sym = (cov + cov.T) / 2
    eigvals, eigvecs = torch.linalg.eigh(sym)
    return (eigvecs * eigvals.clamp_min(0).sqrt()) @ eigvecs.T


def _gaussian_fit(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance of [N, D] features, in float64 (float32 loses too much in the trace term)."""
    f = features.to(torch.float64)
    return f.mean(0), torch.cov(f.T, correction=1).reshape(f.shape[1], f.shape[1])


@dataclass
class ImageJudge:
    """A trained, frozen classifier plus the real-data statistics generated samples are compared with."""

    classifier: QualityClassifier
    real_mu: Tensor
    real_cov: Tensor
    class_freq: Tensor
    held_out_accuracy: float

    @torch.no_grad()
    def evaluate(self, images: Tensor, labels: Tensor | None = None) -> dict[str, float]:
        """Score a batch of generated (or real) images.

        images: [N, C, H, W] in [-1, 1], any device (moved to the classifier's device), N >= 2.
        labels: optional [N] class labels the generator was conditioned on.

        Returns
        - ``class_coverage``: number of classes (as float) that receive at least 25% of their expected share
          (``class_freq * N``) of argmax predictions; classes absent from the training labels are not counted.
        - ``class_kl``: KL(p_hat || class_freq), p_hat the predicted-class histogram (empty classes contribute 0).
        - ``fd``: Fréchet distance between N(real_mu, real_cov) and the Gaussian fitted to the images' features.
          Like FID it is biased upwards for small N, so compare values computed from the same N.
        - ``label_accuracy`` (only when ``labels`` is given): share of images whose argmax equals the label.
        """
        if images.ndim != 4 or images.shape[1] != self.classifier.in_channels:
            raise ValueError(f"expected images [N, {self.classifier.in_channels}, H, W], got {tuple(images.shape)}")
        n = images.shape[0]
        if n < 2:
            raise ValueError(f"need at least 2 images to fit a covariance, got {n}")
        if labels is not None and labels.shape != (n,):
            raise ValueError(f"expected labels of shape ({n},), got {tuple(labels.shape)}")

        device = next(self.classifier.parameters()).device
        features, preds = _features_and_predictions(self.classifier, images, device)

        freq = self.class_freq.to("cpu", torch.float64)
        counts = torch.bincount(preds, minlength=freq.shape[0]).to(torch.float64)
        present = freq > 0
        covered = (counts >= COVERAGE_SHARE * freq * n) & present
        p_hat = counts / n
        nonzero = p_hat > 0
        kl = (p_hat[nonzero] * (p_hat[nonzero] / freq[nonzero].clamp_min(_KL_FLOOR)).log()).sum()

        mu, cov = _gaussian_fit(features)
        result = {
            "class_coverage": float(covered.sum()),
            "class_kl": max(float(kl), 0.0),
            "fd": frechet_distance(self.real_mu, self.real_cov, mu, cov),
        }
        if labels is not None:
            result["label_accuracy"] = float((preds == labels.to("cpu", torch.long)).to(torch.float64).mean())
        return result


def _features_and_predictions(
    classifier: QualityClassifier, images: Tensor, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Features (float64, CPU) and argmax predictions (CPU) in batches, so large sample sets fit in memory."""
    feats: list[Tensor] = []
    preds: list[Tensor] = []
    with torch.no_grad():
        for start in range(0, images.shape[0], EVAL_BATCH):
            batch = images[start : start + EVAL_BATCH].to(device=device, dtype=torch.float32)
            f = classifier.features(batch)
            logits = classifier.head(F.relu(f))
            feats.append(f.to("cpu", torch.float64))
            preds.append(logits.argmax(1).to("cpu"))
    return torch.cat(feats), torch.cat(preds)


# ------------------------------------------------------------------------------------------------ training


def judge_split(n: int) -> tuple[Tensor, Tensor]:
    """The fixed 85/15 (train, held-out) index split of n examples, from a seeded permutation.

    Public so callers (and tests) can reproduce exactly which images the judge never trained on.
    """
    gen = torch.Generator().manual_seed(SEED)
    perm = torch.randperm(n, generator=gen)
    n_held = max(1, round(n * HELD_OUT_FRACTION))
    return perm[n_held:], perm[:n_held]


def judge_epochs(n_train: int) -> int:
    """Epochs for a training split of n_train images: about TARGET_SAMPLES images seen, within [1, 50] epochs.

    digits (1527 training images) gets 40 epochs, fashion-mnist (51000) 2, and any set of 60k+ training images 1,
    so training time grows no faster than the data and is bounded per image.
    """
    return min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_SAMPLES / max(n_train, 1))))


def data_fingerprint(x: Tensor, y: Tensor) -> str:
    """A short sha256 over the tensors' dtypes, shapes and bytes (plus the judge recipe version).

    The cache key must change whenever the data does, so a judge is never reused for a different dataset that
    happens to share a name.
    """
    h = hashlib.sha256(f"judge-v{JUDGE_VERSION}".encode())
    for t in (x, y):
        flat = t.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(flat.view(torch.uint8).numpy().data)
    return h.hexdigest()[:16]


class JudgePayload(TypedDict):
    """What the cache file holds: the classifier's weights and the statistics of the held-out real images."""

    version: int
    in_channels: int
    num_classes: int
    state_dict: dict[str, Tensor]
    real_mu: Tensor
    real_cov: Tensor
    class_freq: Tensor
    held_out_accuracy: float


Progress = Callable[[float], None]
"""Told the fraction of the judge's preparation done so far, in (0, 1], rising, ending at exactly 1.0."""


def _train_judge(
    x: Tensor, y: Tensor, num_classes: int, device: torch.device, progress: Progress | None = None
) -> JudgePayload:
    """Train the classifier and compute the held-out statistics; returns the cache payload.

    Deterministic on CPU: init and shuffling draw from a private generator, there is no dropout or other
    randomness, and no global torch setting is read or changed beyond what any forward pass uses. ``progress``
    hears after every batch (the held-out statistics count as one more batch), so a caller can extrapolate
    the time left from the time spent.
    """
    x_cpu = x.detach().to("cpu", torch.float32)
    y_cpu = y.detach().to("cpu", torch.long)
    train_idx, held_idx = judge_split(x_cpu.shape[0])

    gen = torch.Generator().manual_seed(SEED)
    model = QualityClassifier(x_cpu.shape[1], num_classes, generator=gen).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    x_train, y_train = x_cpu[train_idx], y_cpu[train_idx]
    n_train = x_train.shape[0]
    epochs = judge_epochs(n_train)
    total = epochs * math.ceil(n_train / BATCH_SIZE) + 1  # + 1: the held-out statistics
    done = 0

    model.train()
    with torch.enable_grad():
        for _ in range(epochs):
            order = torch.randperm(n_train, generator=gen)
            for start in range(0, n_train, BATCH_SIZE):
                idx = order[start : start + BATCH_SIZE]
                logits = model(x_train[idx].to(device))
                loss = F.cross_entropy(logits, y_train[idx].to(device))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                done += 1
                if progress is not None:
                    progress(done / total)
    model.eval().requires_grad_(False)

    features, preds = _features_and_predictions(model, x_cpu[held_idx], device)
    real_mu, real_cov = _gaussian_fit(features)
    held_out_accuracy = float((preds == y_cpu[held_idx]).to(torch.float64).mean())
    class_freq = torch.bincount(y_train, minlength=num_classes).to(torch.float64) / n_train
    payload: JudgePayload = {
        "version": JUDGE_VERSION,
        "in_channels": int(x_cpu.shape[1]),
        "num_classes": int(num_classes),
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
        "real_mu": real_mu,
        "real_cov": real_cov,
        "class_freq": class_freq,
        "held_out_accuracy": held_out_accuracy,
    }
    if progress is not None:
        progress(1.0)
    return payload


def _judge_from_payload(payload: JudgePayload, device: torch.device) -> ImageJudge:
    """Rebuild a frozen judge from a cache payload (as saved, or as just trained)."""
    # A throwaway generator: the weights are overwritten anyway, and the global RNG must stay untouched.
    model = QualityClassifier(int(payload["in_channels"]), int(payload["num_classes"]), generator=torch.Generator())
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval().requires_grad_(False)
    return ImageJudge(
        classifier=model,
        real_mu=payload["real_mu"].to(torch.float64),
        real_cov=payload["real_cov"].to(torch.float64),
        class_freq=payload["class_freq"].to(torch.float64),
        held_out_accuracy=float(payload["held_out_accuracy"]),
    )


def _read_cache(path: Path, in_channels: int, num_classes: int) -> JudgePayload | None:
    """The cached payload, or None when absent, unreadable or from another recipe (then we retrain)."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        return None
    if (
        not isinstance(payload, dict)
        or payload.get("version") != JUDGE_VERSION
        or payload.get("in_channels") != in_channels
        or payload.get("num_classes") != num_classes
    ):
        return None
    # Written by _train_judge of this JUDGE_VERSION (checked above) and read back with weights_only.
    return cast(JudgePayload, payload)


def _cache_path(dataset_name: str, x: Tensor, y: Tensor, num_classes: int, cache_dir: Path) -> Path:
    """Checks the arguments of a judge, then names its cache file."""
    if x.ndim != 4:
        raise ValueError(f"expected x [N, C, H, W], got {tuple(x.shape)}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"expected y of shape ({x.shape[0]},), got {tuple(y.shape)}")
    if x.shape[0] < 20:
        raise ValueError(f"need at least 20 labelled images to train and check a judge, got {x.shape[0]}")
    if num_classes < 1 or int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}]")
    return Path(cache_dir) / "judges" / f"{dataset_name}-{data_fingerprint(x, y)}.pt"


def cached_judge(
    dataset_name: str,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    cache_dir: Path,
    device: str | torch.device = "cpu",
) -> ImageJudge | None:
    """The judge ``load_judge`` would give when its cache file is there and valid, else None; never trains."""
    path = _cache_path(dataset_name, x, y, num_classes, cache_dir)
    payload = _read_cache(path, int(x.shape[1]), num_classes)
    return None if payload is None else _judge_from_payload(payload, torch.device(device))


def load_judge(
    dataset_name: str,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    cache_dir: Path,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> ImageJudge:
    """The judge for a labelled image dataset: loaded from ``cache_dir/judges`` or trained (and cached) once.

    x: [N, C, H, W] images in [-1, 1]; y: [N] integer labels in [0, num_classes). Training runs on ``device``;
    it is bit-reproducible on CPU (GPU kernels may differ in the last bits). The cache file is keyed by
    ``data_fingerprint(x, y)``, so a changed dataset retrains rather than reusing a wrong judge. ``progress``
    follows the training (a cache hit reports 1.0 at once).
    """
    device = torch.device(device)
    path = _cache_path(dataset_name, x, y, num_classes, cache_dir)
    payload = _read_cache(path, int(x.shape[1]), num_classes)
    if payload is None:
        trained = _train_judge(x, y, num_classes, device, progress)
        write_atomically(path, lambda f: torch.save(trained, f))
        payload = trained
    elif progress is not None:
        progress(1.0)
    return _judge_from_payload(payload, device)
