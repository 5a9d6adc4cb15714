"""Samples from a checkpoint, and the PNG pictures of them: an image grid, or a scatter plot for 2D points.

Sampling rebuilds only the generator from the checkpoint's own config and data description; the dataset is
never loaded, so serving samples from a Fashion-MNIST run costs one generator forward pass.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from models.config import RunConfig
from models.networks import build_networks
from models.trainer import generate, resolve_device

SCATTER_SIZE = 512  # pixels a side of the scatter plot of 2D samples


@dataclass(frozen=True)
class LoadedGenerator:
    generator: nn.Module
    config: RunConfig
    meta: dict[str, Any]
    step: int
    device: torch.device


def load_generator(state: dict[str, Any], device: str | torch.device = "cpu") -> LoadedGenerator:
    """The generator of a checkpoint (from ``models.checkpoint.load_checkpoint``), ready to sample."""
    config: RunConfig = state["config"]
    meta = state["data"]
    dev = resolve_device(str(device))
    g, _ = build_networks(
        config.model,
        tuple(meta["sample_shape"]),
        meta["num_classes"],
        config.tricks.pack,
        torch.Generator().manual_seed(0),
    )
    g.load_state_dict(state["generator"])
    return LoadedGenerator(g.to(dev), config, meta, int(state["step"]), dev)


def sample(loaded: LoadedGenerator, n: int, seed: int, label: int | None = None) -> torch.Tensor:
    """``n`` samples for a fixed ``seed`` (the same seed gives the same samples); ``label`` for a conditional G."""
    if n < 1:
        raise ValueError(f"n: must be at least 1, not {n}")
    num_classes = loaded.meta["num_classes"]
    labels = None
    if label is not None:
        if not loaded.config.model.conditional:
            raise ValueError("label: this run is not conditional")
        if not 0 <= label < num_classes:
            raise ValueError(f"label: must lie in [0, {num_classes - 1}]")
        labels = torch.full((n,), label, dtype=torch.long)
    return generate(loaded.generator, loaded.config, n, seed, loaded.device, labels, num_classes).cpu()


def grid_layout(n: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) of ``image_grid``'s picture of ``n`` tiles."""
    cols = columns or math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def grid_pixels(n: int, shape: tuple[int, ...] | list[int], scale: int = 1) -> int:
    """Bytes of ``image_grid``'s uncompressed picture of ``n`` images of ``shape`` (C, H, W), known before drawing."""
    c, h, w = shape
    rows, cols = grid_layout(n)
    return (rows * (h + 1) + 1) * (cols * (w + 1) + 1) * c * scale * scale


def png_scale(side: int) -> int:
    """How much ``samples_png`` enlarges tiles of ``side`` pixels: small images are drawn at least 64 px wide."""
    return max(1, 64 // side)


def image_grid(images: torch.Tensor, columns: int | None = None, scale: int = 1) -> Image.Image:
    """(N, C, H, W) in [−1, 1] → one picture, tiles separated by a 1 px border."""
    n, c, h, w = images.shape
    rows, cols = grid_layout(n, columns)
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (N,H,W,C)
    canvas = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, c), 40, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w] = pixels[i]
    picture = Image.fromarray(canvas[:, :, 0] if c == 1 else canvas)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    return picture


def scatter_plot(
    points: torch.Tensor, bounds: list[float], centers: list[list[float]] | None = None, size: int = SCATTER_SIZE
) -> Image.Image:
    """2D samples as dots over the data's bounding box, mode centres as rings; 1-D samples (the Dirac-GAN's) on a
    number line."""
    if points.shape[1] == 1:
        return _number_line(points[:, 0], bounds, size)
    xmin, xmax, ymin, ymax = bounds
    picture = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(picture)

    def to_pixel(x: float, y: float) -> tuple[float, float]:
        return (x - xmin) / (xmax - xmin) * (size - 1), (ymax - y) / (ymax - ymin) * (size - 1)

    for cx, cy in centers or []:
        px, py = to_pixel(cx, cy)
        draw.ellipse((px - 6, py - 6, px + 6, py + 6), outline=(0, 128, 0), width=2)
    for x, y in points.tolist():
        px, py = to_pixel(x, y)
        draw.ellipse((px - 1.5, py - 1.5, px + 1.5, py + 1.5), fill=(200, 40, 40))
    return picture


def _number_line(values: torch.Tensor, bounds: list[float], size: int) -> Image.Image:
    """1-D samples as dots on a horizontal line that spans the data's range (green) and every sample."""
    lo, hi = min(bounds[0], float(values.min())), max(bounds[1], float(values.max()))
    pad = 0.1 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    picture = Image.new("RGB", (size, size // 4), "white")
    draw = ImageDraw.Draw(picture)
    mid = size // 8

    def to_pixel(x: float) -> float:
        return (x - lo) / (hi - lo) * (size - 1)

    draw.line((0, mid, size - 1, mid), fill=(160, 160, 160), width=1)
    draw.rectangle((to_pixel(bounds[0]), mid - 8, to_pixel(bounds[1]), mid + 8), outline=(0, 128, 0), width=2)
    for x in values.tolist():
        px = to_pixel(x)
        draw.ellipse((px - 3, mid - 3, px + 3, mid + 3), fill=(200, 40, 40))
    return picture


def samples_png(loaded: LoadedGenerator, samples: torch.Tensor) -> bytes:
    """The picture of ``samples`` that suits the run's data, as PNG bytes."""
    if loaded.meta["is_image"]:
        picture = image_grid(samples, scale=png_scale(samples.shape[-1]))
    else:
        picture = scatter_plot(samples, loaded.meta["bounds"], loaded.meta.get("centers"))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
