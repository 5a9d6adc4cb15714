"""``RayExecutor``: runs train in Ray actors on a cluster, with the local executor's event semantics.

The scheduling is the local executor's, over slots the cluster provides: a run starts on a warm actor (torch
imported, one tiny step taken) when one is idle, else on a new actor when the cluster has room for one of its size
(``cpus_per_run`` CPUs, which are its torch threads, and ``gpu_fraction`` of a GPU for a CUDA run), else it waits in
a FIFO queue (a ``queued`` event). Ray places the actors (spread over the nodes); nothing here picks a node.

A paused run keeps its actor, and with it its model in memory, until a waiting run needs the room: then it is
*evicted*. Its loop stops the way a stop does (a checkpoint, already in the server's storage like every checkpoint),
its actor takes the waiting run, and it stays paused with no actor. Resumed, it queues like a new run and continues
from that checkpoint, which holds everything to continue bit for bit; patches sent meanwhile, and any it had taken
but not yet applied, are sent again after it starts. So, as locally, paused runs never keep new ones waiting.

A run whose actor dies (its node removed or dead, the actor killed, the bridge or the cluster lost) becomes
``interrupted`` within seconds, resumable from its newest checkpoint (``resume`` starts it on any node). The server
talks to Ray only through a bridge process (server/ray_bridge.py): a lost cluster ends the bridge, never the server,
which starts a new bridge until the cluster answers again, and says how it stands in ``/api/health``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from server.executor import RUNS_PER_WORKER, WaitingRuns
from server.ray_actor import EVICTED
from server.ray_bridge import BridgeOptions, bridge_main
from server.status import FINAL_STATUSES
from server.worker import RunSpec

log = logging.getLogger(__name__)

RECONNECT_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # waits before each new bridge after a lost one (the last repeats)
CONNECT_SECONDS = 60.0  # how long start-up waits for the first word from the cluster


@dataclass(frozen=True)
class Shape:
    """What one run's actor reserves on the cluster."""

    cpus: float
    gpus: float


@dataclass(eq=False)
class Actor:
    id: str
    shape: Shape
    ready: bool = False  # placed on a node and warm
    run_id: str | None = None
    runs: int = 0
    node: str | None = None


@dataclass
class Evicted:
    """A paused run whose actor went to a waiting run."""

    spec: RunSpec  # as it was last started (the server's paths)
    step: int | None
    patches: list[dict[str, Any]] = field(default_factory=list)  # sent after it starts again


