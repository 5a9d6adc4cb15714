"""GAN Lab's views of a 2D run: D's verdict over the plane, and where G's loss pushes each generated point; for a
Dirac-GAN, the paper's view instead: the update vector field over the (θ, ψ) plane. A run of a family without D
(AE, VAE, MADE) gets the parts that mean something for it: its samples, the data, the modes, and its decoder's
manifold where it has a latent code.

The server ships these to the page every few steps; all tensor maths stays here.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from models import dirac, tricks
from models.config import FAMILIES, field_families
from models.losses import LOSSES
from models.manifold import MANIFOLD_SIDE, manifold
from models.quality2d import mode_counts
from models.trainer import Trainer, discriminator_loss

FRAME_DECIMALS = 3  # a thousandth of the data's scale is far below a pixel; full floats make frames far longer
DIRAC_RESOLUTION = 17  # arrows per side of the Dirac field: denser ones could not be told apart on the page
DIRAC_NOISE_DRAWS = 1000  # fixed instance-noise draws the Dirac field averages over, as the notebook does
DIRAC_NOISE_SEED_OFFSET = 104_729  # the field's fixed noise, apart from the run's own stream


def _rounded(values: torch.Tensor) -> list[Any]:
    """Rounded as doubles: a double's shortest text is the rounded number itself, a float32's ~17 digits (the
    JSON parts of a frame, e.g. a 2D run's real points sent once, stay short; binary arrays travel as float32)."""
    return values.double().round(decimals=FRAME_DECIMALS).tolist()


@functools.cache  # the schema is fixed: read once per family, not on every frame
def has_latent(family: str) -> bool:
    """Whether a model family samples by mapping a latent code (G, or an autoencoder's decoder), as the config
    schema says: it reads ``model.z_dim``. Only then does the image of a latent grid (``manifold``) mean anything: a
    MADE turns noise into its categorical draws one dimension at a time, and a grid of that noise is no code."""
    return family in field_families().get("model.z_dim", FAMILIES)


def field_frame(trainer: Trainer, n: int, resolution: int, seed: int) -> dict[str, Any]:
    """Samples, D's readout on a ``resolution``² grid over the data's bounds (row-major, y from ``ymin`` up) and
    the unit direction −∇ₓ g_loss at each sample: the way G's loss pulls that point. Beside them: ``real``,
    ``n`` data points taken at an even stride (a fixed subset that spans the data even when it is stored in
    order, as a spiral is), and for mixture
    data the mode ``centers`` with ``covered`` flags by the same 3σ rule as ``modes_covered``. A Dirac-GAN run gets
    its vector field instead (``dirac_field_frame``; ``n``, ``resolution`` and ``seed`` do not apply).

    A family without a discriminator (AE, VAE, MADE: ``Family.adversarial`` false) has no verdict and no pull, so
    its frame leaves out ``d``, ``resolution`` and ``directions`` (its D slot would answer 0 everywhere: a flat
    plane and zero arrows, computed and sent for nothing), and one without a latent code (``has_latent``: MADE)
    leaves out ``manifold`` and ``manifold_shape``."""
    if trainer.config.model.arch == "dirac":
        return dirac_field_frame(trainer)
    if trainer.data.is_image or trainer.config.model.conditional:
        raise ValueError("field frames exist for unconditional 2D runs only")
    xmin, xmax, ymin, ymax = trainer.data.bounds
    device = trainer.device
    pack = trainer.config.tricks.pack
    judged: dict[str, Any] = {}  # D's part of the frame: its verdict over the plane and G's pull on each sample
    if trainer.family.adversarial:
        samples, judged = _judged(trainer, n - n % pack or pack, resolution, seed)
    else:
        samples = trainer.sample(n, seed).detach()  # (n, 2)
    data = trainer.data
    centers = covered = None
    if data.centers is not None and data.std is not None:
        centers = data.centers.tolist()
        covered = (mode_counts(samples, data.centers, data.std) > 0).tolist()
    frame: dict[str, Any] = {
        "bounds": [xmin, xmax, ymin, ymax],
        **({"resolution": resolution, "d": judged["d"]} if judged else {}),
        "samples": _rounded(samples),
        **({"directions": judged["directions"]} if judged else {}),
        "real": _rounded(data.x[:: max(1, data.x.shape[0] // n)][:n]),
        "centers": centers,
        "covered": covered,
    }
    if has_latent(trainer.config.model.family):
        # G's image of a latent grid (models.manifold): (side, side, 2) points, the same latent plane every frame;
        # rounded as doubles, whose shortest text is the rounded number itself (a float32's is 17 digits long).
        frame["manifold"] = (
            manifold(trainer.generator, trainer.config.model.z_dim, seed=seed, device=device)
            .double()
            .round(decimals=FRAME_DECIMALS)
            .tolist()
        )
        frame["manifold_shape"] = [MANIFOLD_SIDE, MANIFOLD_SIDE, 2]
    return frame


def _judged(trainer: Trainer, n: int, resolution: int, seed: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """A GAN's ``n`` samples (detached), with D's part of its frame: ``d``, the verdict on the grid, and
    ``directions``, G's pull on each sample (see ``field_frame``)."""
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
        samples = trainer.sample(n, seed).detach().requires_grad_(True)  # (n, 2)
        g_loss = loss.g_loss(d(tricks.pack(samples, pack)))
        (grad,) = torch.autograd.grad(g_loss, samples)
        direction = -grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (n, 2) unit vectors
    finally:
        d.train(was_training)
    return samples.detach(), {
        "d": _rounded(verdict.reshape(resolution, resolution)),
        "directions": _rounded(direction),
    }


def dirac_field_frame(trainer: Trainer, resolution: int = DIRAC_RESOLUTION) -> dict[str, Any]:
    """The Dirac-GAN's phase portrait (Mescheder et al. 2018, Fig. 1), as data for the page to draw.

    At each point of a ``resolution``² grid over the (θ, ψ) plane, the direction each player's gradient step would
    take there, (−∂L_G/∂θ, −∂L_D/∂ψ), before the learning rates scale it. It is computed by the run's own code: its
    loss, label smoothing, instance noise at the run's current σ (averaged over ``DIRAC_NOISE_DRAWS`` draws fixed
    for the frame, the same at every grid point, so the field is smooth), R1 and the WGAN-GP penalty, through
    ``discriminator_loss`` on a bank of independent Dirac-GANs, one per grid point (every loss term is a mean over
    the batch, so each point's gradient is the bank's times the number of points). ``train.updates`` does not
    change the field, only how the players move along it. Tricks whose update depends on more than (θ, ψ), i.e. on
    the run's history, are left out and named in ``omitted``: feature matching (it compares batch means across
    the whole bank), unrolling (it continues D's optimiser state) and experience replay (its buffer).

    Keys: ``kind`` "dirac"; ``bounds`` [θmin, θmax, ψmin, ψmax], a square on the equilibrium that holds the
    trajectory so far and at least [−2, 2]²; ``resolution`` R; ``theta`` and ``psi``, the R grid coordinates of
    each axis; ``vectors``, R rows of R [dθ, dψ] pairs, row i at ψ = psi[i] (from ψmin up), column j at
    θ = theta[j]; ``point`` [θ, ψ], where the run stands now; ``equilibrium`` [0, 0]; ``real`` [[0]] and
    ``samples`` [[θ]] (every real sample is 0, every generated one θ); ``loss``, ``noise_std`` and ``r1_gamma``,
    what the field was computed with; ``omitted``, the config paths of tricks in effect that it does not show."""
    cfg = trainer.config
    device = trainer.device
    theta, psi = (float(p) for p in dirac.parameters_of(trainer.generator, trainer.discriminator))
    extent = dirac.plane_extent(trainer.generator, trainer.discriminator)
    axis = torch.linspace(-extent, extent, resolution, device=device)  # (R,)
    psi_grid, theta_grid = torch.meshgrid(axis, axis, indexing="ij")  # (R, R) each: row i is ψ = axis[i]
    points = resolution * resolution
    bank_g = dirac.DiracGenerator(theta_grid.reshape(-1)).to(device)
    bank_d = dirac.DiracDiscriminator(psi_grid.reshape(-1)).to(device)
    sigma = trainer.noise_std()
    draws = DIRAC_NOISE_DRAWS if sigma > 0 else 1
    rng = torch.Generator(device=device).manual_seed(cfg.seed + DIRAC_NOISE_SEED_OFFSET)
    zeros = torch.zeros(draws, 1, device=device)
    real_noise = tricks.add_instance_noise(zeros, sigma, rng).repeat(points, 1)  # (points·draws, 1)
    fake_noise = tricks.add_instance_noise(zeros, sigma, rng).repeat(points, 1)
    real = trainer.data.x[:1].expand(points * draws, 1)  # the point mass
    fake = bank_g(torch.zeros(points * draws, cfg.model.z_dim, device=device))  # θ of each point, draws times
    loss = LOSSES[cfg.train.loss]
    d_loss, _, _ = discriminator_loss(
        bank_d, loss, cfg, real, fake.detach(), (real + real_noise, None), (fake.detach() + fake_noise, None), rng
    )
    (grad_psi,) = torch.autograd.grad(d_loss, bank_d.head.psi)
    g_loss = loss.g_loss(bank_d(fake + fake_noise))
    (grad_theta,) = torch.autograd.grad(g_loss, bank_g.theta)
    vectors = -points * torch.stack([grad_theta, grad_psi], dim=1).reshape(resolution, resolution, 2)
    t = cfg.tricks
    omitted = [
        path
        for path, active in (
            ("tricks.feature_matching.enabled", t.feature_matching.enabled),
            ("tricks.unroll_steps", t.unroll_steps > 0),
            ("tricks.replay.size", t.replay.size > 0),
        )
        if active
    ]
    return {
        "kind": "dirac",
        "bounds": [-extent, extent, -extent, extent],
        "resolution": resolution,
        "theta": _rounded(axis),
        "psi": _rounded(axis),
        "vectors": _rounded(vectors.detach()),
        "point": [theta, psi],
        "equilibrium": [0.0, 0.0],
        "real": [[0.0]],
        "samples": [[theta]],
        "loss": cfg.train.loss,
        "noise_std": sigma,
        "r1_gamma": t.r1_gamma,
        "omitted": omitted,
    }
