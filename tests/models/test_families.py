"""The model families beside the GAN (AE, VAE, MADE): each loss against an independent computation, MADE's masks
and sampler, training on the ring and the digits, bit-identical resume, sampling through ``models.sampling``, the
live β, and the GAN-only settings they refuse."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from models import trainer as trainer_module
from models.checkpoint import load_checkpoint, save_checkpoint, save_generator, trainer_from_checkpoint
from models.config import ConfigError, RunConfig, parse_config
from models.families import get_family
from models.families.ae import AutoEncoder, gaussian_kl
from models.families.made import MADE
from models.metrics import METRIC_LABELS, QUALITY_METRICS, TIMING_METRICS
from models.sampling import load_generator, sample, samples_png
from models.trainer import Trainer, data_meta
from tests.models.tiny import cut_short, equal, small_digits, tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAMILIES = ("ae", "vae", "made")
RING_META = {"name": "ring", "sample_shape": [2], "num_classes": 0, "is_image": False, "bounds": [-2, 2, -1.5, 1.5]}
DIGITS_META = {"name": "digits", "sample_shape": [1, 8, 8], "num_classes": 10, "is_image": True}


def family_config(family: str, **sections: Any) -> RunConfig:
    """The tiny ring config (``tests.models.tiny``) for ``family``; a ``dataset`` section replaces the ring."""
    model = {"family": family, "z_dim": 2, "hidden": 32, "layers": 2, "bins": 8} | sections.pop("model", {})
    dataset = sections.pop("dataset", None)
    config = tiny_config(model=model, **sections)
    if dataset is None:
        return config
    return parse_config(config.model_dump(mode="json") | {"dataset": dataset})


def digits_config(family: str, **sections: Any) -> RunConfig:
    return family_config(family, dataset={"kind": "digits"}, **sections)


def deterministic(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k not in TIMING_METRICS}


# ----------------------------------------------------------------------------------------- losses


def test_vae_kl_term_is_the_closed_form_kl_to_the_standard_normal():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-5)


def test_vae_loss_is_recon_plus_beta_kl_and_its_elbo_is_the_gaussian_decoders_bound():
    """Recomputed by hand from the same draw: the encoder's (μ, σ), z = μ + σ·ε, log N(x; x̂, ½I) and the KL of
    torch.distributions."""
    config = family_config("vae", train={"kl_weight": 0.3})
    model, _ = get_family("vae").build(config, RING_META, torch.Generator().manual_seed(0))
    assert isinstance(model, AutoEncoder)
    x = torch.randn(7, 2)
    loss, stats = get_family("vae").loss(model, x, config, torch.Generator().manual_seed(5))

    h = model.encoder_out(model.encoder_body(x))
    mu, logvar = h[:, :2], h[:, 2:]
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))
    x_hat = model.decoder(mu + (0.5 * logvar).exp() * eps)
    log_likelihood = Normal(x_hat, config.model.decoder_std).log_prob(x).sum(1)
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    recon = ((x - x_hat) ** 2).sum(1)
    assert torch.allclose(stats["recon"], recon.mean(), atol=1e-5)
    assert torch.allclose(stats["kl"], kl.mean(), atol=1e-5)
    assert torch.allclose(stats["elbo"], (log_likelihood - kl).mean(), atol=1e-5)
    assert torch.allclose(loss, -log_likelihood.mean() + 0.3 * kl.mean(), atol=1e-4)


def test_ae_loss_is_the_squared_reconstruction_error_of_its_own_code():
    config = family_config("ae")
    model, _ = get_family("ae").build(config, RING_META, torch.Generator().manual_seed(0))
    assert isinstance(model, AutoEncoder)
    x = torch.randn(6, 2)
    loss, stats = get_family("ae").loss(model, x, config, torch.Generator().manual_seed(0))
    z = model.encoder_out(model.encoder_body(x))
    assert z.shape == (6, 2)
    expected = ((x - model.decoder(z)) ** 2).sum(1).mean()
    assert torch.allclose(loss, expected) and torch.allclose(stats["recon"], expected)


@pytest.mark.parametrize("meta", [RING_META, DIGITS_META], ids=["2d", "digits"])
def test_made_masks_are_autoregressive_by_a_jacobian_check(meta: dict[str, Any]):
    """d logits_i / d input_j is 0 for every j ≥ i and not all 0 for j < i (one-hot inputs, K per dimension)."""
    config = family_config("made", model={"hidden": 24, "bins": 5, "activation": "tanh"})  # tanh: no dead units
    model, _ = get_family("made").build(config, meta, torch.Generator().manual_seed(0))
    assert isinstance(model, MADE)
    d, k = model.dims, model.k
    x = torch.rand(1, d * k)
    jacobian = torch.autograd.functional.jacobian(lambda v: model.logits(v)[0], x)  # (D, K, 1, D·K)
    blocks = jacobian.reshape(d, k, d, k).abs().sum(dim=(1, 3))  # (D out, D in)
    for i, j in itertools.product(range(d), range(d)):
        if j >= i:
            assert blocks[i, j] == 0, (i, j)
    assert all(blocks[i, :i].sum() > 0 for i in range(1, d))


def test_made_likelihood_is_exact_it_sums_to_one_over_every_discrete_point():
    config = family_config("made", model={"bins": 6})
    model, _ = get_family("made").build(config, RING_META, torch.Generator().manual_seed(1))
    assert isinstance(model, MADE)
    lo, hi = model.lo, model.hi
    centres = [lo[i] + (torch.arange(6) + 0.5) / 6 * (hi[i] - lo[i]) for i in range(2)]
    grid = torch.cartesian_prod(centres[0], centres[1])  # (36, 2): one point in every bin pair
    with torch.no_grad():
        total = (-model.nll(grid)).exp().sum()
    assert abs(float(total) - 1.0) < 1e-5


def test_made_sampler_draws_from_its_own_density():
    """Category frequencies of 20 000 samples (one dimension at a time) match exp(−nll) of every bin pair."""
    config = family_config("made", model={"bins": 4})
    model, _ = get_family("made").build(config, RING_META, torch.Generator().manual_seed(2))
    assert isinstance(model, MADE)
    samples = get_family("made").sample(model, config, 20_000, seed=3, device=torch.device("cpu"))
    assert samples.shape == (20_000, 2)
    cats = model.categories(samples)
    empirical = torch.bincount(cats[:, 0] * 4 + cats[:, 1], minlength=16).double() / 20_000
    lo, hi = model.lo, model.hi
    centres = [lo[i] + (torch.arange(4) + 0.5) / 4 * (hi[i] - lo[i]) for i in range(2)]
    with torch.no_grad():
        density = (-model.nll(torch.cartesian_prod(centres[0], centres[1]))).exp().double()
    assert 0.5 * (empirical - density).abs().sum() < 0.02


# ----------------------------------------------------------------------------------------- training


LOSS_OF = {"ae": lambda m: m["recon"], "vae": lambda m: -m["elbo"], "made": lambda m: m["nll"]}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("dataset", ["ring", "digits"])
def test_each_family_trains_and_its_loss_falls(family: str, dataset: str, tmp_path: Path):
    if dataset == "ring":
        trainer = Trainer(family_config(family, model={"bins": 16}, train={"lr_g": 3e-3}), tmp_path)
    else:
        trainer = Trainer(digits_config(family, train={"lr_g": 3e-3}), tmp_path, dataset=small_digits())
    losses = [LOSS_OF[family](trainer.step()) for _ in range(300)]
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    assert last < first - 0.2 * abs(first), (first, last)
    assert trainer.step_count == 300


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_reports_its_own_figures_and_no_gan_ones(family: str):
    metrics = Trainer(family_config(family)).step()
    expected = {"ae": {"recon"}, "vae": {"elbo", "recon", "kl", "kl_weight"}, "made": {"nll", "bpd"}}[family]
    assert expected | {"grad_norm", "it_per_s", "step"} <= metrics.keys()
    assert not {"d_loss", "g_loss", "d_real", "noise_std"} & metrics.keys()
    assert all(name in METRIC_LABELS for name in metrics.keys() - {"step"})


@pytest.mark.parametrize("family", ("gan", *FAMILIES))
def test_quality_metrics_and_sampling_cost_apply_to_every_family_on_the_ring(family: str):
    metrics = Trainer(family_config(family)).step()  # step 1 measures quality
    assert {"modes_covered", "hq_fraction", "reverse_kl", "ms_per_sample"} <= metrics.keys()
    assert metrics["ms_per_sample"] > 0
    assert "ms_per_sample" in QUALITY_METRICS


@pytest.mark.parametrize("family", ("gan", *FAMILIES))
def test_digit_quality_metrics_apply_to_every_family(family: str, tmp_path: Path):
    model = {"arch": "mlp"} if family == "gan" else {}
    config = digits_config(family, model=model, stream={"eval_every": 1000, "eval_samples": 100})
    metrics = Trainer(config, tmp_path, dataset=small_digits()).step()
    assert {"fd", "class_coverage", "ms_per_sample"} <= metrics.keys()


def test_made_pays_a_pass_per_dimension_so_its_digit_samples_cost_more_than_a_vaes(tmp_path: Path):
    costs = {}
    for family in ("vae", "made"):
        trainer = Trainer(digits_config(family, stream={"eval_samples": 1000}), tmp_path, dataset=small_digits())
        costs[family] = min(trainer._timed_sample(1000, 0)[1] for _ in range(3))
    assert costs["made"] > 5 * costs["vae"], costs


@pytest.mark.parametrize("family", FAMILIES)
def test_resume_from_checkpoint_continues_bit_identically(family: str, tmp_path: Path):
    config = family_config(family, stream={"eval_every": 2})
    straight, first = Trainer(config, tmp_path), Trainer(config, tmp_path)
    expected = [deterministic(straight.step()) for _ in range(6)]
    got = [deterministic(first.step()) for _ in range(3)]
    path = save_checkpoint(first, tmp_path / "checkpoint.pt")
    resumed = trainer_from_checkpoint(load_checkpoint(path), tmp_path)
    got += [deterministic(resumed.step()) for _ in range(3)]
    assert got == expected
    equal(resumed.state_dict(), straight.state_dict())


@pytest.mark.parametrize("family", FAMILIES)
def test_steps_cut_short_and_reloaded_carry_on_as_the_run_would_have(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Every step interruptible inside its update and its quality measurement (``eval_every`` 1), asking at every
    layer: a cut-short update leaves no trace, so the run is the straight one."""
    monkeypatch.setattr(trainer_module, "INTERRUPTIBLE_UPDATES_SECONDS", 0.0)
    monkeypatch.setattr(trainer_module, "CHECK_SECONDS", 0.0)
    config = family_config(family, stream={"eval_every": 1, "eval_samples": 100})
    run = cut_short(config, tmp_path, steps=6, seed=5, reload_every=2)
    assert run.interrupted >= 1
    # A quality measurement cut short is skipped (the one before stays the reference of the next mode_drift).
    straight, cut = run.straight.state_dict(), run.cut.state_dict()
    for state in (straight, cut):
        state.pop("modes_before")
    equal(straight, cut)
    keys = get_family(family).metrics
    assert [[m[k] for k in keys] for m in run.expected] == [[m[k] for k in keys] for m in run.got]


