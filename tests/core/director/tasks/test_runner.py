"""Tasks queued, run by a worker to their end state, cancelled at checkpoints, and
timed out when their worker dies, what was staged for them removed when they never run
or their worker dies; on SQLite and PostgreSQL with the database queue."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bosh_core.director.db import Database
from bosh_core.director.db.models import Task, utcnow
from bosh_core.director.errors import ReleaseInvalidArchiveError
from bosh_core.director.queue import Worker
from bosh_core.director.queue.database import DatabaseTaskQueue
from bosh_core.director.tasks.runner import (
    STAGED_FILES,
    JobContext,
    TaskQueuer,
    TaskRunner,
    TaskSweeper,
    mark_stale_timeouts,
    task_scratch_dir,
)


def _succeed(context: JobContext, payload: Mapping[str, Any]) -> str:
    with context.event_log.single_step("Saying hello"):
        context.output.write_result(json.dumps(payload) + "\n")
    return "x" * 200


def _fail(context: JobContext, payload: Mapping[str, Any]) -> str:
    raise ReleaseInvalidArchiveError("Extracting release archive failed")


def _crash(context: JobContext, payload: Mapping[str, Any]) -> str:
    raise RuntimeError("an unexpected bug")


class _Blocking:
    """A job that waits, checkpointing, until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, context: JobContext, payload: Mapping[str, Any]) -> str:
        self.started.set()
        while not self.release.wait(0.02):
            context.checkpoint()
        return "released"


@pytest.fixture
def queue(database: Database) -> DatabaseTaskQueue:
    return DatabaseTaskQueue(database, lease_seconds=0.5, poll_interval=0.02)


@pytest.fixture
def queuer(database: Database, queue: DatabaseTaskQueue, tmp_path: Path) -> TaskQueuer:
    return TaskQueuer(database, queue, tmp_path / "tasks")


def _worker(database: Database, queue: DatabaseTaskQueue, **functions: Any) -> Worker:
    runner = TaskRunner(database, functions, checkpoint_interval=0.05)
    return Worker(queue, runner.handlers(), worker_id="test-worker", poll_timeout=0.05)


def _task(database: Database, task_id: int) -> Task:
    with database.read() as session:
        task = session.get(Task, task_id)
        assert task is not None
        session.expunge(task)
        return task


def _staged(scratch: Path, name: str, *, age: float = 0) -> Path:
    """A file staged in `scratch`, last written `age` seconds ago."""
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / name
    path.write_bytes(b"tarball")
    _age(path, age)
    return path


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _events(task: Task) -> list[dict[str, Any]]:
    text = (Path(task.output or "") / "event").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_a_task_runs_to_done_with_its_result_cut_to_128_characters(
    database: Database, queue: DatabaseTaskQueue, queuer: TaskQueuer
) -> None:
    task_id = queuer.create("hello", "say hello", {"to": "you"}, user="ops", deployment="d")
    queued = _task(database, task_id)
    assert (queued.state, queued.username, queued.deployment_name) == ("queued", "ops", "d")
    assert (Path(queued.output or "") / "event").exists()

    assert _worker(database, queue, hello=_succeed).run_once(timeout=2) is not None

    task = _task(database, task_id)
    assert task.state == "done"
    assert task.result == "x" * 128
    assert task.started_at is not None and task.timestamp is not None
    assert [(e["stage"], e["state"]) for e in _events(task)] == [
        ("Saying hello", "started"),
        ("Saying hello", "finished"),
    ]
    assert (Path(task.output or "") / "result").read_text() == '{"to": "you"}\n'
    assert queue.pending("normal") == 0


