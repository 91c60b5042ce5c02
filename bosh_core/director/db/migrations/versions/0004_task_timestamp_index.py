"""Tasks are listed newest first by their timestamp, as the reference lists them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 21:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Queued and running tasks had none until they ended: give them one, so that they
    # sort among the others alike on every database (NULLs sort first or last).
    op.execute(
        "UPDATE tasks SET timestamp = COALESCE(started_at, checkpoint_time) WHERE timestamp IS NULL"
    )
    op.create_index(op.f("ix_tasks_timestamp"), "tasks", ["timestamp"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tasks_timestamp"), table_name="tasks")
