"""The latent space of an autoencoder run: where the encoder puts the data, beside where the prior puts its mass.

A fixed, seeded set of data points (the same points every frame, so the picture moves only because the encoder
learns) is encoded — the VAE's mean μ of q(z|x), the AE's code z — and each point is labelled: for mixture data
by the mode it lies nearest to, for labelled images by its class. A 2D code is shown as it is (axes "z1", "z2");
a longer one is projected onto the first two principal components of the codes (axes "PC1", "PC2"), recomputed
every frame. The projection is of the codes themselves, not of the centred codes, so z = 0 stays the origin, and
since the projection of N(0, I_d) onto any two orthonormal directions is N(0, I₂), the prior's 1σ and 2σ circles
are drawn there whatever the code's length: the AE's lesson (its codes land away from where the prior puts its
mass, so decoding prior draws lands off the data) and the VAE's repair are both in one picture.

An eigenvector's sign is arbitrary, so each frame's components are turned to agree with the previous frame's (a
``LatentView`` keeps them), and the first frame's follow a fixed convention (each component's largest entry
positive): the picture does not mirror from one frame to the next unless the encoder itself turns round.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from models.datasets import Dataset
from models.families.ae import AutoEncoder
from models.field import FRAME_DECIMALS
from models.trainer import Trainer, sampling_mode

# Data points encoded per frame: enough to see every mode's or class's cloud. Encoding an image costs about what
# decoding one does, so an image run encodes fewer (the README's "Model families beside the GAN" gives the costs).
LATENT_POINTS_2D = 512
LATENT_POINTS_IMAGES = 256
LATENT_SEED_OFFSET = 15_485_863  # the points' own draw, apart from every other stream seeded from the run's seed
PRIOR_RADII = (1.0, 2.0)  # the prior's circles: 1σ and 2σ of N(0, I) in the plane shown


def prior_mass(radius: float, dims: int) -> float:
    """The share of N(0, I_dims) within ``radius`` of 0, for the plane shown (dims 2) or a 1-D code's line:
    1 − exp(−r²/2) in 2D, erf(r/√2) in 1D."""
    if dims == 1:
        return math.erf(radius / math.sqrt(2))
    return 1 - math.exp(-(radius**2) / 2)


def principal_axes(codes: torch.Tensor, reference: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first two principal directions of ``codes`` (N, d), d ≥ 2, as rows of a (2, d) tensor, and the share
    of the codes' total variance along each, (2,). Each direction's sign makes it agree with the same row of
    ``reference`` (the previous frame's axes) where one is given, else puts its largest entry positive."""
    codes = codes.double()
    codes = codes[torch.isfinite(codes).all(dim=1)]  # a diverging encoder's NaN codes would stop the solver
    if codes.shape[0] < 2:
        axes = torch.eye(2, codes.shape[1], dtype=torch.float64) if reference is None else reference.double()
        return axes, torch.zeros(2, dtype=torch.float64)
    centred = codes - codes.mean(dim=0)  # (N, d)
    covariance = centred.T @ centred / max(codes.shape[0] - 1, 1)  # (d, d)
    values, vectors = torch.linalg.eigh(covariance)  # ascending
    axes = vectors[:, [-1, -2]].T.contiguous()  # (2, d): PC1, PC2
    share = values[[-1, -2]].clamp_min(0) / values.clamp_min(0).sum().clamp_min(1e-300)  # (2,)
    if reference is not None and reference.shape == axes.shape:
        agreement = (axes * reference.to(axes)).sum(dim=1)  # (2,)
    else:
        agreement = axes.gather(1, axes.abs().argmax(dim=1, keepdim=True)).squeeze(1)  # each row's largest entry
    signs = torch.where(agreement < 0, -1.0, 1.0).to(axes)  # (2,)
    return axes * signs[:, None], share


