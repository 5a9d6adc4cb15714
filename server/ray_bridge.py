"""The server's one link to a Ray cluster: a process of its own, the Ray driver, between the server and the actors.

Why a process and not the server itself: a Ray driver that loses its cluster (the head gone, the network cut) may be
ended by Ray, and a server must survive that (issue 12, README "Executors"). Here the bridge ends instead; the
server sees its pipe close, marks the runs it had on the cluster ``interrupted`` and starts a new bridge, which
reconnects when the cluster is back. It also keeps Ray's threads, signal handlers and logging out of the web server.

It does what the server asks (``spawn`` an actor of a given size, ``start`` a run on it, ``send`` a control message,
``retire`` it) and passes back what the actors report, pulled by one long-poll thread per actor; a checkpoint or live
generator file that comes with an event is written into the server's storage before the event goes on, so the
server (and a client that saw the event) finds it there. Every second it reports the cluster's nodes and free
resources. The scheduling decisions (which run when, on which actor) are the server's: server/ray_executor.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from models.atomic import write_atomically
from server.paths import live_generator_path
from server.ray_actor import EVICTED, WEIGHTS, RunActor, resume_file
from server.status import FINAL_STATUSES
from server.worker import EventPipe, RunSpec

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # an idle actor's long poll returns empty this often
STATUS_SECONDS = 1.0  # how often the cluster's nodes and free resources are reported
#: An actor whose poll has not answered for this long is given up (Ray's own node health check reports a dead node
#: sooner: a few seconds with the health-check settings README "Executors" gives).
LOST_SECONDS = 15.0
#: Node health checks of a Ray instance the bridge starts itself: a node silent for 5 s is dead (Ray's defaults
#: take 15 s after a 5 s grace).
LOCAL_SYSTEM_CONFIG = {"health_check_period_ms": 1000, "health_check_failure_threshold": 5}


@dataclass(frozen=True)
class BridgeOptions:
    address: str | None  # an existing cluster (``auto``, ``ray://head:10001``, ``host:port``); None: start one here
    cpus: int = 1  # the CPUs of a Ray instance started here
    gpus: int = 0
    temp_dir: str | None = None  # the session folder of a Ray instance started here (its sockets, logs, spill)
    namespace: str = "ganplay"


@dataclass(eq=False)
class Slot:
    """One actor, as the bridge knows it."""

    handle: Any
    specs: dict[str, RunSpec] = field(default_factory=dict)  # its runs not yet ended, by id (server-side paths)
    seq: int = 0
    retired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq - 1


def prepare_environment(options: BridgeOptions) -> None:
    """Environment of the Ray driver, set before ``import ray``, inherited by a Ray instance started here.

    Ray 2.59+ turns token authentication on for a Ray instance started by ``ray.init()`` and, unless a token is
    given (``RAY_AUTH_TOKEN``, or a file named by ``RAY_AUTH_TOKEN_PATH``), writes a new one to
    ``~/.ray/auth_token``. A token made here and passed in the environment keeps the instance authenticated without
    writing into the home directory; the processes the instance starts inherit it. Joining an existing cluster, the
    cluster's own token is the operator's to give in those same variables."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report sent anywhere
    if options.address is not None:
        return
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    if not os.environ.get("RAY_AUTH_TOKEN") and not os.environ.get("RAY_AUTH_TOKEN_PATH"):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    # A Ray instance of this machine alone listens on loopback only, as the server does by default.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if options.temp_dir:
        os.environ["RAY_TMPDIR"] = options.temp_dir
        # The actors' scratch folder too (server/ray_actor.py), removed with it.
        os.environ.setdefault("GANPLAY_RAY_SCRATCH", os.path.join(options.temp_dir, "scratch"))


def connect(options: BridgeOptions) -> Any:
    import ray

    common: dict[str, Any] = {"namespace": options.namespace, "log_to_driver": False, "logging_level": logging.WARNING}
    if options.address is None:
        ray.init(
            num_cpus=options.cpus,
            num_gpus=options.gpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            _system_config=LOCAL_SYSTEM_CONFIG,
            **common,
        )
    else:
        ray.init(address=options.address, **common)
    return ray


