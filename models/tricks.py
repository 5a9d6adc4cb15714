"""The stabilisation tricks that are not a loss, each a small unit the trainer composes.

Unrolling, the one trick with real machinery, lives in ``models.unroll``.
"""

from __future__ import annotations

import torch

from models.config import InstanceNoise, TricksConfig


def real_target(tricks: TricksConfig) -> float:
    """One-sided label smoothing (Salimans et al. 2016 §3.4): only D's real target moves, to 1 − α."""
    return 1.0 - tricks.label_smoothing


def noise_std(noise: InstanceNoise, steps_since_set: int) -> float:
    """Instance-noise σ, annealed linearly from ``std`` to 0 over ``anneal_steps`` (0 keeps σ constant)."""
    if noise.anneal_steps == 0:
        return noise.std
    return noise.std * max(0.0, 1.0 - steps_since_set / noise.anneal_steps)


def add_instance_noise(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """D's input plus N(0, σ²) (Sønderby et al. 2017): applied to real and fake inputs alike, never to labels."""
    if std == 0:
        return x
    return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN (Lin et al. 2018): m consecutive samples become one input of D, concatenated on the first
    feature axis: (B, F) → (B/m, m·F); (B, C, H, W) → (B/m, m·C, H, W)."""
    if m == 1:
        return x
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """‖E f(x) − E f(G(z))‖² over an intermediate D layer (Salimans §3.1); real features carry no gradient."""
    diff = real_features.detach().flatten(1).mean(0) - fake_features.flatten(1).mean(0)
    return (diff**2).sum()


class ReplayBuffer:
    """Past fakes (Shrivastava et al. 2017): part of each D fake batch comes from here, and after each step
    new fakes replace random entries, so D keeps punishing modes G has only just left.

    How it relates to the usual image pool (CycleGAN's, after Shrivastava): the pool swaps each fresh fake with a
    random stored one with probability ½, so D sees old fakes in about half of its batch, and a fresh fake enters
    the pool only when it is swapped in (half of each batch). Here ``fraction`` ½ gives D the same share of old
    fakes, drawn with replacement, and every fresh fake is then written over a random entry whether it was shown
    or not. A fake therefore stays about ``capacity / batch`` steps here, and ``2 · pool size / batch`` in the
    pool: the pool's 50 images at batch size 1 are 50 batches of fakes, about 100 steps of memory."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.x: torch.Tensor | None = None  # (n, *sample_shape), n ≤ capacity
        self.y: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.x is None else self.x.shape[0]

    def resize(self, capacity: int) -> None:
        self.capacity = capacity
        if self.x is not None and len(self) > capacity:
            self.x = self.x[:capacity]
            self.y = None if self.y is None else self.y[:capacity]
        if capacity == 0:
            self.x = self.y = None

    def mix(
        self, fake: torch.Tensor, labels: torch.Tensor | None, fraction: float, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """The D fake batch with its first round(fraction·B) rows replaced by buffered fakes; returns how many."""
        n = min(round(fraction * fake.shape[0]), len(self))
        if n == 0 or self.x is None:
            return fake, labels, 0
        idx = torch.randint(len(self), (n,), generator=generator, device=fake.device)
        fake = torch.cat([self.x[idx], fake[n:]])
        if labels is not None and self.y is not None:
            labels = torch.cat([self.y[idx], labels[n:]])
        return fake, labels, n

    def push(self, fake: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator) -> None:
        """Fill up to capacity, then overwrite random entries with the newest fakes."""
        fake = fake.detach()
        if self.capacity == 0:
            return
        if self.x is None:
            self.x = fake[: self.capacity].clone()
            self.y = None if labels is None else labels[: self.capacity].clone()
            return
        room = self.capacity - len(self)
        if room > 0:
            self.x = torch.cat([self.x, fake[:room]])
            if self.y is not None and labels is not None:
                self.y = torch.cat([self.y, labels[:room]])
            fake = fake[room:]
            labels = None if labels is None else labels[room:]
        if fake.shape[0] == 0:
            return
        slots = torch.randperm(len(self), generator=generator, device=fake.device)[: fake.shape[0]]
        self.x[slots] = fake[: slots.shape[0]]
        if self.y is not None and labels is not None:
            self.y[slots] = labels[: slots.shape[0]]

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        state: dict[str, torch.Tensor | int] = {"capacity": self.capacity}
        if self.x is not None:
            state["x"] = self.x
        if self.y is not None:
            state["y"] = self.y
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        self.capacity = int(state["capacity"])
        x, y = state.get("x"), state.get("y")
        self.x = x.clone() if isinstance(x, torch.Tensor) else None
        self.y = y.clone() if isinstance(y, torch.Tensor) else None
