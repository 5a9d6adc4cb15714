"""The sweep tables and repository functions on SQLite and PostgreSQL: the sweep quota's count, one run per cell,
status counts, and the latest quality metrics a run's row carries between measurements."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.db import repository as repo
from server.db.engine import make_engine, make_session_factory
from server.db.migrate import alembic_config, upgrade
from server.db.tables import utcnow
from tests.server.conftest import BACKENDS

CONFIG = {"steps": 10}


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(db_url)
    engine: Engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def new_sweep(factory: sessionmaker[Session], client: str | None = "a", cells: int = 2) -> str:
    with factory.begin() as session:
        axes = [{"path": "train.lr_g", "values": [1e-4, 1e-3][:cells]}]
        sweep = repo.create_sweep(
            session, client=client, preset=None, lesson=None, base=CONFIG, axes=axes, seeds=[0], n_cells=cells
        )
        return sweep.id


def start_cell(factory: sessionmaker[Session], sweep_id: str, cell: int, status: str = "queued") -> str:
    with factory.begin() as session:
        sweep = repo.get_sweep(session, sweep_id)
        assert sweep is not None
        run = repo.create_run(
            session, config=CONFIG, preset=None, client=sweep.client, status=status, sweep_id=sweep_id, sweep_cell=cell
        )
        sweep.next_cell = cell + 1
        return run.id


@BACKENDS
def test_a_sweep_counts_against_its_clients_sweep_quota_while_a_cell_waits_or_a_run_of_it_is_live(factory):
    def live(client: str | None = "a") -> int:
        with factory() as session:
            return repo.count_live_sweeps(session, client)

    sweep = new_sweep(factory)
    assert (live(), live("b"), live(None)) == (1, 0, 0)  # nothing started: both cells wait
    first = start_cell(factory, sweep, 0)
    second = start_cell(factory, sweep, 1)
    assert live() == 1  # every cell started, two runs live
    with factory.begin() as session:
        repo.set_status(session, first, "completed")
        repo.set_status(session, second, "stopped")
    assert live() == 0  # done
    other = new_sweep(factory)
    with factory.begin() as session:
        repo.stop_sweep(session, other)
        assert [s.id for s in repo.waiting_sweeps(session, "a")] == []
    assert live() == 0  # stopped: no cell of it will start
    with factory() as session:
        assert repo.sweep_status_counts(session, [sweep, other]) == {sweep: {"completed": 1, "stopped": 1}, other: {}}


@BACKENDS
def test_a_cell_has_at_most_one_run(factory):
    sweep = new_sweep(factory)
    start_cell(factory, sweep, 0)
    with pytest.raises(IntegrityError), factory.begin() as session:
        repo.create_run(session, config=CONFIG, preset=None, sweep_id=sweep, sweep_cell=0)


@BACKENDS
def test_deleting_a_sweeps_row_leaves_its_runs_sweepless(factory):
    sweep = new_sweep(factory)
    run_id = start_cell(factory, sweep, 0)
    with factory.begin() as session:
        assert repo.delete_sweep(session, sweep) and not repo.delete_sweep(session, "f" * 32)
    with factory() as session:
        run = repo.get_run(session, run_id)
        assert run is not None and run.sweep_id is None and repo.get_sweep(session, sweep) is None


@BACKENDS
def test_last_metrics_keep_the_newest_quality_measurement_between_measurements(factory):
    """A run list (or a sweep's cells) shows the newest modes_covered though the newest row has none."""
    with factory.begin() as session:
        run_id = repo.create_run(session, config=CONFIG, preset=None).id
    with factory.begin() as session:
        rows = [{"step": 1, "d_loss": 1.0, "modes_covered": 3.0}, {"step": 2, "d_loss": 0.9}]
        repo.append_metrics(session, run_id, rows)
    with factory.begin() as session:
        repo.append_metrics(session, run_id, [{"step": 3, "d_loss": 0.8}])
    with factory() as session:
        run = repo.get_run(session, run_id)
        assert run is not None and run.last_metrics == {"d_loss": 0.8, "modes_covered": 3.0}
    with factory.begin() as session:
        repo.append_metrics(session, run_id, [{"step": 4, "d_loss": 0.7, "modes_covered": 5.0}, {"step": 5}])
    with factory() as session:
        run = repo.get_run(session, run_id)
        assert run is not None and run.last_metrics == {"modes_covered": 5.0}


@BACKENDS
def test_upgrading_to_sweeps_keeps_every_runs_rows_and_their_cascades(db_url: str):
    """The migration rebuilds runs on SQLite (batch mode): dropping the old table must not cascade to the runs'
    metrics, changes and alerts, and afterwards deleting a run still cascades to them."""
    command.upgrade(alembic_config(db_url), "0002")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:  # SQL of that schema: the ORM's runs have columns added since
            for run_id in ("a" * 32, "b" * 32):
                conn.execute(
                    text(
                        "INSERT INTO runs (id, created_at, updated_at, status, step, config) "
                        "VALUES (:run, :t, :t, 'completed', 2, '{}')"
                    ),
                    {"run": run_id, "t": utcnow()},
                )
                conn.execute(
                    text('INSERT INTO metrics (run_id, step, "values") VALUES (:run, 1, :v), (:run, 2, :v)'),
                    {"run": run_id, "v": '{"d_loss": 1.0}'},
                )
                conn.execute(
                    text("INSERT INTO alerts (run_id, step, kind, message, created_at) VALUES (:run, 1, 'k', 'm', :t)"),
                    {"run": run_id, "t": utcnow()},
                )
                conn.execute(
                    text("INSERT INTO config_changes (run_id, step, changes, created_at) VALUES (:run, 1, '{}', :t)"),
                    {"run": run_id, "t": utcnow()},
                )
        upgrade(db_url)
        factory = make_session_factory(engine)
        with factory.begin() as session:
            for run_id in ("a" * 32, "b" * 32):
                run = repo.get_run(session, run_id)
                assert run is not None and run.sweep_id is None
                assert repo.metrics(session, run_id)["steps"] == [1, 2]
                assert len(repo.alerts(session, run_id)) == len(repo.config_changes(session, run_id)) == 1
            repo.delete_run(session, "a" * 32)
        with engine.connect() as conn:
            left = {
                table: conn.execute(text(f"SELECT DISTINCT run_id FROM {table}")).scalars().all()
                for table in ("metrics", "alerts", "config_changes")
            }
        assert left == {table: ["b" * 32] for table in left}
    finally:
        engine.dispose()
