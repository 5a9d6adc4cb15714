"""The generator's manifold (G's image of a latent grid) and the field frame that carries it."""

from __future__ import annotations

import json

import pytest
import torch

from models.field import FRAME_DECIMALS, field_frame
from models.manifold import MANIFOLD_EXTENT, MANIFOLD_SIDE, latent_grid, manifold, slice_directions
from models.trainer import Trainer
from tests.models.tiny import tiny_config


def test_with_two_latent_dimensions_the_grid_is_the_latent_plane_itself_evenly_spaced():
    z = latent_grid(2, side=5, extent=2.0)
    axis = torch.linspace(-2.0, 2.0, 5)
    assert z.shape == (5, 5, 2)
    assert torch.equal(z[3, 1], torch.stack([axis[1], axis[3]]))  # column j: first coordinate, row i: second


def test_a_higher_dimensional_slice_is_an_orthonormal_plane_the_same_for_a_seed_and_another_for_another():
    u = slice_directions(16, seed=4)
    assert u.shape == (2, 16)
    assert torch.allclose(u @ u.T, torch.eye(2), atol=1e-6)
    assert torch.equal(u, slice_directions(16, seed=4))
    assert not torch.allclose(u, slice_directions(16, seed=5))
    z = latent_grid(16, side=7, extent=MANIFOLD_EXTENT, seed=4)
    assert z.shape == (7, 7, 16)
    assert torch.allclose(z[0, 0].norm(), torch.tensor(MANIFOLD_EXTENT * 2**0.5), atol=1e-5)  # a corner of the plane


@pytest.mark.parametrize("z_dim", [2, 4])
def test_the_manifold_is_g_applied_to_the_latent_grid(z_dim: int):
    trainer = Trainer(tiny_config(model={"z_dim": z_dim}))
    trainer.step()
    image = manifold(trainer.generator, z_dim, side=6, seed=9)
    z = latent_grid(z_dim, side=6, seed=9)
    with torch.no_grad():
        expected = trainer.generator(z.reshape(36, z_dim)).reshape(6, 6, 2)
    assert image.shape == (6, 6, 2)
    assert torch.allclose(image, expected)


def test_drawing_the_manifold_leaves_the_generator_and_its_gradients_untouched():
    trainer = Trainer(tiny_config(model={"z_dim": 2}))
    trainer.step()
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    image = manifold(trainer.generator, 2)
    assert not image.requires_grad
    assert all(torch.equal(before[k], v) for k, v in trainer.generator.state_dict().items())


def test_the_2d_field_frame_carries_the_manifold_as_a_small_grid_of_points_the_same_plane_every_frame():
    trainer = Trainer(tiny_config(model={"z_dim": 8}))
    trainer.step()
    frame = field_frame(trainer, n=32, resolution=4, seed=11)
    assert frame["manifold_shape"] == [MANIFOLD_SIDE, MANIFOLD_SIDE, 2]
    points = torch.tensor(frame["manifold"])
    assert points.shape == (MANIFOLD_SIDE, MANIFOLD_SIDE, 2)
    expected = manifold(trainer.generator, 8, seed=11)
    assert torch.allclose(points, expected, atol=0.5 * 10**-FRAME_DECIMALS + 1e-6)  # frames are rounded
    assert len(json.dumps(frame["manifold"])) < 5000  # about 4 kB of the frame as JSON, whatever the run's size
