"""The 2D field frame: D's verdict on a grid, and the direction G's loss pulls each sample; a family without D
gets neither, and one without a latent code no manifold."""

from __future__ import annotations

import pytest
import torch

from models.config import parse_config
from models.field import FRAME_DECIMALS, field_frame, has_latent
from models.losses import LOSSES
from models.manifold import MANIFOLD_SIDE
from models.presets import preset_config
from models.trainer import Trainer
from tests.models.tiny import tiny_config


def test_grid_verdict_is_ds_readout_at_each_grid_point():
    trainer = Trainer(tiny_config())
    trainer.step()
    frame = field_frame(trainer, n=32, resolution=5, seed=0)
    _, xmax, ymin, _ = frame["bounds"]
    trainer.discriminator.eval()
    corner = torch.tensor([[xmax, ymin]])  # last column of the first row
    expected = torch.sigmoid(trainer.discriminator(corner)).item()
    assert frame["d"][0][4] == pytest.approx(expected, abs=0.5 * 10**-FRAME_DECIMALS + 1e-6)  # frames are rounded
    assert len(frame["d"]) == 5 and all(len(row) == 5 for row in frame["d"])


def test_directions_are_unit_vectors_that_lower_the_generator_loss():
    trainer = Trainer(tiny_config())
    for _ in range(3):
        trainer.step()
    frame = field_frame(trainer, n=32, resolution=4, seed=0)
    samples, directions = torch.tensor(frame["samples"]), torch.tensor(frame["directions"])
    assert torch.allclose(directions.norm(dim=1), torch.ones(32), atol=10**-FRAME_DECIMALS)  # rounded components
    loss = LOSSES[trainer.config.train.loss]
    trainer.discriminator.eval()
    with torch.no_grad():
        before = loss.g_loss(trainer.discriminator(samples))
        after = loss.g_loss(trainer.discriminator(samples + 1e-3 * directions))
    assert after < before


def test_field_frames_refuse_image_runs():
    trainer = Trainer(
        parse_config(
            {"dataset": {"kind": "digits"}, "model": {"arch": "dcgan", "hidden": 8}, "train": {"batch_size": 8}}
        )
    )
    with pytest.raises(ValueError, match="2D"):
        field_frame(trainer, n=8, resolution=4, seed=0)


def test_frame_carries_real_points_and_mode_centres_marked_by_the_3_sigma_rule():
    trainer = Trainer(tiny_config())
    trainer.step()
    frame = field_frame(trainer, n=32, resolution=4, seed=0)
    data = trainer.data
    assert data.centers is not None and data.std is not None  # a mixture: it has modes
    assert len(frame["real"]) == 32 and all(len(p) == 2 for p in frame["real"])
    assert frame["centers"] == data.centers.tolist()
    samples, centers = torch.tensor(frame["samples"]), torch.tensor(frame["centers"])
    nearest_dist, nearest = torch.cdist(samples, centers).min(dim=1)
    hit = set(nearest[nearest_dist <= 3 * data.std].tolist())
    assert frame["covered"] == [i in hit for i in range(len(centers))]


def test_frames_of_data_without_modes_carry_no_centres():
    trainer = Trainer(parse_config({"dataset": {"kind": "moons", "n": 200}, "train": {"batch_size": 16}}))
    trainer.step()
    frame = field_frame(trainer, n=16, resolution=4, seed=0)
    assert frame["centers"] is None and frame["covered"] is None and len(frame["real"]) == 16


@pytest.mark.parametrize("preset", ["ring-vae", "ring-ae", "ring-made"])
def test_a_family_without_d_sends_no_d_grid_and_no_pull_only_its_samples_and_the_data(preset: str):
    trainer = Trainer(preset_config(preset, {"steps": 10}))
    trainer.step()
    frame = field_frame(trainer, n=32, resolution=4, seed=0)
    assert not {"d", "resolution", "directions"} & frame.keys()  # its D slot answers 0 everywhere: nothing to show
    assert frame["samples"] == trainer.sample(32, 0).double().round(decimals=FRAME_DECIMALS).tolist()  # the family's
    assert len(frame["real"]) == 32 and len(frame["centers"]) == 8 and len(frame["covered"]) == 8


def test_a_gan_on_the_same_data_sends_d_grid_and_pull():
    trainer = Trainer(preset_config("ring-vanilla", {"steps": 10}))
    trainer.step()
    frame = field_frame(trainer, n=32, resolution=4, seed=0)
    assert frame["resolution"] == 4 and len(frame["d"]) == 4 and len(frame["directions"]) == 32
    assert len(frame["manifold"]) == MANIFOLD_SIDE


def test_the_manifold_is_sent_for_families_with_a_latent_code_and_not_for_made():
    """An AE's or VAE's decoder maps a latent grid as G does; a MADE has no code (its noise picks categories)."""
    assert has_latent("gan") and has_latent("ae") and has_latent("vae") and not has_latent("made")
    for preset, sent in (("ring-vae", True), ("ring-made", False)):
        trainer = Trainer(preset_config(preset, {"steps": 10}))
        frame = field_frame(trainer, n=16, resolution=4, seed=0)
        assert ("manifold" in frame) is sent and ("manifold_shape" in frame) is sent, preset
    vae = Trainer(preset_config("ring-vae", {"steps": 10}))
    frame = field_frame(vae, n=16, resolution=4, seed=0)
    assert frame["manifold_shape"] == [MANIFOLD_SIDE, MANIFOLD_SIDE, 2] and len(frame["manifold"]) == MANIFOLD_SIDE
