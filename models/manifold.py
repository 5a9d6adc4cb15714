"""The generator's manifold, as GAN Lab draws it: G's image of a square grid of latent points.

With ``z_dim`` 2 the grid is the whole latent plane and its image is G's warp of it; with more latent dimensions it
is a plane through the prior's centre spanned by two fixed orthonormal directions, so the picture is one 2D slice
of a manifold G folds into the data space. Lines of the grid stay lines in the picture (the page joins
neighbouring points), which is what shows how G stretches, folds and tears the prior.
"""

from __future__ import annotations

import torch
from torch import nn

from models.trainer import sampling_mode

MANIFOLD_SIDE = 15  # grid points per side: 225 forward passes, about 3 kB of a field frame
MANIFOLD_EXTENT = 2.0  # the grid spans ±2 prior standard deviations along each direction: ~95 % of the prior's mass


def slice_directions(z_dim: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(2, z_dim) rows spanning the latent plane drawn: the two latent axes when ``z_dim`` is 2 (the warped grid
    itself), else a random orthonormal pair fixed by ``seed`` (no pair of axes is special to G). With one latent
    dimension the second direction is 0: every grid row is the same line, and the picture is G's curve."""
    if z_dim == 1:
        return torch.tensor([[1.0], [0.0]], device=device)
    if z_dim == 2:
        return torch.eye(2, device=device)
    rng = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(z_dim, 2, generator=rng))  # (z_dim, 2) orthonormal columns
    q = q * torch.where(torch.diagonal(r) < 0, -1.0, 1.0)  # QR's signs made unique: the same plane every call
    return q.T.contiguous().to(device)


def latent_grid(
    z_dim: int,
    side: int = MANIFOLD_SIDE,
    extent: float = MANIFOLD_EXTENT,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(side, side, z_dim) latent points: row i at the second coordinate a_i, column j at the first a_j, with
    a = linspace(−extent, extent, side), i.e. z = a_j·u + a_i·v for the plane's directions (u, v)."""
    if side < 2:
        raise ValueError(f"side: a grid needs at least 2 points a side, not {side}")
    directions = slice_directions(z_dim, seed, device)  # (2, z_dim)
    axis = torch.linspace(-extent, extent, side, device=device)
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")  # (side, side) each: rows[i, j] = axis[i]
    coords = torch.stack([cols, rows], dim=-1)  # (side, side, 2): (first, second) coordinate in the plane
    return coords @ directions  # (side, side, z_dim)


def manifold(
    generator: nn.Module,
    z_dim: int,
    side: int = MANIFOLD_SIDE,
    extent: float = MANIFOLD_EXTENT,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """(side, side, *sample shape) G's image of ``latent_grid``: point [i, j] is G(z[i, j]). An unconditional G
    only (a conditional one has a manifold per label). Sampled as the run samples (``sampling_mode``: no gradient,
    no running-statistics update), so drawing it never perturbs training."""
    z = latent_grid(z_dim, side, extent, seed, device)  # (side, side, z_dim)
    with sampling_mode(generator):
        images = generator(z.reshape(side * side, z_dim))  # (side², *sample shape)
    return images.reshape(side, side, *images.shape[1:])
