"""The Ray actor that trains runs on a cluster node: the local worker's loop (``server.worker.run``) in a thread of
its own, fed and drained by thread-safe stand-ins for the local worker's two pipes.

Ray may run the methods of a threaded actor in any order, even calls from one caller (README, "Executors"), so every
call that carries a control message has a sequence number from the bridge, and ``Inbox`` hands the messages to the
loop in that order whatever order the calls ran in. Events are collected in ``Outbox`` and pulled by the bridge in
batches with a long poll (``events``): one poll in flight per actor, answered as soon as there is anything, so a
batch costs one round trip however many events it holds, and a dead actor is reported by that very poll (the
counterpart of a local worker's pipe ending).

Nothing a run needs to outlive its node stays on the node: every checkpoint is sent back with its ``checkpoint``
event, the live generator weights with the first event after each rewrite, and the bridge writes them into the
server's storage. The node keeps a scratch folder (the run's files while it trains, uploaded datasets and judge
caches, shared by the node's actors) that can vanish with it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from models.atomic import write_atomically
from server.paths import checkpoint_path, live_generator_path, run_dir
from server.worker import RunSpec, _warm_up, run

Event = dict[str, Any]
FRAMES = frozenset({"field", "samples"})  # replaced by a newer one of the same run while neither has been pulled
EVICTED = "_evicted"  # the internal event of a paused run stopped to give its slot back (server/ray_executor.py)
WEIGHTS = "_weights"  # the live generator file, for the bridge to write into the server's storage


def scratch_root() -> Path:
    """This node's folder for ganplay, shared by its actors (upload copies and judge caches are reused)."""
    return Path(os.environ.get("GANPLAY_RAY_SCRATCH") or Path(tempfile.gettempdir()) / "ganplay-ray")


class Inbox:
    """The loop's control messages, in the bridge's order: what ``run`` reads with ``poll`` and ``recv``, like the
    local worker's control pipe. A message that comes early (its sequence number past the next one due) waits for
    the ones before it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ready: deque[Event] = deque()
        self._early: dict[int, Event] = {}
        self._next = 0
        self.on_take: Any = None  # called with each message the loop takes (the outbox's patch bookkeeping)

    def put(self, seq: int, message: Event) -> None:
        with self._cond:
            self._early[seq] = message
            while self._next in self._early:
                self._ready.append(self._early.pop(self._next))
                self._next += 1
            self._cond.notify_all()

    def poll(self, timeout: float = 0.0) -> bool:
        """Whether a message is ready, waiting up to ``timeout`` seconds for one (slow motion waits here)."""
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._ready), timeout=timeout)

    def recv(self) -> Event:
        with self._cond:
            while not self._ready:
                self._cond.wait()
            message = self._ready.popleft()
        if self.on_take is not None:
            self.on_take(message)
        return message


class Outbox:
    """Events of this actor's runs until the bridge pulls them. Metric batches and everything else keep their
    order and are never dropped; a field or points frame not yet pulled gives way to a newer one of its run (the
    server keeps only the newest of those: server/hub.py), while image frames, which the server keeps as
    snapshots, all go. Checkpoints and live weights are read from the scratch folder as they are announced."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._events: deque[Event] = deque()
        self._lock = threading.Lock()  # the run's thread and the trainer's background threads both send
        self.run_id: str | None = None
        self._weights: Path | None = None
        self._weights_version: tuple[int, int] | None = None
        self.evicting = False  # a stop sent to give the slot back: its "stopped" becomes EVICTED
        self.pending_patches: list[Event] = []  # taken by the loop, not yet applied at a step (replayed on eviction)
        self._replay_acks = 0  # acknowledgements of replayed patches still to swallow

    def begin(self, run_id: str, weights: Path) -> None:
        with self._lock:
            self.run_id, self._weights, self._weights_version = run_id, weights, None
            self.evicting, self.pending_patches, self._replay_acks = False, [], 0

    def taken(self, message: Event) -> None:
        """Inbox hook: a patch the loop has taken is pending until a step applies it; a stop that evicts turns the
        run's "stopped" into EVICTED."""
        if message.get("run_id") != self.run_id:
            return
        if message.get("type") == "stop" and message.get("evict"):
            self.evicting = True
        if message.get("type") == "patch":
            with self._lock:
                self.pending_patches.append(message)
                if message.get("replay"):
                    self._replay_acks += 1

    def put(self, event: Event) -> None:
        """What the run's ``Emitter`` calls, from the run's thread or a trainer's background thread."""
        with self._lock:
            outgoing = self._shipped_weights() + self._translated(event)
        if not outgoing:
            return
        with self._cond:
            for item in outgoing:
                if item.get("type") in FRAMES and "png" not in item:
                    self._drop_older_frame(item)
                self._events.append(item)
            self._cond.notify_all()

    def take(self, wait: float) -> list[Event]:
        """Everything collected so far, waiting up to ``wait`` seconds for the first event."""
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._events:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left)
            batch = list(self._events)
            self._events.clear()
        return batch

    # ------------------------------------------------------------------------------- internals (under _lock)

    def _translated(self, event: Event) -> list[Event]:
        kind = event.get("type")
        if kind == "checkpoint":
            return [{**event, "data": Path(event["path"]).read_bytes()}]
        if kind == "config":
            self.pending_patches = []  # the step that began applied every patch taken before it
        elif kind in ("patch_accepted", "patch_rejected"):
            if kind == "patch_rejected" and self.pending_patches:
                self.pending_patches.pop()  # refused at once: it will never apply
            if self._replay_acks:
                self._replay_acks -= 1
                return []  # already acknowledged before the run was evicted
        elif kind == "status" and event.get("status") == "stopped" and self.evicting:
            return [{"run_id": event["run_id"], "type": EVICTED, "step": event.get("step"),
                     "patches": self.pending_patches, "time": event.get("time")}]  # fmt: skip
        return [event]

    def _shipped_weights(self) -> list[Event]:
        """The live generator file once after each rewrite (it is replaced by rename, so it is read whole), ahead of
        the event that follows it: a client that saw a metric can fetch samples from the server at once."""
        if self._weights is None:
            return []
        try:
            stat = self._weights.stat()
        except FileNotFoundError:
            return []
        version = (stat.st_mtime_ns, stat.st_size)
        if version == self._weights_version:
            return []
        self._weights_version = version
        return [{"run_id": self.run_id, "type": WEIGHTS, "data": self._weights.read_bytes()}]

    def _drop_older_frame(self, frame: Event) -> None:
        for i, queued in enumerate(self._events):
            if queued.get("type") == frame["type"] and queued.get("run_id") == frame.get("run_id"):
                if "png" not in queued:
                    del self._events[i]
                return


