"""Where runs execute. ``Executor`` is the interface; ``LocalExecutor`` runs each run in its own worker process on
this machine, ``RayExecutor`` (server/ray_executor.py) in an actor on a Ray cluster.

A new run's latency would be dominated by importing torch (seconds; README, "Architecture"): local workers are
forked from a fork server that has imported it once (``server.worker.worker_context``), and the local executor
keeps a pool of workers that have warmed up and wait for a run. At most ``max_concurrent`` runs train at
once (by default half the cores, but two on a 2-core machine), each with ``(cores - 1) // max_concurrent`` torch
threads (at least one), so concurrent runs never oversubscribe the cores; further runs wait in a FIFO queue (a
``queued`` status event). A paused run gives its slot back but keeps its worker (its process, model and data stay in
memory, blocked at no CPU cost), so paused runs never keep new ones waiting; resumed while every slot is taken, it
queues like a new run (``queued``, then ``running`` when a slot frees). Runs whose device is ``auto`` (or bare
``cuda``) are placed on the GPUs round-robin; the others train where their config says.

Each worker sends its events on a pipe of its own, drained by one reader thread here. A shared
``multiprocessing.Queue`` is not safe against ``kill -9``: its writers share one lock and one pipe, so a worker
killed mid-write (CI caught one 12 ms into a start-up) leaves the lock held and half a message in the pipe, and
every other run's events, and the server's own, stop for good. With a pipe each, a dead worker breaks only its own
pipe: the reader passes on everything it sent, sees the end of the pipe, and reports its run ``failed`` with the
exit code right after its last event (a segfault, an OOM kill, ``kill -9``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from models.config import ConfigError
from server.status import FINAL_STATUSES
from server.worker import RunSpec, worker_context, worker_main

log = logging.getLogger(__name__)

EXIT_GRACE_SECONDS = 2.0  # a worker whose event pipe has ended is exiting: this long to reap it before it is killed
RUNS_PER_WORKER = 20  # a worker is reused for this many runs, then replaced: bounds any slow leak


def default_max_concurrent(cores: int) -> int:
    """Half the cores, at least two where there are two: a 2-core machine that kept a whole core for the server
    (a fraction of one while streaming a run: benchmarks/fanout.py measures it) would train at half its speed when two
    runs are compared side by side (benchmarks/concurrency.py)."""
    return min(cores, max(2, cores // 2))


def threads_per_run(cores: int, max_concurrent: int) -> int:
    """One core stays with the server (event pump, JSON, websockets); the rest is split between the runs. Torch
    threads spin while waiting, so two runs sharing a core cost far more than half their speed each."""
    return max(1, (cores - 1) // max_concurrent)


def place_device(requested: str, gpus: int, turn: int) -> str:
    """Where a run trains: ``auto`` and bare ``cuda`` take the next GPU round-robin (``turn``) when the host has any,
    ``auto`` the CPU otherwise; ``cpu`` and ``cuda:N`` are the user's choice and are kept as asked."""
    if requested in ("auto", "cuda") and gpus:
        return f"cuda:{turn % gpus}"
    return "cpu" if requested == "auto" else requested


def check_device(requested: str, gpus: int) -> None:
    """A device this host can honour, or a ConfigError naming the field (HTTP 422) before anything is stored."""
    if requested.startswith("cuda") and not gpus:
        raise ConfigError([{"field": "device", "reason": f"{requested} requested but this server has no CUDA device"}])
    index = requested.partition(":")[2]
    if index and int(index) >= gpus:
        raise ConfigError(
            [{"field": "device", "reason": f"{requested} does not exist: this server has {gpus} CUDA devices"}]
        )


