"""The process that trains one run: started warm (torch imported), it waits for a run, then loops ``step()``.

Between steps it drains its control pipe (patch, pause, resume, stop), so a patch applies exactly at a step
boundary and is acknowledged with that step. A slow step, quality measurement or sample frame also looks at the
pipe as it goes (``Trainer.step(should_stop)``): a pause or stop takes effect within a fraction of a second at an
update boundary, however long the step, and the step carries on from there on resume (a step expected to end
within ``INTERRUPTIBLE_UPDATES_SECONDS`` is let finish first, so a pause lands at a step boundary, where single
updates can follow). While paused it takes single steps by hand (``step``: one D update, one G update or one full
step; ``Trainer.manual``), each told like any step plus a change-log entry, a frame and a checkpoint. Slow motion
(``stream.max_steps_per_second``) waits between steps on the control pipe itself, so a control message ends the wait
at once. Everything it learns it
sends as plain-dict events on its own event pipe (never one shared with other workers: see server/executor.py);
metric rows are batched (at most every ``FLUSH_SECONDS``) so streaming costs the loop one send per batch, not per
step. It never touches the database or the network:
the server owns those.
"""

from __future__ import annotations

import importlib
import io
import multiprocessing as mp
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the worker itself, not by the server that starts it
    from models.latent import LatentView

FLUSH_SECONDS = 0.05
LIVE_WEIGHTS_SECONDS = 2.0  # the generator's weights reach disk this often: how stale a live run's samples can be
PREPARING_SECONDS = 1.0  # how often a "preparing" notice (the quality judge training) updates its estimate


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to start (or resume, or fork) a run."""

    run_id: str
    config: dict[str, Any]
    checkpoint_path: str  # where this run writes its checkpoint
    data_dir: str
    resume_from: str | None = None  # a checkpoint to continue (resume) or to start from (fork)
    fork_overrides: dict[str, Any] | None = None
    threads: int = 1
    device: str = "auto"  # the config's device; the executor places auto (and bare cuda) on a GPU of its choice


class EventPipe:
    """This worker's events to the server. One lock: the trainer's background threads may send too, and a pipe
    message must go whole."""

    def __init__(self, connection: Connection):
        self.connection, self.lock = connection, threading.Lock()

    def put(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.connection.send(event)


class Emitter:
    """Events of one run, onto this worker's event pipe; metrics rows wait for the next flush."""

    def __init__(self, queue: EventPipe, run_id: str):
        self.queue, self.run_id = queue, run_id
        self.rows: list[dict[str, float]] = []
        self.last_flush = 0.0

    def emit(self, event_type: str, /, **payload: Any) -> None:
        self.flush()  # metrics before anything that follows them
        self.queue.put({"run_id": self.run_id, "time": time.time(), **payload, "type": event_type})

    def metrics(self, row: dict[str, float]) -> None:
        self.rows.append(row)
        if time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.queue.put({"run_id": self.run_id, "type": "metrics", "time": time.time(), "rows": self.rows})
            self.rows = []
        self.last_flush = time.monotonic()


#: What the fork server imports once for every worker forked from it (``worker_context``), and ``_warm_up`` for any
#: other: everything slow to import that a run needs.
PRELOAD = [
    "torch",
    "torch._dynamo",  # imported lazily by the first optimizer built: ~1.5 s a worker would otherwise pay
    "sklearn.datasets",
    "models.checkpoint",
    "models.config",
    "models.field",
    "models.latent",
    "models.sampling",
    "models.trainer",
    "server.worker",
]


def worker_context() -> ForkServerContext:
    """The multiprocessing context local workers start in: forked from a fork server that has imported torch and
    our models once (``forkserver``), not spawned fresh. A spawned worker pays seconds of imports (~4 s on a 2-core
    machine); a forked one starts in a fraction of a second, so a crashed or retired worker is replaced, and a burst
    of runs beyond the warm pool starts, without that wait, and forked workers share the libraries' memory pages.

    Not a plain ``fork`` of the server itself: its threads (uvicorn, the executor's reader) and their locks would be
    copied mid-flight. The fork server only imports; it never computes, so torch has started no thread pool (and no
    CUDA context) when it forks, and each worker runs its own warm-up step (``_warm_up``). The first worker waits for
    the fork server's imports, once per server process."""
    context: ForkServerContext = mp.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def worker_main(control: Connection, event_pipe: Connection) -> None:
    """Entry point of a pooled worker process: import torch now (the slow part), then serve runs one after another
    until told to exit, so the import is paid once per worker rather than once per run."""
    _warm_up()
    events = EventPipe(event_pipe)
    try:
        while True:
            events.put({"type": "worker_ready", "pid": os.getpid()})
            message = control.recv()
            while message.get("type") != "start":  # leftovers addressed to a run that has already ended
                if message.get("type") == "exit":
                    return
                message = control.recv()
            run(message["spec"], control, events)
    except (EOFError, OSError):  # the executor has gone (a closed pipe either way): nobody is left to tell
        return


