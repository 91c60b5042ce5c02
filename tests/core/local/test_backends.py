"""`bosh local` with the director on PostgreSQL and the Redis task queue, on real daemons.

The database is a fresh one on the machine's PostgreSQL (dropped after); the queue is a
Redis database number of its own, because every director's queue keys have the same
names (``bosh:queue:...``): two directors on one Redis database would take each other's
tasks. The tests share one environment and run in file order: up, up again, up with
other backends, down, delete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, create_engine, text

from bosh_core.director.api.config import load_config
from bosh_core.local import LocalEnvironment, LocalEnvironmentError
from bosh_core.local.processes import group_members
from tests.core.director.backends import redis_queue, throwaway_database
from tests.core.director.conftest import ADMIN_URL, postgres_admin
from tests.core.local.support import Recorder, pids, run_bosh

if TYPE_CHECKING:
    import redis
else:
    redis = pytest.importorskip("redis", reason="redis-py is not installed (the 'redis' extra)")

# Exported so that the fixture (the director tests' PostgreSQL server) counts as used here.
__all__ = ["postgres_admin"]

REDIS_DB = 6
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
PASSWORD = "pa55-w0rd"  # in URLs given to refused ups: must never be shown


def _eventually(condition: Callable[[], bool]) -> bool:
    """Whether `condition` holds within 10 s: servers notice closed connections a moment
    after the processes holding them are gone."""
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def made_database(postgres_admin: Engine) -> Iterator[tuple[str, str]]:
    with throwaway_database(postgres_admin, ADMIN_URL, prefix="bosh_local") as made:
        yield made


@pytest.fixture(scope="module")
def database_name(made_database: tuple[str, str]) -> str:
    return made_database[0]


@pytest.fixture(scope="module")
def database_url(made_database: tuple[str, str]) -> str:
    return made_database[1]


@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    with redis_queue(REDIS_URL) as client:
        yield client


@pytest.fixture(scope="module")
def progress() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def environment(
    tmp_path_factory: pytest.TempPathFactory,
    progress: Recorder,
    database_url: str,
    redis_client: redis.Redis,
) -> Iterator[LocalEnvironment]:
    local = LocalEnvironment(
        tmp_path_factory.mktemp("local") / "env",
        progress=progress,
        database=database_url,
        queue=REDIS_URL,
    )
    try:
        yield local
    finally:
        local.delete()


def _connections(admin: Engine, database: str) -> int:
    """Sessions on the PostgreSQL `database` (the director's pool)."""
    with admin.connect() as connection:
        count: int = connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"),
            {"name": database},
        ).scalar_one()
    return count


def _queue_clients(client: redis.Redis) -> list[dict[str, str]]:
    """Redis connections on the test's database number, other than the test's own."""
    own = str(client.client_id())
    return [
        entry
        for entry in client.client_list()
        if entry["db"] == str(REDIS_DB) and entry["id"] != own
    ]


def test_up_runs_the_director_on_postgresql_and_redis(
    environment: LocalEnvironment,
    progress: Recorder,
    database_url: str,
    database_name: str,
    postgres_admin: Engine,
    redis_client: redis.Redis,
) -> None:
    environment.up()

    assert environment.running() == {"registry": True, "director": True}
    config = load_config(environment.directory / "director.yml")
    assert (config.db_url, config.queue_url) == (database_url, REDIS_URL)
    with environment.env().director() as director:
        assert director.info().name == "bosh-local"
    listed = run_bosh(environment, "--json", "tasks", "--recent")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    (table,) = json.loads(listed.stdout)["Tables"]
    assert {(row["description"], row["state"]) for row in table["Rows"]} == {
        ("create stemcell", "done"),
        ("create release", "done"),
        ("create deployment", "done"),
    }
    # The tasks are PostgreSQL's rows, and the workers wait on the Redis database.
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tasks")).scalar_one() == 3
    engine.dispose()
    assert _connections(postgres_admin, database_name) > 0
    assert _queue_clients(redis_client)
    assert any(line.startswith("Director database: postgresql") for line in progress.take())


def test_second_up_without_options_reuses_the_backends(
    environment: LocalEnvironment, progress: Recorder, database_url: str
) -> None:
    before = pids(environment)
    again = LocalEnvironment(environment.directory, progress=progress)
    again.up()

    assert pids(environment) == before
    config = load_config(environment.directory / "director.yml")
    assert (config.db_url, config.queue_url) == (database_url, REDIS_URL)
    lines = progress.take()
    assert "Release hello already uploaded" in lines
    assert not any(line.startswith(("Starting", "Making", "Building")) for line in lines)


@pytest.mark.parametrize(
    ("database", "queue"),
    [
        (f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/other", None),
        ("sqlite:////tmp/other.db", None),
        (None, f"redis://:{PASSWORD}@127.0.0.1:6379/9"),
    ],
)
def test_up_refuses_other_backends(
    environment: LocalEnvironment, database: str | None, queue: str | None
) -> None:
    state_before = (environment.directory / "state.json").read_text()
    other = LocalEnvironment(environment.directory, database=database, queue=queue)

    with pytest.raises(LocalEnvironmentError, match="bosh local delete") as refused:
        other.up()

    assert PASSWORD not in str(refused.value)
    assert (environment.directory / "state.json").read_text() == state_before


def test_cli_up_refuses_another_queue_without_showing_its_password(
    environment: LocalEnvironment,
) -> None:
    queue = f"redis://:{PASSWORD}@127.0.0.1:6379/9"
    result = run_bosh(
        environment, "local", "up", "--dir", str(environment.directory), "--queue", queue
    )

    assert result.returncode != 0
    assert "task queue is redis://127.0.0.1:6379/6, not redis://<redacted>@" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_up_refuses_a_backend_the_director_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(LocalEnvironmentError, match="redis:// or rediss://"):
        LocalEnvironment(tmp_path / "env", queue="amqp://guest:guest@127.0.0.1/")

    assert not (tmp_path / "env").exists()


def test_down_stops_every_process_and_connection(
    environment: LocalEnvironment,
    database_name: str,
    postgres_admin: Engine,
    redis_client: redis.Redis,
) -> None:
    groups = pids(environment)
    environment.down()

    assert all(group_members(group) == [] for group in groups.values())
    assert environment.running() == {"registry": False, "director": False}
    assert _eventually(lambda: _connections(postgres_admin, database_name) == 0)
    assert _eventually(lambda: not _queue_clients(redis_client))


def test_delete_leaves_the_database_as_it_is(
    environment: LocalEnvironment, progress: Recorder, database_url: str
) -> None:
    progress.take()
    environment.delete()

    assert not environment.directory.exists()
    assert any(line.startswith("Left the database postgresql") for line in progress.take())
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tasks")).scalar_one() == 3
    engine.dispose()
