"""The director's database: SQLAlchemy models, the engine, Alembic migrations.

    db = open_database("sqlite:////var/vcap/store/director/bosh.db")
    db.migrate()
    with db.write() as session:
        session.add(Task(type="update_deployment", description="create deployment"))

Importing this package imports SQLAlchemy (not Alembic: that is loaded by ``migrate``).
"""

from __future__ import annotations

from bosh_core.director.db.engine import (
    DEFAULT_BUSY_TIMEOUT_MS,
    Database,
    latest_revision,
    open_database,
)

__all__ = ["DEFAULT_BUSY_TIMEOUT_MS", "Database", "latest_revision", "open_database"]
