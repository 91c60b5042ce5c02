"""Opening databases; SQLite's settings and its one-writer discipline."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import Deployment, Instance, Team
from bosh_core.errors import ConfigError


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Database:
    db = open_database(sqlite_url, busy_timeout_ms=1234)
    db.migrate()
    return db


def test_sqlite_pragmas_are_in_effect_on_every_connection(sqlite_db: Database) -> None:
    for _ in range(2):
        with sqlite_db.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 1234
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        sqlite_db.dispose()


def test_sqlite_enforces_foreign_keys(sqlite_db: Database) -> None:
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), sqlite_db.write() as session:
        session.add(Instance(deployment_id=42, job="web", index=0, uuid="u"))


def test_a_writer_holds_the_write_lock_from_its_first_statement(
    sqlite_url: str, sqlite_db: Database
) -> None:
    other = open_database(sqlite_url, busy_timeout_ms=50)  # another director process
    with sqlite_db.write() as session:
        session.execute(select(1))
        # Readers are not blocked (WAL) ...
        with other.read() as reader:
            assert reader.scalar(select(func.count()).select_from(Team)) == 0
        # ... but a second writer waits at BEGIN, before it has read anything stale.
        with pytest.raises(OperationalError, match="locked"), other.write() as blocked:
            blocked.execute(select(1))
    with other.write() as session:
        session.add(Team(name="after"))
    other.dispose()


def test_writer_threads_take_turns(sqlite_db: Database) -> None:
    def add_teams(prefix: str) -> None:
        for number in range(20):
            with sqlite_db.write() as session:
                count = session.scalar(select(func.count()).select_from(Team))
                session.add(Team(name=f"{prefix}-{number}-{count}"))

    threads = [threading.Thread(target=add_teams, args=(str(n),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sqlite_db.read() as session:
        counts = sorted(int(n.rsplit("-", 1)[1]) for n in session.scalars(select(Team.name)))
    # Each writer saw every row committed before it: no two read the same count.
    assert counts == list(range(80))


def test_a_failed_block_rolls_back(database: Database) -> None:
    with pytest.raises(RuntimeError), database.write() as session:
        session.add(Deployment(name="zk"))
        session.flush()
        raise RuntimeError("stop")
    with database.read() as session:
        assert session.scalars(select(Deployment)).all() == []


def test_a_path_or_memory_opens_sqlite(tmp_path: Path) -> None:
    on_disk = open_database(tmp_path / "nested" / "bosh.db")
    on_disk.migrate()
    assert (tmp_path / "nested" / "bosh.db").is_file()
    memory = open_database("sqlite://")
    memory.migrate()
    with memory.write() as session:
        session.add(Team(name="t"))
    with memory.read() as session:
        assert session.scalar(text("SELECT name FROM teams")) == "t"
    assert (on_disk.dialect, memory.dialect) == ("sqlite", "sqlite")


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    db = open_database("postgresql://bosh:secret@127.0.0.1:1/bosh")
    assert db.engine.dialect.driver == "psycopg"
    assert db.dialect == "postgresql"


@pytest.mark.parametrize(
    "url", ["mysql://bosh:secret@db/bosh", "not a url:secret@"], ids=["mysql", "garbage"]
)
def test_an_unsupported_url_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_database(url)
    assert "secret" not in str(caught.value)