@pytest.mark.parametrize("family", FAMILIES)
def test_samples_through_the_sampling_module_match_the_trainers(family: str, tmp_path: Path):
    trainer = Trainer(family_config(family), tmp_path)
    for _ in range(3):
        trainer.step()
    for path in (save_checkpoint(trainer, tmp_path / "c.pt"), save_generator(trainer, tmp_path / "g.pt")):
        loaded = load_generator(load_checkpoint(path, required=("config", "data", "step", "generator")))
        drawn = sample(loaded, 50, seed=9)
        assert drawn.shape == (50, 2)
        assert torch.equal(drawn, trainer.sample(50, 9).cpu())
        assert samples_png(loaded, drawn).startswith(b"\x89PNG")


@pytest.mark.parametrize("family", FAMILIES)
def test_digit_samples_through_the_sampling_module_are_images(family: str, tmp_path: Path):
    trainer = Trainer(digits_config(family, stream={"eval_every": 1000}), tmp_path, dataset=small_digits())
    loaded = load_generator(load_checkpoint(save_checkpoint(trainer, tmp_path / "c.pt")))
    drawn = sample(loaded, 4, seed=1)
    assert drawn.shape == (4, 1, 8, 8) and drawn.min() >= -1 and drawn.max() <= 1
    if family == "made":
        assert set(drawn.unique().tolist()) <= {-1.0, 1.0}  # binarised pixels


