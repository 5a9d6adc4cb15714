"""Each trick does what its source says, checked from outside the trainer: what reaches D, which loss changes."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from models import tricks
from models.config import RunConfig
from models.losses import LOSSES, GanLoss
from models.trainer import Trainer
from tests.models.tiny import tiny_config


def small_config(**sections: Any) -> RunConfig:
    return tiny_config(**sections)


def rows_in(rows: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """For each row, whether it equals some row of ``table`` exactly."""
    return (rows[:, None, :] == table[None, :, :]).all(dim=-1).any(dim=1)


def record_d_inputs(trainer: Trainer) -> list[torch.Tensor]:
    """Every input D sees, in call order (real then fake for each D update, then G's fake)."""
    seen: list[torch.Tensor] = []
    trainer.discriminator.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    return seen


# ----------------------------------------------------------------------------------------- label smoothing


def test_label_smoothing_changes_only_the_real_target_of_d(monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple[str, Any]] = []
    base = LOSSES["nonsaturating"]

    def d_loss(real: torch.Tensor, fake: torch.Tensor, target: float) -> torch.Tensor:
        calls.append(("d", target))
        return base.d_loss(real, fake, target)

    def g_loss(fake: torch.Tensor) -> torch.Tensor:
        calls.append(("g", None))
        return base.g_loss(fake)

    monkeypatch.setitem(LOSSES, "nonsaturating", GanLoss("nonsaturating", d_loss, g_loss, base.readout))
    Trainer(small_config(tricks={"label_smoothing": 0.2})).step()
    assert calls == [("d", pytest.approx(0.8)), ("g", None)]  # G's loss has no target to smooth


def test_smoothed_d_loss_keeps_fake_target_at_zero():
    real, fake = torch.tensor([1.5, -0.3]), torch.tensor([0.7, -2.0])
    smoothed = LOSSES["minimax"].d_loss(real, fake, 0.9)
    p_real, p_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected = -(0.9 * p_real.log() + 0.1 * (1 - p_real).log()).mean() - (1 - p_fake).log().mean()
    assert torch.allclose(smoothed, expected)


# ----------------------------------------------------------------------------------------- instance noise


def test_instance_noise_reaches_real_and_fake_inputs_of_d(monkeypatch: pytest.MonkeyPatch):
    noised: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = tricks.add_instance_noise

    def spy(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
        out = original(x, std, generator)
        noised.append((x.detach().clone(), out.detach().clone()))
        return out

    monkeypatch.setattr(tricks, "add_instance_noise", spy)
    trainer = Trainer(small_config(tricks={"instance_noise": {"std": 0.5, "anneal_steps": 0}}))
    seen = record_d_inputs(trainer)
    trainer.step()
    # D update: real then fake; G update: fake — every D input went through the noise, with σ 0.5.
    assert len(seen) == 3 and len(noised) == 3
    for (clean, out), d_input in zip(noised, seen):
        assert torch.equal(out, d_input)
        assert (out - clean).std().item() == pytest.approx(0.5, rel=0.25)
    real_clean = noised[0][0]
    assert rows_in(real_clean, trainer.data.x).all()  # the first one is real data


def test_instance_noise_anneals_linearly_and_is_zero_after_anneal_steps():
    trainer = Trainer(small_config(tricks={"instance_noise": {"std": 0.4, "anneal_steps": 10}}))
    sigmas = [trainer.step()["noise_std"] for _ in range(14)]
    assert sigmas[0] == pytest.approx(0.4)
    assert sigmas[5] == pytest.approx(0.4 * 0.5)
    assert sigmas[10:] == [0.0] * 4
    seen = record_d_inputs(trainer)
    x_before = trainer.data.x.clone()
    trainer.step()
    # with σ = 0 the real input of D is exactly a data point
    assert rows_in(seen[0], x_before).all()


def test_instance_noise_annealing_restarts_when_noise_is_patched_live():
    trainer = Trainer(small_config())
    for _ in range(20):
        trainer.step()
    trainer.patch({"tricks": {"instance_noise": {"std": 0.3, "anneal_steps": 4}}})
    assert [round(trainer.step()["noise_std"], 6) for _ in range(5)] == [0.3, 0.225, 0.15, 0.075, 0.0]


# ----------------------------------------------------------------------------------------- replay


def test_replay_fraction_of_ds_fake_batch_comes_from_the_buffer():
    trainer = Trainer(small_config(tricks={"replay": {"size": 256, "fraction": 0.25}}))
    for _ in range(12):  # 12 × 32 fakes: the buffer is full and has had entries replaced
        trainer.step()
    assert len(trainer.replay) == 256
    buffered = trainer.replay.x.clone()
    seen = record_d_inputs(trainer)
    metrics = trainer.step()
    fake_input = seen[1]  # D update: real, fake
    from_buffer = rows_in(fake_input, buffered)
    assert from_buffer[:8].all()  # round(0.25 · 32) = 8 rows replayed
    assert not from_buffer[8:].any()  # the rest are fresh fakes
    assert metrics["replay_fraction"] == pytest.approx(8 / 32)
    assert not torch.equal(trainer.replay.x, buffered)  # new fakes replaced entries after the step


def test_replay_buffer_fills_then_replaces_random_entries():
    buffer = tricks.ReplayBuffer(5)
    g = torch.Generator().manual_seed(0)
    buffer.push(torch.zeros(3, 2), None, g)
    buffer.push(torch.ones(3, 2), None, g)
    assert len(buffer) == 5 and buffer.x[:3].eq(0).all() and buffer.x[3:].eq(1).all()
    buffer.push(torch.full((2, 2), 7.0), None, g)
    assert len(buffer) == 5 and (buffer.x == 7).all(dim=1).sum() == 2


def test_replay_mix_keeps_labels_with_their_samples():
    buffer = tricks.ReplayBuffer(4)
    g = torch.Generator().manual_seed(0)
    buffer.push(torch.arange(4.0)[:, None].repeat(1, 2) + 100, torch.arange(4) + 100, g)
    fake, labels, n = buffer.mix(torch.zeros(6, 2), torch.zeros(6, dtype=torch.long), 0.5, g)
    assert n == 3
    assert torch.equal(fake[:3, 0].long(), labels[:3])  # buffered row i carries label i
    assert labels[3:].eq(0).all()


# ----------------------------------------------------------------------------------------- feature matching


def test_feature_matching_changes_only_the_generator_loss():
    plain = Trainer(small_config())
    matched = Trainer(small_config(tricks={"feature_matching": {"enabled": True}}))
    m_plain, m_matched = plain.step(), matched.step()
    assert m_plain["d_loss"] == m_matched["d_loss"]
    assert m_plain["g_loss"] != m_matched["g_loss"]
    for a, b in zip(plain.discriminator.parameters(), matched.discriminator.parameters()):
        assert torch.equal(a, b)  # D's update is the ordinary one
    assert any(not torch.equal(a, b) for a, b in zip(plain.generator.parameters(), matched.generator.parameters()))


def test_feature_matching_loss_is_squared_distance_of_mean_features():
    real, fake = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    # means (2, 3) and (1, 1): ‖(1, 2)‖² = 5
    assert tricks.feature_matching_loss(real, fake).item() == pytest.approx(5.0)


def test_feature_matching_never_leaves_gradients_on_d():
    trainer = Trainer(small_config(tricks={"feature_matching": {"enabled": True, "keep_adversarial": True}}))
    loss = LOSSES["nonsaturating"]
    d_stats = trainer._discriminator_update(loss, 0.0)
    trainer.discriminator.zero_grad(set_to_none=True)
    trainer._generator_update(loss, 0.0, d_stats)
    assert all(p.grad is None for p in trainer.discriminator.parameters())
    assert all(p.grad is not None for p in trainer.generator.parameters())


# ----------------------------------------------------------------------------------------- packing and d_steps


def test_packing_feeds_d_m_samples_at_once():
    trainer = Trainer(small_config(tricks={"pack": 4}))
    seen = record_d_inputs(trainer)
    trainer.step()
    assert [tuple(x.shape) for x in seen] == [(8, 8)] * 3  # 32 samples of 2 values → 8 inputs of 4 samples


def test_pack_concatenates_consecutive_samples():
    x = torch.arange(24.0).view(6, 2, 2)[:, None]  # (6, 1, 2, 2)
    packed = tricks.pack(x, 3)
    assert packed.shape == (2, 3, 2, 2)
    assert torch.equal(packed[1, 2], x[5, 0])
    flat = torch.arange(12.0).view(6, 2)
    assert torch.equal(tricks.pack(flat, 2)[1], torch.tensor([4.0, 5.0, 6.0, 7.0]))


def test_d_steps_gives_k_discriminator_updates_per_generator_update():
    trainer = Trainer(small_config(train={"d_steps": 3}))
    for _ in range(4):
        trainer.step()
    d_state = next(iter(trainer.opt_d.state.values()))
    g_state = next(iter(trainer.opt_g.state.values()))
    assert int(d_state["step"]) == 12 and int(g_state["step"]) == 4


def test_wasserstein_gp_adds_the_gradient_penalty_to_ds_loss():
    with_gp = Trainer(small_config(train={"loss": "wasserstein_gp", "gp_weight": 10.0}))
    without = Trainer(small_config(train={"loss": "wasserstein_gp", "gp_weight": 0.0}))
    m_gp, m_plain = with_gp.step(), without.step()
    assert m_gp["d_real"] == m_plain["d_real"] and m_gp["d_fake"] == m_plain["d_fake"]  # same critic outputs
    assert m_gp["d_loss"] > m_plain["d_loss"]  # plus a positive penalty
    assert m_plain["d_loss"] == pytest.approx(m_plain["d_fake"] - m_plain["d_real"], abs=1e-6)