def _warm_up() -> None:
    """Everything a run needs that is slow the first time: imports (torch, and scikit-learn's datasets, which the
    digits and moons datasets load from), and one tiny training step so lazy initialisation inside torch (kernels,
    autograd, allocator) is paid before a user is waiting. The imports are ``PRELOAD``'s, which a forked worker has
    already (the fork server imported them) and anything else starting a worker pays here."""
    for module in PRELOAD:
        importlib.import_module(module)
    import torch

    from models.config import parse_config
    from models.trainer import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tiny = parse_config(
        {
            "steps": 2,
            "dataset": {"kind": "ring", "n": 100},
            "model": {"z_dim": 2, "hidden": 4, "layers": 1},
            "train": {"batch_size": 8},
            "stream": {"eval_samples": 100},
        }
    )
    Trainer(tiny, "data").step()
    torch.set_num_threads(threads)


def run(spec: RunSpec, control: Connection, events: EventPipe) -> None:
    import torch

    from models.checkpoint import load_checkpoint, save_checkpoint, trainer_from_checkpoint
    from models.config import ConfigError, parse_config
    from models.trainer import DivergenceError, Trainer

    torch.set_num_threads(spec.threads)
    out = Emitter(events, spec.run_id)
    out.emit("status", status="starting", pid=os.getpid())
    try:
        if spec.resume_from:
            state = load_checkpoint(spec.resume_from)
            trainer = trainer_from_checkpoint(
                state, spec.data_dir, spec.fork_overrides, device=spec.device, **TRAINER_OPTIONS
            )
        else:
            trainer = Trainer(parse_config(spec.config), spec.data_dir, device=spec.device, **TRAINER_OPTIONS)
        out.emit("status", status="running", step=trainer.step_count, device=str(trainer.device))
        _loop(trainer, spec, control, out, save_checkpoint)
    except DivergenceError as e:
        out.emit(
            "alert",
            step=e.step,
            kind="divergence",
            message=f"{e.metric} became {e.value}: the run diverged. Fork it from its last checkpoint "
            "with lower learning rates (or a different loss).",
            cleared=False,
            fix=None,  # the run has ended: no live patch can help it
        )
        out.emit("status", status="diverged", step=e.step, reason=str(e))
    except ConfigError as e:
        out.emit("status", status="failed", reason=str(e))
    except Exception as e:  # anything else ends this run only; the reason goes to the user
        out.emit("status", status="failed", reason=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(limit=8))
    finally:
        out.flush()


# A run in a worker streams from its first step: a quality judge that must be trained first does so beside it.
TRAINER_OPTIONS: dict[str, Any] = {"judge_in_background": True}


class Controls:
    """The run's control messages, in order. Patches are taken whenever they come (they only queue inside the
    trainer, for the next step that has not begun); pause, resume, stop and step are held for the loop, and a held
    pause or stop is what ``interrupt`` (the trainer's ``should_stop``) reports."""

    def __init__(self, pipe: Connection, run_id: str, on_patch: Callable[[dict[str, Any]], None]):
        self.pipe, self.run_id, self.on_patch = pipe, run_id, on_patch
        self.held: deque[dict[str, Any]] = deque()

    def next(self, wait: bool) -> dict[str, Any] | None:
        """The next pause, resume or stop; None when there is none, unless ``wait`` (a paused run blocks here, at
        no CPU cost)."""
        while not self.held:
            if not wait and not self.pipe.poll():
                return None
            self._take(self.pipe.recv())
        return self.held.popleft()

    def interrupt(self, pause: bool = True) -> bool:
        """Whether a stop (or, unless ``pause`` is False, a pause) is held, after taking what has come."""
        while self.pipe.poll():
            self._take(self.pipe.recv())
        wanted = ("pause", "stop") if pause else ("stop",)
        return any(message.get("type") in wanted for message in self.held)

    def wait(self, seconds: float) -> bool:
        """Block up to ``seconds`` for the next message and take it (a patch is handed on at once); True when a
        message for the loop is held. What slow motion waits on: no polling, and nothing waits behind it."""
        if not self.held and self.pipe.poll(max(seconds, 0.0)):
            self._take(self.pipe.recv())
        return bool(self.held)

    def _take(self, message: dict[str, Any]) -> None:
        if message.get("run_id", self.run_id) != self.run_id:
            return  # meant for an earlier run of this worker
        if message.get("type") == "patch":
            self.on_patch(message)
        else:
            self.held.append(message)


