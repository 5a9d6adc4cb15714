"""The latent view of AE and VAE runs (models/latent.py): each data point's code, labelled by its mode or class,
in the plane of the code (2D) or of its first two principal components, beside the prior's circles."""

from __future__ import annotations

import math
from functools import cache

import pytest
import torch

from models.families.ae import AutoEncoder
from models.latent import LATENT_POINTS_2D, LatentView, latent_view, principal_axes, prior_mass
from models.presets import preset_config
from models.trainer import Trainer
from tests.models.tiny import small_digits, tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")
QUIET = {"stream": {"eval_every": 100_000}}  # no quality measurement: these tests look at the encoder alone


def autoencoder(trainer: Trainer) -> AutoEncoder:
    assert isinstance(trainer.generator, AutoEncoder)
    return trainer.generator


@cache
def trained(preset: str, steps: int) -> Trainer:
    """A preset's run after ``steps`` steps (shared by the tests that only read it)."""
    trainer = Trainer(preset_config(preset, QUIET | {"steps": steps}))
    for _ in range(steps):
        trainer.step()
    return trainer


def test_a_trained_ring_aes_codes_cluster_by_mode():
    trainer = trained("ring-ae", 300)
    view = latent_view(trainer)
    assert view is not None
    frame = view.frame(autoencoder(trainer))
    info = frame["latent_info"]
    points, labels = torch.tensor(frame["latent"]), torch.tensor(info["labels"])
    assert info["axes"] == ["z1", "z2"] and info["explained"] is None and info["encoding"] == "code"
    assert points.shape == (LATENT_POINTS_2D, 2)
    means = torch.stack([points[labels == m].mean(0) for m in range(8)])  # (8, 2): every mode has points
    nearest_mean = torch.cdist(points, means).argmin(dim=1)
    assert (nearest_mean == labels).float().mean() == 1.0  # each code sits with its own mode's codes
    spread = torch.stack([(points[labels == m] - means[m]).norm(dim=1).mean() for m in range(8)]).max()
    assert spread < 0.25 * torch.pdist(means).min()


def test_ring_points_are_labelled_by_their_nearest_mode_and_digits_by_their_class():
    ring = Trainer(tiny_config(model={"family": "vae", "z_dim": 2}))
    view = LatentView(ring.data, seed=0)
    angle = torch.atan2(view.x[:, 1], view.x[:, 0])  # the ring's mode k sits at angle 2πk/8
    assert view.labels == (torch.round(angle / (2 * math.pi / 8)) % 8).long().tolist()
    assert (view.label_kind, view.label_count) == ("mode", 8)
    digits = small_digits(300)
    view = LatentView(digits, seed=0, n=50)
    assert digits.y is not None
    chosen = [int(torch.nonzero((digits.x == x).flatten(1).all(dim=1))[0]) for x in view.x]
    assert view.labels == digits.y[chosen].tolist()
    assert (view.label_kind, view.label_count) == ("class", 10)


def test_data_without_modes_or_classes_has_no_labels():
    spiral = Trainer(tiny_config(dataset={"kind": "spiral", "n": 500}, model={"family": "ae", "z_dim": 2}))
    frame = LatentView(spiral.data, seed=0).frame(autoencoder(spiral))
    assert frame["latent_info"]["labels"] is None and frame["latent_info"]["label_kind"] is None


def test_the_same_seed_encodes_the_same_points_every_frame_and_another_seed_others():
    trainer = Trainer(tiny_config(model={"family": "vae", "z_dim": 2}))
    model = autoencoder(trainer)
    one, two = LatentView(trainer.data, seed=5), LatentView(trainer.data, seed=5)
    assert torch.equal(one.x, two.x) and one.frame(model) == two.frame(model)
    assert not torch.equal(one.x, LatentView(trainer.data, seed=6).x)
    before = one.frame(model)["latent"]
    trainer.step()  # the encoder learns: the same points move
    after = one.frame(model)["latent"]
    assert torch.equal(one.x, two.x) and after != before


def test_a_vaes_points_are_the_mean_of_q_z_given_x():
    trainer = Trainer(tiny_config(model={"family": "vae", "z_dim": 2}))
    model = autoencoder(trainer)
    view = LatentView(trainer.data, seed=0, n=40)
    frame = view.frame(model)
    with torch.no_grad():
        mu, _ = model.encode(view.x)
    assert torch.allclose(
        torch.tensor(frame["latent"], dtype=torch.float64), mu.double(), atol=6e-4
    )  # rounded to 3 decimals
    assert frame["latent_info"]["encoding"] == "mean"


