"""The API over a real, migrated database (SQLite by default; PostgreSQL where a test
asks for ``database`` from tests/core/director/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def finished_task(client: TestClient, location: str) -> dict[str, Any]:  # type: ignore[type-arg]
    """The task at `location` (``/tasks/<id>``) once it has ended (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(location).json()
        if task["state"] not in ("queued", "processing"):
            return task
        time.sleep(0.05)
    raise AssertionError(f"{location} did not finish")
