"""The persistence layer against real databases: SQLite in a temp dir and a PostgreSQL 15 cluster started here."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from server.db import repository as repo
from server.db.engine import make_engine, make_session_factory, sqlite_url
from server.db.migrate import alembic_config, upgrade
from server.db.tables import Base, utcnow
from server.status import FINAL_STATUSES, LIVE_STATUSES

PG_BIN = Path("/usr/lib/postgresql/15/bin")
CONFIG = {"data": {"kind": "ring"}, "train": {"steps": 1000}}


from tests.server.conftest import BACKENDS  # noqa: E402


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def _new_run(
    factory: sessionmaker[Session],
    *,
    preset: str | None = None,
    parent_id: str | None = None,
    parent_step: int | None = None,
    client: str | None = None,
    status: str = "queued",
) -> str:
    with factory.begin() as session:
        run = repo.create_run(
            session,
            config=CONFIG,
            preset=preset,
            parent_id=parent_id,
            parent_step=parent_step,
            client=client,
            status=status,
        )
        return run.id


@BACKENDS
def test_migration_creates_exactly_the_declared_schema_and_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diffs == []
            assert set(inspect(conn).get_table_names()) == {"alembic_version", *Base.metadata.tables}
            head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    finally:
        engine.dispose()


@BACKENDS
def test_alerts_stored_before_the_cleared_column_existed_upgrade_as_raised_alerts(db_url: str) -> None:
    command.upgrade(alembic_config(db_url), "0001")
    engine = make_engine(db_url)
    try:
        run_id = "a" * 32
        with engine.begin() as conn:  # SQL of that schema: the ORM's runs have columns added since
            conn.execute(
                text(
                    "INSERT INTO runs (id, created_at, updated_at, status, step, config) "
                    "VALUES (:run, :t, :t, 'completed', 0, '{}')"
                ),
                {"run": run_id, "t": utcnow()},
            )
            conn.execute(
                text(
                    "INSERT INTO alerts (run_id, step, kind, message, created_at) "
                    "VALUES (:run, 5, 'mode_collapse', 'collapsed', :t)"
                ),
                {"run": run_id, "t": utcnow()},
            )
        upgrade(db_url)
        with Session(engine) as session:
            assert [(a["kind"], a["cleared"]) for a in repo.alerts(session, run_id)] == [("mode_collapse", False)]
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert (tmp_path / "ganplay.db").exists()
    finally:
        engine.dispose()


@BACKENDS
def test_create_get_and_list_runs_newest_first(factory: sessionmaker[Session]) -> None:
    first = _new_run(factory, preset="ring-vanilla", client="alice")
    second = _new_run(factory, parent_id=first, parent_step=200)
    with factory() as session:
        run = repo.get_run(session, first)
        assert run is not None
        assert len(run.id) == 32 and int(run.id, 16) >= 0
        assert (run.status, run.step, run.preset, run.client) == ("queued", 0, "ring-vanilla", "alice")
        assert run.config == CONFIG
        assert run.created_at.tzinfo is not None and run.created_at.utcoffset().total_seconds() == 0
        fork = repo.get_run(session, second)
        assert fork is not None and (fork.parent_id, fork.parent_step) == (first, 200)
        assert [r.id for r in repo.list_runs(session)] == [second, first]
        assert repo.get_run(session, "0" * 32) is None


@BACKENDS
def test_delete_run_cascades_to_its_rows_and_orphans_its_forks(factory: sessionmaker[Session]) -> None:
    parent = _new_run(factory)
    fork = _new_run(factory, parent_id=parent, parent_step=1)
    with factory.begin() as session:
        repo.append_metrics(session, parent, [{"step": 1, "loss_d": 0.5}])
        repo.add_config_change(session, parent, 1, {"tricks.unroll_steps": 5})
        repo.add_alert(session, parent, 1, "collapse", "modes covered fell to 1")
    with factory.begin() as session:
        assert repo.delete_run(session, parent) is True
        assert repo.delete_run(session, parent) is False
    with factory() as session:
        assert repo.get_run(session, parent) is None
        assert repo.metrics(session, parent) == {"steps": [], "series": {}}
        assert repo.config_changes(session, parent) == []
        assert repo.alerts(session, parent) == []
        for table in ("metrics", "config_changes", "alerts"):
            assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
        orphan = repo.get_run(session, fork)
        assert orphan is not None and orphan.parent_id is None


@BACKENDS
def test_set_status_updates_only_the_given_fields(factory: sessionmaker[Session]) -> None:
    run_id = _new_run(factory)
    with factory.begin() as session:
        repo.set_status(session, run_id, "running", device="cuda:0")
    with factory.begin() as session:
        repo.set_status(session, run_id, "diverged", step=420, reason="loss_d is NaN")
    with factory() as session:
        run = repo.get_run(session, run_id)
        assert run is not None
        assert (run.status, run.step, run.reason, run.device) == ("diverged", 420, "loss_d is NaN", "cuda:0")
        assert run.updated_at >= run.created_at
        with pytest.raises(ValueError, match="unknown run status"):
            repo.set_status(session, run_id, "exploded")
        with pytest.raises(repo.RunNotFoundError):
            repo.set_status(session, "f" * 32, "running")


@BACKENDS
def test_append_metrics_is_batched_idempotent_and_advances_the_run(factory: sessionmaker[Session]) -> None:
    run_id = _new_run(factory)
    with factory.begin() as session:
        repo.append_metrics(session, run_id, [{"step": s, "loss_d": 1.0 / s, "loss_g": float(s)} for s in range(1, 11)])
    # A worker resumed from the step-5 checkpoint resends steps 6..10 with new values, then goes on.
    with factory.begin() as session:
        repo.append_metrics(session, run_id, [{"step": s, "loss_d": -s, "loss_g": float("nan")} for s in range(6, 13)])
    with factory() as session:
        out = repo.metrics(session, run_id)
        assert out["steps"] == list(range(1, 13))
        assert out["series"]["loss_d"] == [1.0 / s for s in range(1, 6)] + [-s for s in range(6, 13)]
        assert out["series"]["loss_g"] == [1.0, 2.0, 3.0, 4.0, 5.0] + [None] * 7
        run = repo.get_run(session, run_id)
        assert run is not None and run.step == 12 and run.last_metrics == {"loss_d": -12, "loss_g": None}
        assert session.execute(text("SELECT count(*) FROM metrics")).scalar_one() == 12


@BACKENDS
def test_append_metrics_keeps_the_last_of_duplicate_steps_within_a_batch(factory: sessionmaker[Session]) -> None:
    run_id = _new_run(factory)
    with factory.begin() as session:
        repo.append_metrics(session, run_id, [{"step": 3, "x": 1.0}, {"step": 3, "x": 2.0}, {"step": 2, "x": 0.0}])
        repo.append_metrics(session, run_id, [])
    with factory() as session:
        assert repo.metrics(session, run_id) == {"steps": [2, 3], "series": {"x": [0.0, 2.0]}}
        run = repo.get_run(session, run_id)
        assert run is not None and run.step == 3 and run.last_metrics == {"x": 2.0}
        with pytest.raises(repo.RunNotFoundError):
            repo.append_metrics(session, "e" * 32, [{"step": 1, "x": 1.0}])


@BACKENDS
@pytest.mark.parametrize("add", ["alert", "config_change"])
def test_a_run_deleted_between_the_check_and_the_insert_is_run_not_found_not_a_database_error(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, add: str
) -> None:
    """The event pump's alert or config change of a run deleted by another request at the worst moment: after the
    run was found, before the row went in. The job manager forgets a RunNotFoundError quietly; a foreign-key
    IntegrityError was logged as an error (the soak test caught it in CI)."""
    run_id = _new_run(factory)
    found = repo._require

    def found_then_deleted(session: Session, wanted: str) -> None:
        found(session, wanted)
        with factory.begin() as other:
            repo.delete_run(other, wanted)

    monkeypatch.setattr(repo, "_require", found_then_deleted)
    with factory() as session, pytest.raises(repo.RunNotFoundError):
        if add == "alert":
            repo.add_alert(session, run_id, 1, "collapse", "one mode")
        else:
            repo.add_config_change(session, run_id, 1, {"tricks.unroll_steps": 5})


@BACKENDS
def test_metrics_since_is_exclusive_and_names_filter_series(factory: sessionmaker[Session]) -> None:
    run_id = _new_run(factory)
    rows: list[dict[str, float]] = [{"step": s, "loss_d": s * 0.1, "loss_g": s * 0.2} for s in range(1, 21)]
    for row in rows[4::5]:
        row["modes"] = row["step"]  # an every-5-steps metric
    with factory.begin() as session:
        repo.append_metrics(session, run_id, rows)
    with factory() as session:
        out = repo.metrics(session, run_id, since=17)
        assert out["steps"] == [18, 19, 20]
        assert out["series"]["modes"] == [None, None, 20]
        out = repo.metrics(session, run_id, since=12, names=["loss_g", "modes", "no_such_metric"])
        assert out["steps"] == list(range(13, 21))
        assert set(out["series"]) == {"loss_g", "modes"}
        assert out["series"]["modes"] == [None, None, 15, None, None, None, None, 20]
        assert repo.metrics(session, run_id, since=20) == {"steps": [], "series": {}}


@BACKENDS
def test_metrics_max_points_downsamples_evenly_and_keeps_the_last_row(factory: sessionmaker[Session]) -> None:
    run_id = _new_run(factory)
    with factory.begin() as session:
        repo.append_metrics(session, run_id, [{"step": s, "v": float(s)} for s in range(0, 1000, 3)])  # 334 rows
    with factory() as session:
        out = repo.metrics(session, run_id, max_points=10)
        steps = out["steps"]
        assert len(steps) == 10 and steps[0] == 0 and steps[-1] == 999
        assert steps == sorted(steps) and out["series"]["v"] == [float(s) for s in steps]
        gaps = [b - a for a, b in itertools.pairwise(steps)]
        assert max(gaps) - min(gaps) <= 3
        assert repo.metrics(session, run_id, max_points=1)["steps"] == [999]
        assert len(repo.metrics(session, run_id, max_points=5000)["steps"]) == 334
        assert repo.metrics(session, run_id, since=990, max_points=2)["steps"] == [993, 999]
        with pytest.raises(ValueError, match="max_points"):
            repo.metrics(session, run_id, max_points=0)


@BACKENDS
def test_config_changes_and_alerts_come_back_in_step_order(factory: sessionmaker[Session]) -> None:
    run_id = _new_run(factory)
    with factory.begin() as session:
        repo.add_config_change(session, run_id, 300, {"optim.lr_d": 1e-4})
        repo.add_config_change(session, run_id, 100, {"tricks.unroll_steps": 5})
        repo.add_config_change(session, run_id, 300, {"tricks.r1_gamma": 10.0})
        repo.add_alert(session, run_id, 50, "collapse", "one mode")
        repo.add_alert(session, run_id, 10, "divergence", "loss spiked")
    with factory() as session:
        assert repo.config_changes(session, run_id) == [
            {"step": 100, "changes": {"tricks.unroll_steps": 5}},
            {"step": 300, "changes": {"optim.lr_d": 1e-4}},
            {"step": 300, "changes": {"tricks.r1_gamma": 10.0}},
        ]
        got = repo.alerts(session, run_id)
        assert [(a["step"], a["kind"], a["message"]) for a in got] == [
            (10, "divergence", "loss spiked"),
            (50, "collapse", "one mode"),
        ]
        assert all(a["created_at"].endswith("+00:00") for a in got)


@BACKENDS
def test_mark_interrupted_catches_only_runs_a_worker_owned(factory: sessionmaker[Session]) -> None:
    ids = {status: _new_run(factory, status=status) for status in LIVE_STATUSES}
    finished = {status: _new_run(factory, status=status) for status in FINAL_STATUSES}
    with factory.begin() as session:
        assert sorted(repo.mark_interrupted(session)) == sorted(ids.values())
    with factory.begin() as session:
        assert repo.mark_interrupted(session) == []
        for run_id in ids.values():
            assert repo.get_run(session, run_id).status == "interrupted"  # type: ignore[union-attr]
        for status, run_id in finished.items():
            assert repo.get_run(session, run_id).status == status  # type: ignore[union-attr]


@BACKENDS
def test_count_active_counts_a_clients_live_and_queued_runs(factory: sessionmaker[Session]) -> None:
    for status in ("queued", "running", "paused", "completed", "failed"):
        _new_run(factory, client="alice", status=status)
    _new_run(factory, client="bob", status="starting")
    _new_run(factory, status="running")
    with factory() as session:
        assert repo.count_active(session, "alice") == 3
        assert repo.count_active(session, "bob") == 1
        assert repo.count_active(session, None) == 1
        assert repo.count_active(session, "carol") == 0


@BACKENDS
def test_concurrent_appends_from_two_threads_do_not_lock_each_other_out(factory: sessionmaker[Session]) -> None:
    runs = [_new_run(factory), _new_run(factory)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(run_id: str) -> None:
        try:
            start.wait()
            for batch in range(40):
                rows = [{"step": batch * 10 + i, "loss_d": float(i)} for i in range(10)]
                with factory.begin() as session:
                    repo.append_metrics(session, run_id, rows)
                with factory() as session:  # a reader in between, as the API would be
                    repo.metrics(session, run_id, since=batch * 10 - 1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(run_id,)) for run_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with factory() as session:
        for run_id in runs:
            assert len(repo.metrics(session, run_id)["steps"]) == 400
            assert repo.get_run(session, run_id).step == 399  # type: ignore[union-attr]
