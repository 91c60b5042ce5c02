"""The API over a real, migrated database (SQLite by default; PostgreSQL where a test
asks for ``database`` from tests/core/director/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from bosh_core.director.api import DirectorConfig, LocalUser, create_app
from bosh_core.director.db import Database, open_database

ADMIN = ("admin", "s3cret-admin-pw")


@pytest.fixture
def config(tmp_path: Path) -> DirectorConfig:
    return DirectorConfig(
        name="test-director",
        data_dir=tmp_path / "director",
        users=(LocalUser(*ADMIN), LocalUser("ops", "ops-pw")),
        cpi="local",
    )


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'bosh.db'}")
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def client(config: DirectorConfig, sqlite_database: Database) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(config, sqlite_database)) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> TestClient:  # type: ignore[type-arg]
    client.auth = ADMIN
    return client
