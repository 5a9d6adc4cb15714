"""A real server on a random loopback port, in a thread of the test process, with real worker processes."""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from server.app import create_app
from server.db.engine import sqlite_url
from server.settings import Settings

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def serve(data_dir: Path, apps: list[Any] | None = None, **settings: Any) -> Iterator[str]:
    """Yields the base URL once the app's start-up (migrations, warm workers) is done; shuts down when resumed.
    ``apps``, when given, receives the app, for tests that must reach past the API (e.g. a worker's pid)."""
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without it a response
    # written in two parts (headers, body) waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(Settings(data_dir=data_dir, port=port, **settings))
    if apps is not None:
        apps.append(app)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_ping_interval=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def wait_until_completed(base: str, run_id: str, timeout: float = 180) -> str:
    """The run's id once it has completed; fails on any status it cannot complete from (failed, stopped...)."""
    deadline = time.monotonic() + timeout
    while (status := httpx.get(f"{base}/api/runs/{run_id}", timeout=30).json()["status"]) != "completed":
        assert status in ("queued", "starting", "running") and time.monotonic() < deadline, status
        time.sleep(0.2)
    return run_id


def api_routes(*, mutating: bool) -> list[tuple[str, str]]:
    """Every route of the published OpenAPI schema, as (method, path): the mutating ones, or the reads (GET)."""
    spec = create_app(Settings(data_dir=Path("unused"))).openapi()
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if (method.upper() not in ("GET", "HEAD", "OPTIONS")) == mutating
    ]


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path / "data", warm_workers=0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgCluster:
    """A throwaway PostgreSQL 15 cluster on a free loopback port; ``url`` is its server URL (no database part).
    Tests of a database going away ``stop()`` and ``start()`` it."""

    def __init__(self) -> None:
        missing = [name for name in ("initdb", "pg_ctl") if not (PG_BIN / name).exists()]
        if missing:
            pytest.fail(f"PostgreSQL 15 binaries {missing} not found in {PG_BIN}: install postgresql-15", pytrace=False)
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root: run the cluster as the postgres user instead.
            try:
                import pwd

                pg_user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root and there is no 'postgres' user to run the test cluster", pytrace=False)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        # Not pytest's tmp_path: its 0o700 parents would stop the postgres user from reaching the cluster.
        self.root = Path(tempfile.mkdtemp(prefix="ganplay-pg-", dir="/tmp"))
        self.root.chmod(0o777)
        if self.prefix:
            os.chown(self.root, pg_user.pw_uid, pg_user.pw_gid)
        self.data, self.log = self.root / "data", self.root / "log"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        self._pg(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"
        )

    def _pg(self, *args: str) -> None:
        proc = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            log_text = self.log.read_text() if self.log.exists() else ""
            pytest.fail(f"{args[0]} failed: {proc.stdout}{proc.stderr}{log_text}", pytrace=False)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._pg(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "-o", options, "start"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.prefix, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"], timeout=60
            )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def pg_cluster() -> Iterator[PgCluster]:
    """A started cluster, removed when resumed."""
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A throwaway PostgreSQL 15 cluster shared by the session; yields its server URL (no database part)."""
    for cluster in pg_cluster():
        yield cluster.url


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (not yet migrated) on the backend named by the test's parameter."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    server = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{server}/{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


BACKENDS = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def history_value(step: int, i: int) -> float:
    """The ``i``-th metric's value at ``step`` in a ``long_run``'s history: known, so a reader can check it."""
    return round(math.sin(step * 0.001 * (i + 1)), 6)


def long_run(
    app: Any,
    rows: int,
    names: list[str],
    extra: Callable[[int], dict[str, float]] | None = None,
) -> str:
    """A completed run with ``rows`` steps of history (``names`` at ``history_value``, plus ``extra(step)``),
    written through the repository in batches as the event pump writes it: far faster than training that long."""
    from server.db import repository as repo

    jobs = app.state.jobs
    with jobs.sessions() as session:
        run_id = repo.create_run(session, config={}, preset=None, status="completed").id
        session.commit()
    for start in range(0, rows, 5000):
        batch = []
        for step in range(start, min(rows, start + 5000)):
            row = {"step": step, **{name: history_value(step, i) for i, name in enumerate(names)}}
            batch.append(row | (extra(step) if extra else {}))
        with jobs.sessions() as session:
            repo.append_metrics(session, run_id, batch)
            session.commit()
    return run_id