class LiveWeights:
    """Writes the generator's weights at the first step and then every ``LIVE_WEIGHTS_SECONDS``, so the samples
    route serves a live run from weights seconds old, whatever ``checkpoint_every`` is."""

    def __init__(self, path: Path):
        self.path, self.written = path, -float("inf")

    def maybe_write(self, trainer: Any, force: bool = False) -> None:
        from models.checkpoint import save_generator

        if force or trainer.step_count == 1 or time.monotonic() - self.written >= LIVE_WEIGHTS_SECONDS:
            save_generator(trainer, self.path)
            self.written = time.monotonic()


class Preparing:
    """Tells the page what is being prepared beside training (the quality judge of an image dataset trains on a
    fresh install) and roughly for how long, then that it is done."""

    def __init__(self) -> None:
        self.active, self.sent = False, -float("inf")

    def update(self, trainer: Any, out: Emitter) -> None:
        status = trainer.judge_status()
        if status["state"] == "preparing":
            if time.monotonic() - self.sent >= PREPARING_SECONDS:
                out.emit("preparing", what="judge", message=status["message"], eta_s=status.get("eta_s"), done=False)
                self.active, self.sent = True, time.monotonic()
        elif self.active:
            out.emit("preparing", what="judge", message=status["message"], eta_s=None, done=True)
            self.active = False


