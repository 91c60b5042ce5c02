"""The database task queue: one row per queued or reserved job.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queued_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("job_type", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(), nullable=False),
        sa.Column("worker_id", sa.String(length=255), nullable=True),
        sa.Column("reservation", sa.String(length=32), nullable=True),
        sa.Column("reserved_at", sa.DateTime(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queued_jobs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_queued_jobs_job_id")),
    )
    op.create_index(
        op.f("ix_queued_jobs_queue_worker_id_position_id"),
        "queued_jobs",
        ["queue", "worker_id", "position", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_queued_jobs_lease_expires_at"), "queued_jobs", ["lease_expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_queued_jobs_lease_expires_at"), table_name="queued_jobs")
    op.drop_index(op.f("ix_queued_jobs_queue_worker_id_position_id"), table_name="queued_jobs")
    op.drop_table("queued_jobs")