def point_labels(data: Dataset, index: torch.Tensor) -> tuple[list[int] | None, str | None, int]:
    """Labels of the data points at ``index``, what they are ("mode", "class", or None) and how many there can be:
    mixture data by the nearest mode centre, labelled images by class; other data (a spiral, moons, a drawing, an
    unlabelled upload) has none."""
    if data.centers is not None and not data.is_image and data.x.shape[1] == data.centers.shape[1]:
        points = data.x[index.to(data.x.device)].float()
        nearest = torch.cdist(points, data.centers.to(points).float()).argmin(dim=1)  # (n,)
        return nearest.tolist(), "mode", int(data.centers.shape[0])
    if data.is_image and data.y is not None:
        return data.y[index.to(data.y.device)].tolist(), "class", int(data.num_classes)
    return None, None, 0


class LatentView:
    """The latent-space picture of one run: its fixed points and their labels, chosen once, and the axes of the
    last frame (so the next frame's principal components keep their signs). ``frame(model)`` gives each frame."""

    def __init__(self, data: Dataset, seed: int, n: int | None = None):
        total = data.x.shape[0]
        if n is None:
            n = LATENT_POINTS_IMAGES if data.is_image else LATENT_POINTS_2D
        rng = torch.Generator().manual_seed(seed + LATENT_SEED_OFFSET)
        index = torch.randperm(total, generator=rng)[: min(n, total)].sort().values  # (n,) on the CPU
        self.x = data.x[index.to(data.x.device)]  # (n, *sample_shape)
        self.labels, self.label_kind, self.label_count = point_labels(data, index)
        self.axes: torch.Tensor | None = None  # (2, d) the last frame's principal directions, for codes longer than 2

    def frame(self, model: AutoEncoder) -> dict[str, Any]:
        """This frame's picture: ``latent``, each point's [x, y] in the plane shown (a list of n pairs, so a
        binary frame carries it as an array), and ``latent_info``: ``axes`` (["z1", "z2"], or ["PC1", "PC2"] with
        ``explained``, the share of the codes' variance along each), ``z_dim``, ``encoding`` ("mean" of q(z|x) for
        a VAE, "code" for an AE), ``labels`` with ``label_kind`` and ``label_count``, the prior's circles
        (``prior_radii`` and the ``prior_mass`` inside each) and ``inside_2sigma``, the share of the codes inside
        the outer one (the prior puts ``prior_mass[1]`` there)."""
        with sampling_mode(model):
            codes, _ = model.encode(self.x)  # (n, d): μ for the VAE, z for the AE
        codes = codes.detach().double().cpu()
        d = codes.shape[1]
        explained: list[float] | None = None
        if d == 1:
            plane = torch.cat([codes, torch.zeros_like(codes)], dim=1)  # (n, 2) along a line
            names = ["z1", ""]
        elif d == 2:
            plane = codes
            names = ["z1", "z2"]
        else:
            self.axes, share = principal_axes(codes, self.axes)
            plane = codes @ self.axes.T  # (n, 2): projected, not centred, so z = 0 stays the origin
            names = ["PC1", "PC2"]
            explained = [round(float(s), 4) for s in share]
        inside = float((plane.norm(dim=1) <= PRIOR_RADII[-1]).double().mean())
        dims = min(d, 2)
        return {
            "latent": plane.round(decimals=FRAME_DECIMALS).tolist(),
            "latent_info": {
                "axes": names,
                "explained": explained,
                "z_dim": d,
                "encoding": "mean" if model.variational else "code",
                "labels": self.labels,
                "label_kind": self.label_kind,
                "label_count": self.label_count,
                "prior_radii": list(PRIOR_RADII),
                "prior_mass": [round(prior_mass(r, dims), 4) for r in PRIOR_RADII],
                "inside_2sigma": round(inside, 4),
            },
        }


def latent_view(trainer: Trainer) -> LatentView | None:
    """The latent view of a run whose model encodes (AE, VAE); None for every other family, whose frames carry
    none."""
    if not isinstance(trainer.generator, AutoEncoder):
        return None
    return LatentView(trainer.data, trainer.config.seed)
