"""The job manager: the one place where runs, their workers, the database and the event hub meet.

Routes call it; it validates with ``models.config``, records in the database, and asks the executor to act. A
pump thread turns every worker event into persistence (metric rows batched, flushed at least every second) and a
hub publication, in that order, so a snapshot taken from the database never misses what a subscriber was sent.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from models.atomic import remove_partial_writes
from models.checkpoint import CheckpointError, load_checkpoint
from models.config import ConfigError, RunConfig, apply_patch, parse_config
from models.sweeps import Sweep
from models.trainer import MANUAL
from server.db import repository as repo
from server.db.engine import DATABASE_ERRORS
from server.executor import Executor, check_device
from server.hub import Hub
from server.paths import checkpoint_path, run_dir, snapshots_dir
from server.settings import SNAPSHOTS_PER_RUN
from server.status import ACTIONS, ENDED_STATUSES, LIVE_STATUSES, PATCHABLE_STATUSES
from server.worker import RunSpec

log = logging.getLogger(__name__)
FLUSH_SECONDS = 1.0
FLUSH_ROWS = 2000


class InvalidStateError(RuntimeError):
    """The action is not valid in the run's current status (HTTP 409)."""


class QuotaError(RuntimeError):
    """The client already has its maximum of live runs, or of live sweeps (HTTP 429)."""


MAX_SWEEPS_PER_CLIENT = 4


@contextmanager
def pinned_checkpoint(source: Path) -> Iterator[Path]:
    """The checkpoint at ``source`` as it is now, under a name of its own beside it: a hard link (no copy) to the
    file the parent's next atomic save replaces by rename. A fork moves it into its own folder, so it starts from
    the step it was forked at even when it waits in the queue while the parent trains on, or the parent is deleted
    meanwhile. Removed on the way out unless moved."""
    staged = source.parent.parent / f".fork-{uuid.uuid4().hex}.tmp"
    try:
        os.link(source, staged)
    except FileNotFoundError:
        raise InvalidStateError(f"{source.parent.name} has no checkpoint yet to fork from") from None
    except OSError:  # a file system without hard links
        shutil.copyfile(source, staged)
    try:
        yield staged
    finally:
        staged.unlink(missing_ok=True)


def readable_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's contents; an unreadable one can be neither forked nor resumed (409)."""
    try:
        return load_checkpoint(path)
    except CheckpointError as e:
        raise InvalidStateError(str(e)) from None


