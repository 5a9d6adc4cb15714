"""The course chapter in its own order: each problem it names, then each fix, with the presets that show it.

The chapter ("GAN Problems") lists five problems (non-convergence, mode collapse, diminished gradient, the
generator/discriminator imbalance, sensitivity to hyperparameters) and then the solutions by kind: network design
(DCGAN, resize-convolution), cost functions (one-sided label smoothing, feature matching) and optimisation
(experience replay, training with labels, adding noise, unrolling). One lesson past the chapter closes it: the
zero-centred gradient penalty that Mescheder et al. (2018) prove makes the Dirac-GAN converge.

Before the problems comes the chapter's taxonomy (6.2): explicit, approximate and implicit density, one family of
each trained on the same data (``together``: the presets to start at once and watch side by side, one set per
dataset).

A lesson only names presets and sweep lessons; what each shows and how it is measured lives with the preset
(``models/presets.py``) and the sweep lesson (``models/sweeps.py``), so there is one description of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Lesson:
    name: str
    kind: Literal["taxonomy", "problem", "fix"]
    title: str
    chapter: str  # where in the chapter (or past it) the lesson comes from
    problem: tuple[str, ...]  # presets that show the problem
    fix: tuple[str, ...] = ()  # presets that show the fix (beside the problem, same seed)
    sweeps: tuple[str, ...] = ()  # sweep lessons
    watch: tuple[str, ...] = ()  # the metrics that tell the story
    together: tuple[tuple[str, ...], ...] = ()  # sets of presets to run at once, side by side (one per dataset)


PROBLEMS = "6.4.1 Problems"
SOLUTIONS = "6.4.1 Solutions"

TAXONOMY = "6.2 Generative Model Taxonomy"

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "density-families",
        "taxonomy",
        "Explicit, approximate and implicit density: four families on the same data",
        f"{TAXONOMY}: explicit density (MADE), approximate density (AE, VAE), implicit density (the GAN)",
        problem=(),
        together=(
            ("ring-made", "ring-vae", "ring-ae", "ring-unrolled"),
            ("digits-made", "digits-vae", "digits-ae", "digits-dcgan"),
        ),
        watch=("modes_covered", "hq_fraction", "fd", "class_coverage", "nll", "ms_per_sample"),
    ),
    Lesson(
        "non-convergence",
        "problem",
        "Non-convergence: the players circle instead of settling",
        f"{PROBLEMS}: non-convergence, oscillation of model parameters; a chasing game of two players",
        problem=("dirac-gan", "dirac-gan-simultaneous", "ring-vanilla"),
        fix=("dirac-gan-noise", "dirac-gan-r1"),
        watch=("equilibrium_distance", "theta", "psi", "mode_drift"),
    ),
    Lesson(
        "mode-collapse",
        "problem",
        "Mode collapse: a few modes, never all",
        f"{PROBLEMS}: mode collapse, the generator produces limited varieties of samples",
        problem=("ring-vanilla", "grid-vanilla"),
        fix=("ring-unrolled", "grid-unrolled"),
        watch=("modes_covered", "reverse_kl", "hq_fraction"),
    ),
    Lesson(
        "diminished-gradient",
        "problem",
        "Diminished gradient: the minimax generator stops learning",
        f"{PROBLEMS}: diminished gradient, log(1 − D(G(z))) is flat when the generator does not work well",
        problem=("vanishing-minimax",),
        fix=("vanishing-nonsaturating",),
        watch=("grad_norm_g", "d_fake"),
    ),
    Lesson(
        "imbalance",
        "problem",
        "Imbalance: the discriminator wins outright",
        f"{PROBLEMS}: unbalance between the generator and discriminator (the discriminator works too well)",
        problem=("d-overpowered",),
        fix=("d-overpowered-smoothing", "d-overpowered-noise"),
        watch=("d_loss", "d_real", "d_fake", "grad_norm_g"),
    ),
    Lesson(
        "hyperparameter-sensitivity",
        "problem",
        "Sensitivity to hyperparameters: the same GAN, many outcomes",
        f"{PROBLEMS}: highly sensitive to hyperparameters (learning rate, layers, hidden nodes, activation)",
        problem=(),
        sweeps=("sensitivity-lr", "sensitivity-arch"),
        watch=("modes_covered", "hq_fraction"),
    ),
    Lesson(
        "dcgan",
        "fix",
        "Network design: DCGAN",
        f"{SOLUTIONS}, network design: DCGAN's architecture guidelines",
        problem=(),
        fix=("digits-dcgan", "fashion-dcgan"),
        watch=("fd", "class_coverage"),
    ),
    Lesson(
        "resize-convolution",
        "fix",
        "Network design: upsampling then convolution",
        f"{SOLUTIONS}, network design: upsampling followed by a conv layer can work better than transposed conv",
        problem=("digits-dcgan",),
        fix=("digits-dcgan-resize",),
        watch=("fd", "class_coverage"),
    ),
    Lesson(
        "label-smoothing",
        "fix",
        "Cost functions: one-sided label smoothing",
        f"{SOLUTIONS}, cost functions: one-sided label smoothing against an overconfident discriminator",
        problem=("d-overpowered",),
        fix=("d-overpowered-smoothing",),
        watch=("d_loss", "d_real"),
    ),
    Lesson(
        "feature-matching",
        "fix",
        "Cost functions: feature matching",
        f"{SOLUTIONS}, cost functions: feature matching, ‖E f(x) − E f(G(z))‖²",
        problem=("ring-vanilla",),
        fix=("ring-feature-matching",),
        watch=("modes_covered", "mode_drift", "hq_fraction"),
    ),
    Lesson(
        "experience-replay",
        "fix",
        "Optimisation: experience replay",
        f"{SOLUTIONS}, optimisation: experience replay, a buffer of earlier fakes trains the discriminator",
        problem=("ring-vanilla",),
        fix=("ring-replay",),
        watch=("mode_drift", "modes_covered"),
    ),
    Lesson(
        "training-with-labels",
        "fix",
        "Optimisation: training with labels (conditional GAN)",
        f"{SOLUTIONS}, optimisation: training with labels, the conditional GAN",
        problem=(),
        fix=("digits-cgan",),
        watch=("label_accuracy", "class_coverage"),
    ),
    Lesson(
        "instance-noise",
        "fix",
        "Optimisation: adding noise to the discriminator's inputs",
        f"{SOLUTIONS}, optimisation: adding noise when training the discriminator",
        problem=("d-overpowered", "dirac-gan"),
        fix=("d-overpowered-noise", "dirac-gan-noise"),
        watch=("d_fake", "grad_norm_g", "equilibrium_distance"),
    ),
    Lesson(
        "unrolling",
        "fix",
        "Optimisation: unrolling the discriminator",
        f"{SOLUTIONS}, optimisation: the unrolled GAN, the generator looks ahead N steps of the discriminator",
        problem=("ring-vanilla", "grid-vanilla"),
        fix=("ring-unrolled", "grid-unrolled"),
        watch=("modes_covered", "reverse_kl"),
    ),
    Lesson(
        "gradient-penalty",
        "fix",
        "Past the chapter: the zero-centred gradient penalty (R1)",
        "Past the chapter: Mescheder, Geiger & Nowozin 2018, the R1 penalty makes the Dirac-GAN converge",
        problem=("dirac-gan",),
        fix=("dirac-gan-r1",),
        watch=("equilibrium_distance",),
    ),
)
