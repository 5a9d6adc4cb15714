"""One GAN trainer that composes the losses and tricks the config names, and trains the other model families
(``model.family``: AE, VAE, MADE; ``models.families``) through the same step, metrics, checkpoint, evaluation and
interruption plumbing: such a family's step is one update of its own loss (``Family.loss``) instead of D's and G's.

``step()`` is one generator update preceded by ``d_steps`` discriminator updates, and returns that step's losses,
D's outputs, gradient norms, trick settings and speed, plus the quality metrics at the first step and every
``stream.eval_every`` steps (and at once when a judge prepared in the background becomes ready). All randomness
comes from the trainer's own ``torch.Generator``, so a run is a pure function of its config on the CPU, and
``state_dict()`` captures everything needed to continue it bit for bit. The trainer never sets torch's thread
count: whoever runs it (CLI, worker process) decides how many cores it may use.

A step can take minutes (the largest model, ``d_steps`` 20, a big batch), so ``step(should_stop)`` gives way to its
caller: it asks between updates, and inside a slow step before every layer's forward pass and every layer's
gradient, raising ``StepInterruptedError`` at an update boundary. Updates already made are kept and the one under way is
undone (its random draws and batch-norm statistics; no parameter has moved yet), so the next ``step()`` carries on
where it stopped and the run stays exactly the run it would have been; a checkpoint taken meanwhile says so too.

``manual(update)`` is GAN Lab's manual mode: one D update, one G update or one full step, made by hand (a paused run
in the worker). Each is a step of its own: the counter moves by one, the metrics row has that step number (a single
update reports only its own network's figures) and the change log records it as ``{"manual": "one D update"}`` and
so on. A single update waits for a step cut short to be finished (``mid_step``), so no step ever mixes the two.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.func import functional_call

from models import dirac, tricks
from models.config import RunConfig, apply_patch, flatten_patch
from models.datasets import Dataset, load_dataset
from models.families import get_family
from models.image_metrics import ImageJudge
from models.judging import RunJudge, no_judge_status
from models.losses import LOSSES, GanLoss, gradient_penalty, r1_penalty
from models.networks import Discriminator
from models.quality2d import mode_distribution, mode_drift, mode_quality
from models.unroll import AdamMoments, adam_moments, unroll, unrolled_output

CHECKPOINT_FORMAT = 1
EVAL_SEED_OFFSET = 7919  # the fixed latent of quality measurements and preview grids, apart from training's stream
CHECK_SECONDS = 0.02  # inside an update, ``should_stop`` is asked at most this often (it may be a system call)
# A step expected to take longer than this is also interruptible inside its updates (the cost: a copy of the
# batch-norm statistics and of the random state per update, and a hook per layer); a faster one only between them.
INTERRUPTIBLE_UPDATES_SECONDS = 0.1
ManualUpdate = Literal["d", "g", "both"]
# What a single update made by hand is called in the change log (``Trainer.manual``).
MANUAL: dict[str, str] = {"d": "one D update", "g": "one G update", "both": "one step"}


class DivergenceError(RuntimeError):
    """A loss or gradient became NaN or infinite; the run cannot continue from here."""

    def __init__(self, step: int, metric: str, value: float):
        self.step, self.metric, self.value = step, metric, value
        super().__init__(f"diverged at step {step}: {metric} = {value}")


class StepInterruptedError(Exception):
    """``should_stop`` said so: the trainer stands at an update boundary of an unfinished step, and the next
    ``step()`` finishes it (or, inside a quality measurement, the step is done and only that measurement is
    skipped)."""


@dataclass
class _StepProgress:
    """A step begun and not yet finished: its D updates so far and what the G update and the metrics need of the
    last one. ``changed``: the step applied pending patches (it reports ``config_changed`` when it finishes)."""

    d_done: int = 0
    d_stats: dict[str, Any] | None = None
    changed: bool = False
    seconds: float = field(default=0.0, compare=False)
    # ``train.updates`` simultaneous: D's parameters (and Adam moments, when unrolling) before this step's D
    # updates, which G's update is taken against.
    d_before: dict[str, Any] | None = None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; an explicit CUDA device that is missing is an error, not a fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {name} requested but CUDA is not available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device: {name} does not exist ({torch.cuda.device_count()} CUDA devices)")
    return device


def grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def optimizer_settings(name: str, lr: float, betas: tuple[float, float]) -> dict[str, Any]:
    """How ``betas`` read for each optimiser: Adam's (β1, β2); SGD's momentum β1; RMSprop's smoothing β2 with no
    momentum, as WGAN used it."""
    if name == "adam":
        return {"lr": lr, "betas": betas}
    if name == "rmsprop":
        return {"lr": lr, "alpha": betas[1]}
    return {"lr": lr, "momentum": betas[0]}


def make_optimizer(name: str, params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    return OPTIMIZERS[name](params, **optimizer_settings(name, lr, betas))


@contextmanager
def sampling_mode(module: nn.Module) -> Iterator[None]:
    """Sample with batch statistics (as in training) but leave the BN running statistics untouched, so a
    preview never perturbs the run and a checkpoint samples the way the run trains."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    # num_batches_tracked is None where a norm keeps no running statistics (track_running_stats=False).
    saved = [(m.momentum, m.training, _clone(m.num_batches_tracked)) for m in norms]
    for m in norms:
        m.momentum = 0.0
        m.train()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, (momentum, training, tracked) in zip(norms, saved):
            m.momentum = momentum
            m.train(training)
            if m.num_batches_tracked is not None and tracked is not None:
                m.num_batches_tracked.copy_(tracked)


