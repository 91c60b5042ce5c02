"""Databases for the tests: an SQLite file and a fresh PostgreSQL database each time.

PostgreSQL is the machine's (127.0.0.1:5432, trust auth, user postgres);
``BOSH_TEST_POSTGRES_URL`` points elsewhere. Each test gets its own database, dropped after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bosh_core.director.db import Database, open_database
from tests.core.director.backends import throwaway_database
from tests.core.director.release_tarballs import Tarballs, build_tarballs

ADMIN_URL = os.environ.get(
    "BOSH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        pytest.skip(f"no PostgreSQL at {make_url(ADMIN_URL)!s}: {error.orig}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    with throwaway_database(postgres_admin, ADMIN_URL, prefix="bosh_test") as (_, url):
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'director' / 'bosh.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def empty_database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def database(empty_database: Database) -> Database:
    empty_database.migrate()
    return empty_database


@pytest.fixture(scope="session")
def tarballs(tmp_path_factory: pytest.TempPathFactory) -> Tarballs:
    """Release tarballs of the conformance fixture release (see release_tarballs.py)."""
    return build_tarballs(tmp_path_factory.mktemp("releases"))
