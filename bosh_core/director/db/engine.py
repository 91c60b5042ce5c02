"""Opening the director's database: SQLite (embedded) or PostgreSQL (production).

SQLite is set up for one writer and many readers: WAL journal, a busy timeout, foreign
keys enforced. A write transaction (:meth:`Database.write`) starts with ``BEGIN
IMMEDIATE``, so it takes the database's write lock when it begins instead of failing with
"database is locked" halfway through when a reader upgrades; inside one process writers
also queue on a lock, so threads do not spin on the busy timeout. Reads
(:meth:`Database.read`) begin deferred and never wait for writers.

PostgreSQL is reached through psycopg 3; a ``postgresql://`` URL is taken to mean that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bosh_core.errors import ConfigError

__all__ = ["DEFAULT_BUSY_TIMEOUT_MS", "Database", "latest_revision", "open_database"]

DEFAULT_BUSY_TIMEOUT_MS: Final = 30_000

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it only has to be the same in every director process.
_PG_MIGRATION_LOCK_KEY: Final = 0x626F7368  # "bosh"
_BEGIN_OPTION: Final = "bosh_sqlite_begin"
# Alembic keeps the running migration in module globals (alembic.context, alembic.op).
_ALEMBIC_LOCK = threading.Lock()


class Database:
    """The director's database: an engine, its sessions, and its migrations.

    ``read()`` and ``write()`` give a session in a transaction that commits when the
    block ends without an error and rolls back otherwise.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._is_sqlite = engine.dialect.name == "sqlite"
        # Serialises writers inside this process; BEGIN IMMEDIATE does it across processes.
        self._write_lock = threading.RLock() if self._is_sqlite else None
        self._writer = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)

    @property
    def url(self) -> URL:
        return self.engine.url

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        if self._write_lock is None:
            with self._write_sessions.begin() as session:
                yield session
            return
        with self._write_lock, self._write_sessions.begin() as session:
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest migration; nothing happens when it is there.

        Director processes that start together may all call this: on PostgreSQL they
        queue on an advisory lock, on SQLite on the write lock.
        """
        # Alembic is only needed here; importing it costs ~100 ms at director start.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with _ALEMBIC_LOCK, self._migration_connection() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """The migration the database is at, or None before the first one."""
        from alembic.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or after a fork)."""
        self.engine.dispose()

    @contextmanager
    def _migration_connection(self) -> Iterator[Any]:
        if self._write_lock is not None:
            with self._write_lock, self._writer.connect() as connection:
                yield connection
            return
        with self.engine.connect() as connection:
            connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
            )
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
                )
                connection.commit()


def open_database(
    url: str | URL | Path,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    pool_size: int = 5,
    echo: bool = False,
) -> Database:
    """Open (not migrate) the database at ``url``.

    ``url`` is an SQLAlchemy URL (``sqlite:////var/vcap/store/director/bosh.db``,
    ``postgresql://bosh@db/bosh``) or the path of an SQLite file.
    """
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return Database(_sqlite_engine(parsed, busy_timeout_ms=busy_timeout_ms, echo=echo))
    if backend == "postgresql":
        # SQLAlchemy 2.0 would default to psycopg2, which we do not ship.
        if "+" not in parsed.drivername:
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(parsed, pool_size=pool_size, pool_pre_ping=True, echo=echo)
        except ModuleNotFoundError as error:
            raise ConfigError(
                f"the PostgreSQL driver is not installed ({error.name}):"
                " pip install 'bosh-py[postgres]'"
            ) from error
        return Database(engine)
    raise ConfigError(
        f"unsupported database {parsed.render_as_string(hide_password=True)!r}:"
        " the director runs on sqlite or postgresql"
    )


def _parse(url: str | URL | Path) -> URL:
    if isinstance(url, Path):
        return URL.create("sqlite", database=str(url))
    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except ArgumentError as error:
        # The message would echo the URL, password included.
        raise ConfigError("the database URL cannot be parsed") from error


def _sqlite_engine(url: URL, *, busy_timeout_ms: int, echo: bool) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One connection, or each new one would see a different, empty database.
        engine = create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}, echo=echo
        )
    else:
        if url.database is not None:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so it can choose IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First: switching to WAL waits for other connections' locks too.
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                # WAL with NORMAL loses no data on a crash, only the last commits on power loss.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def latest_revision() -> str:
    """The newest migration in the code: what :meth:`Database.migrate` brings a schema to."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations under {_MIGRATIONS}")
    return head