class RunActor:
    """One per run slot on the cluster (``ray.remote`` is applied by the bridge with the slot's CPUs and GPUs).
    Built warm: torch imported and one tiny step taken before ``where`` answers, like a local pooled worker."""

    def __init__(self) -> None:
        _warm_up()
        self.root = scratch_root()
        self.inbox = Inbox()
        self.outbox = Outbox()
        self.inbox.on_take = self.outbox.taken
        self._thread = threading.Thread(target=self._serve, name="ganplay-run", daemon=True)
        self._thread.start()

    def where(self) -> dict[str, Any]:
        """Where this actor lives: for the page (which node a run trains on) and the tests (which node to remove)."""
        import ray

        context = ray.get_runtime_context()
        return {"node": context.get_node_id(), "pid": os.getpid(), "gpus": [str(g) for g in ray.get_gpu_ids()]}

    def start(self, seq: int, spec: RunSpec, files: dict[str, bytes]) -> None:
        """Queue the run's start in sequence, with its inputs (a checkpoint to resume or fork from, an uploaded
        dataset): ``files`` maps a path under the scratch folder to its bytes."""
        local = replace(
            spec,
            data_dir=str(self.root),
            checkpoint_path=str(checkpoint_path(self.root, spec.run_id)),
            resume_from=str(self.root / resume_file(spec.run_id)) if spec.resume_from else None,
        )
        self.inbox.put(seq, {"type": "start", "spec": local, "files": files})

    def send(self, seq: int, message: Event) -> None:
        self.inbox.put(seq, message)

    def events(self, wait: float) -> list[Event]:
        return self.outbox.take(wait)

    def _serve(self) -> None:
        """The local worker's main loop, on the inbox and outbox: one run after another until told to exit."""
        while True:
            message = self.inbox.recv()
            if message.get("type") == "exit":
                return
            if message.get("type") != "start":
                continue  # addressed to a run that has already ended
            spec: RunSpec = message["spec"]
            self.outbox.begin(spec.run_id, live_generator_path(self.root, spec.run_id))
            try:
                # Laid here, once the previous run's folder is gone: an evicted run may start again on this actor.
                for relative, data in message["files"].items():
                    _write(self.root / relative, data)
            except OSError as e:  # a full or read-only scratch disk
                reason = f"could not lay the run's inputs on its node: {e}"
                self.outbox.put({"run_id": spec.run_id, "type": "status", "status": "failed", "reason": reason})
                continue
            try:
                # The inbox and outbox stand in for the worker's pipes: run() only polls, receives and puts.
                run(spec, cast(Any, self.inbox), cast(Any, self.outbox))
            finally:
                shutil.rmtree(run_dir(self.root, spec.run_id), ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    write_atomically(path, lambda f: f.write(data))


def resume_file(run_id: str) -> str:
    """Where, under the scratch folder, the checkpoint a run resumes (or forks) from is laid."""
    return f"runs/{run_id}/resume.pt"
