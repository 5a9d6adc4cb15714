"""Sweeps: a grid of config values × seeds whose cells are runs; each run may name its sweep and cell.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in server.db.tables: a migration must not change when the models do.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("client", sa.String(128), nullable=True),
        sa.Column("preset", sa.String(64), nullable=True),
        sa.Column("lesson", sa.String(64), nullable=True),
        sa.Column("base", JSON, nullable=False),
        sa.Column("axes", JSON, nullable=False),
        sa.Column("seeds", JSON, nullable=False),
        sa.Column("n_cells", sa.Integer(), nullable=False),
        sa.Column("next_cell", sa.Integer(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
    )
    op.create_index("ix_sweeps_created_at", "sweeps", ["created_at"])
    op.create_index("ix_sweeps_client", "sweeps", ["client"])
    # On SQLite batch mode copies runs into a new table and drops the old one: env.py turns foreign keys off for
    # migrations, or that drop would cascade to every run's metrics, changes and alerts.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("sweep_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("sweep_cell", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_runs_sweep_id_sweeps", "sweeps", ["sweep_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_runs_sweep_id_sweep_cell", ["sweep_id", "sweep_cell"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_sweep_id_sweep_cell")
        batch.drop_constraint("fk_runs_sweep_id_sweeps", type_="foreignkey")
        batch.drop_column("sweep_cell")
        batch.drop_column("sweep_id")
    op.drop_index("ix_sweeps_client", table_name="sweeps")
    op.drop_index("ix_sweeps_created_at", table_name="sweeps")
    op.drop_table("sweeps")
