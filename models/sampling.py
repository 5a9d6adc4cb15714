"""Samples from a checkpoint (of any model family: ``models.families``), and the PNG pictures of them: an image
grid, or a scatter plot for 2D points; and latent walks, G along a spherical path between two seeds' latents.

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
from models.families import get_family
from models.trainer import resolve_device, sampling_mode

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
    g, _ = get_family(config.model.family).build(config, meta, torch.Generator().manual_seed(0))
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
    family = get_family(loaded.config.model.family)
    return family.sample(loaded.generator, loaded.config, n, seed, loaded.device, labels, num_classes).cpu()


# ----------------------------------------------------------------------------------------- latent walks

WALK_MAX_STEPS = 16  # samples along one walk: more are too small to tell apart in a strip


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from latent ``a`` to ``b`` (each (z_dim,)) at the fractions ``t`` (T,) → (T, z_dim)
    (Shoemake 1985; White 2016 for GAN latents). A Gaussian latent's mass lies near a sphere of radius √z_dim; the
    straight line between two latents cuts through the sphere's inside, where G was never trained, while the arc
    keeps to it (two latents of equal norm give points of that norm all along). Nearly parallel latents, whose arc
    is a line, are interpolated linearly."""
    t = t.to(a.dtype)[:, None]  # (T, 1)
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)  # (T, z_dim)


def seed_latent(z_dim: int, seed: int, device: torch.device) -> torch.Tensor:
    """(z_dim,) the first latent ``generate`` draws for ``seed``: a walk from seed a starts at sample 0 of seed a."""
    rng = torch.Generator(device=device).manual_seed(seed)
    return torch.randn(1, z_dim, generator=rng, device=device)[0]


def walk_latents(z_dim: int, seed_a: int, seed_b: int, steps: int, device: torch.device) -> torch.Tensor:
    """(steps, z_dim) latents evenly spaced in angle from ``seed_a``'s latent to ``seed_b``'s, both ends included."""
    if not 2 <= steps <= WALK_MAX_STEPS:
        raise ValueError(f"steps: must lie in [2, {WALK_MAX_STEPS}], not {steps}")
    t = torch.linspace(0, 1, steps, device=device)
    return slerp(seed_latent(z_dim, seed_a, device), seed_latent(z_dim, seed_b, device), t)


def walk_labels(loaded: LoadedGenerator, label: int | None) -> list[int] | None:
    """The rows of a walk's picture: None (one row) for an unconditional run, else ``label`` alone or every label."""
    num_classes = int(loaded.meta["num_classes"])
    if not loaded.config.model.conditional:
        if label is not None:
            raise ValueError("label: this run is not conditional")
        return None
    if label is None:
        return list(range(num_classes))
    if not 0 <= label < num_classes:
        raise ValueError(f"label: must lie in [0, {num_classes - 1}]")
    return [label]


def latent_walk(
    loaded: LoadedGenerator, seed_a: int, seed_b: int, steps: int, label: int | None = None
) -> torch.Tensor:
    """(rows · steps, *sample shape) G along the spherical walk from ``seed_a``'s latent to ``seed_b``'s, row-major:
    one row for an unconditional G; for a conditional one, a row per label (``label`` alone when given), every row
    the same latents, so a row is the walk in that label and a column one latent in every label."""
    labels = walk_labels(loaded, label)
    z = walk_latents(loaded.config.model.z_dim, seed_a, seed_b, steps, loaded.device)  # (steps, z_dim)
    y = None
    if labels is not None:
        z = z.repeat(len(labels), 1)  # (rows · steps, z_dim): the walk again for each label
        y = torch.tensor(labels, device=loaded.device).repeat_interleave(steps)  # (rows · steps,)
    with sampling_mode(loaded.generator):
        return loaded.generator(z, y).cpu()


def walk_png(loaded: LoadedGenerator, images: torch.Tensor, steps: int) -> bytes:
    """A walk's images as one PNG: ``steps`` columns, a row per label; tiles enlarged as ``samples_png``'s are."""
    picture = image_grid(images, columns=steps, scale=png_scale(images.shape[-1]))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------- pictures


def grid_layout(n: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) of ``image_grid``'s picture of ``n`` tiles."""
    cols = columns or math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def grid_pixels(n: int, shape: tuple[int, ...] | list[int], scale: int = 1, columns: int | None = None) -> int:
    """Bytes of ``image_grid``'s uncompressed picture of ``n`` images of ``shape`` (C, H, W), known before drawing."""
    c, h, w = shape
    rows, cols = grid_layout(n, columns)
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


# The page's colours for generated and real points (web/src/colours.js POINTS): purple and green stay apart under
# red–green colour blindness, where the red dots on green rings drawn before did not.
FAKE_RGB = (124, 58, 237)
REAL_RGB = (21, 128, 61)


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
        draw.ellipse((px - 6, py - 6, px + 6, py + 6), outline=REAL_RGB, width=2)
    for x, y in points.tolist():
        px, py = to_pixel(x, y)
        draw.ellipse((px - 1.5, py - 1.5, px + 1.5, py + 1.5), fill=FAKE_RGB)
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
    draw.rectangle((to_pixel(bounds[0]), mid - 8, to_pixel(bounds[1]), mid + 8), outline=REAL_RGB, width=2)
    for x in values.tolist():
        px = to_pixel(x)
        draw.ellipse((px - 3, mid - 3, px + 3, mid + 3), fill=FAKE_RGB)
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
