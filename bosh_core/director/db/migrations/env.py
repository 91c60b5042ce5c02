"""Alembic's entry point for the director's migrations.

``Database.migrate()`` runs it with an open connection in ``config.attributes``; there is
no alembic.ini. For ``alembic revision --autogenerate`` during development, give the URL:
``alembic -x url=sqlite:////tmp/dev.db ...`` with ``script_location`` pointing here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bosh_core.director.db.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(bind: object) -> None:
    context.configure(
        connection=bind,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        # SQLite alters tables by copying them ("batch" mode); PostgreSQL ignores this.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    with create_engine(context.get_x_argument(as_dictionary=True)["url"]).connect() as opened:
        _run(opened)
