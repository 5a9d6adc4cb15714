"""Repository functions: everything the routes and the executor do to the database, one small function each.

They take a ``Session`` and never commit: the caller owns the transaction (``with factory.begin() as session:``), so
a route that does two things does them atomically. They flush where the caller may need generated values.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Select, case, cast, false, func, literal, or_, select, text, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.metrics import QUALITY_METRICS
from server.db.tables import Alert, ConfigChange, MetricRow, Run, Sweep, User, utcnow
from server.status import ALL_STATUSES, LIVE_STATUSES

SelectT = TypeVar("SelectT", bound=Select)  # a query of any row shape


class RunNotFoundError(LookupError):
    """No run with this id: the routes turn it into a 404."""


class SweepNotFoundError(LookupError):
    """No sweep with this id: the routes turn it into a 404."""


def _check_status(status: str) -> None:
    if status not in ALL_STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {', '.join(ALL_STATUSES)}")


def create_run(
    session: Session,
    *,
    config: dict[str, Any],
    preset: str | None,
    parent_id: str | None = None,
    parent_step: int | None = None,
    client: str | None = None,
    status: str = "queued",
    sweep_id: str | None = None,
    sweep_cell: int | None = None,
    owner: str | None = None,
) -> Run:
    """Record a new run (fresh, from a preset, forked from ``parent_id`` at ``parent_step``, or cell ``sweep_cell``
    of a sweep).

    Flushed so the id and timestamps are set when this returns, and a bad ``parent_id`` fails here.
    """
    _check_status(status)
    run = Run(
        config=config,
        preset=preset,
        parent_id=parent_id,
        parent_step=parent_step,
        client=client,
        status=status,
        step=parent_step or 0,
        sweep_id=sweep_id,
        sweep_cell=sweep_cell,
        owner=owner,
    )
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: str) -> Run | None:
    """The run, or None when there is none (the route answers 404)."""
    return session.get(Run, run_id)


def _run_filter(query: SelectT, visible_to: str | None, shared: bool | None) -> SelectT:
    """Only the runs ``visible_to`` (a user's name) may watch, when given: their own and shared ones; only shared
    (or only unshared) runs when ``shared`` is given."""
    if visible_to is not None:
        query = query.where(or_(Run.owner == visible_to, Run.shared == true()))
    if shared is not None:
        query = query.where(Run.shared == (true() if shared else false()))
    return query


def list_runs(
    session: Session,
    limit: int | None = None,
    offset: int = 0,
    *,
    visible_to: str | None = None,
    shared: bool | None = None,
) -> list[Run]:
    """Runs newest first (the order of the run list in the UI), a page of ``limit`` from ``offset`` when given;
    filtered as ``_run_filter`` says."""
    query = _run_filter(select(Run), visible_to, shared).order_by(Run.created_at.desc(), Run.id.desc()).offset(offset)
    return list(session.scalars(query if limit is None else query.limit(limit)))


def preset_runs_with_weights(session: Session, preset: str, limit: int, *, visible_to: str | None = None) -> list[Run]:
    """Runs started from ``preset`` as it is (not forks, not sweep cells, which change a setting) that have trained,
    best to draw from first: ended runs before live ones (they show the outcome), then the furthest trained, then
    the newest. Whether a run overrode a setting of the preset only its config says: the caller checks."""
    query = _run_filter(select(Run), visible_to, None).where(
        Run.preset == preset,
        Run.parent_id.is_(None),
        Run.sweep_id.is_(None),
        or_(Run.checkpoint_step.is_not(None), Run.step > 0),
    )
    live_last = case((Run.status.in_(sorted(LIVE_STATUSES)), 1), else_=0)
    return list(session.scalars(query.order_by(live_last, Run.step.desc(), Run.created_at.desc()).limit(limit)))


def count_runs(session: Session, *, visible_to: str | None = None, shared: bool | None = None) -> int:
    return session.scalar(_run_filter(select(func.count()).select_from(Run), visible_to, shared)) or 0


def set_shared(session: Session, run_id: str, shared: bool) -> None:
    """Share a run with everyone signed in (or stop sharing it)."""
    _update_run(session, run_id, shared=shared)


def delete_run(session: Session, run_id: str) -> bool:
    """Delete a run with its metrics, changes and alerts (``ON DELETE CASCADE``); forks keep living, parentless.

    Returns whether there was such a run, so ``DELETE`` can answer 404.
    """
    run = session.get(Run, run_id)
    if run is None:
        return False
    session.delete(run)
    session.flush()
    return True


def set_status(
    session: Session,
    run_id: str,
    status: str,
    *,
    step: int | None = None,
    reason: str | None = None,
    device: str | None = None,
) -> None:
    """Move a run to ``status`` (the executor reports every transition); optional fields update only when given."""
    _check_status(status)
    values: dict[str, Any] = {"status": status}
    if step is not None:
        values["step"] = step
    if reason is not None:
        values["reason"] = reason
    if device is not None:
        values["device"] = device
    _update_run(session, run_id, **values)


def _require(session: Session, run_id: str) -> None:
    """RunNotFoundError for a run deleted meanwhile (its worker may still report), rather than a foreign-key
    violation that reads like a database fault."""
    if session.get(Run, run_id) is None:
        raise RunNotFoundError(run_id)


def _add_to_run(session: Session, run_id: str, row: Any) -> None:
    """Insert a row that belongs to a run; RunNotFoundError if the run is gone. The check before the insert is not
    enough: a delete committed between the two (SQLite reads without a snapshot until the first write) makes the
    insert a foreign-key violation, which the soak test caught once in CI as "could not persist alert"."""
    _require(session, run_id)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        if session.get(Run, run_id) is None:
            raise RunNotFoundError(run_id) from None
        raise


def _update_run(session: Session, run_id: str, **values: Any) -> None:
    result = session.execute(update(Run).where(Run.id == run_id).values(**values))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise RunNotFoundError(run_id)


def set_config(session: Session, run_id: str, config: dict[str, Any]) -> None:
    """The run's config after a live patch, so the run's page and a fork start from what is training now."""
    _update_run(session, run_id, config=config)


def set_checkpoint_step(session: Session, run_id: str, step: int) -> None:
    """The step of the run's newest checkpoint: where a fork or a resume will start."""
    _update_run(session, run_id, checkpoint_step=step)


def _upsert_metrics(session: Session, params: list[dict[str, Any]]) -> None:
    """One ``INSERT ... ON CONFLICT (run_id, step) DO UPDATE`` executemany, in the dialect's own syntax."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(MetricRow)
    elif dialect == "sqlite":
        stmt = sqlite_insert(MetricRow)
    else:
        raise NotImplementedError(f"append_metrics supports sqlite and postgresql, not {dialect}")
    stmt = stmt.on_conflict_do_update(index_elements=["run_id", "step"], set_={"values": stmt.excluded["values"]})
    session.execute(stmt, params)


def append_metrics(session: Session, run_id: str, rows: list[dict[str, float]]) -> None:
    """Store a batch of metric rows (each with a ``"step"`` key) and advance the run's step and last metrics.

    One executemany per batch, because the worker sends many steps at a time. A repeated step overwrites the
    earlier values: a worker resumed from a checkpoint resends steps it already sent, and its newest values are the
    ones that match the run's state. Within one batch the last row for a step wins. ``runs.step`` and
    ``runs.last_metrics`` come from the row with the highest step in the batch, plus the newest value of each
    quality metric (measured only every ``eval_every`` steps) from that row, an earlier one or the stored last
    metrics, so a run list or a sweep's cells always show the run's latest quality. NaN and infinities (a diverging
    run) are stored as null: JSON has no such numbers and PostgreSQL's JSONB rejects them.
    """
    if not rows:
        return
    by_step: dict[int, dict[str, Any]] = {}
    for row in rows:
        if "step" not in row:
            raise ValueError("every metric row needs a 'step' key")
        values = {k: _finite(v) for k, v in row.items() if k != "step"}
        by_step[int(row["step"])] = {"run_id": run_id, "step": int(row["step"]), "values": values}
    params = [by_step[s] for s in sorted(by_step)]
    last = params[-1]
    latest: dict[str, Any] = {}
    for param in params:
        latest |= {k: v for k, v in param["values"].items() if k in QUALITY_METRICS}
    stored = session.scalar(select(Run.last_metrics).where(Run.id == run_id)) or {}
    latest = {k: v for k, v in stored.items() if k in QUALITY_METRICS} | latest | last["values"]
    # Update the run first: it fails fast for an unknown run, and SQLite takes its write lock before the insert.
    result = session.execute(update(Run).where(Run.id == run_id).values(step=last["step"], last_metrics=latest))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise RunNotFoundError(run_id)
    _upsert_metrics(session, params)


def _finite(value: Any) -> Any:
    """``value``, or None for NaN and infinities, which JSON cannot hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: The most points one metrics read returns: ``max_points`` may ask for no more, and without it more rows than this
#: are refused (downsample, or page with ``since``), so no request decodes and serialises an unbounded history. A
#: chart has no use for more points than its width in pixels; the whole history is the export's job.
METRICS_MAX_POINTS = 20_000


class TooManyPointsError(ValueError):
    """More rows match than one read may return without downsampling; the route answers 422."""

    def __init__(self, count: int, limit: int):
        super().__init__(
            f"{count} points match; one response carries at most {limit}: pass max_points (≤ {limit}) to "
            "downsample, or page with since"
        )
        self.count, self.limit = count, limit


def metrics(
    session: Session,
    run_id: str,
    *,
    since: int | None = None,
    names: list[str] | None = None,
    max_points: int | None = None,
) -> dict[str, Any]:
    """A run's metric series, columnar (``{"steps": [...], "series": {name: [...]}}``) as the charts draw them.

    ``since`` is exclusive, so a client polling with its last step gets only new points. ``names`` keeps only those
    series (a name never reported is absent). A metric missing from a row (e.g. one computed every N steps) is
    ``None`` at that index.

    Past ``max_points`` rows the database picks the rows, so a read costs what it returns, not the run's history:
    the step range is cut into ``max_points`` equal buckets (the last holding only the newest step) and the first
    row of each is kept, read from the (run_id, step) index alone; only those rows' values are then fetched. The
    first and newest rows are always kept, so a long run's chart stays cheap yet ends at the current step; where
    steps are uneven (a resumed or forked run) some buckets are empty and fewer points come back. Without
    ``max_points``, more than ``METRICS_MAX_POINTS`` rows raise TooManyPointsError.
    """
    if max_points is not None and max_points < 1:
        raise ValueError("max_points must be at least 1")
    where = [MetricRow.run_id == run_id]
    if since is not None:
        where.append(MetricRow.step > since)
    count, low, high = session.execute(
        select(func.count(), func.min(MetricRow.step), func.max(MetricRow.step)).where(*where)
    ).one()
    if max_points is None and count > METRICS_MAX_POINTS:
        raise TooManyPointsError(count, METRICS_MAX_POINTS)
    if max_points is not None and count > max_points:
        where.append(MetricRow.step.in_(_bucket_firsts(where, low, high, max_points)))
    query = select(MetricRow.step, MetricRow.values).where(*where).order_by(MetricRow.step)
    return _columns(session.execute(query).all(), names)


def _bucket_firsts(where: list[Any], low: int, high: int, buckets: int) -> Any:
    """The first step of each of ``buckets`` equal parts of [low, high], the last part being ``high`` alone: a
    query over the primary key's index, which never reads a row's values."""
    if buckets == 1:
        return select(literal(high))
    # 64-bit: (step - low) * (buckets - 1) overflows PostgreSQL's 32-bit integer for long runs.
    offset = cast(MetricRow.step - low, BigInteger)
    bucket = (offset * (buckets - 1)) // (high - low)
    return select(func.min(MetricRow.step)).where(*where).group_by(bucket)


def _columns(rows: Sequence[Any], names: list[str] | None) -> dict[str, Any]:
    wanted = set(names) if names is not None else None
    keys: dict[str, None] = {}  # ordered set: series in the order they first appear
    for _, values in rows:
        for key in values:
            if wanted is None or key in wanted:
                keys.setdefault(key)
    series: dict[str, list[float | None]] = {key: [] for key in keys}
    for _, values in rows:
        for key, column in series.items():
            column.append(values.get(key))
    return {"steps": [step for step, _ in rows], "series": series}


def metric_names(session: Session, run_id: str) -> list[str]:
    """Every metric name a run ever reported, sorted: the columns of its CSV, found by the database (it reads the
    stored JSON; none is decoded here)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        query = text('SELECT DISTINCT jsonb_object_keys("values") FROM metrics WHERE run_id = :run_id')
    elif dialect == "sqlite":
        query = text('SELECT DISTINCT j.key FROM metrics, json_each(metrics."values") AS j WHERE run_id = :run_id')
    else:
        raise NotImplementedError(f"metric_names supports sqlite and postgresql, not {dialect}")
    return sorted(session.scalars(query, {"run_id": run_id}))


def metric_pages(session: Session, run_id: str, page: int = 2000) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """A run's whole history as ``(step, values)`` rows, ``page`` at a time in step order (each page a fresh keyset
    query), so a whole-history export holds one page in memory, never the history."""
    after: int | None = None
    while True:
        query = select(MetricRow.step, MetricRow.values).where(MetricRow.run_id == run_id)
        if after is not None:
            query = query.where(MetricRow.step > after)
        rows = [(step, values) for step, values in session.execute(query.order_by(MetricRow.step).limit(page))]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def add_config_change(session: Session, run_id: str, step: int, changes: dict[str, Any]) -> None:
    """Log a live patch at the step it took effect, so the charts can mark it and a fork can replay it."""
    _add_to_run(session, run_id, ConfigChange(run_id=run_id, step=step, changes=changes))


def config_changes(session: Session, run_id: str, newest: int | None = None) -> list[dict[str, Any]]:
    """A run's live changes, ``{"step", "changes"}`` in the order they took effect; only the ``newest`` many when
    given (still oldest first), so a run patched without end still answers in bounded size."""
    query = select(ConfigChange.step, ConfigChange.changes).where(ConfigChange.run_id == run_id)
    rows = session.execute(_newest_first(query, (ConfigChange.step, ConfigChange.id), newest))
    found = [{"step": step, "changes": changes} for step, changes in rows]
    return found if newest is None else found[::-1]


def add_alert(session: Session, run_id: str, step: int, kind: str, message: str, cleared: bool = False) -> None:
    """Record an alert (mode collapse, divergence, ...) or its clearance, so a page opened later still shows it."""
    _add_to_run(session, run_id, Alert(run_id=run_id, step=step, kind=kind, message=message, cleared=cleared))


def alerts(session: Session, run_id: str, newest: int | None = None) -> list[dict[str, Any]]:
    """A run's alerts, ``{"step", "kind", "message", "cleared", "created_at"}`` ascending by step; only the
    ``newest`` many when given."""
    query = select(Alert.step, Alert.kind, Alert.message, Alert.cleared, Alert.created_at).where(Alert.run_id == run_id)
    rows = session.execute(_newest_first(query, (Alert.step, Alert.id), newest))
    found = [
        {"step": step, "kind": kind, "message": message, "cleared": cleared, "created_at": created_at.isoformat()}
        for step, kind, message, cleared, created_at in rows
    ]
    return found if newest is None else found[::-1]


def _newest_first(query: SelectT, order: tuple[Any, ...], newest: int | None) -> SelectT:
    """``query`` in ascending ``order``, or, with ``newest``, its last ``newest`` rows in descending order."""
    if newest is None:
        return query.order_by(*order)
    return query.order_by(*(column.desc() for column in order)).limit(newest)


def count_entries(session: Session, run_id: str) -> dict[str, int]:
    """How many config changes and alerts a run has, for a detail that shows only the newest of each."""
    changes = session.scalar(select(func.count()).select_from(ConfigChange).where(ConfigChange.run_id == run_id))
    alerts = session.scalar(select(func.count()).select_from(Alert).where(Alert.run_id == run_id))
    return {"changes_total": changes or 0, "alerts_total": alerts or 0}


def mark_interrupted(session: Session) -> list[str]:
    """At server start-up, mark every run a worker owned before the restart as ``interrupted``; returns their ids.

    No worker survives a restart, so these runs would otherwise show as running forever; ``interrupted`` runs are
    resumable from their newest checkpoint.
    """
    ids = list(session.scalars(select(Run.id).where(Run.status.in_(LIVE_STATUSES)).order_by(Run.created_at)))
    if ids:
        session.execute(update(Run).where(Run.id.in_(ids)).values(status="interrupted", updated_at=utcnow()))
    return ids


def count_active(session: Session, client: str | None) -> int:
    """How many runs ``client`` has queued or live, for the per-client quota (``429`` past it)."""
    who = Run.client.is_(None) if client is None else Run.client == client
    query = select(func.count()).select_from(Run).where(who, Run.status.in_(LIVE_STATUSES))
    return int(session.scalar(query) or 0)


# ----------------------------------------------------------------------------------------- sweeps


def create_sweep(
    session: Session,
    *,
    client: str | None,
    preset: str | None,
    lesson: str | None,
    base: dict[str, Any],
    axes: list[dict[str, Any]],
    seeds: list[int],
    n_cells: int,
    owner: str | None = None,
) -> Sweep:
    """Record a sweep with none of its cells started; flushed so its id is set."""
    sweep = Sweep(
        client=client,
        preset=preset,
        lesson=lesson,
        base=base,
        axes=axes,
        seeds=seeds,
        n_cells=n_cells,
        next_cell=0,
        owner=owner,
    )
    session.add(sweep)
    session.flush()
    return sweep


def get_sweep(session: Session, sweep_id: str) -> Sweep | None:
    return session.get(Sweep, sweep_id)


def list_sweeps(session: Session, limit: int, offset: int = 0, *, visible_to: str | None = None) -> list[Sweep]:
    """A page of sweeps, newest first; only ``visible_to``'s own when given."""
    query = select(Sweep).order_by(Sweep.created_at.desc(), Sweep.id.desc()).offset(offset).limit(limit)
    if visible_to is not None:
        query = query.where(Sweep.owner == visible_to)
    return list(session.scalars(query))


