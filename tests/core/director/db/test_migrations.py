"""Migrations: an empty database gets the whole schema, again and again without harm."""

from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bosh_core.director.db import Database, latest_revision, open_database
from bosh_core.director.db.models import Base, Team


def test_migrating_an_empty_database_creates_every_table(empty_database: Database) -> None:
    assert empty_database.schema_revision() is None
    empty_database.migrate()
    assert empty_database.schema_revision() == latest_revision()
    tables = set(inspect(empty_database.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_migrating_twice_changes_nothing_and_keeps_the_data(database: Database) -> None:
    with database.write() as session:
        session.add(Team(name="dev"))
    database.migrate()
    assert database.schema_revision() == latest_revision()
    with database.read() as session:
        assert session.scalars(select(Team.name)).all() == ["dev"]


def test_the_migrations_create_exactly_the_models(database: Database) -> None:
    # A model changed without a migration shows up here as a difference.
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_directors_starting_together_migrate_once(database_url: str) -> None:
    # Separate processes, as director and workers start: they queue on the database.
    code = (
        "import sys; from bosh_core.director.db import open_database as o; o(sys.argv[1]).migrate()"
    )
    starts = [
        subprocess.Popen([sys.executable, "-c", code, database_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    failures = [p.stderr.read() for p in starts if p.wait() != 0 and p.stderr]
    assert failures == []
    db = open_database(database_url)
    assert db.schema_revision() == latest_revision()
    db.dispose()
