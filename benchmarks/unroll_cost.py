"""What unrolling costs per step, against a bare textbook unrolled GAN written here in plain torch.

Step time of ``ring-unrolled``'s set-up (MLP G and D, 2 × 64 hidden, batch 256, Adam) at K = 0, 1, 5, 10
unrolled D steps, second order (G's gradient flows through the K updates, Metz et al. 2017) and first order, each
divided by the same implementation's K = 0 step: that relative cost, ours ÷ the reference's, is the figure (goal
≤ 1.1 at every K). The reference is the textbook step: one D update, then K functional Adam updates of a copy of
D's parameters (``torch.func.functional_call``, ``create_graph`` for second order) on a fixed minibatch,
continuing D's own Adam moments, and G's non-saturating loss against the unrolled D. Ours is ``Trainer.step()``,
which also computes its metrics (gradient norms, D(x), D(G(z)); quality measurements are pushed out of the window)
— a constant per step that slightly flatters our relative cost, so absolute ms are printed too. The four step
times behind one ratio (ours and the reference, at K = 0 and at K) are taken back to back in each of ``--rounds``
rounds, on the same thread count, and the figure is the median of the rounds' ratios: on a shared machine a
burst of other work then moves all four terms of a ratio, not one of them (timing K = 0 and K minutes apart moved
the ratio by 10–30%).

    python benchmarks/unroll_cost.py [--rounds 7] [--min-seconds 0.2] [--steps 5] [--ks 1 5 10]
                                      [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

HIDDEN, Z_DIM, BATCH = 64, 16, 256
LR_D, LR_G, LR_UNROLL, BETAS = 1e-4, 2e-3, 5e-4, (0.5, 0.999)


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


class Reference:
    """The textbook unrolled GAN step (Metz et al. 2017), on a ring of 8 Gaussians."""

    def __init__(self, k: int, second_order: bool, device: torch.device):
        self.k, self.second_order, self.device = k, second_order, device
        angles = torch.randint(0, 8, (50_000,)) * (2 * torch.pi / 8)
        self.data = (torch.stack([angles.cos(), angles.sin()], 1) + 0.05 * torch.randn(50_000, 2)).to(device)
        self.g = mlp([Z_DIM, HIDDEN, HIDDEN, 2]).to(device)
        self.d = mlp([2, HIDDEN, HIDDEN, 1]).to(device)
        self.opt_g = torch.optim.Adam(self.g.parameters(), LR_G, BETAS)
        self.opt_d = torch.optim.Adam(self.d.parameters(), LR_D, BETAS)

    def step(self) -> None:
        real = self.data[torch.randint(0, self.data.shape[0], (BATCH,), device=self.device)]
        # ---- D update
        with torch.no_grad():
            fake = self.g(torch.randn(BATCH, Z_DIM, device=self.device))
        loss = d_loss(self.d(real), self.d(fake))
        self.opt_d.zero_grad()
        loss.backward()
        self.opt_d.step()
        # ---- G update against D unrolled K steps
        fake = self.g(torch.randn(BATCH, Z_DIM, device=self.device))
        params = dict(self.d.named_parameters())
        if self.k:
            params = self.unrolled(params, real, fake)
        g_loss = F.softplus(-functional_call(self.d, params, (fake,))).mean()
        grads = torch.autograd.grad(g_loss, list(self.g.parameters()))
        for p, g in zip(self.g.parameters(), grads):
            p.grad = g
        self.opt_g.step()

    def unrolled(
        self, params: dict[str, torch.Tensor], real: torch.Tensor, fake: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        state = [self.opt_d.state[p] for p in params.values()]
        m = [s["exp_avg"] for s in state]
        v = [s["exp_avg_sq"] for s in state]
        t = int(state[0]["step"])
        names = list(params)
        current = list(params.values()) if self.second_order else [p.detach().requires_grad_() for p in params.values()]
        fake_in = fake if self.second_order else fake.detach()
        b1, b2 = BETAS
        for _ in range(self.k):
            p = dict(zip(names, current))
            loss = d_loss(functional_call(self.d, p, (real,)), functional_call(self.d, p, (fake_in,)))
            grads = torch.autograd.grad(loss, current, create_graph=self.second_order)
            t += 1
            m = [b1 * mi + (1 - b1) * g for mi, g in zip(m, grads)]
            v = [b2 * vi + (1 - b2) * g * g for vi, g in zip(v, grads)]
            current = [
                w - LR_UNROLL * (mi / (1 - b1**t)) / ((vi / (1 - b2**t)).sqrt() + 1e-8)
                for w, mi, vi in zip(current, m, v)
            ]
            if not self.second_order:
                current = [w.detach().requires_grad_() for w in current]
                m, v = [mi.detach() for mi in m], [vi.detach() for vi in v]
        return dict(zip(names, current))


def ours(k: int, second_order: bool, device: str) -> Callable[[], object]:
    from models.presets import preset_config
    from models.trainer import Trainer

    config = preset_config(
        "ring-unrolled",
        {
            "device": device,
            "tricks": {"unroll_steps": k, "unroll_order": "second" if second_order else "first"},
            "stream": {"eval_every": 100_000},
        },
    )
    return Trainer(config, "data").step


def seconds_per_step(step: Callable[[], object], steps: int, min_seconds: float) -> float:
    """At least ``steps`` steps and ``min_seconds`` of them (a K = 0 step takes ~2 ms)."""
    done, started = 0, time.perf_counter()
    while done < steps or time.perf_counter() - started < min_seconds:
        step()
        done += 1
    return (time.perf_counter() - started) / done


def measure(
    k: int, second_order: bool, device: str, rounds: int, steps: int, min_seconds: float
) -> tuple[float, dict[str, float]]:
    """The median over rounds of (ours_K ÷ ours_0) ÷ (reference_K ÷ reference_0), the four timed back to back in
    each round (in a rotating order), so the four terms of one ratio share the machine's load of the moment;
    and each side's fastest step time."""
    steppers = {
        "ours 0": ours(0, second_order, device),
        "ref 0": Reference(0, second_order, torch.device(device)).step,
        "ours K": ours(k, second_order, device),
        "ref K": Reference(k, second_order, torch.device(device)).step,
    }
    for step in steppers.values():
        for _ in range(5):  # warm-up: lazy initialisation, our step 1's quality measurement, Adam's first moments
            step()
    names = list(steppers)
    times: dict[str, list[float]] = {name: [] for name in names}
    ratios = []
    for r in range(rounds):
        for name in names[r % 4 :] + names[: r % 4]:
            times[name].append(seconds_per_step(steppers[name], steps, min_seconds))
        t = {name: values[-1] for name, values in times.items()}
        ratios.append((t["ours K"] / t["ours 0"]) / (t["ref K"] / t["ref 0"]))
    return statistics.median(ratios), {name: min(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5, help="least steps in one measurement")
    parser.add_argument("--min-seconds", type=float, default=0.2, help="least time spent timing one measurement")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the four measurements per K")
    parser.add_argument("--ks", nargs="+", type=int, default=[1, 5, 10], help="K > 0, each against K = 0")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        "| order | K | ours ms (K = 0 → K) | reference ms (K = 0 → K) | ours ÷ K=0 | reference ÷ K=0 "
        "| ratio of the two (median of rounds) |"
    )
    print("|---|---|---|---|---|---|---|")
    worst = 0.0
    for second_order in (True, False):
        for k in args.ks:
            ratio, best = measure(k, second_order, args.device, args.rounds, args.steps, args.min_seconds)
            worst = max(worst, ratio)
            print(
                f"| {'second' if second_order else 'first'} | {k} "
                f"| {best['ours 0'] * 1e3:.2f} → {best['ours K'] * 1e3:.2f} "
                f"| {best['ref 0'] * 1e3:.2f} → {best['ref K'] * 1e3:.2f} "
                f"| {best['ours K'] / best['ours 0']:.2f} | {best['ref K'] / best['ref 0']:.2f} | {ratio:.3f} |",
                flush=True,
            )
    print(f"unroll_cost: worst (ours ÷ K=0) ÷ (reference ÷ K=0) {worst:.3f} over K {args.ks}, both orders")


if __name__ == "__main__":
    main()
