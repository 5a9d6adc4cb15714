"""Run statuses, defined once: the database, the job manager, the executor and the page (through ``GET /api/meta``)
all read these sets rather than spelling statuses out.

``queued → starting → running ⇄ paused → completed | stopped | failed | diverged``; a run cut off by a server restart
is ``interrupted`` and resumable from its newest checkpoint.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal, get_args


class RunStatus(str, Enum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value


S = RunStatus
# Plain strings in the sets (not the enum's members): database drivers and JSON see ordinary text.
ALL_STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus)
#: Owned by a worker or by the queue: counted against the quota, ``interrupted`` when the server restarts.
LIVE_STATUSES: frozenset[str] = frozenset(s.value for s in (S.QUEUED, S.STARTING, S.RUNNING, S.PAUSED))
#: A worker's last word on a run: nothing follows but a resume of an interrupted run.
FINAL_STATUSES: frozenset[str] = frozenset(s.value for s in (S.COMPLETED, S.STOPPED, S.FAILED, S.DIVERGED))
#: The run no longer has a worker: a final status, or ``interrupted`` (the server restarted, or on a cluster the node
#: it trained on was lost). What the job manager does at a run's end (quota freed, files of a deleted run removed,
#: its expected config dropped) it does at each of these.
ENDED_STATUSES: frozenset[str] = FINAL_STATUSES | {S.INTERRUPTED.value}
#: A worker holds the run and applies patches at its step boundaries.
PATCHABLE_STATUSES: frozenset[str] = frozenset(s.value for s in (S.STARTING, S.RUNNING, S.PAUSED))
#: The statuses each control action is valid in (``resume`` of an interrupted run restarts it from its checkpoint).
ACTIONS: dict[str, frozenset[str]] = {
    "pause": frozenset({S.RUNNING.value}),
    "resume": frozenset({S.PAUSED.value, S.INTERRUPTED.value}),
    "stop": LIVE_STATUSES,
    "step": frozenset({S.PAUSED.value}),  # one D update, one G update or one full step, by hand
}


#: A sweep (``/api/sweeps``): running while a cell waits or a run of it is live, then finished; or stopped.
SweepStatus = Literal["running", "finished", "stopped"]
SWEEP_STATUSES: tuple[str, ...] = get_args(SweepStatus)
#: A sweep's cell that has no run: waiting for room under its client's run quota, never started because the sweep
#: was stopped first, or its run deleted on its own. A cell with a run has its run's status.
CELL_PENDING, CELL_CANCELLED, CELL_DELETED = "pending", "cancelled", "deleted"
CELL_STATUSES: tuple[str, ...] = (CELL_PENDING, CELL_CANCELLED, CELL_DELETED)


def ordered(statuses: frozenset[str]) -> list[str]:
    """A set of statuses in lifecycle order, for the API."""
    return [s for s in ALL_STATUSES if s in statuses]