def test_long_codes_are_projected_onto_their_first_two_principal_components_through_the_origin():
    trainer = trained("digits-vae", 60)
    model = autoencoder(trainer)
    view = LatentView(trainer.data, seed=0)
    frame = view.frame(model)
    info = frame["latent_info"]
    assert info["axes"] == ["PC1", "PC2"] and info["z_dim"] == 16
    assert info["explained"][0] >= info["explained"][1] > 0 and sum(info["explained"]) <= 1
    with torch.no_grad():
        codes = model.encode(view.x)[0].double()
    assert view.axes is not None
    assert torch.allclose(view.axes @ view.axes.T, torch.eye(2, dtype=torch.float64), atol=1e-9)  # orthonormal
    plane = torch.tensor(frame["latent"], dtype=torch.float64)
    assert torch.allclose(plane, codes @ view.axes.T, atol=6e-4)  # not centred: z = 0 stays at the origin
    spread = plane.var(dim=0)
    assert spread[0] >= spread[1]
    assert torch.isclose(
        spread.sum() / codes.var(dim=0).sum(), torch.tensor(sum(info["explained"])).double(), atol=1e-3
    )


def test_principal_axes_keep_their_sign_from_frame_to_frame_however_the_solver_turns_them():
    rng = torch.Generator().manual_seed(0)
    codes = torch.randn(300, 6, generator=rng, dtype=torch.float64) * torch.tensor([3.0, 2.0, 1, 1, 1, 1]).double()
    axes, _ = principal_axes(codes)
    largest = axes.gather(1, axes.abs().argmax(dim=1, keepdim=True))
    assert (largest > 0).all()  # the first frame's convention
    # Whichever sign the reference has, the next frame's axes agree with it: the picture never mirrors.
    for flip in ([1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]):
        reference = axes * torch.tensor(flip, dtype=torch.float64)[:, None]
        moved = codes + 0.05 * torch.randn(codes.shape, generator=rng, dtype=torch.float64)
        following, _ = principal_axes(moved, reference)
        assert ((following * reference).sum(dim=1) > 0.9).all()


def test_a_view_keeps_its_projection_from_one_frame_to_the_next_as_the_encoder_learns():
    trainer = Trainer(preset_config("digits-ae", QUIET))
    model = autoencoder(trainer)
    for _ in range(100):
        trainer.step()
    view = LatentView(trainer.data, seed=0)
    previous = torch.tensor(view.frame(model)["latent"])
    for _ in range(8):  # frames 10 steps apart, as a run's frames at samples_every 10
        for _ in range(10):
            trainer.step()
        current = torch.tensor(view.frame(model)["latent"])
        for axis in range(2):  # the points keep their places along each axis, not their mirror images
            assert torch.corrcoef(torch.stack([previous[:, axis], current[:, axis]]))[0, 1] > 0.5
        previous = current


def test_the_prior_circles_hold_the_share_of_n01_they_claim_in_the_plane_shown():
    assert prior_mass(1, 2) == pytest.approx(1 - math.exp(-0.5))
    assert prior_mass(2, 2) == pytest.approx(0.8647, abs=1e-4)
    assert prior_mass(2, 1) == pytest.approx(0.9545, abs=1e-4)
    trainer = trained("digits-vae", 60)
    view = LatentView(trainer.data, seed=0)
    info = view.frame(autoencoder(trainer))["latent_info"]
    assert view.axes is not None
    draws = torch.randn(20_000, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    radius = (draws @ view.axes.T).norm(dim=1)  # the prior, projected as the codes are
    for r, mass in zip(info["prior_radii"], info["prior_mass"], strict=True):
        assert (radius <= r).double().mean() == pytest.approx(mass, abs=0.01)


def test_an_aes_codes_leave_the_prior_where_a_vaes_stay_in_it():
    ae = trained("digits-ae", 500)
    vae = trained("digits-vae", 500)
    inside = [LatentView(t.data, seed=0).frame(autoencoder(t))["latent_info"]["inside_2sigma"] for t in (ae, vae)]
    assert inside[0] < 0.5 * inside[1], inside


def test_only_families_that_encode_get_a_latent_view():
    for family in ("gan", "made"):
        assert latent_view(Trainer(tiny_config(model={"family": family}))) is None
    for family in ("ae", "vae"):
        assert isinstance(latent_view(Trainer(tiny_config(model={"family": family}))), LatentView)


def test_watching_the_latent_space_leaves_the_run_as_it_would_have_been():
    watched, unwatched = (Trainer(tiny_config(model={"family": "vae", "z_dim": 2})) for _ in range(2))
    view = latent_view(watched)
    assert view is not None
    for _ in range(5):
        view.frame(autoencoder(watched))
        watched.step()
        unwatched.step()
    for a, b in zip(watched.generator.parameters(), unwatched.generator.parameters(), strict=True):
        assert torch.equal(a, b)


def test_codes_gone_to_nan_leave_the_projection_standing():
    rng = torch.Generator().manual_seed(0)
    codes = torch.randn(50, 5, generator=rng, dtype=torch.float64)
    axes, _ = principal_axes(codes)
    codes[::3] = float("nan")
    with_nan, _ = principal_axes(codes, axes)
    assert torch.isfinite(with_nan).all() and ((with_nan * axes).sum(dim=1) > 0).all()
    none_left, _ = principal_axes(torch.full((4, 5), float("nan")), axes)
    assert torch.equal(none_left, axes)  # nothing to learn from: the previous frame's axes stay