def test_fork_of_a_vae_keeps_its_weights_and_a_fork_into_another_family_is_refused(tmp_path: Path):
    parent = Trainer(family_config("vae"), tmp_path)
    parent.step()
    state = load_checkpoint(save_checkpoint(parent, tmp_path / "c.pt"))
    fork = trainer_from_checkpoint(state, tmp_path, overrides={"train": {"lr_g": 0.01}})
    equal(fork.generator.state_dict(), parent.generator.state_dict())
    fork.step()
    with pytest.raises(ConfigError) as refused:
        trainer_from_checkpoint(state, tmp_path, overrides={"model": {"family": "ae"}})
    assert refused.value.errors[0]["field"] == "model.family"


# ----------------------------------------------------------------------------------------- config


def test_kl_weight_is_live_and_a_patch_changes_the_loss():
    """The patched run reports its new β, and its update (recon + β·KL) differs from the unpatched one's."""
    plain, patched = Trainer(family_config("vae")), Trainer(family_config("vae"))
    patched.patch({"train": {"kl_weight": 0.1}})
    a, b = plain.step(), patched.step()
    assert a["kl_weight"] == 1.0 and b["kl_weight"] == 0.1 and b["config_changed"] == 1.0
    assert a["kl"] == b["kl"]  # the same batch and draw: only the weight of the term differs
    assert not all(torch.equal(p, q) for p, q in zip(plain.generator.parameters(), patched.generator.parameters()))
    assert patched.change_log[0] == {"step": 1, "changes": {"train.kl_weight": 0.1}}