@pytest.mark.parametrize(
    ("function", "code", "message"),
    [
        (_fail, 30002, "Extracting release archive failed"),
        (_crash, 100, "an unexpected bug"),
    ],
)
def test_a_failing_task_ends_in_error_with_the_error_line(
    database: Database,
    queue: DatabaseTaskQueue,
    queuer: TaskQueuer,
    function: Any,
    code: int,
    message: str,
) -> None:
    task_id = queuer.create("broken", "break", {}, user="admin")
    _worker(database, queue, broken=function).run_once(timeout=2)
    task = _task(database, task_id)
    assert (task.state, task.result) == ("error", message)
    assert _events(task)[-1]["error"] == {"code": code, "message": message}


def test_cancel_takes_effect_at_the_next_checkpoint(
    database: Database, queue: DatabaseTaskQueue, queuer: TaskQueuer
) -> None:
    blocking = _Blocking()
    task_id = queuer.create("wait", "wait", {}, user="admin")
    worker = _worker(database, queue, wait=blocking)
    thread = threading.Thread(target=worker.run_once, kwargs={"timeout": 2})
    thread.start()
    assert blocking.started.wait(5)
    assert _task(database, task_id).state == "processing"
    with database.write() as session:
        session.execute(update(Task).where(Task.id == task_id).values(state="cancelling"))
    thread.join(5)
    assert not thread.is_alive()
    task = _task(database, task_id)
    assert (task.state, task.result) == ("cancelled", "task cancelled")


def test_a_task_cancelled_while_queued_never_runs_and_its_staged_files_go(
    database: Database, queue: DatabaseTaskQueue, queuer: TaskQueuer, tmp_path: Path
) -> None:
    ran: list[int] = []
    tarball = _staged(tmp_path / "tmp", "release-upload-1.staged")
    payload = {"tarball": str(tarball), STAGED_FILES: [str(tarball)]}
    task_id = queuer.create("hello", "say hello", payload, user="admin")
    with database.write() as session:
        session.execute(update(Task).where(Task.id == task_id).values(state="cancelling"))
    _worker(database, queue, hello=lambda context, payload: ran.append(1) or "").run_once(timeout=2)
    assert ran == []
    assert _task(database, task_id).state == "cancelled"
    assert not tarball.exists()


@pytest.mark.parametrize("job_type", ["hello", "failing", "unknown"])
def test_what_was_staged_for_a_task_goes_however_it_ends(
    database: Database, queue: DatabaseTaskQueue, queuer: TaskQueuer, tmp_path: Path, job_type: str
) -> None:
    scratch = tmp_path / "tmp"
    tarball = _staged(scratch, "release-upload-1.staged")
    task_id = queuer.create(job_type, "a task", {STAGED_FILES: [str(tarball)]}, user="admin")

    def unpacking(context: JobContext, payload: Mapping[str, Any]) -> str:
        (task_scratch_dir(scratch, context.task_id) / "unpacked").mkdir(parents=True)
        if job_type == "failing":
            raise RuntimeError("broken tarball")
        return "done"

    runner = TaskRunner(database, {"hello": unpacking, "failing": unpacking}, scratch_dir=scratch)
    worker = Worker(
        queue, runner.handlers(), worker_id="w", poll_timeout=0.05, fallback=runner.run_unknown
    )
    worker.run_once(timeout=2)
    assert _task(database, task_id).state == ("done" if job_type == "hello" else "error")
    assert list(scratch.iterdir()) == []