def _clone(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.clone()


def data_meta(data: Dataset) -> dict[str, Any]:
    """What sampling needs to know of the data without loading it again."""
    meta: dict[str, Any] = {
        "name": data.name,
        "sample_shape": list(data.sample_shape),
        "num_classes": data.num_classes,
        "is_image": data.is_image,
    }
    if not data.is_image:
        meta["bounds"] = list(data.bounds)
    if data.centers is not None:
        meta["centers"] = data.centers.tolist()
        meta["std"] = data.std
    return meta


class Trainer:
    def __init__(
        self,
        config: RunConfig,
        data_dir: Path | str = "data",
        dataset: Dataset | None = None,
        device: str | None = None,
        judge_in_background: bool = False,
    ):
        """``device`` places the run where its host decided (e.g. a GPU picked for an ``auto`` run) without
        rewriting ``config.device``: the config keeps what the user asked for, so a resume can place it anew.
        ``judge_in_background`` prepares the quality judge of labelled images beside training (see
        ``models.judging``): the first steps then do not wait for it, and lack its metrics until it is ready."""
        self.config = config
        self.data_dir = Path(data_dir)
        self.device = resolve_device(device or config.device)
        self.rng = torch.Generator(device=self.device).manual_seed(config.seed)
        self.data = (dataset or load_dataset(config.dataset, config.seed, self.data_dir)).to(self.device)
        if config.model.conditional and self.data.y is None:
            raise ValueError(f"model.conditional: dataset '{self.data.name}' has no labels")
        init_rng = torch.Generator().manual_seed(config.seed)
        self.meta = data_meta(self.data)
        # The model family (models.families): the GAN's pair, or a family's model beside an empty D.
        self.family = get_family(config.model.family)
        g, d = self.family.build(config, self.meta, init_rng)
        self.generator: nn.Module = g.to(self.device)
        self.discriminator: Discriminator = d.to(self.device)
        self._d_names = {p: n for n, p in self.discriminator.named_parameters()}
        self.opt_g, self.opt_d = self._optimizers()
        self.replay = tricks.ReplayBuffer(config.tricks.replay.size)
        self.step_count = 0
        self.noise_set_at = 0  # the step at which instance noise was last set: its annealing starts there
        self.change_log: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._pending_result: RunConfig | None = None  # the config after every pending patch
        self._seconds_per_step: float | None = None
        self._progress: _StepProgress | None = None  # a step cut short by ``should_stop``
        self._judge: RunJudge | None = None
        if self.data.is_image and self.data.y is not None:
            self._judge = RunJudge(self.data, self.data_dir, self.device, judge_in_background)
        # Samples per mode at the last quality measurement step() made: what the next one's mode_drift compares with.
        self._modes_before: torch.Tensor | None = None

    # ------------------------------------------------------------------------------- configuration

    def _optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        t = self.config.train
        self._optimizer_kind = t.optimizer
        # A family without D has an optimiser of no parameters in D's place (one empty group: torch refuses none).
        d_params: Any = list(self.discriminator.parameters()) or [{"params": []}]
        return (
            make_optimizer(t.optimizer, self.generator.parameters(), t.lr_g, t.betas),
            make_optimizer(t.optimizer, d_params, t.lr_d, t.betas),
        )

    def _sync_optimizers(self) -> None:
        """Learning rates and betas follow the config; a new optimiser kind starts fresh."""
        t = self.config.train
        if t.optimizer != self._optimizer_kind:
            self.opt_g, self.opt_d = self._optimizers()
            return
        for opt, lr in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
            for group in opt.param_groups:
                group.update(optimizer_settings(t.optimizer, lr, t.betas))

    def patch(self, patch: dict[str, Any]) -> RunConfig:
        """Validate a live patch now (raises ConfigError); it takes effect at the start of the next step that has
        not begun (``next_patch_step``)."""
        new = apply_patch(self._pending_config(), patch)
        self._pending.append(flatten_patch(patch))
        self._pending_result = new
        return new

    @property
    def next_patch_step(self) -> int:
        """The step a patch made now applies at: a step cut short keeps the config it began with."""
        return self.step_count + (2 if self._progress is not None else 1)

    def _pending_config(self) -> RunConfig:
        """Kept, not replayed: a flood of patches within one step costs linear time, not quadratic."""
        return self._pending_result if self._pending and self._pending_result is not None else self.config

    def _apply_pending(self) -> dict[str, Any] | None:
        if not self._pending:
            return None
        changes: dict[str, Any] = {}
        for p in self._pending:
            changes |= p
        old = self.config
        self.config = self._pending_config()
        self._pending.clear()
        if self.config.tricks.instance_noise != old.tricks.instance_noise:
            self.noise_set_at = self.step_count
        if self.config.tricks.replay.size != old.tricks.replay.size:
            self.replay.resize(self.config.tricks.replay.size)
        self._sync_optimizers()
        entry = {"step": self.step_count + 1, "changes": changes}
        self.change_log.append(entry)
        return entry

    # ------------------------------------------------------------------------------- training

    def noise_std(self) -> float:
        return tricks.noise_std(self.config.tricks.instance_noise, self.step_count - self.noise_set_at)

    def _latent(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.config.model.z_dim, generator=generator, device=self.device)

    def _d_input(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """Every input of D goes through here: instance noise, then packing."""
        return tricks.pack(tricks.add_instance_noise(x, sigma, self.rng), self.config.tricks.pack)

    def _discriminator_update(self, loss: GanLoss, sigma: float) -> dict[str, Any]:
        cfg = self.config
        batch = cfg.train.batch_size
        real, real_y = self.data.sample(batch, self.rng)
        fake_y = real_y if cfg.model.conditional else None
        with torch.no_grad():
            fresh = self.generator(self._latent(batch, self.rng), fake_y)  # (B, *sample_shape)
        fake, fake_y_d, replayed = fresh, fake_y, 0
        if self.replay.capacity:
            fake, fake_y_d, replayed = self.replay.mix(fresh, fake_y, cfg.tricks.replay.fraction, self.rng)
        cond = real_y if cfg.model.conditional else None
        real_in = (self._d_input(real, sigma), cond)
        fake_in = (self._d_input(fake, sigma), fake_y_d)
        d_loss, real_out, fake_out = discriminator_loss(
            self.discriminator, loss, cfg, real, fake, real_in, fake_in, self.rng
        )
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        norm = grad_norm([p.grad for p in self.discriminator.parameters() if p.grad is not None])
        self.opt_d.step()
        if self.replay.capacity:
            self.replay.push(fresh, fake_y, self.rng)
        return {
            "d_loss": d_loss.detach(),
            "d_real": loss.readout(real_out.detach()).mean(),
            "d_fake": loss.readout(fake_out.detach()).mean(),
            "grad_norm_d": norm,
            "replayed": replayed,
            "real_in": real_in,
        }

    def _d_snapshot(self) -> dict[str, Any]:
        """D as a simultaneous step's G update must see it: its parameters now, before this step's D updates, and
        (when G unrolls D) the Adam moments the look-ahead continues. Plain tensors, so a checkpoint can hold it."""
        params = {name: p.detach().clone() for name, p in self.discriminator.named_parameters()}
        moments = adam_moments(self.opt_d, self._d_names) if self.config.tricks.unroll_steps > 0 else None
        saved = None
        if moments is not None:
            saved = {
                "exp_avg": {n: m.clone() for n, m in moments.exp_avg.items()},
                "exp_avg_sq": {n: v.clone() for n, v in moments.exp_avg_sq.items()},
                "step": moments.step,
            }
        return {"params": params, "moments": saved}

    def _generator_update(
        self, loss: GanLoss, sigma: float, last_d: dict[str, Any], d_before: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """G's update against D as it is now (alternating) or as ``d_before`` holds it (simultaneous)."""
        cfg = self.config
        t = cfg.tricks
        batch = cfg.train.batch_size
        y = self.data.sample(batch, self.rng)[1] if cfg.model.conditional else None
        fake = self.generator(self._latent(batch, self.rng), y)  # (B, *sample_shape), with G's graph
        fake_in = self._d_input(fake, sigma)
        d = self.discriminator
        d_params: dict[str, torch.Tensor] = dict(d.named_parameters())
        if d_before is not None:
            d_params = {n: p.detach().requires_grad_(True) for n, p in d_before["params"].items()}

        def judge(x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
            return d(x, labels) if d_before is None else functional_call(d, d_params, (x, labels))

        def features(x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
            if d_before is None:
                return d.features(x, labels)
            return functional_call(_FeaturesOf(d), {f"d.{n}": p for n, p in d_params.items()}, (x, labels))

        if t.unroll_steps > 0:
            target = tricks.real_target(t)
            moments = adam_moments(self.opt_d, self._d_names) if d_before is None else _moments(d_before, self.opt_d)
            unrolled = unroll(
                d,
                d_params,
                lambda r, f: loss.d_loss(r, f, target),
                last_d["real_in"],
                (fake_in, y),
                t.unroll_steps,
                t.unroll_lr or cfg.train.lr_d,
                second_order=t.unroll_order == "second",
                moments=moments,
            )
            fake_out = unrolled_output(d, unrolled, fake_in, y)
        else:
            fake_out = judge(fake_in, y)
        g_loss = loss.g_loss(fake_out)
        if t.feature_matching.enabled:
            real_features = features(*last_d["real_in"])
            fm = t.feature_matching.weight * tricks.feature_matching_loss(real_features, features(fake_in, y))
            g_loss = fm + g_loss if t.feature_matching.keep_adversarial else fm
        g_params = list(self.generator.parameters())
        grads = torch.autograd.grad(g_loss, g_params)  # only G's gradients: D's .grad stays untouched
        for p, grad in zip(g_params, grads):
            p.grad = grad
        self.opt_g.step()
        return {"g_loss": g_loss.detach(), "grad_norm_g": grad_norm(list(grads))}

    def step(self, should_stop: Callable[[], bool] | None = None) -> dict[str, float]:
        """One G update after ``d_steps`` D updates; pending patches apply first and are logged at this step.

        With ``should_stop``, the step asks it between updates, and, when the step is expected to be slow (or its
        cost is unknown: the first step, a changed config), inside them; True raises ``StepInterruptedError`` and the
        next call carries on from the last update made. A quality measurement it cuts short is skipped."""
        started = time.perf_counter()
        self.begin_step()
        progress = self._progress
        assert progress is not None
        cfg = self.config
        loss = LOSSES[cfg.train.loss]
        sigma = self.noise_std()
        self.generator.train()
        self.discriminator.train()
        inside = should_stop if should_stop is not None and self._expect_slow(progress) else None
        if not self.family.adversarial:
            try:
                stats = self._undoable(inside, self._family_update)
            except StepInterruptedError:
                progress.seconds += time.perf_counter() - started
                raise
            return self._finish_step(progress, stats, sigma, should_stop, started)
        if cfg.train.updates == "simultaneous" and progress.d_before is None:
            progress.d_before = self._d_snapshot()
        try:
            first = True  # the caller has just looked: no need to ask before the first update of this call
            while progress.d_done < cfg.train.d_steps:
                if should_stop is not None and not first and should_stop():
                    raise StepInterruptedError
                first = False
                progress.d_stats = self._undoable(inside, lambda: self._discriminator_update(loss, sigma))
                progress.d_done += 1
            if should_stop is not None and not first and should_stop():
                raise StepInterruptedError
            d_stats = progress.d_stats
            assert d_stats is not None  # d_steps ≥ 1
            d_before = progress.d_before
            g_stats = self._undoable(inside, lambda: self._generator_update(loss, sigma, d_stats, d_before))
        except StepInterruptedError:
            progress.seconds += time.perf_counter() - started
            raise
        return self._finish_step(progress, d_stats | g_stats, sigma, should_stop, started)

    def _finish_step(
        self,
        progress: _StepProgress,
        stats: dict[str, Any],
        sigma: float,
        should_stop: Callable[[], bool] | None,
        started: float,
    ) -> dict[str, float]:
        """Count the step whose updates are all made, and report it with its speed."""
        self._progress = None
        self.step_count += 1
        metrics = self._report(stats, sigma, should_stop)
        elapsed = progress.seconds + time.perf_counter() - started
        ema = self._seconds_per_step
        self._seconds_per_step = elapsed if ema is None else 0.9 * ema + 0.1 * elapsed
        metrics["it_per_s"] = 1.0 / max(self._seconds_per_step, 1e-9)
        if progress.changed:
            metrics["config_changed"] = 1.0
        return metrics

    def _family_update(self) -> dict[str, Any]:
        """One update of a family that is not adversarial: its loss on a fresh batch, one optimiser step over its
        whole model (``opt_g``)."""
        cfg = self.config
        x, _ = self.data.sample(cfg.train.batch_size, self.rng)
        loss, stats = self.family.loss(self.generator, x, cfg, self.rng)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        stats["grad_norm"] = grad_norm([p.grad for p in self.generator.parameters() if p.grad is not None])
        self.opt_g.step()
        return stats

    def _report(self, stats: dict[str, Any], sigma: float, should_stop: Callable[[], bool] | None) -> dict[str, float]:
        """The metrics row of the step just counted: what its updates measured (a single update reports only its
        own network's figures), the trick settings, and the quality measurement when one is due."""
        cfg = self.config
        if not self.family.adversarial:
            return self._report_family(stats, should_stop)
        names: list[str] = [
            k for k in ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g") if k in stats
        ]
        if cfg.model.arch == "dirac":  # the Dirac-GAN's whole state: where it stands in the (θ, ψ) plane
            stats = stats | dirac.observe(self.generator, self.discriminator)
            names += ["theta", "psi", "equilibrium_distance"]
        values = torch.stack([stats[k].float() for k in names]).tolist()  # one device sync
        metrics: dict[str, float] = dict(zip(names, values))
        for name, value in metrics.items():
            if not math.isfinite(value):
                raise DivergenceError(self.step_count, name, value)
        metrics |= {
            "step": float(self.step_count),
            "noise_std": sigma,
            "unroll_steps": float(cfg.tricks.unroll_steps),
            "d_steps": float(cfg.train.d_steps),
        }
        if "replayed" in stats:
            metrics["replay_fraction"] = stats["replayed"] / cfg.train.batch_size
        metrics["r1_gamma"] = cfg.tricks.r1_gamma
        return self._with_quality(metrics, should_stop)

    def _report_family(self, stats: dict[str, Any], should_stop: Callable[[], bool] | None) -> dict[str, float]:
        """A non-adversarial family's row: its own figures (``Family.metrics``), the gradient norm of its model,
        and its live weights (a VAE's β), then quality on the same schedule as the GAN's."""
        names = [k for k in (*self.family.metrics, "grad_norm") if k in stats]
        values = torch.stack([stats[k].float() for k in names]).tolist()  # one device sync
        metrics: dict[str, float] = dict(zip(names, values))
        for name, value in metrics.items():
            if not math.isfinite(value):
                raise DivergenceError(self.step_count, name, value)
        metrics["step"] = float(self.step_count)
        if self.family.name == "vae":
            metrics["kl_weight"] = self.config.train.kl_weight
        return self._with_quality(metrics, should_stop)

    def _with_quality(self, metrics: dict[str, float], should_stop: Callable[[], bool] | None) -> dict[str, float]:
        cfg = self.config
        judge_arrived = self._judge is not None and self._judge.arrived
        if self.step_count % cfg.stream.eval_every == 0 or self.step_count == 1 or judge_arrived:
            try:
                with self.interruptible(should_stop):
                    metrics |= self.evaluate(remember=True)
            except StepInterruptedError:
                pass  # the step itself is done; only its quality measurement is skipped
        return metrics

    @property
    def mid_step(self) -> bool:
        """A step has made some of its updates and not all (it was cut short): a single update must wait until it
        is finished, since the step's remaining updates belong to the config and the D it began with."""
        return self._progress is not None and self._progress.d_done > 0

    def expects_slow_step(self) -> bool:
        """Whether the step under way (or the next) may take longer than ``INTERRUPTIBLE_UPDATES_SECONDS`` (or its
        cost is unknown): only such a step is worth cutting short for a pause; a fast one ends within a blink."""
        return self._expect_slow(self._progress or _StepProgress())

    @property
    def next_config(self) -> RunConfig:
        """The config the next step that has not begun will have: the current one with every pending patch."""
        return self._pending_config()

    def manual(self, update: ManualUpdate, should_stop: Callable[[], bool] | None = None) -> dict[str, float]:
        """One update made by hand (GAN Lab's manual mode): ``d`` one D update, ``g`` one G update, ``both`` one
        full step (it finishes a step cut short, else makes a whole one). Each is a step of its own: the step
        counter moves by exactly one, the metrics row has that step number, and the change log records it as
        ``{"manual": "one D update"}`` (and so on) at that step. Pending patches apply first, as at any step.

        A single update made beside a cut-short step would mix two steps' updates, so ``d`` and ``g`` raise
        ``ValueError`` while ``mid_step``. ``should_stop`` may cut it short as it does a step: a single update
        then leaves no trace (``StepInterruptedError``), a full step carries on at the next call."""
        if update not in MANUAL:
            raise ValueError(f"update: expected one of {', '.join(MANUAL)}, not {update!r}")
        if update != "both" and not self.family.adversarial:
            raise ValueError(f"update: family {self.family.name} has no separate D and G updates; take one step")
        if update == "both":
            metrics = self.step(should_stop)
        else:
            if self.mid_step:
                raise ValueError(
                    f"step {self.step_count + 1} was cut short by the pause with part of its updates made: take one "
                    "full step to finish it, then single updates"
                )
            metrics = self._single(update, should_stop)
        self.change_log.append({"step": self.step_count, "changes": {"manual": MANUAL[update]}})
        return metrics

    def _single(self, update: str, should_stop: Callable[[], bool] | None) -> dict[str, float]:
        """One D or one G update as a step of its own. G's update takes its real batch (for unrolling's look-ahead
        and feature matching) fresh, as the step's last D update would have; simultaneous updates make no
        difference here, since no D update comes before it within this step."""
        self.begin_step()
        progress = self._progress
        assert progress is not None and progress.d_done == 0
        cfg = self.config
        loss = LOSSES[cfg.train.loss]
        sigma = self.noise_std()
        self.generator.train()
        self.discriminator.train()

        def g_update() -> dict[str, Any]:
            real, real_y = self.data.sample(cfg.train.batch_size, self.rng)
            real_in = (self._d_input(real, sigma), real_y if cfg.model.conditional else None)
            return self._generator_update(loss, sigma, {"real_in": real_in})

        try:
            if update == "d":
                stats = self._undoable(should_stop, lambda: self._discriminator_update(loss, sigma))
            else:
                stats = self._undoable(should_stop, g_update)
        except StepInterruptedError:
            if not progress.changed:  # nothing begun: no step stands half made (else it keeps its config change)
                self._progress = None
            raise
        changed = progress.changed
        self._progress = None
        self.step_count += 1
        metrics = self._report(stats, sigma, should_stop)
        if changed:
            metrics["config_changed"] = 1.0
        return metrics

    def begin_step(self) -> dict[str, Any] | None:
        """Apply pending patches for the next step, unless a step is under way already; the change-log entry made,
        if any. ``step()`` does this itself: a caller calls it first to tell of a change before a slow step."""
        if self._progress is not None:
            return None
        applied = self._apply_pending()
        self._progress = _StepProgress(changed=applied is not None)
        return applied

    def _expect_slow(self, progress: _StepProgress) -> bool:
        ema = self._seconds_per_step
        return progress.changed or ema is None or ema > INTERRUPTIBLE_UPDATES_SECONDS

    def _undoable(self, should_stop: Callable[[], bool] | None, update: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``update()``, interruptible inside when ``should_stop`` is given: cut short, it leaves no trace. Before
        its optimiser step an update has changed only the random state and the batch-norm running statistics
        (``.grad`` is reset by the next update), so those two are put back."""
        if should_stop is None:
            return update()
        rng = self.rng.get_state()
        buffers = [(b, b.clone()) for net in (self.generator, self.discriminator) for b in net.buffers()]
        try:
            with self.interruptible(should_stop):
                return update()
        except StepInterruptedError:
            self.rng.set_state(rng)
            with torch.no_grad():
                for buffer, saved in buffers:
                    buffer.copy_(saved)
            raise

    @contextmanager
    def interruptible(self, should_stop: Callable[[], bool] | None) -> Iterator[None]:
        """Inside, every layer of G and D asks ``should_stop`` (at most every ``CHECK_SECONDS``) before its
        forward pass and before its gradient flows back, and True raises ``StepInterruptedError`` there: how an update,
        a quality measurement or a sample frame of a large model gives way within a fraction of a second. Whoever
        catches it undoes what the cut-short work changed (``_undoable``); sampling changes nothing."""
        if should_stop is None:
            yield
            return
        ask = should_stop
        active, last = True, time.monotonic()

        def check(*_: Any) -> None:
            nonlocal last
            now = time.monotonic()
            if active and now - last >= CHECK_SECONDS:
                last = now
                if ask():
                    raise StepInterruptedError

        def watch_gradient(module: nn.Module, inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.requires_grad:
                output.register_hook(check)  # returns None: the gradient flows on unchanged

        handles = []
        for net in (self.generator, self.discriminator):
            for module in net.modules():
                if next(module.children(), None) is None:  # layers, not containers: each forward pass asks once
                    handles.append(module.register_forward_pre_hook(check))
                    handles.append(module.register_forward_hook(watch_gradient))
        try:
            yield
        finally:
            active = False  # a tensor that outlives this block asks nobody
            for handle in handles:
                handle.remove()

    # ------------------------------------------------------------------------------- sampling and quality

    def sample(self, n: int, seed: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples from a latent fixed by ``seed`` (by the family's sampler); the training random stream is not
        touched."""
        return self.family.sample(self.generator, self.config, n, seed, self.device, labels, self.data.num_classes)

    def _timed_sample(self, n: int, seed: int, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
        """``sample`` and its cost in milliseconds per sample (``ms_per_sample``): one pass of G for a GAN or a
        decoder, one pass per dimension for an autoregressive model."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        started = time.perf_counter()
        samples = self.sample(n, seed, labels)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return samples, (time.perf_counter() - started) * 1000 / n

    def evaluate(self, remember: bool = False) -> dict[str, float]:
        """Quality on a fixed latent: mode metrics for Gaussian mixtures, classifier metrics for labelled images
        (none while a judge prepared in the background is not ready), each with ``ms_per_sample``, the time the
        family's sampler took to draw them.

        ``remember``: one of the measurements ``step()`` makes on its schedule. Only those report a mixture's
        ``mode_drift``, against the one before (none at the first); an extra measurement (a final one, the CLI's)
        neither reports it nor changes what the run reports next."""
        n = self.config.stream.eval_samples
        seed = self.config.seed + EVAL_SEED_OFFSET
        if self.data.centers is not None and self.data.std is not None:
            drawn, cost = self._timed_sample(n, seed)
            samples, centers = drawn.cpu(), self.data.centers.cpu()
            metrics = mode_quality(samples, centers, self.data.std) | {"ms_per_sample": cost}
            modes = mode_distribution(samples, centers, self.data.std)
            if remember:
                if self._modes_before is not None and self._modes_before.shape == modes.shape:
                    metrics["mode_drift"] = mode_drift(self._modes_before, modes)
                self._modes_before = modes
            return metrics
        if self._judge is not None:
            judge = self._judge.available()
            if judge is None:
                return {}
            labels = None
            if self.config.model.conditional:
                labels = torch.arange(n, device=self.device) % self.data.num_classes
            drawn, cost = self._timed_sample(n, seed, labels)
            return judge.evaluate(drawn, labels) | {"ms_per_sample": cost}
        return {}  # nothing to measure (spiral, moons, the Dirac-GAN's point): no samples drawn, no cost timed

    def judge(self) -> ImageJudge:
        """The quality judge of labelled image data, waiting for it (or preparing it here) if need be."""
        if self._judge is None:
            raise ValueError(f"dataset '{self.data.name}' is not a labelled image dataset: it has no judge")
        return self._judge.get()

    def judge_status(self) -> dict[str, Any]:
        """Where the quality judge stands: ``state`` (none, preparing, ready or failed), ``dataset``, ``eta_s``
        (seconds probably left while preparing, else None) and a ``message`` for the user."""
        return no_judge_status(self.data.name) if self._judge is None else self._judge.status()

    # ------------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        """Everything to continue bit for bit: weights, optimisers, RNG, replay buffer, schedules, change log,
        and the last measurement's samples per mode (the next ``mode_drift`` compares with it)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.model_dump(mode="json"),
            "data": self.meta,
            "step": self.step_count,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(),
            "rng_device": self.device.type,
            "replay": self.replay.state_dict(),
            "noise_set_at": self.noise_set_at,
            "change_log": self.change_log,
            # A step cut short (paused or stopped mid-step): resuming finishes it exactly as it would have gone.
            "partial": None if self._progress is None else _progress_state(self._progress),
            "modes_before": self._modes_before,
        }

    def load_state_dict(self, state: dict[str, Any], *, weights_only: bool = False) -> None:
        """Resume from ``state``; ``weights_only`` (a fork with new settings) keeps the networks and step but
        restarts optimisers and the random stream from this run's own config."""
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.step_count = int(state["step"])
        self.noise_set_at = int(state["noise_set_at"])
        if weights_only:
            return
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self._sync_optimizers()
        if state["rng_device"] == self.device.type:
            self.rng.set_state(state["rng"])
        self.replay.load_state_dict(state["replay"])
        if self.replay.x is not None:
            self.replay.x = self.replay.x.to(self.device)
            self.replay.y = None if self.replay.y is None else self.replay.y.to(self.device)
        self.replay.resize(self.config.tricks.replay.size)
        self.change_log = list(state["change_log"])
        partial = state.get("partial")  # absent from checkpoints written before steps could be cut short
        self._progress = None if partial is None else _progress_from_state(partial, self.device)
        self._modes_before = state.get("modes_before")  # absent from checkpoints written before mode_drift


def _moments(d_before: dict[str, Any], optimizer: torch.optim.Optimizer) -> AdamMoments | None:
    """The Adam moments ``Trainer._d_snapshot`` kept, with the step's β and ε (the config is fixed within a step)."""
    saved = d_before["moments"]
    if saved is None or not isinstance(optimizer, torch.optim.Adam):
        return None
    group = optimizer.param_groups[0]
    betas = (float(group["betas"][0]), float(group["betas"][1]))
    return AdamMoments(saved["exp_avg"], saved["exp_avg_sq"], int(saved["step"]), betas, float(group["eps"]))


class _FeaturesOf(nn.Module):
    """D's ``features`` as a module's forward, so ``functional_call`` can run them with other parameters."""

    def __init__(self, discriminator: Discriminator):
        super().__init__()
        self.d = discriminator

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.d.features(x, y)


def discriminator_loss(
    discriminator: nn.Module,
    loss: GanLoss,
    config: RunConfig,
    real: torch.Tensor,
    fake: torch.Tensor,
    real_in: tuple[torch.Tensor, torch.Tensor | None],
    fake_in: tuple[torch.Tensor, torch.Tensor | None],
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """D's loss on one batch with its penalties, and D's outputs on the real and the fake inputs: what every D
    update computes, and what the Dirac field view evaluates over the (θ, ψ) plane. ``real``/``fake`` are the
    samples as drawn, ``real_in``/``fake_in`` D's inputs (noised and packed) with their labels.

    R1 (``tricks.r1_gamma``) differentiates D at exactly what D judged as real: with instance noise, the noisy real
    sample; for a packed D, the whole pack of m real samples, so the norm runs over the pack (the sum of its
    members' squared gradient norms) and the expectation over packs; for a conditional D, the sample with its label
    held fixed (a label is discrete: there is no gradient to take)."""
    t = config.tricks
    real_x, cond = real_in
    if t.r1_gamma > 0:
        real_x = real_x.detach().requires_grad_(True)
    real_out = discriminator(real_x, cond)  # (B/pack,)
    fake_out = discriminator(*fake_in)
    d_loss = loss.d_loss(real_out, fake_out, tricks.real_target(t))
    if loss.gradient_penalty:

        def critic(x: torch.Tensor) -> torch.Tensor:
            return discriminator(tricks.pack(x, t.pack), cond)

        d_loss = d_loss + config.train.gp_weight * gradient_penalty(critic, real, fake, generator)
    if t.r1_gamma > 0:
        d_loss = d_loss + r1_penalty(t.r1_gamma, real_out, real_x)
    return d_loss, real_out, fake_out


def _progress_state(progress: _StepProgress) -> dict[str, Any]:
    return {
        "d_done": progress.d_done,
        "d_stats": progress.d_stats,
        "changed": progress.changed,
        "d_before": progress.d_before,
    }


def _progress_from_state(state: dict[str, Any], device: torch.device) -> _StepProgress:
    def to_device(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.to(device)
        if isinstance(value, tuple | list):
            return type(value)(to_device(v) for v in value)
        if isinstance(value, dict):
            return {k: to_device(v) for k, v in value.items()}
        return value

    stats = state["d_stats"]
    return _StepProgress(
        d_done=int(state["d_done"]),
        d_stats=None if stats is None else {k: to_device(v) for k, v in stats.items()},
        changed=bool(state["changed"]),
        d_before=to_device(state.get("d_before")),  # absent from checkpoints written before simultaneous updates
    )


def generate(
    generator: nn.Module,
    config: RunConfig,
    n: int,
    seed: int,
    device: torch.device,
    labels: torch.Tensor | None = None,
    num_classes: int = 0,
) -> torch.Tensor:
    """Samples from a latent fixed by ``seed``; a conditional G without labels gets labels 0, 1, 2, … cycling."""
    rng = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n, config.model.z_dim, generator=rng, device=device)
    if config.model.conditional and labels is None:
        labels = torch.arange(n, device=device) % max(num_classes, 1)
    with sampling_mode(generator):
        return generator(z, None if labels is None else labels.to(device))
