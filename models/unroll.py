"""Unrolled discriminator (Metz et al. 2017): G's loss is taken against D after K further updates.

The K updates are done functionally on copies of D's parameters (``torch.func.functional_call``), so D itself
is untouched and only G learns from the look-ahead. Second order (the paper's default) keeps the graph of every
inner update, so G's gradient also flows through how D *would react* to G's samples; first order treats the
unrolled parameters as constants. When D trains with Adam the inner updates are differentiable Adam steps that
start from D's own moments, as in the paper's reference code; otherwise plain gradient steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class AdamMoments:
    """D's Adam state at the start of the unroll; the inner steps continue it."""

    exp_avg: Params
    exp_avg_sq: Params
    step: int
    betas: tuple[float, float]
    eps: float = 1e-8


def adam_moments(optimizer: torch.optim.Optimizer, names: dict[nn.Parameter, str]) -> AdamMoments | None:
    """D's Adam moments by parameter name, or None before its first step or for other optimisers."""
    if not isinstance(optimizer, torch.optim.Adam):
        return None
    exp_avg: Params = {}
    exp_avg_sq: Params = {}
    step = 0
    for param, name in names.items():
        state = optimizer.state.get(param)
        if not state:
            return None
        exp_avg[name] = state["exp_avg"]
        exp_avg_sq[name] = state["exp_avg_sq"]
        step = int(state["step"])
    group = optimizer.param_groups[0]
    return AdamMoments(exp_avg, exp_avg_sq, step, tuple(group["betas"]), group["eps"])


def unroll(
    discriminator: nn.Module,
    params: Params,
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    real_in: tuple[torch.Tensor, torch.Tensor | None],
    fake_in: tuple[torch.Tensor, torch.Tensor | None],
    steps: int,
    lr: float,
    second_order: bool,
    moments: AdamMoments | None = None,
) -> Params:
    """D's parameters after ``steps`` updates on the fixed minibatch (real_in, fake_in).

    ``real_in``/``fake_in`` are D's inputs (already noised/packed) with their labels. ``fake_in`` may carry G's
    graph: with ``second_order`` the result is differentiable with respect to G and to ``params``.
    """
    buffers = {name: b.clone() for name, b in discriminator.named_buffers()}  # inner BN stats stay private
    fake_x, fake_y = fake_in if second_order else (fake_in[0].detach(), fake_in[1])
    m = dict(moments.exp_avg) if moments else None
    v = dict(moments.exp_avg_sq) if moments else None
    t = moments.step if moments else 0
    names = list(params)
    if not second_order:
        params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    for _ in range(steps):
        real_out = functional_call(discriminator, (params, buffers), real_in)
        fake_out = functional_call(discriminator, (params, buffers), (fake_x, fake_y))
        loss = d_loss(real_out, fake_out)
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=second_order)
        if not second_order:
            grads = tuple(g.detach() for g in grads)
        new: Params = {}
        if moments is not None and m is not None and v is not None:
            b1, b2 = moments.betas
            t += 1
            for n, g in zip(names, grads):
                m[n] = b1 * m[n] + (1 - b1) * g
                v[n] = b2 * v[n] + (1 - b2) * g * g
                m_hat = m[n] / (1 - b1**t)
                v_hat = v[n] / (1 - b2**t)
                # sqrt(v + tiny) keeps the derivative finite where a gradient is exactly zero (dead ReLU).
                new[n] = params[n] - lr * m_hat / (torch.sqrt(v_hat + 1e-16) + moments.eps)
        else:
            for n, g in zip(names, grads):
                new[n] = params[n] - lr * g
        params = new if second_order else {n: p.detach().requires_grad_(True) for n, p in new.items()}
    return params


def unrolled_output(discriminator: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """D's logits under the unrolled parameters (D's own BN statistics are left alone)."""
    buffers = {name: b.clone() for name, b in discriminator.named_buffers()}
    return functional_call(discriminator, (params, buffers), (x, y))