def bridge_main(commands: Connection, events: Connection, options: BridgeOptions) -> None:
    """Entry point of the bridge process: connect, then serve the server's commands until told to stop (or until
    the server or the cluster is gone)."""
    out = EventPipe(events)
    prepare_environment(options)
    try:
        ray = connect(options)
    except Exception as e:  # the cluster is unreachable, the address wrong, the token refused...
        out.put({"type": "_bridge", "connected": False, "error": f"{type(e).__name__}: {e}"})
        return
    bridge = Bridge(ray, out)
    bridge.report_cluster()
    threading.Thread(target=bridge.monitor, name="cluster-status", daemon=True).start()
    try:
        while True:
            try:
                command = commands.recv()
            except (EOFError, OSError):  # the server has gone
                break
            if command["op"] == "shutdown":
                break
            try:
                bridge.handle(command)
            except Exception as e:  # one command's trouble: the others, and the runs, go on
                log.exception("Ray bridge: %s failed", command["op"])
                if command["op"] == "start":
                    spec = command["spec"]
                    out.put({"run_id": spec.run_id, "type": "status", "status": "failed", "time": time.time(),
                             "reason": f"{type(e).__name__}: {e}", "_actor": command["actor"]})  # fmt: skip
    finally:
        bridge.close()


class Bridge:
    def __init__(self, ray: Any, out: EventPipe):
        self.ray, self.out = ray, out
        self.slots: dict[str, Slot] = {}
        self.closed = False
        self.actor_class = remote_actor_class(ray)

    # ------------------------------------------------------------------------------- commands

    def handle(self, command: dict[str, Any]) -> None:
        op, actor = command["op"], command.get("actor", "")
        if op == "spawn":
            self.spawn(actor, command["cpus"], command["gpus"])
        elif op == "start":
            self.start(actor, command["spec"])
        elif op == "send" and actor in self.slots:
            slot = self.slots[actor]
            slot.handle.send.remote(slot.next_seq(), command["message"])
        elif op == "retire" and actor in self.slots:
            self.retire(actor)

    def spawn(self, actor: str, cpus: float, gpus: float) -> None:
        handle = self.actor_class.options(
            num_cpus=cpus,
            num_gpus=gpus,
            max_restarts=0,  # a run's state is not in a restarted actor: the server resumes it from its checkpoint
            scheduling_strategy="SPREAD",  # runs over the nodes, not packed onto the first
        ).remote()
        slot = self.slots[actor] = Slot(handle)
        threading.Thread(target=self._watch, args=(actor, slot), name=f"actor-{actor}", daemon=True).start()

    def start(self, actor: str, spec: RunSpec) -> None:
        slot = self.slots.get(actor)
        if slot is None:
            return  # lost meanwhile: the server has been told, and re-queues the run
        try:
            files = run_inputs(spec)
        except OSError as e:
            self.out.put({"run_id": spec.run_id, "type": "status", "status": "failed", "time": time.time(),
                          "reason": f"could not read the run's inputs: {e}", "_actor": actor})  # fmt: skip
            return
        slot.specs[spec.run_id] = spec
        slot.handle.start.remote(slot.next_seq(), spec, files)

    def retire(self, actor: str) -> None:
        slot = self.slots.pop(actor)
        slot.retired = True
        self.ray.kill(slot.handle, no_restart=True)

    def close(self) -> None:
        """Our actors go (they would with this driver anyway); a cluster already gone makes that fail quietly."""
        self.closed = True
        for actor in list(self.slots):
            with contextlib.suppress(Exception):
                self.retire(actor)
        with contextlib.suppress(Exception):
            self.ray.shutdown()

    # ------------------------------------------------------------------------------- actors' events

    def _watch(self, actor: str, slot: Slot) -> None:
        """Wait for the actor to be placed and warm, then pull its events until it is retired or lost."""
        ray = self.ray
        try:
            where = ray.get(slot.handle.where.remote())  # no time limit: it may wait for room on the cluster
            self.out.put({"type": "_actor_ready", "actor": actor, **where})
            while not slot.retired and not self.closed:
                poll = slot.handle.events.remote(POLL_SECONDS)
                for event in ray.get(poll, timeout=POLL_SECONDS + LOST_SECONDS):
                    self._forward(actor, slot, event)
            return
        except ray.exceptions.GetTimeoutError:
            reason, crashed = f"its Ray actor did not answer for {LOST_SECONDS:.0f} s", False
        except ray.exceptions.RayActorError as e:
            reason, crashed = _lost_reason(e)
        except Exception as e:  # the connection to the cluster, a serialisation error...
            reason, crashed = f"{type(e).__name__}: {e}", False
        if slot.retired or self.closed:
            return
        self.slots.pop(actor, None)
        try:
            ray.kill(slot.handle, no_restart=True)
        except Exception as e:  # already gone with its node
            log.debug("kill of lost actor %s: %s", actor, e)
        self.out.put({"type": "_actor_lost", "actor": actor, "reason": reason, "crashed": crashed})

    def _forward(self, actor: str, slot: Slot, event: dict[str, Any]) -> None:
        """Files into the server's storage first, then the event (without them) to the server."""
        run_id, kind = event.get("run_id"), event.get("type")
        spec = slot.specs.get(run_id) if isinstance(run_id, str) else None
        if spec is None:
            return  # a run this bridge never started here (an earlier bridge's): nobody waits for it
        if kind == WEIGHTS:
            _write(live_generator_path(spec.data_dir, spec.run_id), event["data"])
            return
        if kind == "checkpoint":
            if not _write(Path(spec.checkpoint_path), event.pop("data")):
                return  # not in the server's storage: the run's newest checkpoint is still the previous one
            event["path"] = spec.checkpoint_path
        if (kind == "status" and event.get("status") in FINAL_STATUSES) or kind == EVICTED:
            slot.specs.pop(spec.run_id, None)
        self.out.put({**event, "_actor": actor})

    # ------------------------------------------------------------------------------- the cluster

    def report_cluster(self) -> None:
        ray = self.ray
        nodes = [
            {
                "id": node["NodeID"],
                "address": node.get("NodeManagerAddress"),
                "alive": bool(node.get("Alive")),
                "cpus": node.get("Resources", {}).get("CPU", 0.0),
                "gpus": node.get("Resources", {}).get("GPU", 0.0),
            }
            for node in ray.nodes()
        ]
        available = ray.available_resources()
        self.out.put(
            {
                "type": "_bridge",
                "connected": True,
                "nodes": nodes,
                "free_cpus": float(available.get("CPU", 0.0)),
                "free_gpus": float(available.get("GPU", 0.0)),
            }
        )

    def monitor(self) -> None:
        """Report the cluster every ``STATUS_SECONDS``; a cluster unreachable for ``LOST_SECONDS`` ends the bridge
        (the server then starts a new one, which reconnects when it can)."""
        failing_since: float | None = None
        while not self.closed:
            time.sleep(STATUS_SECONDS)
            try:
                self.report_cluster()
                failing_since = None
            except (OSError, EOFError):  # the server's end of the pipe is gone
                os._exit(0)
            except Exception as e:
                if self.closed:
                    return
                failing_since = failing_since or time.monotonic()
                log.warning("cluster status unavailable: %s", e)
                if time.monotonic() - failing_since > LOST_SECONDS:
                    os._exit(3)


