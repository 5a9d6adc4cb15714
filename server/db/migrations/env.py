"""Alembic environment: online migrations through ``server.db.engine.make_engine`` (so SQLite gets its pragmas)."""

from __future__ import annotations

from alembic import context

from server.db.engine import make_engine
from server.db.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set; use server.db.migrate.upgrade(url)"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Batch mode drops the old table after copying it; with foreign keys on, dropping runs would cascade
                # to every run's metrics, changes and alerts. The pragma is a no-op inside a transaction: committed
                # before the migrations' own transaction begins.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            # render_as_batch: SQLite cannot ALTER most things; batch mode recreates the table instead.
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
