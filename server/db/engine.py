"""Engines and session factories for SQLite (the local default) and PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

#: What a locked, full or unreachable database raises: a moment's trouble (retry, 503), not a bug.
DATABASE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)

#: How long a SQLite connection waits for another writer before raising "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000


def sqlite_url(data_dir: Path) -> str:
    """The default database: one SQLite file in the data dir, next to checkpoints and samples."""
    return f"sqlite:///{Path(data_dir)}/ganplay.db"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and a busy timeout.

    WAL lets the API read while a worker's metrics are written; the busy timeout makes a second writer wait rather
    than fail; SQLite only enforces ``ON DELETE CASCADE`` / ``SET NULL`` with ``foreign_keys=ON``, set per
    connection. ``check_same_thread=False`` because the pool hands connections to FastAPI's worker threads.
    """
    if make_url(url).get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if make_url(url).database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for ``engine``; use ``with factory.begin() as session:`` so each request commits or rolls back.

    ``expire_on_commit=False`` lets a route return a ``Run`` it just created after the commit without another query.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)
