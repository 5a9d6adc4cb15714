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