class RayExecutor:
    def __init__(
        self,
        address: str | None = None,
        *,
        cpus_per_run: int = 1,
        gpu_fraction: float = 1.0,
        warm: int = 1,
        max_concurrent: int | None = None,
        local_cpus: int = 1,
        local_gpus: int = 0,
        temp_dir: str | None = None,
        connect_timeout: float = CONNECT_SECONDS,
    ):
        self.address = address
        self.cpus_per_run, self.gpu_fraction = cpus_per_run, gpu_fraction
        self.warm, self.max_concurrent = warm, max_concurrent
        # A Ray instance of our own keeps its sessions (sockets, logs, spilled objects) in a folder of its own, short
        # enough for Ray's socket paths (107 bytes at most), removed at shutdown.
        self._own_temp = address is None and temp_dir is None
        if self._own_temp:
            temp_dir = tempfile.mkdtemp(prefix="ganplay-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
        self._options = BridgeOptions(address, cpus=local_cpus, gpus=local_gpus, temp_dir=temp_dir)
        self._ctx = mp.get_context("spawn")
        self._lock = threading.RLock()
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._actors: dict[str, Actor] = {}
        self._active: dict[str, Actor] = {}  # runs that hold an actor, paused ones included
        self._specs: dict[str, RunSpec] = {}  # the spec each of those was started with
        self._paused: set[str] = set()  # of those, the paused: they hold no training slot
        self._evicting: set[str] = set()  # paused runs told to stop and give their actor back
        self._evicted: dict[str, Evicted] = {}
        self._held: dict[str, list[dict[str, Any]]] = {}  # patches for runs being evicted
        self._stop_evicted: set[str] = set()  # stopped while being evicted: "stopped" once the eviction is done
        self._relaunched: set[str] = set()  # evicted runs started again: their second "starting" is not news
        self._waiting = WaitingRuns(self._emit)  # new runs, and ids of paused or evicted runs to resume
        self._last_step: dict[str, int] = {}
        self._next_actor = 0
        self._gpus_override: int | None = None
        self._cluster: dict[str, Any] = {"connected": False, "error": "connecting", "nodes": []}
        self._last_lost: dict[str, Any] | None = None  # when the link was last lost, why, and the runs it interrupted
        self._closed = False
        self._bridge: Any = None
        self._commands: queue.Queue[dict[str, Any] | None] | None = None  # to the bridge, through its sender
        self._attempt = 0
        self._first_word = threading.Event()
        self._start_bridge()
        self._first_word.wait(connect_timeout)

    # ------------------------------------------------------------------------------- interface

    @property
    def gpus(self) -> int:
        """GPUs of the cluster's live nodes (``check_device`` refuses ``cuda:N`` past them)."""
        if self._gpus_override is not None:
            return self._gpus_override
        with self._lock:
            return int(sum(n["gpus"] for n in self._cluster.get("nodes", []) if n["alive"]))

    @gpus.setter
    def gpus(self, value: int) -> None:
        self._gpus_override = value

    def submit(self, spec: RunSpec) -> None:
        with self._lock:
            if not self._waiting and self._can_launch(self._place(spec.device)[0]):
                self._launch(spec)
            else:
                self._waiting.queue(spec)
                self._make_room()

    def send(self, run_id: str, message: dict[str, Any]) -> bool:
        kind = message.get("type")
        message = {**message, "run_id": run_id}
        with self._lock:
            if run_id in self._evicted:
                return self._send_evicted(run_id, kind, message)
            actor = self._active.get(run_id)
            if actor is None:
                return kind == "stop" and self._waiting.drop_new(run_id)
            if kind == "resume" and run_id in self._paused:
                if run_id not in self._waiting:
                    if self._training() < self._cap() and not self._waiting and run_id not in self._evicting:
                        self._resume(run_id)
                    else:
                        self._waiting.queue(run_id)
                return True
            if run_id in self._evicting:  # its loop is ending: what it is sent now must wait for its next start
                if kind == "stop":
                    self._stop_evicted.add(run_id)
                    with contextlib.suppress(ValueError):
                        self._waiting.remove(run_id)
                elif kind == "patch":
                    self._held.setdefault(run_id, []).append(message)
                return True
            if kind == "stop" and run_id in self._waiting:
                self._waiting.remove(run_id)
            self._command({"op": "send", "actor": actor.id, "message": message})
            return True

    def next_event(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def running(self) -> list[str]:
        with self._lock:
            return [*self._active, *self._evicted]

    def queued(self) -> list[str]:
        with self._lock:
            return self._waiting.run_ids()

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            bridge = self._bridge
            self._command({"op": "shutdown"})
        if bridge is not None:
            bridge.join(timeout=15)
            if bridge.is_alive():
                bridge.kill()
                bridge.join(timeout=5)
        if self._own_temp and self._options.temp_dir:
            shutil.rmtree(self._options.temp_dir, ignore_errors=True)

    # ------------------------------------------------------------------------------- for health, tests, benchmarks

    def cluster_status(self) -> dict[str, Any]:
        """The cluster as the bridge last reported it: ``connected``, ``error`` (why not), ``nodes`` (id, address,
        alive, cpus, gpus), ``free_cpus``, ``free_gpus``."""
        with self._lock:
            return {"address": self.address or "local", **self._cluster, "last_lost": self._last_lost}

    def nodes(self) -> dict[str, str | None]:
        """The node each run holding an actor trains on."""
        with self._lock:
            return {run_id: actor.node for run_id, actor in self._active.items()}

    def ready_actors(self) -> int:
        with self._lock:
            return sum(1 for actor in self._actors.values() if actor.ready and actor.run_id is None)

    # ------------------------------------------------------------------------------- scheduling (under _lock)

    def _place(self, device: str) -> tuple[Shape, str]:
        """The actor size and the device of a run: ``auto`` takes a GPU share when the cluster has GPUs, ``cuda``
        and ``cuda:N`` always (Ray gives the actor its GPU, which it sees as ``cuda``)."""
        if device.startswith("cuda") or (device == "auto" and self.gpus):
            return Shape(self.cpus_per_run, self.gpu_fraction), "cuda"
        return Shape(self.cpus_per_run, 0.0), "cpu" if device == "auto" else device

    def _cap(self) -> float:
        return float("inf") if self.max_concurrent is None else self.max_concurrent

    def _training(self) -> int:
        return len(self._active) - len(self._paused)

    def _fits(self, shape: Shape) -> bool:
        """Room on the cluster's live nodes for one more actor of ``shape`` beside all of ours: counted node by
        node for this shape (an actor lives on one node) and over the whole cluster for every shape we hold."""
        nodes = [n for n in self._cluster.get("nodes", []) if n["alive"]]
        slots = sum(min(n["cpus"] // shape.cpus, n["gpus"] // shape.gpus if shape.gpus else n["cpus"]) for n in nodes)
        same = sum(1 for a in self._actors.values() if a.shape == shape)
        cpus = sum(a.shape.cpus for a in self._actors.values()) + shape.cpus
        gpus = sum(a.shape.gpus for a in self._actors.values()) + shape.gpus
        total_cpus, total_gpus = sum(n["cpus"] for n in nodes), sum(n["gpus"] for n in nodes)
        return same < slots and cpus <= total_cpus + 1e-9 and gpus <= total_gpus + 1e-9

    def _idle(self, shape: Shape) -> list[Actor]:
        return [a for a in self._actors.values() if a.run_id is None and a.shape == shape]

    def _can_launch(self, shape: Shape) -> bool:
        if not self._cluster.get("connected") or self._training() >= self._cap():
            return False
        if self._idle(shape) or self._fits(shape):
            return True
        for other in [a for a in self._actors.values() if a.run_id is None and a.shape != shape]:
            self._retire(other)  # an idle actor of another size gives its room to this one
            if self._fits(shape):
                return True
        return False

    def _launch(self, spec: RunSpec) -> None:
        shape, device = self._place(spec.device)
        idle = self._idle(shape)
        ready = [a for a in idle if a.ready]
        actor = ready[-1] if ready else (idle[0] if idle else self._spawn(shape))
        spec = replace(spec, threads=max(1, int(shape.cpus)), device=device)
        actor.run_id = spec.run_id
        actor.runs += 1
        self._active[spec.run_id] = actor
        self._specs[spec.run_id] = spec
        self._command({"op": "start", "actor": actor.id, "spec": spec})
        self._fill_pool()

    def _spawn(self, shape: Shape) -> Actor:
        actor = Actor(f"a{self._next_actor}", shape)
        self._next_actor += 1
        self._actors[actor.id] = actor
        self._command({"op": "spawn", "actor": actor.id, "cpus": shape.cpus, "gpus": shape.gpus})
        return actor

    def _retire(self, actor: Actor) -> None:
        self._actors.pop(actor.id, None)
        self._command({"op": "retire", "actor": actor.id})

    def _fill_pool(self) -> None:
        """Warm actors of the size an ``auto`` run takes, as many as ``warm`` and the cluster's room allow."""
        if self._closed or not self._cluster.get("connected"):
            return
        shape = self._place("auto")[0]  # the warm pool is for runs on the default device
        while len(self._idle(shape)) < self.warm and self._fits(shape):
            self._spawn(shape)

    def _shape_of(self, entry: RunSpec | str) -> Shape | None:
        """The size a waiting entry needs from the cluster: None for a paused run that still holds its actor."""
        if isinstance(entry, RunSpec):
            return self._place(entry.device)[0]
        if entry in self._evicted:
            return self._place(self._evicted[entry].spec.device)[0]
        return None

    def _fill_slots(self) -> None:
        """Start (or resume) waiting runs, in order, while there is room; then make room for the next if a paused
        run holds an actor it could have."""
        while self._waiting and not self._closed:
            entry = self._waiting[0]
            if isinstance(entry, str) and entry in self._evicting:
                break  # resumed while giving its actor back: it starts again once that is done
            shape = self._shape_of(entry)
            if shape is None:
                if self._training() >= self._cap():
                    break
                self._waiting.popleft()
                if isinstance(entry, str) and entry in self._active:
                    self._resume(entry)
                continue
            if not self._can_launch(shape):
                break
            self._waiting.popleft()
            if isinstance(entry, RunSpec):
                self._launch(entry)
            else:
                self._relaunch(entry)
        self._make_room()

    def _make_room(self) -> None:
        """Evict the longest-paused run that holds an actor of the size the first waiting run needs, when only the
        cluster's room (not ``max_concurrent``) keeps that run waiting."""
        if not self._waiting or self._evicting or self._training() >= self._cap():
            return
        shape = self._shape_of(self._waiting[0])
        if shape is None or not self._cluster.get("connected"):
            return
        for run_id in self._active:  # oldest first: dicts keep insertion order
            actor = self._active[run_id]
            if run_id in self._paused and run_id not in self._evicting and actor.shape == shape:
                self._evicting.add(run_id)
                message = {"type": "stop", "evict": True, "run_id": run_id}
                self._command({"op": "send", "actor": actor.id, "message": message})
                return

    def _resume(self, run_id: str) -> None:
        self._paused.discard(run_id)  # its slot is taken from now, before its actor says "running"
        actor = self._active[run_id]
        self._command({"op": "send", "actor": actor.id, "message": {"type": "resume", "run_id": run_id}})

    def _relaunch(self, run_id: str) -> None:
        """An evicted run starts again from its checkpoint, then gets the patches it was sent meanwhile."""
        evicted = self._evicted.pop(run_id)
        spec = replace(evicted.spec, resume_from=evicted.spec.checkpoint_path, fork_overrides=None)
        self._relaunched.add(run_id)
        self._launch(spec)
        actor = self._active[run_id]
        for patch in evicted.patches:
            self._command({"op": "send", "actor": actor.id, "message": patch})

    def _send_evicted(self, run_id: str, kind: Any, message: dict[str, Any]) -> bool:
        evicted = self._evicted[run_id]
        if kind == "patch":
            evicted.patches.append(message)
        elif kind == "resume":
            if run_id not in self._waiting:
                shape = self._place(evicted.spec.device)[0]
                if not self._waiting and self._can_launch(shape):
                    self._relaunch(run_id)
                else:
                    self._waiting.queue(run_id)
                    self._make_room()
        elif kind == "stop":
            with contextlib.suppress(ValueError):
                self._waiting.remove(run_id)
            del self._evicted[run_id]
            self._emit({"run_id": run_id, "type": "status", "status": "stopped", "step": evicted.step})
        else:
            return False
        return True

    # ------------------------------------------------------------------------------- events from the bridge

    def _read_events(self, events: Any) -> None:
        """Every event of one bridge, in order; when its pipe ends, the bridge is gone."""
        while True:
            try:
                event = events.recv()
            except (EOFError, OSError):
                break
            except Exception:
                log.exception("unreadable event from the Ray bridge")
                break
            with self._lock:
                self._handle(event)
        events.close()
        self._bridge_lost()

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "_bridge":
            self._cluster = {key: value for key, value in event.items() if key != "type"}
            if event["connected"]:
                self._cluster["error"] = None
                self._attempt = 0
            self._first_word.set()
            self._fill_pool()
            self._fill_slots()
            return
        if kind == "_actor_ready":
            actor = self._actors.get(event["actor"])
            if actor is not None:
                actor.ready, actor.node = True, event.get("node")
            return
        if kind == "_actor_lost":
            actor = self._actors.pop(event["actor"], None)
            if actor is not None and actor.run_id is not None and self._active.get(actor.run_id) is actor:
                # Its own process died (not its node): the run failed, as a local worker's would.
                status = "failed" if event.get("crashed") else "interrupted"
                self._interrupt(actor.run_id, event["reason"], status)
            self._fill_pool()
            self._fill_slots()
            return
        run_id = event.get("run_id")
        actor = self._actors.get(event.pop("_actor", ""))
        if actor is None or run_id is None or self._active.get(run_id) is not actor:
            return  # from an actor the run no longer holds (interrupted meanwhile)
        self._note_step(run_id, event)
        if kind == EVICTED:
            self._on_evicted(run_id, event)
            return
        if kind == "status":
            status = event["status"]
            if status == "starting":
                event["node"] = actor.node
                if run_id in self._relaunched:
                    return  # an evicted run picking up where it paused: it never stopped starting over
            elif status == "running":
                self._relaunched.discard(run_id)
                if run_id not in self._waiting:
                    self._paused.discard(run_id)
            elif status == "paused":
                self._paused.add(run_id)
                self._fill_slots()
            elif status in FINAL_STATUSES:
                self._finished(run_id)
        self._emit(event)

    def _note_step(self, run_id: str, event: dict[str, Any]) -> None:
        if event["type"] == "metrics" and event.get("rows"):
            self._last_step[run_id] = int(event["rows"][-1].get("step", 0))
        elif isinstance(event.get("step"), int):
            self._last_step[run_id] = event["step"]

    def _on_evicted(self, run_id: str, event: dict[str, Any]) -> None:
        spec = self._specs.pop(run_id)
        actor = self._active.pop(run_id)
        self._paused.discard(run_id)
        self._evicting.discard(run_id)
        self._relaunched.discard(run_id)
        # Patches it had taken but not applied were acknowledged already: sent again as replays, whose second
        # acknowledgement the actor keeps to itself. Those held here come with their first.
        acknowledged = [{**patch, "replay": True} for patch in event.get("patches", [])]
        patches = [*acknowledged, *self._held.pop(run_id, [])]
        if run_id in self._stop_evicted:
            self._stop_evicted.discard(run_id)
            self._emit({"run_id": run_id, "type": "status", "status": "stopped", "step": event.get("step")})
        else:
            self._evicted[run_id] = Evicted(spec, event.get("step"), patches)
        self._free(actor)
        self._fill_slots()

    def _finished(self, run_id: str) -> None:
        actor = self._active.pop(run_id, None)
        self._specs.pop(run_id, None)
        self._paused.discard(run_id)
        self._relaunched.discard(run_id)
        self._last_step.pop(run_id, None)
        with contextlib.suppress(ValueError):
            self._waiting.remove(run_id)
        if actor is not None:
            self._free(actor)
        self._fill_slots()

    def _free(self, actor: Actor) -> None:
        actor.run_id = None
        if actor.runs >= RUNS_PER_WORKER or self._closed:
            self._retire(actor)

    def _interrupt(self, run_id: str, reason: str, status: str = "interrupted") -> None:
        """The run's actor is gone: the run stops where its newest checkpoint (in the server's storage) left it."""
        self._active.pop(run_id, None)
        self._specs.pop(run_id, None)
        for group in (self._paused, self._evicting, self._relaunched, self._stop_evicted):
            group.discard(run_id)
        self._held.pop(run_id, None)
        with contextlib.suppress(ValueError):
            self._waiting.remove(run_id)
        step = self._last_step.pop(run_id, None)
        self._emit({"run_id": run_id, "type": "status", "status": status, "step": step, "reason": reason})

    def _emit(self, event: dict[str, Any]) -> None:
        self._events.put({"time": time.time(), **event})

    # ------------------------------------------------------------------------------- the bridge process

    def _command(self, command: dict[str, Any]) -> None:
        """Queued for the bridge's sender thread: a bridge slow to read (busy with a cluster in trouble) never
        holds up the caller, an API request or the reader of events."""
        if self._commands is not None:
            self._commands.put(command)

    @staticmethod
    def _send_commands(commands: queue.Queue[dict[str, Any] | None], pipe: Any) -> None:
        while (command := commands.get()) is not None:
            try:
                pipe.send(command)
            except (BrokenPipeError, OSError):  # the bridge is gone: its reader reports it
                break
        pipe.close()

    def _start_bridge(self) -> None:
        commands_end, commands = self._ctx.Pipe(duplex=False)
        events, events_end = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=bridge_main, args=(commands_end, events_end, self._options), daemon=True, name="ganplay-ray-bridge"
        )
        process.start()
        commands_end.close()  # our copies of its ends: its event pipe then ends exactly when it does
        events_end.close()
        outgoing: queue.Queue[dict[str, Any] | None] = queue.Queue()
        with self._lock:
            self._bridge, self._commands = process, outgoing
        threading.Thread(target=self._send_commands, args=(outgoing, commands), name="ray-bridge-commands",
                         daemon=True).start()  # fmt: skip
        threading.Thread(target=self._read_events, args=(events,), name="ray-bridge-events", daemon=True).start()

    def _bridge_lost(self) -> None:
        """Every run that held an actor is interrupted; a new bridge starts after a wait that grows while the
        cluster stays unreachable."""
        with self._lock:
            bridge, self._bridge = self._bridge, None
            if self._commands is not None:
                self._commands.put(None)  # its sender ends
            self._commands = None
            error = self._cluster.get("error")
            if error in (None, "connecting"):
                error = "the link to it (the Ray bridge process) ended"
            self._cluster = {"connected": False, "error": error, "nodes": []}
            self._last_lost = {"at": time.time(), "error": error, "interrupted": len(self._active)}
            for run_id in list(self._active):
                self._interrupt(run_id, f"lost the Ray cluster: {self._cluster['error']}")
            for actor in list(self._actors.values()):
                self._actors.pop(actor.id)
            self._first_word.set()
            closed = self._closed
            wait = RECONNECT_SECONDS[min(self._attempt, len(RECONNECT_SECONDS) - 1)]
            self._attempt += 1
        if bridge is not None:
            bridge.join(timeout=5)
            if bridge.is_alive():
                bridge.kill()
        if not closed:
            log.warning("Ray bridge ended (%s); reconnecting in %.0f s", self._cluster["error"], wait)
            timer = threading.Timer(wait, self._restart)
            timer.daemon = True
            timer.start()

    def _restart(self) -> None:
        if not self._closed:
            self._start_bridge()
