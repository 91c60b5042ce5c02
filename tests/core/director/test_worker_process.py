"""``bosh-director worker`` as a real process: a worker killed with SIGKILL mid-task
leaves its task ``timeout`` (found by the next worker's sweeper), and tasks queued while
no worker runs are run by the next one; on SQLite with the database queue and on
PostgreSQL with the Redis queue."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bosh_core.director.api import Director, load_config
from bosh_core.director.api.auth import BasicAuthenticator
from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import Task
from bosh_core.director.locks import release_lock
from tests.core.director.release_tarballs import Tarballs

# A database of the machine's Redis that only this test uses: its queue keys are
# deleted before and after.
REDIS_URL = "redis://127.0.0.1:6379/7"


def _clear_redis_queue() -> bool:
    """Delete the queue's keys; False when Redis is not answering."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter("bosh:queue*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        return False
    finally:
        client.close()
    return True


@pytest.fixture(params=["sqlite+database-queue", "postgres+redis-queue"])
def config_path(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    lines = ["data_dir: data", "workers: 0", "task_checkpoint_interval: 1"]
    redis = request.param.endswith("redis-queue")
    if redis:
        if not _clear_redis_queue():
            pytest.skip(f"Redis is not answering at {REDIS_URL}")
        lines.append(f"db: {request.getfixturevalue('postgres_url')}")
        lines.append(f"queue: {REDIS_URL}")
    path = tmp_path / "director.yml"
    path.write_text("\n".join(lines) + "\n")
    yield path
    if redis:
        _clear_redis_queue()


@pytest.fixture
def director(config_path: Path) -> Iterator[Director]:
    config = load_config(config_path)
    database: Database = open_database(config.database_url)
    database.migrate()
    yield Director(config, database, BasicAuthenticator(()))
    database.dispose()


def _start_worker(config_path: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bosh_core.director.main", "worker", "-c", str(config_path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _state(database: Database, task_id: int) -> str:
    with database.read() as session:
        return str(session.scalar(select(Task.state).where(Task.id == task_id)))


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _queue_upload(director: Director, tarball: Path) -> int:
    copy = director.config.tmp_dir / f"{uuid.uuid4()}.tgz"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tarball, copy)
    return director.tasks.create(
        "update_release", "create release", {"tarball": str(copy)}, user="admin"
    )


def test_a_killed_worker_times_out_its_task_and_the_next_worker_runs_the_queue(
    config_path: Path, director: Director, tarballs: Tarballs
) -> None:
    database = director.database
    # The release lock is held elsewhere, so the first upload waits inside its task.
    holder = director.locks.acquire(release_lock("fixture"), task_id="elsewhere")
    stuck = _queue_upload(director, tarballs.v1)
    worker = _start_worker(config_path)
    try:
        _wait(lambda: _state(database, stuck) == "processing", "the task to start")
        worker.kill()
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate(timeout=10)
    holder.release()
    waiting = _queue_upload(director, tarballs.v1)
    assert _state(database, waiting) == "queued"

    # A new worker's sweeper finds the dead worker's job; the queued task is run.
    worker = _start_worker(config_path)
    try:
        _wait(lambda: _state(database, waiting) in ("done", "error"), "the queued task")
        _wait(lambda: _state(database, stuck) == "timeout", "the killed task to time out")
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
    assert _state(database, waiting) == "done", output
    assert worker.returncode == 0, output
    assert "Worker 0 stopped after 1 task(s)" in output