def _loop(trainer: Any, spec: RunSpec, control: Connection, out: Emitter, save: Any) -> None:
    from models.alerts import AlertMonitor, remedy
    from models.config import ConfigError
    from models.latent import latent_view
    from models.trainer import MANUAL, StepInterruptedError
    from server.paths import live_generator_path

    data = trainer.data
    monitor = AlertMonitor(
        modes_total=None if data.centers is None else int(data.centers.shape[0]),
        classes_total=data.num_classes if data.is_image and data.y is not None else None,
        adversarial=trainer.family.adversarial,
    )
    paused = False
    last_frame = -float("inf")
    last_started: float | None = None  # when the previous step began, while steps follow each other unpaused
    weights = LiveWeights(live_generator_path(spec.data_dir, spec.run_id))
    preparing = Preparing()
    latent = latent_view(trainer)  # an AE or VAE run's frames also show its latent space; None for the others

    def patch(message: dict[str, Any]) -> None:
        try:
            trainer.patch(message["patch"])
            out.emit("patch_accepted", id=message.get("id"), step=trainer.next_patch_step)
        except ConfigError as e:
            out.emit("patch_rejected", id=message.get("id"), errors=e.errors)

    controls = Controls(control, spec.run_id, patch)

    def begin() -> None:
        change = trainer.begin_step()
        if change is not None:  # told as its step begins: a pause or stop during the step finds it stored
            config = trainer.config.model_dump(mode="json")
            out.emit("config", step=change["step"], changes=change["changes"], config=config)

    def alerts(metrics: dict[str, float]) -> None:
        for alert in monitor.observe(metrics):
            fix = None if alert.cleared else remedy(alert.kind, trainer.config)
            out.emit(
                "alert",
                step=alert.step,
                kind=alert.kind,
                message=alert.message,
                cleared=alert.cleared,
                fix=None if fix is None else fix.as_dict(),
            )

    def frames() -> None:
        try:
            with trainer.interruptible(controls.interrupt):
                _frames(trainer, out, latent)
        except StepInterruptedError:
            pass  # a frame of a large model gives way to a pause or stop: the next one comes after

    def checkpoint() -> None:
        save(trainer, spec.checkpoint_path)
        out.emit("checkpoint", step=trainer.step_count, path=spec.checkpoint_path)

    def manual(message: dict[str, Any]) -> None:
        """A single step taken by hand while paused: told like any step (its metrics row, whatever
        ``metrics_every`` says), then its change-log entry, a frame to see it by, and a checkpoint, so a fork made
        now starts from it. Only a stop cuts it short (a single update leaves no trace then)."""
        update = message.get("update", "both")
        refusal = None
        if update not in MANUAL:
            refusal = {"field": "update", "reason": f"expected one of {', '.join(MANUAL)}"}
        elif update != "both" and trainer.mid_step:
            refusal = {
                "field": "update",
                "reason": f"step {trainer.step_count + 1} was cut short by the pause with part of its updates made: "
                "take one full step to finish it first",
            }
        if refusal is not None:
            out.emit("step_rejected", id=message.get("id"), update=update, errors=[refusal])
            return
        begin()
        try:
            metrics = trainer.manual(update, lambda: controls.interrupt(pause=False))
        except StepInterruptedError:
            return  # a stop came: the loop takes it next
        weights.maybe_write(trainer, force=True)
        preparing.update(trainer, out)
        out.metrics(metrics)
        if update == "both":  # a single update lacks the other network's figures: no verdict on its own
            alerts(metrics)
        entry = trainer.change_log[-1]
        out.emit("config", step=entry["step"], changes=entry["changes"], config=trainer.config.model_dump(mode="json"))
        frames()
        checkpoint()

    def pace() -> bool:
        """Slow motion: wait for this step's turn on the control pipe (a patch of the limit counts at once); True
        when a control message came first."""
        if last_started is None:
            return False
        flushed = False
        while True:
            limit = trainer.next_config.stream.max_steps_per_second
            left = last_started + 1 / limit - time.monotonic() if limit else 0.0
            if left <= 0:
                return False
            if not flushed:  # only before a wait: at full speed rows stay batched (FLUSH_SECONDS)
                out.flush()  # the rows of the steps so far are shown now, not after the wait
                flushed = True
            if controls.wait(left):
                return True

    def interrupt_step() -> bool:
        # A pause cuts short only a step worth cutting short; a fast one ends first, so single updates can follow.
        return controls.interrupt(pause=trainer.expects_slow_step())

    while True:
        while (message := controls.next(wait=paused)) is not None:
            kind = message.get("type")
            if kind == "pause" and not paused:
                paused, last_started = True, None
                checkpoint()
                out.emit("status", status="paused", step=trainer.step_count)
            elif kind == "resume" and paused:
                paused = False
                out.emit("status", status="running", step=trainer.step_count)
            elif kind == "stop":
                checkpoint()
                out.emit("status", status="stopped", step=trainer.step_count)
                return
            elif kind == "step" and not paused:
                reason = "single steps are taken only while the run is paused: pause it first"
                out.emit("step_rejected", id=message.get("id"), update=message.get("update", "both"),
                         errors=[{"field": "type", "reason": reason}])  # fmt: skip
            elif kind == "step" and not controls.interrupt(pause=False):  # with a stop held, the stop comes first
                manual(message)
                if trainer.step_count >= trainer.config.steps:
                    break  # the run is complete: said below
        if trainer.step_count >= trainer.config.steps:
            checkpoint()
            out.emit("status", status="completed", step=trainer.step_count)
            return
        if pace():
            continue  # a pause, stop or step came during the slow-motion wait
        started = time.monotonic()
        begin()
        try:
            metrics = trainer.step(interrupt_step)
        except StepInterruptedError:
            continue  # the pause or stop is handled above; the step carries on from where it stopped
        step = trainer.step_count
        stream = trainer.config.stream
        slow_motion = stream.max_steps_per_second > 0
        if slow_motion and last_started is not None:  # the pace the run is held to, not the speed it could go
            metrics["it_per_s"] = 1 / max(started - last_started, 1e-9)
        last_started = started
        weights.maybe_write(trainer)  # before the first metrics: a client that saw them can fetch samples
        preparing.update(trainer, out)
        if step % stream.metrics_every == 0 or step == 1:
            out.metrics(metrics)
        alerts(metrics)
        if (
            (
                (step % stream.samples_every == 0 or slow_motion)  # slow motion shows every step it can
                and time.monotonic() - last_frame >= 1 / stream.max_frames_per_second
            )
            or step == 1
        ) and not controls.interrupt():
            frames()
            last_frame = time.monotonic()
        if step % stream.checkpoint_every == 0:
            checkpoint()


def _frames(trainer: Any, out: Emitter, latent: LatentView | None = None) -> None:
    """A sample frame (points, or a PNG grid of images) and, for 2D runs, a field frame. An AE or VAE run's frame
    (its field frame, or its image samples frame) also carries its latent space (``latent``, a
    ``models.latent.LatentView``): the ``latent`` points and ``latent_info``."""
    from models.field import field_frame
    from models.sampling import image_grid

    stream = trainer.config.stream
    seed = trainer.config.seed + 1  # a fixed latent: frames are comparable across steps
    codes = {} if latent is None else latent.frame(trainer.generator)
    if trainer.data.is_image:
        buffer = io.BytesIO()
        # At its own size: the page scales it up pixelated (CSS), so enlarging it here only cost every viewer bytes.
        image_grid(trainer.sample(min(stream.n_samples, 64), seed).cpu()).save(buffer, format="PNG")
        out.emit("samples", step=trainer.step_count, png=buffer.getvalue(), **codes)
    elif trainer.config.model.conditional:
        out.emit("samples", step=trainer.step_count, points=trainer.sample(stream.n_samples, seed).cpu().tolist())
    else:
        frame = field_frame(trainer, stream.n_samples, stream.field_resolution, seed)
        out.emit("field", step=trainer.step_count, **frame, **codes)