@pytest.mark.parametrize(
    ("tricks", "field"),
    [
        ({"label_smoothing": 0.1}, "tricks.label_smoothing"),
        ({"instance_noise": {"std": 0.1}}, "tricks.instance_noise.std"),
        ({"unroll_steps": 3}, "tricks.unroll_steps"),
        ({"feature_matching": {"enabled": True}}, "tricks.feature_matching.enabled"),
        ({"replay": {"size": 10}}, "tricks.replay.size"),
        ({"pack": 2}, "tricks.pack"),
        ({"r1_gamma": 1.0}, "tricks.r1_gamma"),
    ],
)
def test_gan_tricks_switched_on_are_refused_for_other_families_naming_the_field(tricks: dict[str, Any], field: str):
    for family in FAMILIES:
        with pytest.raises(ConfigError) as refused:
            family_config(family, tricks=tricks)
        assert refused.value.errors[0]["field"] == field
        assert "GAN trick" in refused.value.errors[0]["reason"]
    family_config("gan", tricks=tricks)  # the GAN takes them


def test_a_trick_patched_live_into_a_vae_run_is_refused():
    trainer = Trainer(family_config("vae"))
    with pytest.raises(ConfigError) as refused:
        trainer.patch({"tricks": {"r1_gamma": 1.0}})
    assert refused.value.errors[0]["field"] == "tricks.r1_gamma"


def test_other_families_are_mlps_without_a_conditional_form():
    with pytest.raises(ConfigError) as refused:
        digits_config("vae", model={"arch": "dcgan"})
    assert refused.value.errors[0]["field"] == "model.arch"
    with pytest.raises(ConfigError) as refused:
        digits_config("ae", model={"conditional": True})
    assert refused.value.errors[0]["field"] == "model.conditional"


def test_single_d_or_g_updates_by_hand_are_refused_where_there_is_no_d():
    trainer = Trainer(family_config("made"))
    with pytest.raises(ValueError, match="no separate D and G"):
        trainer.manual("d")
    assert trainer.manual("both")["step"] == 1


def test_gan_is_the_default_family_and_builds_the_same_networks_as_before():
    from models.networks import build_networks

    config = tiny_config()
    assert config.model.family == "gan"
    trainer = Trainer(config)
    g, d = build_networks(config.model, (2,), 0, 1, torch.Generator().manual_seed(config.seed))
    equal(trainer.generator.state_dict(), g.state_dict())
    equal(trainer.discriminator.state_dict(), d.state_dict())
    assert data_meta(trainer.data)["sample_shape"] == [2]
