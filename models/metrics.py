"""The metric vocabulary: every metric a run reports, its label, and the charts that group them.

Defined once here, where the metrics are made; the API serves it (``GET /api/meta``) and the page and the CLI read
it instead of keeping lists of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    quality: bool = False  # a quality measurement (taken every ``stream.eval_every`` steps), not a per-step value
    summary: bool = False  # one of the few a run list shows beside each run


@dataclass(frozen=True)
class Series:
    name: str
    axis: Literal["y", "y2"] = "y"  # y2: a second scale on the right (fractions beside counts)


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    series: tuple[Series, ...]
    points: bool = False  # sparse series (quality) are drawn as points
    testid: str | None = None


METRICS: tuple[Metric, ...] = (
    Metric("d_loss", "D loss", summary=True),
    Metric("g_loss", "G loss", summary=True),
    Metric("d_real", "D(x) real"),
    Metric("d_fake", "D(G(z)) fake"),
    Metric("grad_norm_g", "‖∇G‖"),
    Metric("grad_norm_d", "‖∇D‖"),
    Metric("modes_covered", "modes covered", quality=True, summary=True),
    Metric("hq_fraction", "hq fraction", quality=True, summary=True),
    Metric("reverse_kl", "reverse KL", quality=True),
    # Total variation between this and the previous measurement's samples per mode: a hopping generator's signature.
    Metric("mode_drift", "mode drift", quality=True, summary=True),
    Metric("fd", "FD", quality=True, summary=True),
    Metric("class_coverage", "classes covered", quality=True, summary=True),
    Metric("class_kl", "class KL", quality=True),
    Metric("label_accuracy", "label accuracy", quality=True),
    Metric("it_per_s", "it/s"),
    Metric("noise_std", "instance noise σ"),
    Metric("unroll_steps", "unroll steps"),
    Metric("d_steps", "D steps"),
    Metric("replay_fraction", "replayed fraction"),
    Metric("r1_gamma", "R1 γ"),
    # The Dirac-GAN's whole state (models.dirac): G's θ, D's ψ and how far they are from the equilibrium (0, 0).
    Metric("theta", "θ (G)"),
    Metric("psi", "ψ (D)"),
    Metric("equilibrium_distance", "distance from equilibrium", summary=True),
    # The families beside the GAN (models.families): an autoencoder's and a VAE's reconstruction error ‖x − x̂‖²,
    # a VAE's ELBO and KL term and its live β, MADE's exact negative log-likelihood (nats, and bits per dimension).
    Metric("recon", "reconstruction ‖x − x̂‖²", summary=True),
    Metric("elbo", "ELBO", summary=True),
    Metric("kl", "KL(q(z|x) ‖ p(z))"),
    Metric("kl_weight", "KL weight β"),
    Metric("nll", "NLL (nats)", summary=True),
    Metric("bpd", "bits per dimension"),
    Metric("grad_norm", "‖∇‖ (whole model)"),
    # Measured at each quality measurement: wall time per sample of the family's sampler (one pass of G or of a
    # decoder; one pass per dimension for MADE).
    Metric("ms_per_sample", "ms per sample", quality=True),
)
METRIC_LABELS = {m.name: m.label for m in METRICS}
QUALITY_METRICS = frozenset(m.name for m in METRICS if m.quality)
# Wall-clock figures: the only metrics two identical runs may report differently.
TIMING_METRICS = frozenset({"it_per_s", "ms_per_sample"})

CHARTS: tuple[Chart, ...] = (
    Chart("loss", "Loss", (Series("d_loss"), Series("g_loss")), testid="loss-chart"),
    Chart("dout", "D(x) vs D(G(z))", (Series("d_real"), Series("d_fake"))),
    Chart("grad", "Gradient norms", (Series("grad_norm_g"), Series("grad_norm_d"))),
    Chart(
        "quality",
        "Quality",
        (
            Series("modes_covered"),
            Series("hq_fraction", "y2"),
            Series("fd"),
            Series("class_coverage", "y2"),
            Series("label_accuracy", "y2"),
        ),
        points=True,
    ),
    Chart("drift", "Mode drift (share of samples that changed mode)", (Series("mode_drift"),), points=True),
    Chart(
        "dirac",
        "Dirac-GAN: θ, ψ and the distance from equilibrium",
        (Series("theta"), Series("psi"), Series("equilibrium_distance")),
    ),
    Chart("recon", "Reconstruction and ELBO (AE, VAE)", (Series("recon"), Series("kl"), Series("elbo", "y2"))),
    Chart("likelihood", "Exact likelihood (MADE)", (Series("nll"), Series("bpd", "y2"))),
    Chart("speed", "Speed (it/s)", (Series("it_per_s"),)),
    Chart("sampling_cost", "Sampling cost (ms per sample)", (Series("ms_per_sample"),), points=True),
)