def count_sweeps(session: Session, *, visible_to: str | None = None) -> int:
    query = select(func.count()).select_from(Sweep)
    if visible_to is not None:
        query = query.where(Sweep.owner == visible_to)
    return session.scalar(query) or 0


def sweep_runs(session: Session, sweep_ids: Sequence[str]) -> dict[str, list[Run]]:
    """The runs of each sweep (one per started cell, less any deleted since), in cell order."""
    found: dict[str, list[Run]] = {sweep_id: [] for sweep_id in sweep_ids}
    if sweep_ids:
        query = select(Run).where(Run.sweep_id.in_(list(sweep_ids))).order_by(Run.sweep_cell)
        for run in session.scalars(query):
            found[str(run.sweep_id)].append(run)
    return found


def sweep_status_counts(session: Session, sweep_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """How many runs of each sweep are in each status, counted by the database (a page of sweeps reads no run)."""
    found: dict[str, dict[str, int]] = {sweep_id: {} for sweep_id in sweep_ids}
    if sweep_ids:
        query = (
            select(Run.sweep_id, Run.status, func.count())
            .where(Run.sweep_id.in_(list(sweep_ids)))
            .group_by(Run.sweep_id, Run.status)
        )
        for sweep_id, status, count in session.execute(query):
            found[str(sweep_id)][status] = int(count)
    return found


def _who(column: Any, client: str | None) -> Any:
    return column.is_(None) if client is None else column == client


def count_live_sweeps(session: Session, client: str | None) -> int:
    """How many sweeps ``client`` has that are neither stopped nor done (a cell waiting, or a run of it live): the
    per-client sweep quota (``429`` past it)."""
    live_run = select(Run.id).where(Run.sweep_id == Sweep.id, Run.status.in_(LIVE_STATUSES)).exists()
    query = (
        select(func.count())
        .select_from(Sweep)
        .where(_who(Sweep.client, client), Sweep.stopped == false(), or_(Sweep.next_cell < Sweep.n_cells, live_run))
    )
    return int(session.scalar(query) or 0)


def waiting_sweeps(session: Session, client: str | None = None, *, any_client: bool = False) -> list[Sweep]:
    """Sweeps with cells still to start (not stopped), oldest first: of ``client``, or of every client."""
    query = select(Sweep).where(Sweep.stopped == false(), Sweep.next_cell < Sweep.n_cells)
    if not any_client:
        query = query.where(_who(Sweep.client, client))
    return list(session.scalars(query.order_by(Sweep.created_at, Sweep.id)))


def stop_sweep(session: Session, sweep_id: str) -> None:
    """No further cell of the sweep starts; its runs are stopped by the caller."""
    result = session.execute(update(Sweep).where(Sweep.id == sweep_id).values(stopped=True))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise SweepNotFoundError(sweep_id)


def delete_sweep(session: Session, sweep_id: str) -> bool:
    """Delete the sweep's row; runs still naming it keep living, sweepless (``ON DELETE SET NULL``)."""
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        return False
    session.delete(sweep)
    session.flush()
    return True


# ----------------------------------------------------------------------------------------- users


def get_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def user_by_token_hash(session: Session, token_hash: str) -> User | None:
    """The user, not revoked, whose token has this hash (a unique index: one lookup, whatever the number of users)."""
    return session.scalar(select(User).where(User.token_hash == token_hash, User.revoked_at.is_(None)))


def add_user(session: Session, name: str, token_hash: str, admin: bool) -> User:
    """A new user; flushed, so a name already taken fails here (IntegrityError)."""
    user = User(name=name, token_hash=token_hash, admin=admin)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def active_user_ids(session: Session, user_ids: Sequence[int]) -> set[int]:
    """Which of ``user_ids`` are not revoked (one query for every open stream's user)."""
    if not user_ids:
        return set()
    query = select(User.id).where(User.id.in_(list(user_ids)), User.revoked_at.is_(None))
    return set(session.scalars(query))