class WaitingRuns(deque[RunSpec | str]):
    """The FIFO of runs waiting for a training slot, one for both executors: new runs (their ``RunSpec``) and the ids
    of paused runs waiting to resume. Entering it and leaving it unstarted are told as status events through
    ``emit`` (``queued`` with the position, ``stopped``). ``run_id in waiting`` matches the ids of paused runs only,
    as a new run's entry is its spec."""

    def __init__(self, emit: Callable[[dict[str, Any]], None]):
        super().__init__()
        self.emit = emit

    def queue(self, entry: RunSpec | str) -> None:
        self.append(entry)
        run_id = entry if isinstance(entry, str) else entry.run_id
        self.emit({"run_id": run_id, "type": "status", "status": "queued", "position": len(self)})

    def drop_new(self, run_id: str) -> bool:
        """A new run stopped before it started: out of the queue, ``stopped``; False when it is not waiting."""
        for entry in list(self):
            if isinstance(entry, RunSpec) and entry.run_id == run_id:
                self.remove(entry)
                self.emit({"run_id": run_id, "type": "status", "status": "stopped"})
                return True
        return False

    def run_ids(self) -> list[str]:
        return [entry if isinstance(entry, str) else entry.run_id for entry in self]


class Executor(Protocol):
    gpus: int  # CUDA devices the runs may be placed on

    def submit(self, spec: RunSpec) -> None: ...
    def send(self, run_id: str, message: dict[str, Any]) -> bool: ...
    def next_event(self, timeout: float) -> dict[str, Any] | None: ...
    def running(self) -> list[str]: ...
    def queued(self) -> list[str]: ...
    def shutdown(self) -> None: ...


@dataclass(eq=False)
class Worker:
    process: Any  # multiprocessing.Process (forkserver context)
    control: Connection  # server -> worker: start, patch, pause, resume, stop, exit
    events: Connection  # worker -> server: its events, read by the executor's reader thread
    run_id: str | None = None  # the run it was last given
    final_run: str | None = None  # the last run whose final status it sent (set by the reader as it passes it on)
    runs: int = 0
    ready: bool = False  # torch imported and waiting for a run (it said so)


