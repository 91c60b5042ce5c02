"""``bosh-director worker`` as a real process: a worker killed with SIGKILL mid-task
leaves its task ``timeout`` (found by the next worker's sweeper, which removes what was
staged for it), a release lock it held expires and is taken over with nothing
half-written, and tasks queued while no worker runs are run by the next one; on SQLite
with the database queue and on PostgreSQL with the Redis queue."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bosh_core.director.api import Director, load_config
from bosh_core.director.api.auth import BasicAuthenticator
from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import (
    Lock,
    Package,
    Release,
    ReleaseVersion,
    Task,
    Template,
    utcnow,
)
from bosh_core.director.locks import release_lock
from bosh_core.director.tasks.runner import STAGED_FILES, STAGED_SUFFIX, task_scratch_dir
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


@contextlib.contextmanager
def _opened(config_path: Path) -> Iterator[Director]:
    config = load_config(config_path)
    database: Database = open_database(config.database_url)
    database.migrate()
    try:
        yield Director(config, database, BasicAuthenticator(()))
    finally:
        database.dispose()


@pytest.fixture
def director(config_path: Path) -> Iterator[Director]:
    with _opened(config_path) as director:
        yield director


class _Dav:
    """A dav blobstore served from this process. While `hold_puts` is in force a PUT
    is answered only after `let_go`, and then without storing its blob: a worker storing
    a blob waits inside its task for as long as the test wants."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.put_held = threading.Event()
        self._holding = False
        self._go = threading.Event()
        dav = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if dav._holding:
                    dav.put_held.set()
                    dav._go.wait(120)
                    self.close_connection = True
                    return
                dav.blobs[self._blob_id] = body
                self._answer(201)

            def do_GET(self) -> None:
                blob = dav.blobs.get(self._blob_id)
                self._answer(404) if blob is None else self._answer(200, blob)

            def do_HEAD(self) -> None:
                self._answer(200 if self._blob_id in dav.blobs else 404)

            def do_DELETE(self) -> None:
                dav.blobs.pop(self._blob_id, None)
                self._answer(204)

            @property
            def _blob_id(self) -> str:
                return self.path.rsplit("/", 1)[-1]

            def _answer(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def hold_puts(self) -> None:
        self._holding = True

    def let_go(self) -> None:
        self._holding = False
        self._go.set()

    def __enter__(self) -> _Dav:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.let_go()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def dav() -> Iterator[_Dav]:
    with _Dav() as server:
        yield server


@pytest.fixture
def dav_director(config_path: Path, dav: _Dav) -> Iterator[Director]:
    """A director whose blobstore is `dav` (the workers read the same config file)."""
    with config_path.open("a") as stream:
        stream.write(f"blobstore: {{provider: dav, options: {{endpoint: '{dav.endpoint}'}}}}\n")
    with _opened(config_path) as director:
        yield director


def _start_worker(config_path: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bosh_core.director.main", "worker", "-c", str(config_path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _state(database: Database, task_id: int) -> str:
    return _state_and_result(database, task_id)[0]


def _state_and_result(database: Database, task_id: int) -> tuple[str, str | None]:
    with database.read() as session:
        state, result = session.execute(
            select(Task.state, Task.result).where(Task.id == task_id)
        ).one()
        return state, result


def _stages(director: Director, task_id: int) -> list[tuple[str, str]]:
    """The (stage, state) of each complete line of the task's event log so far."""
    text = (director.config.tasks_dir / str(task_id) / "event").read_text()
    events = [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]
    return [(event["stage"], event["state"]) for event in events if "stage" in event]


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _queue_upload(director: Director, tarball: Path) -> tuple[int, Path]:
    """Queue the upload of `tarball` as ``POST /releases`` does: a staged copy in the
    scratch directory that the task owns. Its id and the staged copy."""
    scratch = director.config.tmp_dir
    scratch.mkdir(parents=True, exist_ok=True)
    with (
        tarball.open("rb") as source,
        tempfile.NamedTemporaryFile(
            prefix="release-upload-", suffix=STAGED_SUFFIX, dir=scratch, delete=False
        ) as staged,
    ):
        shutil.copyfileobj(source, staged)
    payload = {"tarball": staged.name, STAGED_FILES: [staged.name]}
    task_id = director.tasks.create("update_release", "create release", payload, user="admin")
    return task_id, Path(staged.name)


def test_a_killed_worker_times_out_its_task_and_the_next_worker_runs_the_queue(
    config_path: Path, director: Director, tarballs: Tarballs
) -> None:
    database = director.database
    # The release lock is held elsewhere, so the first upload waits inside its task.
    holder = director.locks.acquire(release_lock("fixture"), task_id="elsewhere")
    stuck, _ = _queue_upload(director, tarballs.v1)
    worker = _start_worker(config_path)
    try:
        _wait(lambda: _state(database, stuck) == "processing", "the task to start")
        worker.kill()
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate(timeout=10)
    holder.release()
    waiting, _ = _queue_upload(director, tarballs.v1)
    assert _state(database, waiting) == "queued"

    # A new worker's sweeper finds the dead worker's job; the queued task is run.
    scratch = director.config.tmp_dir
    worker = _start_worker(config_path)
    try:
        _wait(lambda: _state(database, waiting) in ("done", "error"), "the queued task")
        _wait(lambda: _state(database, stuck) == "timeout", "the killed task to time out")
        # Its staged tarball and its unpacked release go with it.
        _wait(lambda: not any(scratch.iterdir()), "the killed task's files to be removed")
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
    assert _state(database, waiting) == "done", output
    assert worker.returncode == 0, output
    assert "Worker 0 stopped after 1 task(s)" in output


def test_a_worker_killed_holding_the_release_lock_leaves_it_to_expire_and_nothing_behind(
    config_path: Path, dav_director: Director, dav: _Dav, tarballs: Tarballs
) -> None:
    director = dav_director
    database = director.database
    lock = release_lock("fixture")
    scratch = director.config.tmp_dir

    # The first upload stops at its first package's PUT, under the release's lock.
    dav.hold_puts()
    killed, staged = _queue_upload(director, tarballs.v1)
    worker = _start_worker(config_path)
    try:
        assert dav.put_held.wait(30), "the upload never stored a package"
        assert ("Creating new packages", "started") in _stages(director, killed)
        held = director.locks.get(lock)
        assert held is not None and held.task_id == str(killed)
        worker.kill()
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.communicate(timeout=10)
    dav.let_go()
    # The dead worker released nothing: its task runs, its lock holds, its files stay.
    assert _state(database, killed) == "processing"
    held = director.locks.get(lock)
    assert held is not None and held.task_id == str(killed) and held.expired_at > utcnow()
    assert staged.exists() and task_scratch_dir(scratch, killed).exists()

    retry, _ = _queue_upload(director, tarballs.v1)
    worker = _start_worker(config_path)
    try:
        # The new worker's sweeper times out the killed task and removes its files.
        _wait(lambda: _state(database, killed) == "timeout", "the killed task to time out")
        _wait(
            lambda: not staged.exists() and not task_scratch_dir(scratch, killed).exists(),
            "the killed task's staged tarball and scratch directory to be removed",
        )
        # The retry waits for the lock, which the dead worker's task holds until it expires.
        _wait(
            lambda: ("Verifying manifest", "finished") in _stages(director, retry),
            "the retry to reach the release lock",
        )
        time.sleep(1.5)  # three of the lock's polls
        assert _state(database, retry) == "processing"
        assert ("Resolving package dependencies", "started") not in _stages(director, retry)
        held = director.locks.get(lock)
        assert held is not None and held.task_id == str(killed)
        # Its 240 s (locks.DEFAULT_EXPIRATION, not configurable) have passed: the row is
        # moved past its expiry, not removed, so the retry must take it over.
        with database.write() as session:
            session.execute(
                update(Lock)
                .where(Lock.name == lock, Lock.task_id == str(killed))
                .values(expired_at=utcnow() - dt.timedelta(seconds=1))
            )
        _wait(lambda: _state(database, retry) in ("done", "error"), "the retry to end")
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, output
    assert "Worker 0 stopped after 1 task(s)" in output

    done = _state_and_result(database, retry)
    assert done == ("done", "Created release 'fixture/0+dev.1'"), output
    timed_out = _state_and_result(database, killed)
    assert timed_out == ("timeout", "task timed out: its worker stopped")
    assert director.locks.get(lock) is None
    # One complete release version; every blob stored is one of its rows'.
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Release)) == 1
        [version] = session.scalars(select(ReleaseVersion)).all()
        assert (version.version, version.update_completed) == ("0+dev.1", True)
        blob_ids = {package.blobstore_id for package in session.scalars(select(Package))}
        blob_ids |= {job.blobstore_id for job in session.scalars(select(Template))}
        assert len(version.packages) == 2 and len(version.templates) == 2
    assert set(dav.blobs) == blob_ids
    assert list(scratch.iterdir()) == []
