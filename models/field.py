"""GAN Lab's views of a 2D run: D's verdict over the plane, and where G's loss pushes each generated point.

The server ships these to the page every few steps; all tensor maths stays here.
"""

from __future__ import annotations

from typing import Any

import torch

from models import tricks
from models.losses import LOSSES
from models.quality2d import mode_counts
from models.trainer import Trainer

FRAME_DECIMALS = 3  # a thousandth of the data's scale is far below a pixel; full floats make frames far longer


def _rounded(values: torch.Tensor) -> list[Any]:
    return values.float().round(decimals=FRAME_DECIMALS).tolist()


def field_frame(trainer: Trainer, n: int, resolution: int, seed: int) -> dict[str, Any]:
    """Samples, D's readout on a ``resolution``² grid over the data's bounds (row-major, y from ``ymin`` up) and
    the unit direction −∇ₓ g_loss at each sample: the way G's loss pulls that point. Beside them: ``real``,
    ``n`` data points taken at an even stride (a fixed subset that spans the data even when it is stored in
    order, as a spiral is), and for mixture
    data the mode ``centers`` with ``covered`` flags by the same 3σ rule as ``modes_covered``."""
    if trainer.data.is_image or trainer.config.model.conditional:
        raise ValueError("field frames exist for unconditional 2D runs only")
    xmin, xmax, ymin, ymax = trainer.data.bounds
    device = trainer.device
    loss = LOSSES[trainer.config.train.loss]
    d = trainer.discriminator
    was_training = d.training
    d.eval()  # no batch statistics mixed across the grid, no running-stat updates
    try:
        xs = torch.linspace(xmin, xmax, resolution, device=device)
        ys = torch.linspace(ymin, ymax, resolution, device=device)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)  # (R², 2)
        pack = trainer.config.tricks.pack
        with torch.no_grad():
            # A packed D judges m points at once: score each grid point as m copies of itself.
            verdict = loss.readout(d(tricks.pack(grid.repeat_interleave(pack, 0), pack)))  # (R²,)
        samples = trainer.sample(n - n % pack or pack, seed).detach().requires_grad_(True)  # (n, 2)
        g_loss = loss.g_loss(d(tricks.pack(samples, pack)))
        (grad,) = torch.autograd.grad(g_loss, samples)
        direction = -grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (n, 2) unit vectors
    finally:
        d.train(was_training)
    data = trainer.data
    centers = covered = None
    if data.centers is not None and data.std is not None:
        centers = data.centers.tolist()
        covered = (mode_counts(samples.detach(), data.centers, data.std) > 0).tolist()
    return {
        "bounds": [xmin, xmax, ymin, ymax],
        "resolution": resolution,
        "d": _rounded(verdict.reshape(resolution, resolution)),
        "samples": _rounded(samples.detach()),
        "directions": _rounded(direction),
        "real": _rounded(data.x[:: max(1, data.x.shape[0] // n)][:n]),
        "centers": centers,
        "covered": covered,
    }
