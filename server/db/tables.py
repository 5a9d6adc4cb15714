"""The database schema, as SQLAlchemy 2.0 typed ORM classes.

The Alembic migrations under ``migrations/`` must create exactly this schema; ``tests/server/test_db.py`` compares
them after an upgrade, so a change here needs a new migration revision.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: JSON on SQLite, JSONB on PostgreSQL (indexable, compact, deduplicated keys).
JSONType = JSON().with_variant(JSONB(), "postgresql")

#: Deterministic constraint names, so later migrations can drop or alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC: the only kind of timestamp stored."""
    return datetime.now(timezone.utc)


def new_run_id() -> str:
    """A 32-hex-digit uuid4, short enough for URLs and file names."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that always hands back aware UTC datetimes.

    SQLite stores no offset, so values come back naive; this normalises both directions so code never compares
    naive with aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; store timezone-aware UTC datetimes")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}  # noqa: RUF012


class Run(Base):
    """One training run: its config, where it is, and what it last reported."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_run_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    step: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any]]
    preset: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("runs.id", ondelete="SET NULL"))
    parent_step: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    device: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(128))
    last_metrics: Mapped[dict[str, Any] | None]
    checkpoint_step: Mapped[int | None] = mapped_column(Integer)
    # A cell of a sweep: which sweep, and which of its cells (one run per cell, never two).
    sweep_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("sweeps.id", ondelete="SET NULL"))
    sweep_cell: Mapped[int | None] = mapped_column(Integer)
    # With GANPLAY_AUTH=users, the name of the user who created it (a sweep's cells: the sweep's); null otherwise.
    owner: Mapped[str | None] = mapped_column(String(64))
    shared: Mapped[bool] = mapped_column(default=False, server_default=false())  # an admin shared it with everyone

    __table_args__ = (
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_owner", "owner"),
        Index("ix_runs_client_status", "client", "status"),
        Index("ix_runs_status", "status"),
        Index("ix_runs_sweep_id_sweep_cell", "sweep_id", "sweep_cell", unique=True),  # one run per cell
    )


class Sweep(Base):
    """A grid of config values × seeds over one base config; each cell becomes a run of its own (``runs.sweep_id``).

    Cells are started in order as the client's run quota allows: ``[0, next_cell)`` have had their run created,
    the rest wait. The cells themselves are not stored: ``models.sweeps`` expands ``axes`` and ``seeds`` the same
    way every time. ``axes`` is a list, not an object, because PostgreSQL's JSONB does not keep key order."""

    __tablename__ = "sweeps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_run_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    client: Mapped[str | None] = mapped_column(String(128))
    preset: Mapped[str | None] = mapped_column(String(64))
    lesson: Mapped[str | None] = mapped_column(String(64))
    base: Mapped[dict[str, Any]]  # the full base config the cells' values and seeds are applied to
    axes: Mapped[list[Any]] = mapped_column(JSONType)  # [{"path", "values"}], in the order given
    seeds: Mapped[list[Any]] = mapped_column(JSONType)
    n_cells: Mapped[int] = mapped_column(Integer)
    next_cell: Mapped[int] = mapped_column(Integer, default=0)
    stopped: Mapped[bool] = mapped_column(default=False, server_default=false())  # no further cell starts
    owner: Mapped[str | None] = mapped_column(String(64))  # as a run's; its cells' runs have the same owner

    __table_args__ = (
        Index("ix_sweeps_created_at", "created_at"),
        Index("ix_sweeps_client", "client"),
        Index("ix_sweeps_owner", "owner"),
    )


class User(Base):
    """A person who may use a server with GANPLAY_AUTH=users (``ganplay users add``). Only a hash of their token
    is kept (``server/users.py`` says why SHA-256 suffices); a revoked user keeps their row, so the runs they own
    still name them and ``users add`` can give them a new token."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the token
    admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class ConfigChange(Base):
    """One live patch applied to a run, at the step boundary it took effect."""

    __tablename__ = "config_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_config_changes_run_id_step", "run_id", "step"),)


class MetricRow(Base):
    """The metrics one run emitted at one step; keyed by (run, step) so a resent step overwrites, not duplicates."""

    __tablename__ = "metrics"

    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    values: Mapped[dict[str, Any]]


class Alert(Base):
    """Something the watchdog or the worker flagged about a run (mode collapse, divergence, ...)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    cleared: Mapped[bool] = mapped_column(default=False, server_default=false())  # the episode's end, not a new one
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_alerts_run_id_step", "run_id", "step"),)
