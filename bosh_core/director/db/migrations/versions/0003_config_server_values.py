"""The built-in config server: encrypted variable versions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_server_values",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_server_values")),
    )
    op.create_index(
        op.f("ix_config_server_values_name_id"),
        "config_server_values",
        ["name", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_config_server_values_name_id"), table_name="config_server_values")
    op.drop_table("config_server_values")
