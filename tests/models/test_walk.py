"""Latent walks: spherical interpolation between two seeds' latents, and G along it (a row per label when
conditional)."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from models.checkpoint import load_checkpoint, save_checkpoint
from models.sampling import (
    WALK_MAX_STEPS,
    latent_walk,
    load_generator,
    sample,
    seed_latent,
    slerp,
    walk_latents,
    walk_png,
)
from models.trainer import Trainer
from tests.models.tiny import tiny_digits_config


def test_slerp_starts_at_a_ends_at_b_and_keeps_equal_norm_latents_on_their_sphere():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(32, generator=g), torch.randn(32, generator=g)
    b = b / b.norm() * a.norm()
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert path.shape == (9, 32)
    assert torch.allclose(path[0], a, atol=1e-6) and torch.allclose(path[-1], b, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), a.norm().expand(9), rtol=1e-5)
    linear_midpoint = (a + b) / 2
    assert linear_midpoint.norm() < 0.9 * a.norm()  # the straight line cuts inside the sphere; the arc does not


def test_slerp_steps_are_equal_angles_along_the_arc():
    a, b = torch.tensor([2.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    path = slerp(a, b, torch.linspace(0, 1, 5))
    angles = torch.atan2(path[:, 1], path[:, 0])
    assert torch.allclose(angles, torch.linspace(0, torch.pi / 2, 5), atol=1e-5)


def test_slerp_of_parallel_latents_is_the_straight_line_not_a_division_by_zero():
    a = torch.tensor([1.0, 2.0])
    path = slerp(a, 3 * a, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.isfinite(path).all()
    assert torch.allclose(path, torch.stack([a, 2 * a, 3 * a]))


def test_a_walk_starts_at_sample_zero_of_seed_a_and_ends_at_sample_zero_of_seed_b(tmp_path):
    """An MLP G (no batch norm), so a sample does not depend on the batch it is drawn in."""
    trainer = Trainer(tiny_digits_config(model={"arch": "mlp", "z_dim": 6}))
    trainer.step()
    save_checkpoint(trainer, tmp_path / "c.pt")
    loaded = load_generator(load_checkpoint(tmp_path / "c.pt"))
    images = latent_walk(loaded, seed_a=3, seed_b=8, steps=5)
    assert images.shape == (5, 1, 8, 8)
    assert torch.allclose(images[0], sample(loaded, 1, 3)[0], atol=1e-6)
    assert torch.allclose(images[-1], sample(loaded, 1, 8)[0], atol=1e-6)
    z = walk_latents(6, 3, 8, 5, torch.device("cpu"))
    assert torch.equal(z[0], seed_latent(6, 3, torch.device("cpu")))
    picture = Image.open(io.BytesIO(walk_png(loaded, images, 5)))
    assert picture.size[0] > 4 * picture.size[1]  # one row: a strip


def test_a_conditional_walk_has_a_row_per_label_the_same_latents_in_each_row(tmp_path):
    trainer = Trainer(tiny_digits_config(model={"arch": "mlp", "z_dim": 6, "conditional": True}))
    trainer.step()
    save_checkpoint(trainer, tmp_path / "c.pt")
    loaded = load_generator(load_checkpoint(tmp_path / "c.pt"))
    images = latent_walk(loaded, seed_a=0, seed_b=1, steps=4)
    assert images.shape == (10 * 4, 1, 8, 8)
    z = walk_latents(6, 0, 1, 4, torch.device("cpu"))
    with torch.no_grad():
        row7 = loaded.generator(z, torch.full((4,), 7))
    assert torch.allclose(images[7 * 4 : 8 * 4], row7, atol=1e-6)
    assert torch.allclose(latent_walk(loaded, 0, 1, 4, label=7), row7, atol=1e-6)
    picture = Image.open(io.BytesIO(walk_png(loaded, images, 4)))
    assert picture.size[1] > 2 * picture.size[0]  # ten rows of four


def test_walks_refuse_too_many_steps_and_labels_a_run_does_not_have(tmp_path):
    trainer = Trainer(tiny_digits_config(model={"arch": "mlp"}))
    save_checkpoint(trainer, tmp_path / "c.pt")
    loaded = load_generator(load_checkpoint(tmp_path / "c.pt"))
    with pytest.raises(ValueError, match=r"^steps: "):
        latent_walk(loaded, 0, 1, WALK_MAX_STEPS + 1)
    with pytest.raises(ValueError, match=r"^label: this run is not conditional"):
        latent_walk(loaded, 0, 1, 4, label=2)
