"""Named configs, each a lesson: one GAN problem made visible, or the trick that fixes it.

A preset is only overrides on ``RunConfig``'s defaults plus a paragraph telling the user what to watch. Presets
that belong together (a problem and its fix) share a ``group`` so the UI and benchmarks can run them side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from models.config import ConfigError, RunConfig, apply_patch, parse_config

Condition = tuple[str, str, float]  # (metric, "<=" or ">=", threshold)


@dataclass(frozen=True)
class Effect:
    """What the lesson looks like in numbers: it shows while every condition holds."""

    conditions: tuple[Condition, ...]
    text: str

    def holds(self, metrics: dict[str, float]) -> bool:
        for metric, op, threshold in self.conditions:
            value = metrics.get(metric)
            if value is None or not (value <= threshold if op == "<=" else value >= threshold):
                return False
        return True

    def __str__(self) -> str:
        return " and ".join(f"{m} {op} {t:g}" for m, op, t in self.conditions)


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    overrides: dict[str, Any]
    group: str = ""
    watch: list[str] = field(default_factory=list)  # the metrics that show the lesson
    effect: Effect | None = None

    def config(self) -> RunConfig:
        return parse_config(self.overrides)


RING = {"kind": "ring", "modes": 8, "radius": 1.0, "std": 0.05}
GRID = {"kind": "grid", "side": 5, "spacing": 2.0, "std": 0.05}
MLP_2D = {"arch": "mlp", "z_dim": 16, "hidden": 64, "layers": 2, "activation": "relu"}
# The set-up that makes collapse on the ring reliable: a slow D and a fast G that chases wherever D is weakest.
TRAIN_2D = {"lr_d": 1e-4, "lr_g": 2e-3, "betas": [0.5, 0.999], "batch_size": 256, "loss": "nonsaturating"}
UNROLL = {"unroll_steps": 5, "unroll_lr": 5e-4, "unroll_order": "second"}
# Half of each D fake batch from the buffer, as the usual image pool gives; the pool's 50 images at batch size 1 are
# 50 batches of fakes, so 50 of ours (see ``tricks.ReplayBuffer`` for how the two mechanisms relate).
REPLAY = {"size": 50 * 256, "fraction": 0.5}  # TRAIN_2D's batch_size
STREAM_2D = {"eval_every": 100, "samples_every": 50}


def _2d(
    dataset: dict[str, Any], steps: int, tricks: dict[str, Any] | None = None, train: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "steps": steps,
        "dataset": dataset,
        "model": MLP_2D,
        "train": TRAIN_2D | (train or {}),
        "tricks": tricks or {},
        "stream": STREAM_2D,
    }


IMAGE_TRAIN = {"lr_d": 2e-4, "lr_g": 2e-4, "betas": [0.5, 0.999], "batch_size": 64, "loss": "nonsaturating"}
DIGITS: dict[str, Any] = {
    "steps": 3000,
    "dataset": {"kind": "digits"},
    "model": {"arch": "dcgan", "z_dim": 32, "hidden": 32, "batch_norm": True},
    "train": IMAGE_TRAIN,
    "stream": {"eval_every": 250, "eval_samples": 1000, "samples_every": 100, "n_samples": 64},
}
# D takes 5 large SGD steps per small G step. SGD, not Adam: Adam rescales every gradient to the size of its
# learning rate, which would hide how small the minimax generator's gradient really is.
OVERPOWERED = {"optimizer": "sgd", "betas": [0.5, 0.999], "lr_d": 0.1, "lr_g": 0.002, "d_steps": 5, "loss": "minimax"}
# The Dirac-GAN as in the authors' notebook: plain gradient descent (SGD's momentum is β1: 0 here), step 0.2 for both
# players, from θ = ψ = 1. A batch of 1000 only matters under instance noise, where the notebook averages the noise
# term over 1000 draws; the four presets share it so that each differs from dirac-gan in the one setting it names.
DIRAC_TRAIN = {
    "optimizer": "sgd",
    "betas": [0.0, 0.999],
    "lr_g": 0.2,
    "lr_d": 0.2,
    "d_steps": 1,
    "batch_size": 1000,
    "loss": "minimax",
    "updates": "alternating",
}


def _dirac(train: dict[str, Any] | None = None, tricks: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "steps": 500,
        "dataset": {"kind": "dirac"},
        "model": {"arch": "dirac", "z_dim": 1, "theta0": 1.0, "psi0": 1.0},
        "train": DIRAC_TRAIN | (train or {}),
        "tricks": tricks or {},
        "stream": {"samples_every": 5, "eval_every": 500},
    }


DIRAC_WATCH = ["equilibrium_distance", "theta", "psi"]

# The chapter's taxonomy beside the GAN (models/families/): the same ring and the same digits, other families.
# MLPs with a 2D latent on the ring (the field view then shows each point's code), 16 on the digits; one optimiser
# at train.lr_g, since nothing here is adversarial.
FAMILY_TRAIN = {"lr_g": 1e-3}


def _family(family: str, dataset: str, **model: Any) -> dict[str, Any]:
    if dataset == "ring":
        return {
            "steps": 2000,
            "dataset": RING,
            "model": MLP_2D | {"family": family, "z_dim": 2} | model,
            "train": FAMILY_TRAIN | {"batch_size": 256},
            "stream": STREAM_2D,
        }
    return DIGITS | {
        "steps": 2000,
        "model": {"family": family, "arch": "mlp", "z_dim": 16, "hidden": 256, "layers": 2} | model,
        "train": FAMILY_TRAIN | {"batch_size": 64},
    }


FAMILY_WATCH_2D = ["modes_covered", "hq_fraction", "ms_per_sample"]
FAMILY_WATCH_IMAGES = ["fd", "class_coverage", "ms_per_sample"]

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "ring-made",
            "Explicit density: MADE on the ring",
            "MADE (Germain et al. 2015), an autoregressive network with masked weights, models the ring as "
            "p(x₁)·p(x₂ | x₁), each coordinate quantised into 64 bins: the likelihood is exact (nll, in nats per "
            "point of the quantised data) and training is plain maximum likelihood, no adversary and no bound. "
            "Within a few hundred steps its samples cover all 8 modes and most of them (hq_fraction about 0.85) lie "
            "within 3σ of one, sharper than the unrolled GAN. The price is at sampling time: one network pass per "
            "dimension, one after the other (2 here, 64 on the digits: compare ms_per_sample), and nothing like a "
            "latent code to steer a sample with: the chapter's two cons of an explicit chain model.",
            _family("made", "ring", bins=64),
            group="density-ring",
            watch=["nll", *FAMILY_WATCH_2D],
            effect=Effect(
                (("modes_covered", ">=", 8), ("hq_fraction", ">=", 0.75)),
                "all 8 modes covered, three quarters of the samples within 3σ of one",
            ),
        ),
        Preset(
            "ring-vae",
            "Approximate density: a VAE covers the ring and smears it",
            "A variational autoencoder (Kingma & Welling 2014) with a 2D latent: the encoder gives each point a "
            "Gaussian q(z|x), the decoder maps a code back, and training maximises the ELBO, a lower bound on "
            "log p(x) (watch elbo = −recon/(2σ²) − kl, up to a constant). Every mode is covered within a few hundred "
            "steps (maximum likelihood punishes a missed mode without mercy), but samples decoded from the prior "
            "N(0, I) also land between the modes: hq_fraction about 0.35, against about 0.6 for ring-unrolled. "
            "How much it smears is the decoder's σ (model.decoder_std, 0.3 here, six times the ring's own spread): "
            "the VAE explains detail finer than σ as noise, so it never has to draw it. At σ 0.1 its samples are "
            "about as sharp as the unrolled GAN's (hq about 0.6); β (train.kl_weight, live) trades the other way: "
            "raise it and the codes crowd towards the prior, and the ring blurs further. The latent-space panel "
            "shows each point's code coloured by its mode, inside the prior's circles.",
            _family("vae", "ring", decoder_std=0.3),
            group="density-ring",
            watch=["elbo", "kl", *FAMILY_WATCH_2D],
            effect=Effect(
                (("elbo", ">=", -2.0), ("modes_covered", ">=", 8), ("hq_fraction", "<=", 0.45)),
                "trained (elbo above −2 nats, from below −3.5), all 8 modes covered, fewer than half of the samples "
                "within 3σ of one",
            ),
        ),
        Preset(
            "ring-ae",
            "An autoencoder is no generator",
            "A plain autoencoder with a 2D code, trained on the chapter's J(θ) = Σ‖x − x̂‖²: within a few hundred "
            "steps it reconstructs every point of the ring almost exactly (recon below 0.01). But nothing in its "
            "loss says where the codes lie, so decoding codes drawn from N(0, I), as a generator must, lands mostly "
            "off the data: hq_fraction stays near 0.05 (a GAN or a VAE reaches 0.35 to 0.85 here). The samples do "
            "touch all 8 modes, since the decoder's image of the latent plane is a curve through them; what is "
            "missing is a distribution over that plane. The VAE's prior is exactly that repair. The latent-space "
            "panel shows why: the codes of the data sit in 8 tight clouds, coloured by mode, and the prior's mass "
            "falls mostly between them.",
            _family("ae", "ring"),
            group="density-ring",
            watch=["recon", *FAMILY_WATCH_2D],
            effect=Effect(
                (("recon", "<=", 0.01), ("hq_fraction", "<=", 0.15)),
                "reconstructs the ring (recon below 0.01), yet fewer than 15% of its samples lie on a mode",
            ),
        ),
        Preset(
            "digits-made",
            "Explicit density: MADE on binarised digits",
            "MADE on scikit-learn's 8×8 digits, each pixel binarised (ink or not), as p(x₁)·p(x₂|x₁)·…·p(x₆₄|x₁…x₆₃): "
            "the likelihood is exact. Watch bpd, bits per pixel: a fair coin needs 1, and the best any model of "
            "independent pixels can do on these digits is 0.55 (the entropy of each pixel's own frequency); MADE "
            "falls below that within a few hundred steps and reaches about 0.35, which only modelling how pixels "
            "depend on each other can give. Its samples show all 10 digits. Then compare ms_per_sample with "
            "digits-vae: a sample takes 64 network passes, one pixel after the other, about a hundred times the "
            "VAE's single pass. (The VAE's elbo is a bound on continuous pixels, so the two likelihoods are not on "
            "one scale; nll here is in nats per binarised image.)",
            _family("made", "digits"),
            group="density-digits",
            watch=["bpd", "nll", "class_coverage", "ms_per_sample"],
            effect=Effect(
                (("class_coverage", ">=", 10), ("bpd", "<=", 0.45)),
                "all 10 digits drawn, and under 0.45 bits per pixel (independent pixels cannot go below 0.55)",
            ),
        ),
        Preset(
            "digits-vae",
            "Approximate density: a VAE draws every digit, blurred",
            "A VAE with a 16-dimensional latent on 8×8 digits. Maximum likelihood covers the data: every digit "
            "appears within a few hundred steps and stays. But the samples are the decoder's mean, an average over "
            "every image the code could stand for, so strokes come out soft: fd settles around 350 to 400, where "
            "digits-dcgan reaches about 135 in its 3000 steps (a GAN is only rewarded for fooling D, and blur does "
            "not). Watch recon and kl: the ELBO trades how well a code pins its image against how close the codes "
            "stay to the prior; raise β (train.kl_weight) live and the samples blur further.",
            _family("vae", "digits"),
            group="density-digits",
            watch=["elbo", "recon", "kl", *FAMILY_WATCH_IMAGES],
            effect=Effect(
                (("class_coverage", ">=", 10), ("recon", "<=", 1.5), ("fd", ">=", 250)),
                "all 10 digits drawn and reconstructed, and fd still above 250 (digits-dcgan falls below 300)",
            ),
        ),
        Preset(
            "digits-ae",
            "An autoencoder's prior samples are not digits",
            "A plain autoencoder with a 16-dimensional code on the digits: its reconstructions are as good as the "
            "VAE's (recon about 1), yet images decoded from codes drawn from N(0, I) are smudges that only "
            "sometimes resemble a digit: fd stays near 1000, about three times the VAE's. Same networks, same "
            "data: what the VAE adds is a KL term that makes the prior a place its codes actually live.",
            _family("ae", "digits"),
            group="density-digits",
            watch=["recon", *FAMILY_WATCH_IMAGES],
            effect=Effect(
                (("recon", "<=", 1.5), ("fd", ">=", 600)),
                "reconstructs the digits (recon below 1.5), while its samples stay far from them (fd above 600)",
            ),
        ),
        Preset(
            "ring-vanilla",
            "Mode collapse on a ring of 8 Gaussians",
            "A plain GAN on 8 Gaussians in a ring. Within seconds the generator's samples bunch onto one or two modes "
            "and hop from mode to mode as the discriminator chases them: modes_covered stays far below 8 and "
            "reverse_kl near its worst, log 8 ≈ 2.1. The field view shows D's heatmap following the cluster around "
            "the ring. That hopping is non-convergence: the players circle instead of settling, and mode_drift (the "
            "share of samples that changed mode since the last measurement) stays high. Left to run far "
            "longer (tens of thousands of steps) a plain GAN sometimes escapes; the preset stops before that.",
            _2d(RING, 3000),
            group="ring",
            watch=["modes_covered", "reverse_kl", "hq_fraction", "mode_drift"],
            effect=Effect(
                (("modes_covered", "<=", 2), ("hq_fraction", ">=", 0.2)),
                "samples of good quality, on at most 2 of the 8 modes",
            ),
        ),
        Preset(
            "ring-unrolled",
            "Unrolling the discriminator covers the ring",
            "The same GAN with the discriminator unrolled 5 steps (second order, Metz et al. 2017): the generator "
            "sees how D would react to its move, so piling onto one mode no longer pays. Within a few hundred "
            "steps the samples spread over all 8 modes and stay there; modes_covered climbs to 8 and reverse_kl to "
            "near 0. Each step costs about ten plain ones: compare it/s with ring-vanilla.",
            _2d(RING, 1500, UNROLL),
            group="ring",
            watch=["modes_covered", "reverse_kl", "hq_fraction"],
            effect=Effect((("modes_covered", ">=", 8),), "covers all 8 modes"),
        ),
        Preset(
            "ring-replay",
            "Experience replay does not stop the ring from hopping",
            "ring-vanilla with experience replay (Shrivastava et al. 2017): half of every batch of fakes D sees is "
            "drawn from a buffer of 12 800 past fakes (50 batches' worth, as the usual image pool holds 50 of its "
            "batches), so D keeps punishing the modes G has just left. The hope is that this damps the chase. On this "
            "ring it does not: the samples still sit on one mode at a time (1 of 8 at the end, in each of 3 seeds) "
            "and keep hopping. Watch mode_drift, the share of samples that changed mode since the measurement 100 "
            "steps before: over the second half of the run it averages about 0.6, against about 0.45 for "
            "ring-vanilla. What replay does do is tighten the cluster: about 60% of the samples lie within 3σ of a "
            "mode at the end, against about 40%. We found no setting where replay reliably held the ring still: "
            "swapping each fake with a stored one with probability ½ (the CycleGAN-style pool) and equal learning "
            "rates gave the same or mixed results from seed to seed. Compare ring-unrolled and ring-feature-matching, "
            "which do.",
            _2d(RING, 3000, {"replay": REPLAY}),
            group="ring",
            watch=["mode_drift", "modes_covered", "hq_fraction"],
            effect=Effect(
                (("modes_covered", "<=", 2), ("mode_drift", ">=", 0.25)),
                "still on at most 2 modes, and a quarter of the samples or more changed mode since the last "
                "measurement",
            ),
        ),
        Preset(
            "ring-feature-matching",
            "Feature matching holds the ring still",
            "ring-vanilla with feature matching in place of the adversarial generator loss (Salimans et al. 2016 "
            "§3.1): G no longer chases whatever D rejects now, it matches the mean of D's last hidden layer on real "
            "data, a target that moves far more slowly. Within a few hundred steps the samples spread round the "
            "whole ring and stay there: all 8 modes covered in every seed, reverse_kl near 0 (about 0.04, against "
            "about 1.9 for ring-vanilla) and mode_drift about 0.06 against 0.45: the hopping is gone. The price is "
            "sharpness. Matching a mean does not pull each sample onto a mode, so only about half of the samples "
            "(hq_fraction near 0.55) lie within 3σ of one; the rest sit on the ring between the modes. Salimans et "
            "al. saw the same trade: stable training, less sharp samples.",
            _2d(RING, 3000, {"feature_matching": {"enabled": True}}),
            group="ring",
            watch=["mode_drift", "modes_covered", "hq_fraction", "reverse_kl"],
            effect=Effect(
                (("modes_covered", ">=", 8), ("mode_drift", "<=", 0.1)),
                "all 8 modes covered, and fewer than 1 sample in 10 changed mode since the last measurement",
            ),
        ),
        Preset(
            "grid-vanilla",
            "Mode collapse on a 5×5 grid",
            "25 Gaussians on a grid are harder than the ring: the plain GAN covers a handful of modes and leaves "
            "whole rows empty, and which ones it covers keeps changing.",
            _2d(GRID, 3000),
            group="grid",
            watch=["modes_covered", "reverse_kl", "hq_fraction"],
            effect=Effect(
                (("modes_covered", "<=", 6), ("hq_fraction", ">=", 0.01)),
                "samples on at most a quarter of the 25 modes",
            ),
        ),
        Preset(
            "grid-unrolled",
            "Unrolled GAN on the 5×5 grid",
            "The grid with a 5-step unrolled discriminator: most of the 25 modes are covered, against a handful "
            "for grid-vanilla, at about ten times the cost per step. Sample quality (hq_fraction) is still low "
            "when the preset ends: the lesson here is coverage.",
            _2d(GRID, 1500, UNROLL),
            group="grid",
            watch=["modes_covered", "reverse_kl", "hq_fraction"],
            effect=Effect((("modes_covered", ">=", 15),), "covers at least 15 of the 25 modes"),
        ),
        Preset(
            "vanishing-minimax",
            "Vanishing generator gradient: the original minimax loss",
            "The generator minimises log(1 − D(G(z))), Goodfellow's original objective, against a discriminator "
            "that takes 5 large steps per small generator step. D soon rejects every fake with certainty and there "
            "the minimax loss is flat: grad_norm_g drops to about a thousandth of the non-saturating run's, d_fake "
            "sits at 0 and the samples never reach the ring. Run vanishing-nonsaturating beside it: the only "
            "difference is the generator's loss. (Plain SGD here: Adam would rescale the tiny gradient.)",
            _2d(RING, 800, train=OVERPOWERED),
            group="minimax-vs-nonsaturating",
            watch=["grad_norm_g", "d_fake", "hq_fraction"],
            effect=Effect(
                (("grad_norm_g", "<=", 0.05), ("d_fake", "<=", 0.01)),
                "D rejects every fake and G's gradient norm is below 0.05",
            ),
        ),
        Preset(
            "vanishing-nonsaturating",
            "The non-saturating loss keeps the gradient alive",
            "The same set-up with the non-saturating loss, log D(G(z)) maximised: its gradient is steepest exactly "
            "where the minimax loss is flat, so grad_norm_g stays in the units-to-tens, and the samples land on "
            "the ring within a few hundred steps (hq_fraction near 1), though on few modes: the same fast, "
            "greedy generator collapses.",
            _2d(RING, 800, train=OVERPOWERED | {"loss": "nonsaturating"}),
            group="minimax-vs-nonsaturating",
            watch=["grad_norm_g", "d_fake", "hq_fraction"],
            effect=Effect(
                (("hq_fraction", ">=", 0.5), ("grad_norm_g", ">=", 1.0)),
                "half the samples reach a mode, G's gradient norm above 1",
            ),
        ),
        Preset(
            "d-overpowered",
            "Imbalance: the discriminator wins",
            "D takes 5 large SGD steps for every small G step (the vanishing-minimax set-up). D's loss "
            "falls to 0 with d_real → 1 and d_fake → 0: D wins outright, its verdict carries no gradient the "
            "generator can use, and the samples stall off the data. The same run with one-sided label smoothing "
            "(d-overpowered-smoothing) or instance noise (d-overpowered-noise) recovers.",
            _2d(RING, 1000, train=OVERPOWERED),
            group="imbalance",
            watch=["d_loss", "d_real", "d_fake", "grad_norm_g"],
            effect=Effect((("d_loss", "<=", 0.01),), "D's loss below 0.01"),
        ),
        Preset(
            "d-overpowered-smoothing",
            "Imbalance: one-sided label smoothing stops D's certainty",
            "The overpowered discriminator with its real target lowered to 0.8 (Salimans et al. 2016). D can no "
            "longer be rewarded for certainty about real data: d_real settles near 0.8 and D's loss has a floor of "
            "about 0.5 (the entropy of the target) instead of falling to 0. Watch d_fake and grad_norm_g too: "
            "smoothing leaves the fake side alone, so with the minimax loss the generator's gradient stays small "
            "for a while; it gets going later than with instance noise.",
            _2d(RING, 1000, {"label_smoothing": 0.2}, train=OVERPOWERED),
            group="imbalance",
            watch=["d_loss", "d_real", "d_fake", "grad_norm_g"],
            effect=Effect((("d_loss", ">=", 0.4), ("d_real", "<=", 0.85)), "D's loss stays off 0, d_real near 0.8"),
        ),
        Preset(
            "d-overpowered-noise",
            "Imbalance eased by instance noise",
            "The overpowered discriminator sees real and fake points through Gaussian noise (σ 0.3, annealed to 0 "
            "over 1000 steps; Sønderby et al. 2017). The blurred distributions overlap, so D cannot reject fakes "
            "with certainty: d_fake stays well above 0 and grad_norm_g is a hundred times the overpowered run's. "
            "The samples move out to the ring and spread over several modes; they sharpen after the noise is gone.",
            _2d(RING, 1000, {"instance_noise": {"std": 0.3, "anneal_steps": 1000}}, train=OVERPOWERED),
            group="imbalance",
            watch=["d_loss", "d_real", "d_fake", "grad_norm_g", "noise_std"],
            effect=Effect(
                (("d_fake", ">=", 0.05), ("grad_norm_g", ">=", 0.3)),
                "D no longer rejects fakes with certainty; G's gradient norm above 0.3",
            ),
        ),
        Preset(
            "digits-dcgan",
            "DCGAN on 8×8 digits",
            "A small DCGAN (strided convolutions, batch norm, transposed-convolution upsampling) on scikit-learn's "
            "8×8 digits. The sample grid turns from noise into recognisable digits within a couple of thousand "
            "steps; fd falls and class_coverage reaches 10 as every digit appears.",
            DIGITS,
            group="digits",
            watch=["fd", "class_coverage", "class_kl"],
            effect=Effect(
                (("class_coverage", ">=", 10), ("fd", "<=", 300)), "all 10 digits appear and fd falls below 300"
            ),
        ),
        Preset(
            "digits-dcgan-resize",
            "DCGAN with resize-convolution upsampling",
            "digits-dcgan with each transposed convolution replaced by nearest-neighbour resize then convolution "
            "(Odena et al. 2016), which avoids checkerboard artefacts. Compare the sample grids side by side.",
            DIGITS | {"model": DIGITS["model"] | {"upsample": "resize_conv"}},
            group="digits",
            watch=["fd", "class_coverage"],
            effect=Effect((("class_coverage", ">=", 10),), "all 10 digits appear"),
        ),
        Preset(
            "digits-cgan",
            "Conditional GAN: ask for a digit",
            "The label is fed to both networks (Mirza & Osindero 2014), so you choose which digit to draw: sample "
            "with label=3 and get threes. label_accuracy tells how often the classifier agrees with the label asked.",
            DIGITS | {"model": DIGITS["model"] | {"conditional": True}},
            group="digits",
            watch=["label_accuracy", "fd", "class_coverage"],
            effect=Effect(
                (("label_accuracy", ">=", 0.8),), "the classifier agrees with the requested digit 80% of the time"
            ),
        ),
        Preset(
            "fashion-dcgan",
            "DCGAN on 28×28 Fashion-MNIST",
            "A DCGAN on 28×28 Fashion-MNIST (Debian's dataset-fashion-mnist), about 18 steps a second on one CPU "
            "core. Outlines of shirts, trousers, shoes and bags appear within a few hundred steps; all 10 classes are "
            "drawn by step 250 and fd falls steadily (from thousands to about 100 over the 2000 steps).",
            {
                "steps": 2000,
                "dataset": {"kind": "fashion_mnist"},
                "model": {"arch": "dcgan", "z_dim": 64, "hidden": 32},
                "train": IMAGE_TRAIN,
                "stream": {"eval_every": 250, "eval_samples": 1000, "samples_every": 50, "n_samples": 64},
            },
            group="fashion",
            watch=["fd", "class_coverage"],
            effect=Effect(
                (("class_coverage", ">=", 10), ("fd", "<=", 300)), "all 10 classes appear and fd falls below 300"
            ),
        ),
        Preset(
            "dirac-gan",
            "Non-convergence: the Dirac-GAN circles for ever",
            "The smallest GAN that does not converge (Mescheder et al. 2018 §2). The real data is the single point "
            "0, the generator the single point θ, the discriminator the line D(x) = ψ·x: the only equilibrium is "
            "θ = ψ = 0, and the whole game is the (θ, ψ) plane. Both players take plain gradient steps of 0.2 from "
            "(1, 1), one after the other, with the original minimax loss. Watch the plane: the arrows of the update "
            "field turn around the centre, and the trajectory goes round and round it on a closed curve. "
            "equilibrium_distance starts at √2 ≈ 1.41 and is still about that after 500 steps: each player's move "
            "undoes the other's, the chasing game of the chapter. The 500 steps take about a second; to toggle a "
            "fix while it runs (r1_gamma 0.3, or instance noise σ 0.7) and see the circle bend into an inward "
            "spiral, start it with more steps.",
            _dirac(),
            group="dirac",
            watch=DIRAC_WATCH,
            effect=Effect(
                (("step", ">=", 500), ("equilibrium_distance", ">=", 1.3), ("equilibrium_distance", "<=", 1.6)),
                "after 500 steps still circling at about the starting distance √2 from equilibrium",
            ),
        ),
        Preset(
            "dirac-gan-simultaneous",
            "Non-convergence: simultaneous updates spiral outward",
            "dirac-gan with simultaneous updates: both players step from the same point, each against where the "
            "other was, instead of one after the other. Every step runs along the tangent of the circle the "
            "alternating players kept to, so it lands a little further out: on the (θ, ψ) plane the trajectory "
            "spirals away from the equilibrium, and equilibrium_distance grows from 1.41 to about 3 in 500 steps "
            "and keeps growing. Same loss, same step size: only the order of the updates differs from dirac-gan.",
            _dirac(train={"updates": "simultaneous"}),
            group="dirac",
            watch=DIRAC_WATCH,
            effect=Effect((("equilibrium_distance", ">=", 2.5),), "spirals outward, beyond distance 2.5"),
        ),
        Preset(
            "dirac-gan-noise",
            "Non-convergence fixed by instance noise",
            "dirac-gan with instance noise σ 0.7 on every input of D, real and fake (Sønderby et al. 2017). The "
            "two blurred point masses overlap, so D's best slope is finite, and the update field gains a pull "
            "towards the centre: the trajectory spirals in, and equilibrium_distance falls below 0.05 within a "
            "few hundred steps. It does not settle exactly: each step sees a fresh batch of noise (1000 draws), so "
            "the point keeps jittering about a hundredth around the equilibrium. The field shown is the expected "
            "one, over a fixed set of noise draws.",
            _dirac(tricks={"instance_noise": {"std": 0.7}}),
            group="dirac",
            watch=[*DIRAC_WATCH, "noise_std"],
            effect=Effect((("equilibrium_distance", "<=", 0.05),), "converges to within 0.05 of the equilibrium"),
        ),
        Preset(
            "dirac-gan-r1",
            "Non-convergence fixed by the R1 gradient penalty",
            "dirac-gan with the R1 penalty γ 0.3 (Mescheder et al. 2018, eq. 9): D pays γ/2·‖∇ₓD‖² on real data, "
            "which for D(x) = ψ·x is γ/2·ψ², so every D step also shrinks ψ towards 0. That damping turns the "
            "circle into a spiral into the equilibrium: watch the arrows near the θ axis tilt inward, and "
            "equilibrium_distance fall below 0.01 within about 150 steps and on towards 0. It is the fix the paper "
            "proves convergent; unlike instance noise it leaves the data sharp, and the point settles exactly.",
            _dirac(tricks={"r1_gamma": 0.3}),
            group="dirac",
            watch=[*DIRAC_WATCH, "r1_gamma"],
            effect=Effect((("equilibrium_distance", "<=", 0.01),), "converges to within 0.01 of the equilibrium"),
        ),
    ]
}


class PresetError(KeyError):
    def __str__(self) -> str:
        return f"unknown preset '{self.args[0]}'; known: {', '.join(PRESETS)}"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise PresetError(name)
    return PRESETS[name]


def preset_config(name: str, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The preset's config with any field overridden (the preset is a starting point, not a cage)."""
    config = get_preset(name).config()
    return apply_patch(config, overrides, live_only=False) if overrides else config


def same_setup(preset: str, run_config: dict[str, Any]) -> bool:
    """Whether a run's config is the preset's, up to the seed, the device and the length (which change the draw or
    how far it got, not what it shows), so that its samples may stand for the preset's picture."""
    try:
        config = parse_config(run_config)
    except ConfigError:
        return False  # a config from an older schema: not this preset's any more
    return config.model_dump(exclude=SETUP_ASIDE) == _setup(preset)


SETUP_ASIDE = {"seed", "device", "steps"}


@cache
def _setup(preset: str) -> dict[str, Any]:
    """The preset's config less ``SETUP_ASIDE``, parsed once: a gallery load compares it with many stored runs."""
    return get_preset(preset).config().model_dump(exclude=SETUP_ASIDE)


__all__ = ["PRESETS", "ConfigError", "Preset", "PresetError", "get_preset", "preset_config", "same_setup"]