@dataclass
class LocalExecutor:
    max_concurrent: int = field(default_factory=lambda: default_max_concurrent(os.cpu_count() or 1))
    warm: int = 1  # idle pre-started workers kept ready
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    gpus: int = 0  # CUDA devices: runs on auto (or bare cuda) are placed on them round-robin

    def __post_init__(self) -> None:
        self._ctx = worker_context()
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()  # from every worker (via the reader) and from us
        self._lock = threading.RLock()
        self._workers: list[Worker] = []  # every worker process whose event pipe is still open
        self._wake_reader, self._wake = self._ctx.Pipe(duplex=False)  # a new worker's pipe, or shutdown
        self._idle: list[Worker] = []
        self._active: dict[str, Worker] = {}  # runs that hold a worker, paused ones included
        self._paused: set[str] = set()  # of those, the paused: they hold no training slot
        self._waiting = WaitingRuns(lambda event: self._events.put({**event, "time": time.time()}))
        self._next_gpu = 0
        self._closed = False
        self._reader = threading.Thread(target=self._read_events, name="executor-events", daemon=True)
        self._reader.start()
        self._fill_pool()

    # ------------------------------------------------------------------------------- interface

    def submit(self, spec: RunSpec) -> None:
        """Start the run now if a slot is free, else queue it (FIFO)."""
        with self._lock:
            if self._training() >= self.max_concurrent or self._waiting:
                self._waiting.queue(spec)
                return
            self._launch(spec)

    def send(self, run_id: str, message: dict[str, Any]) -> bool:
        """Control message to a running run; False if it is not running here (queued, finished, unknown)."""
        with self._lock:
            worker = self._active.get(run_id)
            if worker is None:
                if message.get("type") == "stop":
                    return self._waiting.drop_new(run_id)
                return False
            if message.get("type") == "resume" and run_id in self._paused:
                if run_id in self._waiting:
                    return True
                if self._training() < self.max_concurrent and not self._waiting:
                    self._resume(run_id)
                else:
                    self._waiting.queue(run_id)  # its turn comes in order, like a new run's
                return True
            if message.get("type") == "stop" and run_id in self._waiting:
                self._waiting.remove(run_id)  # it stops from where it was paused, without its turn
            try:
                worker.control.send({**message, "run_id": run_id})
                return True
            except (BrokenPipeError, OSError):
                return False

    def next_event(self, timeout: float) -> dict[str, Any] | None:
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            return None
        if event.get("type") == "status" and event.get("status") in FINAL_STATUSES:
            self._finished(event["run_id"])
        elif event.get("type") == "status" and event.get("status") in ("paused", "running"):
            self._paused_or_running(event["run_id"], event["status"] == "paused")
        elif event.get("type") == "worker_ready":
            with self._lock:
                for worker in self._idle:
                    if worker.process.pid == event["pid"]:
                        worker.ready = True
        return event

    def running(self) -> list[str]:
        with self._lock:
            return list(self._active)

    def queued(self) -> list[str]:
        with self._lock:
            return self._waiting.run_ids()

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {run_id: w.process.pid for run_id, w in self._active.items()}

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._idle, self._active, self._workers = [], {}, []
            self._waiting.clear()
            self._paused.clear()
        self._wake_up_reader()
        self._reader.join(timeout=5)
        for worker in workers:
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join(timeout=5)
            worker.control.close()
            worker.events.close()

    # ------------------------------------------------------------------------------- internals

    def _spawn(self) -> Worker:
        control, control_end = self._ctx.Pipe(duplex=False)
        events_end, events = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(target=worker_main, args=(control, events), daemon=True, name="ganplay-worker")
        process.start()
        # Our copies of the worker's ends closed: its event pipe then ends exactly when the worker does.
        control.close()
        events.close()
        worker = Worker(process, control_end, events_end)
        with self._lock:
            self._workers.append(worker)
        self._wake_up_reader()
        return worker

    def _fill_pool(self) -> None:
        with self._lock:
            while not self._closed and len(self._idle) < self.warm:
                self._idle.append(self._spawn())

    def _launch(self, spec: RunSpec) -> None:
        ready = [w for w in self._idle if w.ready]
        # The most recently returned ready worker: it is surely warm (caches, allocator) and the pool's oldest
        # workers get to age out.
        worker = ready[-1] if ready else (self._idle[0] if self._idle else self._spawn())
        if worker in self._idle:
            self._idle.remove(worker)
        worker.ready = False
        device = place_device(spec.device, self.gpus, self._next_gpu)
        if device.startswith("cuda:") and device != spec.device:
            self._next_gpu += 1  # placed by us: the next such run takes the next GPU
        spec = replace(spec, threads=threads_per_run(self.cores, self.max_concurrent), device=device)
        worker.run_id = spec.run_id
        worker.runs += 1
        self._active[spec.run_id] = worker
        worker.control.send({"type": "start", "spec": spec})
        threading.Thread(target=self._fill_pool, daemon=True).start()  # replace the warm worker off this path

    def _training(self) -> int:
        """Slots taken: runs that hold a worker and are not paused."""
        return len(self._active) - len(self._paused)

    def _fill_slots(self) -> None:
        """Start (or resume) waiting runs, in order, while slots are free."""
        while self._waiting and self._training() < self.max_concurrent and not self._closed:
            entry = self._waiting.popleft()
            if isinstance(entry, RunSpec):
                self._launch(entry)
                continue
            self._resume(entry)

    def _resume(self, run_id: str) -> None:
        self._paused.discard(run_id)  # its slot is taken from now, before its worker says "running"
        worker = self._active.get(run_id)
        if worker is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.control.send({"type": "resume", "run_id": run_id})

    def _paused_or_running(self, run_id: str, paused: bool) -> None:
        with self._lock:
            if run_id not in self._active:
                return
            if paused:
                self._paused.add(run_id)
                self._fill_slots()
            elif run_id not in self._waiting:  # resumed (by us, or by a message sent past the queue)
                self._paused.discard(run_id)

    def _finished(self, run_id: str) -> None:
        with self._lock:
            worker = self._active.pop(run_id, None)
            self._paused.discard(run_id)
            if run_id in self._waiting:
                self._waiting.remove(run_id)  # paused and waiting to resume when its worker died
            if worker is not None:
                spare = len(self._idle) < self.warm + self.max_concurrent
                if worker.process.is_alive() and worker.runs < RUNS_PER_WORKER and spare and not self._closed:
                    worker.run_id = None
                    # Warm for the next run (no torch import to pay again), and ready: it reads a start as soon as
                    # it has sent its last event. A queued run (a sweep's next cell) starts on it now rather than
                    # on a fresh worker still importing torch.
                    worker.ready = True
                    self._idle.append(worker)
                else:
                    self._retire(worker)
            self._fill_slots()

    @staticmethod
    def _retire(worker: Worker) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            worker.control.send({"type": "exit"})
        worker.control.close()
        # The reader joins it when its event pipe ends, as it exits; this only makes sure that it does exit.
        threading.Thread(target=_reap, args=(worker.process,), name="reap-worker", daemon=True).start()

    def _wake_up_reader(self) -> None:
        with contextlib.suppress(OSError):
            self._wake.send_bytes(b"")

    def _read_events(self) -> None:
        """Pass every worker's events on, in each worker's order; report a worker's end the moment its pipe ends."""
        while not self._closed:
            with self._lock:
                by_pipe: dict[Any, Worker] = {worker.events: worker for worker in self._workers}
            for pipe in wait([self._wake_reader, *by_pipe], timeout=1.0):
                if pipe is self._wake_reader:
                    self._wake_reader.recv_bytes()
                    continue
                worker = by_pipe[pipe]
                try:
                    event: dict[str, Any] = worker.events.recv()
                except (EOFError, OSError):  # it has exited (or died), whatever it was half-way through sending
                    self._worker_ended(worker)
                    continue
                except Exception:  # a message it could not have sent whole: treat the worker as broken
                    log.exception("unreadable event from worker %s: killing it", worker.process.pid)
                    worker.process.kill()
                    self._worker_ended(worker)
                    continue
                if event.get("type") == "status" and event.get("status") in FINAL_STATUSES:
                    worker.final_run = event.get("run_id")
                self._events.put(event)

    def _worker_ended(self, worker: Worker) -> None:
        """Its pipe has ended and everything it sent has been passed on: if its run never got a final status, the run
        fails with the exit code, after its last event; an idle worker is replaced."""
        worker.process.join(timeout=EXIT_GRACE_SECONDS)
        if worker.process.is_alive():  # it closed its pipe yet lives on: it cannot report, so it cannot stay
            worker.process.kill()
            worker.process.join(timeout=5)
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            worker.events.close()
            was_idle = worker in self._idle
            if was_idle:
                self._idle.remove(worker)
            run_id = worker.run_id
            orphan = run_id is not None and worker.final_run != run_id and self._active.get(run_id) is worker
        if orphan:
            self._events.put(
                {
                    "run_id": run_id,
                    "type": "status",
                    "status": "failed",
                    "time": time.time(),
                    "reason": f"worker process exited with code {worker.process.exitcode}",
                }
            )
        if was_idle:
            self._fill_pool()


def _reap(process: Any, grace: float = 10.0) -> None:
    """Kill a retired worker that has not exited within ``grace`` seconds. Joining it is the reader's (its event pipe
    ends when it exits, and ``_worker_ended`` joins it): this waits on its sentinel only, because two joins of a
    fork server's child race for the one exit status the fork server writes, and the loser records 255."""
    if not wait([process.sentinel], timeout=grace):
        process.kill()
