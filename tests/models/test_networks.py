"""Tests of models.networks: DCGAN and MLP shapes and ranges, conditioning, PacGAN packing, the DCGAN
initialisation, seeded determinism, and where batch norm may (not) sit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.config import ModelConfig
from models.networks import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    build_networks,
)

Z = 8
CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def dcgan(**kw) -> ModelConfig:
    return ModelConfig(arch="dcgan", z_dim=Z, hidden=kw.pop("hidden", 8), **kw)


def mlp(**kw) -> ModelConfig:
    return ModelConfig(arch="mlp", z_dim=Z, hidden=16, **kw)


def networks(cfg: ModelConfig, shape: tuple[int, ...], num_classes: int = 0, pack: int = 1, seed: int = 0):
    return build_networks(cfg, shape, num_classes, pack, torch.Generator().manual_seed(seed))


def latent(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, Z, generator=torch.Generator().manual_seed(seed))


def leaf_modules(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not list(m.children())]


# ----------------------------------------------------------------------------------------- DCGAN shapes


@pytest.mark.parametrize("batch_norm", [True, False], ids=["bn", "no-bn"])
@pytest.mark.parametrize("upsample", ["transposed", "resize_conv"])
@pytest.mark.parametrize("side", [8, 16, 28, 32])
def test_dcgan_generator_output_shape_and_range(side, upsample, batch_norm):
    g, d = networks(dcgan(upsample=upsample, batch_norm=batch_norm), (3, side, side))
    with torch.no_grad():
        x = g(100 * latent(4))  # a huge latent: anything but a final tanh would leave [-1, 1]
        logits = d(x)
    assert x.shape == (4, 3, side, side)
    assert x.abs().max() <= 1.0
    assert logits.shape == (4,)


@pytest.mark.parametrize("side", [8, 16, 28, 32])
def test_dcgan_discriminator_returns_logits_and_batch_first_features(side):
    _, d = networks(dcgan(), (1, side, side))
    x = torch.rand(5, 1, side, side) * 2 - 1
    with torch.no_grad():
        logits, features = d(x), d.features(x)
        from_features = d.head(features).flatten()
    assert logits.shape == (5,)
    assert features.shape[0] == 5 and features.ndim >= 2
    assert torch.equal(logits, from_features)  # the logit is read off the very features D exposes


def test_mlp_discriminator_returns_logits_and_batch_first_features():
    _, d = networks(mlp(), (2,))
    x = torch.randn(6, 2)
    with torch.no_grad():
        logits, features = d(x), d.features(x)
        from_features = d.head(features).squeeze(1)
    assert logits.shape == (6,)
    assert features.shape == (6, 16)
    assert torch.equal(logits, from_features)


@pytest.mark.parametrize("side", [12, 64, 7])
def test_dcgan_unsupported_side_raises_a_clear_value_error(side):
    with pytest.raises(ValueError, match=rf"dcgan supports image sides \[8, 16, 28, 32\], not {side}"):
        networks(dcgan(), (1, side, side))


def test_dcgan_non_square_images_are_refused():
    with pytest.raises(ValueError, match="square"):
        networks(dcgan(), (1, 8, 16))


# ----------------------------------------------------------------------------------------- conditional


@pytest.mark.parametrize(
    "cfg, shape",
    [(dcgan(conditional=True), (1, 8, 8)), (mlp(conditional=True), (1, 8, 8)), (mlp(conditional=True), (2,))],
    ids=["dcgan", "mlp-image", "mlp-2d"],
)
def test_conditional_networks_accept_labels_and_use_them(cfg, shape):
    g, d = networks(cfg, shape, num_classes=10)
    z = latent(4)
    threes, fours = torch.full((4,), 3), torch.full((4,), 4)
    with torch.no_grad():
        x3, x4 = g(z, threes), g(z, fours)
        assert x3.shape == (4, *shape)
        assert d(x3, threes).shape == (4,)
        assert d.features(x3, threes).shape[0] == 4
        assert not torch.equal(x3, x4)  # the label changes what G draws
        assert not torch.equal(d(x3, threes), d(x3, fours))  # and how D judges it


# ----------------------------------------------------------------------------------------- MLP ranges


def test_mlp_generator_for_2d_points_is_unbounded():
    g, _ = networks(mlp(), (2,))
    assert not any(isinstance(m, nn.Tanh) for m in g.modules())
    with torch.no_grad():
        x = g(1000 * latent(64))
    assert x.shape == (64, 2)
    assert x.abs().max() > 1.0


def test_mlp_generator_for_images_is_squashed_by_tanh():
    g, _ = networks(mlp(), (1, 8, 8))
    assert isinstance(g.squash, nn.Tanh)
    with torch.no_grad():
        x = g(1000 * latent(64))
    assert x.shape == (64, 1, 8, 8)
    assert x.abs().max() <= 1.0


# ----------------------------------------------------------------------------------------- packing


def test_packing_widens_the_mlp_discriminator_input():
    _, d = networks(mlp(), (2,), pack=4)
    assert d.body[0].in_features == 8
    with torch.no_grad():
        assert d(torch.randn(16 // 4, 8)).shape == (4,)
    with pytest.raises(RuntimeError):
        d(torch.randn(16, 2))  # unpacked input no longer fits


@pytest.mark.parametrize("channels", [1, 3])
def test_packing_widens_the_dcgan_discriminator_input(channels):
    _, d = networks(dcgan(), (channels, 16, 16), pack=4)
    first_conv = next(m for m in d.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == 4 * channels
    with torch.no_grad():
        assert d(torch.randn(16 // 4, 4 * channels, 16, 16)).shape == (4,)
    with pytest.raises(RuntimeError):
        d(torch.randn(16, channels, 16, 16))


def test_packing_leaves_the_generator_unchanged():
    g1, _ = networks(dcgan(), (1, 8, 8), pack=1)
    g4, _ = networks(dcgan(), (1, 8, 8), pack=4)
    s1, s4 = g1.state_dict(), g4.state_dict()
    assert s1.keys() == s4.keys()
    assert all(s1[k].shape == s4[k].shape for k in s1)


# ----------------------------------------------------------------------------------------- initialisation


def test_dcgan_init_draws_conv_weights_with_std_002_and_bn_scales_near_1():
    g, d = networks(dcgan(hidden=32), (1, 32, 32))
    convs = [m for net in (g, d) for m in net.modules() if isinstance(m, CONVS)]
    norms = [m for net in (g, d) for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 8 and len(norms) == 5
    for conv in convs:
        assert conv.weight.std().item() == pytest.approx(0.02, rel=0.15)
        assert abs(conv.weight.mean().item()) < 0.005
        if conv.bias is not None:
            assert torch.count_nonzero(conv.bias) == 0
    for norm in norms:
        assert norm.weight.mean().item() == pytest.approx(1.0, abs=0.02)
        assert norm.weight.std().item() < 0.05
        assert torch.count_nonzero(norm.bias) == 0


@pytest.mark.parametrize(
    "cfg, shape",
    [(dcgan(), (1, 16, 16)), (dcgan(conditional=True), (1, 8, 8)), (mlp(), (2,)), (mlp(conditional=True), (2,))],
    ids=["dcgan", "dcgan-conditional", "mlp", "mlp-conditional"],
)
def test_init_is_deterministic_for_a_seed_and_differs_across_seeds(cfg, shape):
    def weights(seed: int, global_seed: int) -> list[torch.Tensor]:
        with torch.random.fork_rng():
            torch.manual_seed(global_seed)  # the global stream must not matter
            g, d = networks(cfg, shape, num_classes=10, seed=seed)
        return [*g.state_dict().values(), *d.state_dict().values()]

    first, again, other = weights(0, global_seed=1), weights(0, global_seed=2), weights(1, global_seed=1)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    params = [t for t in first if t.is_floating_point() and t.numel() > 1 and t.std() > 0]
    params_other = [t for t in other if t.is_floating_point() and t.numel() > 1 and t.std() > 0]
    assert params and all(not torch.equal(a, b) for a, b in zip(params, params_other, strict=True))


# ----------------------------------------------------------------------------------------- batch-norm placement


@pytest.mark.parametrize("upsample", ["transposed", "resize_conv"])
@pytest.mark.parametrize("side", [8, 16, 28, 32])
def test_batch_norm_is_never_on_discriminator_input_nor_generator_output(side, upsample):
    g, d = networks(dcgan(upsample=upsample, batch_norm=True), (1, side, side))
    d_layers = leaf_modules(d)
    first_conv = next(i for i, m in enumerate(d_layers) if isinstance(m, nn.Conv2d))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d_layers[: first_conv + 2])
    assert isinstance(d_layers[first_conv + 1], nn.LeakyReLU)

    g_layers = leaf_modules(g)
    last_conv = max(i for i, m in enumerate(g_layers) if isinstance(m, CONVS))
    assert [type(m) for m in g_layers[last_conv + 1 :]] == [nn.Tanh]
    assert g_layers[last_conv].bias is not None  # no BN after it, so it keeps its bias

    # batch norm is there at all the other levels (so the checks above are not vacuous)
    assert any(isinstance(m, nn.BatchNorm2d) for m in g_layers)
    assert any(isinstance(m, nn.BatchNorm2d) for m in d_layers) == (side != 8)  # 8 px: D has a single conv level


def test_batch_norm_off_means_no_batch_norm_anywhere():
    g, d = networks(dcgan(batch_norm=False), (1, 32, 32))
    assert not any(isinstance(m, nn.BatchNorm2d) for net in (g, d) for m in net.modules())
    assert all(m.bias is not None for net in (g, d) for m in net.modules() if isinstance(m, CONVS))


def test_build_networks_picks_the_classes_the_config_names():
    g, d = networks(dcgan(), (1, 8, 8))
    assert isinstance(g, DCGANGenerator) and isinstance(d, DCGANDiscriminator)
    g, d = networks(mlp(), (2,))
    assert isinstance(g, MLPGenerator) and isinstance(d, MLPDiscriminator)