class JobManager:
    def __init__(
        self,
        executor: Executor,
        sessions: Callable[[], Session],
        hub: Hub | None,
        data_dir: Path,
        max_runs_per_client: int = 8,
        snapshots_per_run: int = SNAPSHOTS_PER_RUN,
        max_sweeps_per_client: int = MAX_SWEEPS_PER_CLIENT,
    ):
        self.max_runs_per_client = max_runs_per_client
        self.max_sweeps_per_client = max_sweeps_per_client
        self.snapshots_per_run = snapshots_per_run
        self.executor = executor
        self.sessions = sessions
        self.hub = hub
        self.data_dir = data_dir
        self._rows: dict[str, list[dict[str, float]]] = defaultdict(list)
        self._frames: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # run → kind → newest frame
        self._last_flush = time.monotonic()
        self._unpersisted: list[dict[str, Any]] = []  # events the database refused, retried in order
        self._deleting: set[str] = set()  # deleted while live: files removed when the final status comes
        # The config each live run's worker will have once it has applied every patch sent to it: patches are
        # validated against this, not the stored config, which lags until the worker reports each change.
        self._expected: dict[str, RunConfig] = {}
        self._patch_lock = threading.Lock()  # validate-then-send of patches, in the order the worker gets them
        # Count-then-insert of live runs: parallel creates and forks would each see room under the quota.
        # Sweeps' cell starts (and their stops) take it too: a sweep's runs count against the same quota.
        self._quota_lock = threading.Lock()
        self._cells_waiting = True  # some sweep may have cells to start once its client's runs make room
        self._snapshots: dict[str, list[int]] = {}  # run → steps of its snapshots on disk, oldest first (pump only)
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._run_pump, name="event-pump", daemon=True)

    def start(self) -> list[str]:
        """Runs left live by a previous server become ``interrupted``; then start pumping events."""
        with self.sessions() as session:
            interrupted = repo.mark_interrupted(session)
            session.commit()
        self._start_waiting_cells()  # interrupted runs no longer count: waiting cells may start
        self._pump.start()
        return interrupted

    def close(self) -> None:
        self._stop.set()
        if self._pump.is_alive():
            self._pump.join(timeout=5)
        self._retry_unpersisted()
        try:
            self._flush_metrics()
        except Exception as e:
            log.error("metrics not stored at shutdown: %s", e)
        self.executor.shutdown()

    # ------------------------------------------------------------------------------- actions

    def _check_quota(self, session: Session, client: str | None) -> None:
        if client is not None and repo.count_active(session, client) >= self.max_runs_per_client:
            raise QuotaError(f"{client} already has {self.max_runs_per_client} live runs; stop one first")

    def create(
        self, config: RunConfig, preset: str | None = None, client: str | None = None, owner: str | None = None
    ) -> str:
        check_device(config.device, self.executor.gpus)
        with self._quota_lock, self.sessions() as session:
            self._check_quota(session, client)
            run = repo.create_run(
                session, config=config.model_dump(mode="json"), preset=preset, client=client, owner=owner
            )
            session.commit()
            run_id = run.id
        self.executor.submit(self._spec(run_id, config))
        return run_id

    def fork(
        self, parent_id: str, overrides: dict[str, Any], client: str | None = None, owner: str | None = None
    ) -> str:
        """A new run from the parent's newest checkpoint, with any field changed (validated before anything)."""
        with self.sessions() as session:
            parent = self._get(session, parent_id)
            self._check_quota(session, client)  # early, before the checkpoint is read; again below, under the lock
            source = checkpoint_path(self.data_dir, parent_id)
            if parent.checkpoint_step is None or not source.exists():
                raise InvalidStateError(f"run {parent_id} has no checkpoint yet to fork from")
            with pinned_checkpoint(source) as staged:
                # The checkpoint's own config and step, not the parent's latest: a patch made after the checkpoint
                # is not in those weights, and the worker builds the fork from the same checkpoint plus overrides.
                state = readable_checkpoint(staged)
                config = apply_patch(state["config"], overrides, live_only=False) if overrides else state["config"]
                check_device(config.device, self.executor.gpus)
                with self._quota_lock:
                    self._check_quota(session, client)
                    run = repo.create_run(
                        session,
                        config=config.model_dump(mode="json"),
                        preset=parent.preset,
                        parent_id=parent_id,
                        parent_step=int(state["step"]),
                        client=client,
                        owner=owner,
                    )
                    session.commit()
                run_id = run.id
                pinned = checkpoint_path(self.data_dir, run_id)
                pinned.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, pinned)
        self.executor.submit(self._spec(run_id, config, resume_from=str(pinned), overrides=overrides or None))
        return run_id

    def resume_interrupted(self, run_id: str) -> None:
        with self.sessions() as session:
            run = self._get(session, run_id)
            if run.status != "interrupted":
                raise InvalidStateError(f"run {run_id} is {run.status}, not interrupted")
            source = checkpoint_path(self.data_dir, run_id)
            if source.exists():
                readable_checkpoint(source)  # unreadable: 409 now, and the run stays interrupted
            with self._quota_lock:  # live again: it counts against its owner's quota like a new run
                self._check_quota(session, run.client)
                repo.set_status(session, run_id, "queued")
                session.commit()
            config = parse_config(run.config)
            # A fork interrupted before its first checkpoint holds only its parent's (pinned at the fork): it starts
            # as the fork did, the parent's weights under its own config, rather than resuming the parent's run.
            overrides = run.config if run.parent_id and run.checkpoint_step is None else None
        self.executor.submit(
            self._spec(run_id, config, resume_from=str(source) if source.exists() else None, overrides=overrides)
        )

    def patch(self, run_id: str, patch: dict[str, Any], patch_id: str | None = None) -> RunConfig:
        """Validate against the config the worker will have after every patch already sent (ConfigError → 422),
        so whatever this accepts the trainer accepts too; the worker applies it at its next step."""
        with self._patch_lock:
            with self.sessions() as session:
                run = self._get(session, run_id)
                if run.status not in PATCHABLE_STATUSES:
                    raise InvalidStateError(f"run {run_id} is {run.status}; only a live run takes patches")
                base = self._expected.get(run_id) or parse_config(run.config)
            new = apply_patch(base, patch)
            if not self.executor.send(run_id, {"type": "patch", "patch": patch, "id": patch_id}):
                raise InvalidStateError(f"run {run_id} is not running")
            self._expected[run_id] = new
        return new

    def control(self, run_id: str, action: str) -> None:
        with self.sessions() as session:
            run = self._get(session, run_id)
            if run.status not in ACTIONS[action]:
                raise InvalidStateError(f"cannot {action} a run that is {run.status}")
            if action == "resume" and run.status == "interrupted":
                return self.resume_interrupted(run_id)
        if not self.executor.send(run_id, {"type": action}):
            raise InvalidStateError(f"run {run_id} is not running")
        return None

    def step(self, run_id: str, update: str = "both", step_id: str | None = None) -> None:
        """One D update (``d``), one G update (``g``) or one full step (``both``) of a paused run (else 409), made by
        its worker at once; it comes back as that step's metrics row and a change-log entry, or as a
        ``step_rejected`` event should the worker find it cannot (the run resumed meanwhile, or its pause cut a
        step short: then only a full step, which finishes it, is taken)."""
        if update not in MANUAL:
            raise ConfigError([{"field": "update", "reason": f"expected one of {', '.join(MANUAL)}"}])
        with self.sessions() as session:
            run = self._get(session, run_id)
            if run.status not in ACTIONS["step"]:
                raise InvalidStateError(f"cannot step a run that is {run.status}: pause it first")
        if not self.executor.send(run_id, {"type": "step", "update": update, "id": step_id}):
            raise InvalidStateError(f"run {run_id} is not running")

    def delete(self, run_id: str) -> None:
        """The run's rows now; its files now too, or, while its worker may still write them, once the pump has
        seen its final status. The run is marked before its status is read, so a final status that the pump
        handles at any moment of this call is either seen here (not live) or finds the mark there."""
        self._deleting.add(run_id)
        try:
            with self.sessions() as session:
                run = self._get(session, run_id)
                live = run.status in LIVE_STATUSES
                if live:
                    self.executor.send(run_id, {"type": "stop"})
                repo.delete_run(session, run_id)
                session.commit()
        except BaseException:
            self._deleting.discard(run_id)
            raise
        self._frames.pop(run_id, None)
        self._expected.pop(run_id, None)
        if not live:
            self._deleting.discard(run_id)
            shutil.rmtree(run_dir(self.data_dir, run_id), ignore_errors=True)
        elif self._cells_waiting:
            self._start_waiting_cells()  # its owner's quota has room again

    # ------------------------------------------------------------------------------- sweeps

    def create_sweep(self, sweep: Sweep, client: str | None = None, owner: str | None = None) -> str:
        """Record the sweep and start as many of its cells as the client's run quota has room for; the others
        wait, and start, oldest sweep first, as the client's runs end (README, "Sweeps"). Checked and started under
        the quota lock, so parallel creates neither pass the sweep quota nor start more runs than the run quota
        allows."""
        for cell in sweep.cells():
            check_device(cell.config.device, self.executor.gpus)
        with self._quota_lock, self.sessions() as session:
            if client is not None and repo.count_live_sweeps(session, client) >= self.max_sweeps_per_client:
                raise QuotaError(f"{client} already has {self.max_sweeps_per_client} live sweeps; stop one first")
            row = repo.create_sweep(
                session,
                client=client,
                preset=sweep.preset,
                lesson=sweep.lesson,
                base=sweep.base.model_dump(mode="json"),
                axes=[axis.as_json() for axis in sweep.axes],
                seeds=list(sweep.seeds),
                n_cells=sweep.size,
                owner=owner,
            )
            specs = self._start_cells(session, row, sweep)
            session.commit()
            self._cells_waiting |= row.next_cell < row.n_cells
            for spec in specs:  # inside the lock: a stop that follows finds every started cell in the executor
                self.executor.submit(spec)
            return row.id

    def stop_sweep(self, sweep_id: str) -> None:
        """No further cell starts, and every live run of the sweep is stopped."""
        with self._quota_lock, self.sessions() as session:
            repo.stop_sweep(session, sweep_id)
            session.commit()
            runs = repo.sweep_runs(session, [sweep_id])[sweep_id]
        for run in runs:
            if run.status in LIVE_STATUSES:
                self.executor.send(run.id, {"type": "stop"})

    def delete_sweep(self, sweep_id: str) -> None:
        """Stop the sweep, delete each of its runs with their files (at once, or as each worker ends), then the
        sweep itself."""
        with self._quota_lock, self.sessions() as session:
            repo.stop_sweep(session, sweep_id)
            session.commit()
            run_ids = [run.id for run in repo.sweep_runs(session, [sweep_id])[sweep_id]]
        for run_id in run_ids:
            with contextlib.suppress(repo.RunNotFoundError):  # deleted on its own meanwhile
                self.delete(run_id)
        with self.sessions() as session:
            repo.delete_sweep(session, sweep_id)
            session.commit()

    def _start_cells(self, session: Session, row: Any, sweep: Sweep) -> list[RunSpec]:
        """Create the runs of the sweep's next cells while its client has room under the run quota (a sweep
        without a client: all of them); the caller commits, then submits the specs. Called under the quota lock."""
        specs = []
        while row.next_cell < row.n_cells and (
            row.client is None or repo.count_active(session, row.client) < self.max_runs_per_client
        ):
            cell = sweep.cell(row.next_cell)
            run = repo.create_run(
                session,
                config=cell.config.model_dump(mode="json"),
                preset=row.preset,
                client=row.client,
                sweep_id=row.id,
                sweep_cell=cell.index,
                owner=row.owner,
            )
            row.next_cell = cell.index + 1
            session.flush()
            specs.append(self._spec(run.id, cell.config))
        return specs

    def _start_waiting_cells(self) -> None:
        """Start the waiting cells of every sweep, oldest first, as far as each client's quota allows. A database
        in trouble leaves them waiting for the next run's end."""
        try:
            with self._quota_lock, self.sessions() as session:
                specs: list[RunSpec] = []
                waiting = repo.waiting_sweeps(session, any_client=True)
                for row in waiting:
                    try:
                        specs += self._start_cells(session, row, Sweep.from_json(row.base, row.axes, row.seeds))
                    except ConfigError as e:  # stored by an older version whose configs this one refuses
                        log.error("sweep %s stopped: its next cell is no longer a valid config: %s", row.id, e)
                        row.stopped = True
                session.commit()
                self._cells_waiting = any(not row.stopped and row.next_cell < row.n_cells for row in waiting)
                for spec in specs:
                    self.executor.submit(spec)
        except DATABASE_ERRORS as e:
            log.warning("could not start waiting sweep cells (will retry): %s", e)

    def latest_frames(self, run_id: str) -> list[dict[str, Any]]:
        """The newest sample and field frames of a run (and what it is preparing), for a new subscriber's
        snapshot."""
        return list(self._frames.get(run_id, {}).values())

    def is_deleted(self, run_id: str) -> bool:
        """Deleted while its worker may still write: its files are about to go, so nothing is served from them."""
        return run_id in self._deleting

    # ------------------------------------------------------------------------------- helpers

    def _spec(
        self, run_id: str, config: RunConfig, resume_from: str | None = None, overrides: dict[str, Any] | None = None
    ) -> RunSpec:
        return RunSpec(
            run_id,
            config.model_dump(mode="json"),
            str(checkpoint_path(self.data_dir, run_id)),
            str(self.data_dir),
            resume_from=resume_from,
            fork_overrides=overrides,
            device=config.device,
        )

    @staticmethod
    def _get(session: Session, run_id: str) -> Any:
        run = repo.get_run(session, run_id)
        if run is None:
            raise repo.RunNotFoundError(run_id)
        return run

    # ------------------------------------------------------------------------------- event pump

    def _run_pump(self) -> None:
        while not self._stop.is_set():
            event = self.executor.next_event(0.1)
            if event is not None and "run_id" in event:
                for each in (self._preparing_ended(event), event):
                    if each is None:
                        continue
                    self._persist_or_keep(each)
                    self._remove_files_if_deleted(each)
                    if self.hub is not None:
                        self.hub.publish(each["run_id"], each)
                if self._cells_waiting and event["type"] == "status" and event["status"] in ENDED_STATUSES:
                    self._start_waiting_cells()  # a run ended: its owner's quota may have room for a cell
            if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
                self._retry_unpersisted()
                try:
                    self._flush_metrics()
                except Exception as e:
                    log.warning("could not store metrics (kept for the next flush): %s", e)

    def _preparing_ended(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """A closing ``preparing`` event for a run that ends while something was still being prepared for it (a
        short image run can end before its quality judge: the judge goes on training in the worker for later runs,
        but this run will never hear it is done), so no viewer is left with "preparing…" on an ended run."""
        if event["type"] != "status" or event["status"] not in ENDED_STATUSES:
            return None
        pending = self._frames.get(event["run_id"], {}).get("preparing")
        if pending is None:
            return None
        return {**pending, "eta_s": None, "done": True, "time": event.get("time", pending.get("time"))}

    def _persist_or_keep(self, event: dict[str, Any]) -> None:
        """Persist, or, while the database is locked, full or gone, keep the event to retry in order later: a
        database hiccup must neither kill the pump nor lose a status, a change or a metric row."""
        if self._unpersisted:  # order matters (a run's rows, then its final status): queue behind the earlier ones
            self._unpersisted.append(event)
            return
        try:
            self._persist(event)
        except repo.RunNotFoundError:  # the run was deleted while its worker was still reporting
            self._forget_deleted(event)
        except DATABASE_ERRORS as e:
            log.warning("could not persist %s of %s (will retry): %s", event.get("type"), event.get("run_id"), e)
            if event["type"] != "metrics":  # metric rows are already back in the pending batch
                self._unpersisted.append(event)
        except Exception:  # not the database's trouble: retrying would not help
            log.exception("could not persist %s of %s", event.get("type"), event.get("run_id"))

    def _retry_unpersisted(self) -> None:
        while self._unpersisted:
            try:
                self._persist(self._unpersisted[0])
            except repo.RunNotFoundError:  # deleted meanwhile: nothing to keep
                self._forget_deleted(self._unpersisted[0])
            except DATABASE_ERRORS:
                return
            except Exception as e:
                log.error("dropped %s event: %s", self._unpersisted[0].get("type"), e)
            self._unpersisted.pop(0)

    def _remove_files_if_deleted(self, event: dict[str, Any]) -> None:
        """The final status of a run deleted while live: its worker's last write came before it."""
        if event["run_id"] in self._deleting and event["type"] == "status" and event["status"] in ENDED_STATUSES:
            self._deleting.discard(event["run_id"])
            shutil.rmtree(run_dir(self.data_dir, event["run_id"]), ignore_errors=True)

    def _forget_deleted(self, event: dict[str, Any]) -> None:
        """An event of a deleted run: its final status comes after its last frame, so none is kept for good."""
        self._frames.pop(event["run_id"], None)

    def _persist(self, event: dict[str, Any]) -> None:
        run_id, kind = event["run_id"], event["type"]
        if kind == "metrics":
            self._rows[run_id].extend(event["rows"])
            if len(self._rows[run_id]) >= FLUSH_ROWS:
                self._flush_metrics()
            return
        if kind == "preparing":  # shown to a new subscriber while it lasts
            if event.get("done"):
                self._frames[run_id].pop(kind, None)
            else:
                self._frames[run_id][kind] = event
            return
        if kind in ("samples", "field"):
            self._frames[run_id][kind] = event
            if isinstance(event.get("png"), bytes):  # image snapshots on disk, for scrubbing back through a run
                self._keep_snapshot(run_id, event["step"], event["png"])
            return
        if kind == "status" and event["status"] in ENDED_STATUSES:
            self._snapshots.pop(run_id, None)  # re-read from disk should the run be resumed
        if kind == "patch_rejected":  # not expected (we validate first); the stored config is then the safer base
            self._expected.pop(run_id, None)
        if kind in ("patch_accepted", "patch_rejected", "step_rejected"):
            return
        self._flush_metrics()  # rows before the status or change that follows them
        with self.sessions() as session:
            if kind == "status":
                if event["status"] in ENDED_STATUSES:
                    self._expected.pop(run_id, None)
                if event["status"] == "failed":  # its worker is gone: a write it was killed in is garbage
                    remove_partial_writes(checkpoint_path(self.data_dir, run_id).parent)
                repo.set_status(
                    session,
                    run_id,
                    event["status"],
                    step=event.get("step"),
                    reason=event.get("reason"),
                    device=event.get("device"),
                )
            elif kind == "config":
                repo.add_config_change(session, run_id, event["step"], event["changes"])
                repo.set_config(session, run_id, event["config"])
            elif kind == "checkpoint":
                repo.set_checkpoint_step(session, run_id, event["step"])
            elif kind == "alert":
                repo.add_alert(
                    session, run_id, event["step"], event["kind"], event["message"], event.get("cleared", False)
                )
            session.commit()

    def _keep_snapshot(self, run_id: str, step: int, png: bytes) -> None:
        """Write the frame; past ``snapshots_per_run`` remove the one whose neighbours are closest together (never
        the first or the newest), so what is kept stays spread evenly over the run however long it trains."""
        folder = snapshots_dir(self.data_dir, run_id)
        folder.mkdir(parents=True, exist_ok=True)
        steps = self._snapshots.get(run_id)
        if steps is None:  # first frame this server sees: what earlier sessions of the run left
            steps = self._snapshots[run_id] = sorted(int(f.stem) for f in folder.glob("*.png") if f.stem.isdigit())
        (folder / f"{step:08d}.png").write_bytes(png)
        if step not in steps:
            bisect.insort(steps, step)
        while len(steps) > max(self.snapshots_per_run, 2):
            i = min(range(1, len(steps) - 1), key=lambda j: steps[j + 1] - steps[j - 1])
            (folder / f"{steps.pop(i):08d}.png").unlink(missing_ok=True)

    def _flush_metrics(self) -> None:
        self._last_flush = time.monotonic()
        pending, self._rows = self._rows, defaultdict(list)
        if not pending:
            return
        try:
            with self.sessions() as session:
                for run_id, rows in pending.items():
                    if rows and repo.get_run(session, run_id) is not None:
                        repo.append_metrics(session, run_id, rows)
                session.commit()
        except Exception:
            for run_id, rows in pending.items():  # back in front of any rows that arrived meanwhile
                self._rows[run_id][:0] = rows
            raise


RunNotFoundError = repo.RunNotFoundError

__all__ = ["ConfigError", "InvalidStateError", "JobManager", "QuotaError", "RunNotFoundError"]
