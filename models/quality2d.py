"""Mode coverage and sample quality for Gaussian-mixture data, as in PacGAN (Lin et al. 2018) and VEEGAN.

A sample is high quality if it lies within 3σ of its nearest mode centre; a mode is covered if it is the
nearest centre of at least one high-quality sample; reverse KL compares the histogram of high-quality samples
over modes with the uniform distribution, empty modes left out (so a collapse onto one mode scores log M).
"""

from __future__ import annotations

import math

import torch


def mode_counts(samples: torch.Tensor, centers: torch.Tensor, std: float) -> torch.Tensor:
    """High-quality samples per mode, (M,) float64: the one place the 3σ rule lives, shared by the metrics and
    the field view's covered/uncovered marks."""
    dist = torch.cdist(samples.float(), centers.float())  # (N, M)
    nearest_dist, nearest = dist.min(dim=1)  # (N,), (N,)
    hq = nearest_dist <= 3 * std
    return torch.bincount(nearest[hq], minlength=centers.shape[0]).double()  # (M,)


def mode_quality(samples: torch.Tensor, centers: torch.Tensor, std: float) -> dict[str, float]:
    """``samples`` (N, 2) and ``centers`` (M, 2) in the same units as ``std``."""
    counts = mode_counts(samples, centers, std)  # (M,)
    n_hq = counts.sum().item()
    modes = centers.shape[0]
    if n_hq == 0:
        reverse_kl = math.log(modes)  # nothing lands anywhere: as bad as a full collapse
    else:
        p = counts[counts > 0] / n_hq
        reverse_kl = float((p * (p * modes).log()).sum())
    return {
        "modes_covered": float((counts > 0).sum().item()),
        "hq_fraction": n_hq / samples.shape[0],
        "reverse_kl": reverse_kl,
    }


def mode_distribution(samples: torch.Tensor, centers: torch.Tensor, std: float) -> torch.Tensor:
    """The share of ``samples`` on each mode by the 3σ rule, plus a last bin for those off every mode: (M + 1,)
    float64 summing to 1. A generator moving its mass off the modes moves it somewhere ``mode_drift`` sees."""
    counts = mode_counts(samples, centers, std)  # (M,)
    off = samples.shape[0] - counts.sum()
    return torch.cat([counts, off.reshape(1)]) / samples.shape[0]  # (M + 1,)


def mode_drift(previous: torch.Tensor, current: torch.Tensor) -> float:
    """Total-variation distance ½·Σ|pₜ − pₜ₋₁| between two ``mode_distribution``s: the share of the samples that
    changed mode (or left the modes) since the previous measurement. 0 is a generator that keeps its modes, 1 one
    that has moved everything elsewhere: the hopping of a GAN that circles instead of converging.

    The trainer measures on a fixed latent, so a generator that does not change scores exactly 0; one that still
    learns but keeps its modes scores a little above, from the few samples that cross a mode's 3σ edge."""
    if previous.shape != current.shape:
        raise ValueError(f"mode distributions over different modes: {tuple(previous.shape)} vs {tuple(current.shape)}")
    return 0.5 * float((current - previous).abs().sum())