def test_the_sweeper_times_out_the_task_of_a_worker_that_stopped_heartbeating(
    database: Database, queue: DatabaseTaskQueue, queuer: TaskQueuer, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    tarball = _staged(scratch, "release-upload-1.staged")
    task_id = queuer.create("hello", "say hello", {STAGED_FILES: [str(tarball)]}, user="admin")
    # A worker reserves the job, marks the task processing, starts unpacking into the
    # task's scratch directory, then dies: no heartbeat.
    reserved = queue.reserve(["normal"], worker_id="dead-worker", timeout=1)
    assert reserved is not None
    with database.write() as session:
        session.execute(update(Task).where(Task.id == task_id).values(state="processing"))
    unpacked = task_scratch_dir(scratch, task_id) / "upload-release-x" / "release.MF"
    unpacked.parent.mkdir(parents=True)
    unpacked.write_text("name: fixture\n")
    sweeper = TaskSweeper(database, queue, scratch_dir=scratch)
    assert sweeper.sweep() == []  # the lease still runs
    assert tarball.exists() and unpacked.exists()
    threading.Event().wait(0.7)
    assert sweeper.sweep() == [task_id]
    task = _task(database, task_id)
    assert (task.state, task.result) == ("timeout", "task timed out: its worker stopped")
    assert queue.pending("normal") == 0
    assert list(scratch.iterdir()) == []


def test_the_sweeper_removes_old_staged_entries_that_no_live_task_can_own(
    database: Database, queue: DatabaseTaskQueue, queuer: TaskQueuer, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    hour = 3600.0
    live = queuer.create("hello", "queued now", {}, user="admin")
    ended = queuer.create("hello", "done", {}, user="admin")
    with database.write() as session:
        session.execute(update(Task).where(Task.id == ended).values(state="done"))
    # An upload staged two hours ago whose task was never queued (or whose job was lost),
    # one being received now, the scratch directories of three tasks, a file of others.
    orphan = _staged(scratch, "release-upload-old.staged", age=2 * hour)
    receiving = _staged(scratch, "release-upload-new.staged")
    other = _staged(scratch, "resource-1234", age=2 * hour)
    directories = {}
    for task_id in (live, ended, ended + 100):
        directory = task_scratch_dir(scratch, task_id)
        (directory / "unpacked").mkdir(parents=True)
        _age(directory, 2 * hour)
        directories[task_id] = directory
    sweeper = TaskSweeper(database, queue, scratch_dir=scratch, orphan_age=hour)

    # The queued task was queued after the old upload was staged: it may own it.
    assert sorted(sweeper.remove_orphans()) == sorted(
        [directories[ended], directories[ended + 100]]
    )
    # Once the only live task is older than the upload, nothing can own it.
    with database.write() as session:
        session.execute(
            update(Task)
            .where(Task.id == live)
            .values(timestamp=utcnow() - dt.timedelta(seconds=3 * hour))
        )
    assert sweeper.remove_orphans() == [orphan]
    # A task's scratch directory lives as long as its task.
    with database.write() as session:
        session.execute(update(Task).where(Task.id == live).values(state="cancelling"))
    assert sweeper.remove_orphans() == []
    with database.write() as session:
        session.execute(update(Task).where(Task.id == live).values(state="cancelled"))
    assert sweeper.sweep() == []
    assert sorted(scratch.iterdir()) == sorted([receiving, other])


def test_stale_running_tasks_are_marked_timeout(database: Database, queuer: TaskQueuer) -> None:
    stale = queuer.create("hello", "old", {}, user="admin")
    fresh = queuer.create("hello", "new", {}, user="admin")
    with database.write() as session:
        session.execute(
            update(Task)
            .where(Task.id == stale)
            .values(state="processing", checkpoint_time=utcnow() - dt.timedelta(seconds=200))
        )
        session.execute(update(Task).where(Task.id == fresh).values(state="processing"))
    assert mark_stale_timeouts(database) == 1
    assert _task(database, stale).state == "timeout"
    assert _task(database, fresh).state == "processing"


def test_a_task_of_an_unknown_type_ends_in_error(
    database: Database, queue: DatabaseTaskQueue, queuer: TaskQueuer
) -> None:
    task_id = queuer.create("mystery", "do something new", {}, user="admin")
    runner = TaskRunner(database, {"hello": _succeed})
    worker = Worker(queue, runner.handlers(), worker_id="w", fallback=runner.run_unknown)
    worker.run_once(timeout=2)
    task = _task(database, task_id)
    assert (task.state, task.result) == (
        "error",
        "This director cannot run tasks of type 'mystery'",
    )