def remote_actor_class(ray: Any) -> Any:
    """``RunActor`` as a Ray actor class whose long poll runs in a concurrency group of its own (one thread), so it
    never holds up a control message. The group is named on the method, not per call: a Ray Client connection
    (``ray://``) takes no ``concurrency_group`` option on a call."""

    class GanplayRunActor(RunActor):
        @ray.method(concurrency_group="poll")
        def events(self, wait: float) -> list[dict[str, Any]]:
            return super().events(wait)

    return ray.remote(concurrency_groups={"poll": 1})(GanplayRunActor)


def run_inputs(spec: RunSpec) -> dict[str, bytes]:
    """The files of the server's storage a run needs on its node, by their path under the node's scratch folder:
    the checkpoint it resumes or forks from, and the uploaded dataset it trains on. (Datasets named by a path under
    ``GANPLAY_DATA_ROOT`` are read where the path points: a store every node mounts at that path.)"""
    files = {}
    if spec.resume_from:
        files[resume_file(spec.run_id)] = Path(spec.resume_from).read_bytes()
    dataset = spec.config.get("dataset") or {}
    if dataset.get("kind") == "upload":
        name = f"datasets/{dataset['id']}.npz"
        files[name] = (Path(spec.data_dir) / name).read_bytes()
    return files


def _write(path: Path, data: bytes) -> bool:
    try:
        write_atomically(path, lambda f: f.write(data))
        return True
    except OSError as e:
        log.error("could not write %s: %s", path, e)
        return False


def _lost_reason(error: Exception) -> tuple[str, bool]:
    """One line on why an actor died, and whether its own process crashed (a segfault, an OOM kill, ``kill -9``:
    its run failed, as a local worker's would) rather than its node dying or leaving (its run is interrupted)."""
    lines = [line.strip() for line in str(error).splitlines()]
    why = next((line for line in lines if "because" in line), lines[0] if lines else type(error).__name__)
    crashed = "worker process has died" in why and not getattr(error, "preempted", False)
    return f"its Ray actor died: {why[:300]}", crashed
