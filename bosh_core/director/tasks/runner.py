"""Running tasks: queue them, run them in workers, and see to the ones whose worker died.

A task is a row (state, description, user, deployment, outputs directory) and a queued
job naming its row. `TaskQueuer.create` writes the row, then queues the job; a worker
hands the job to `TaskRunner.run`, which does what the reference's ``JobRunner`` does:

- ``queued`` → ``processing`` with ``started_at`` and ``checkpoint_time`` set, while a
  thread renews ``checkpoint_time`` every `checkpoint_interval` seconds;
- the job function runs with a `JobContext`: its event log, debug log capture, result
  writer and `JobContext.checkpoint`, which raises `TaskCancelledError` once the task
  is ``cancelling`` (cancel takes effect at checkpoints, as in BOSH);
- it ends ``done`` with the function's result text, ``cancelled`` ("task cancelled"),
  or ``error`` with the message, also written as the event log's error line. Results
  are cut to 128 characters as the reference cuts them.

A job picked up while its task is already ``cancelling`` ends ``cancelled`` without
running. A task whose worker stops heartbeating (killed, machine gone) is found by
`TaskSweeper` once its lease runs out and is marked ``timeout``; its locks expire by
themselves. The sweeper also applies the reference's rule (which it applies lazily on
reads): a task in ``processing``/``cancelling`` without a checkpoint for six intervals
is ``timeout``.

Files staged for a task belong to it. An upload's tarball, written before its task is
queued, is listed in the payload under `STAGED_FILES`; what a running task writes for
itself goes under `task_scratch_dir`. Both are named ``*.staged`` in the director's
scratch directory. The `TaskRunner` removes them when it is done with the task, however
it ended (run, cancelled while queued, of an unknown type); the sweeper removes those of
the jobs it takes back from dead workers, and, as a last resort, any ``*.staged`` entry older
than `ORPHAN_AGE` that no live task can own (the server died between staging an upload
and queuing its task, or a queue lost its jobs).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import attrs
from sqlalchemy import select, update

from bosh_core.director.db import Database
from bosh_core.director.db.models import Task, utcnow
from bosh_core.director.errors import TaskCancelledError
from bosh_core.director.queue import Job, TaskQueue
from bosh_core.director.tasks.events import EventLog
from bosh_core.director.tasks.output import TaskOutput

__all__ = [
    "CHECKPOINT_INTERVAL",
    "ORPHAN_AGE",
    "STAGED_FILES",
    "STAGED_SUFFIX",
    "JobContext",
    "JobFunction",
    "TaskQueuer",
    "TaskRunner",
    "TaskSweeper",
    "discard_staged",
    "discard_staged_files",
    "is_stale",
    "mark_stale_timeouts",
    "task_scratch_dir",
]

_log = logging.getLogger(__name__)

#: Seconds between checkpoint-time renewals of a running task (the reference's).
CHECKPOINT_INTERVAL: Final = 30.0
#: A running task with no checkpoint for this many intervals has timed out.
_STALE_INTERVALS: Final = 6
#: The reference keeps this much of a task's result text in the task row.
_RESULT_LIMIT: Final = 128
_CANCELLED_STATES: Final = ("cancelling", "cancelled", "timeout")


@attrs.frozen
class JobContext:
    """What a job function gets besides its payload."""

    task_id: int
    user: str
    deployment: str | None
    output: TaskOutput
    checkpoint: Callable[[], None]

    @property
    def event_log(self) -> EventLog:
        return self.output.event_log()


#: A task type's implementation: runs the job and returns the task's result text.
JobFunction = Callable[[JobContext, Mapping[str, Any]], str]


class TaskQueuer:
    """Creates task rows and queues their jobs."""

    def __init__(self, database: Database, queue: TaskQueue, tasks_dir: Path) -> None:
        self._database = database
        self._queue = queue
        self._tasks_dir = tasks_dir

    def create(
        self,
        job_type: str,
        description: str,
        payload: Mapping[str, Any],
        *,
        user: str,
        deployment: str | None = None,
        context_id: str = "",
        queue: str = "normal",
    ) -> int:
        """A new ``queued`` task whose job is queued on `queue`; its id."""
        now = utcnow()
        with self._database.write() as session:
            task = Task(
                state="queued",
                type=job_type,
                description=description,
                username=user,
                deployment_name=deployment,
                context_id=context_id,
                timestamp=now,
                checkpoint_time=now,
            )
            session.add(task)
            session.flush()
            task.output = str(self._tasks_dir / str(task.id))
            task_id = task.id
        TaskOutput(self._tasks_dir / str(task_id)).close()
        self._queue.enqueue(task_id, job_type, payload, queue=queue)
        return task_id


class TaskRunner:
    """The worker's handler for every task type in `functions` (type → function)."""

    def __init__(
        self,
        database: Database,
        functions: Mapping[str, JobFunction],
        *,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
        scratch_dir: Path | None = None,
    ) -> None:
        self._database = database
        self._functions = dict(functions)
        self._checkpoint_interval = checkpoint_interval
        self._scratch_dir = scratch_dir

    @property
    def job_types(self) -> Sequence[str]:
        return tuple(self._functions)

    def handlers(self) -> dict[str, Callable[[Job], None]]:
        """`Worker` handlers: every task type served by `run`."""
        return dict.fromkeys(self._functions, self.run)

    def run_unknown(self, job: Job) -> None:
        """A `Worker`'s fallback: a task of a type this director does not run ends in
        ``error`` at once (a client following it would otherwise wait forever)."""
        try:
            if self._start(job) is not None:
                message = f"This director cannot run tasks of type '{job.job_type}'"
                _log.error("task %d: %s", job.task_id, message)
                self._finish(job.task_id, "error", message)
        finally:
            discard_staged(job, self._scratch_dir)

    def run(self, job: Job) -> None:
        """Run `job`'s task to its end state (never raises for the job's own failures);
        whatever happens, what was staged for it is removed."""
        try:
            self._run(job)
        finally:
            discard_staged(job, self._scratch_dir)

    def _run(self, job: Job) -> None:
        started = self._start(job)
        if started is None:
            return
        user, deployment, directory = started
        output = TaskOutput(directory)
        renewer = _CheckpointRenewer(self._database, job.task_id, self._checkpoint_interval)
        context = JobContext(
            task_id=job.task_id,
            user=user,
            deployment=deployment,
            output=output,
            checkpoint=lambda: self._checkpoint(job.task_id),
        )
        renewer.start()
        try:
            with output.capture_debug():
                state, result = self._perform(job, context)
        finally:
            renewer.stop()
            output.close()
        self._finish(job.task_id, state, result)

    def _perform(self, job: Job, context: JobContext) -> tuple[str, str]:
        function = self._functions[job.job_type]
        try:
            context.checkpoint()
            return "done", function(context, job.payload)
        except TaskCancelledError:
            return "cancelled", "task cancelled"
        except Exception as error:
            if not getattr(error, "error_code", None):
                _log.exception("task %d (%s) failed", job.task_id, job.job_type)
            context.event_log.log_error(error)
            return "error", str(error)

    def _start(self, job: Job) -> tuple[str, str | None, Path] | None:
        task_id = job.task_id
        with self._database.write() as session:
            task = session.get(Task, task_id, with_for_update=True)
            if task is None:
                _log.error("a queued job names task %d, which does not exist", task_id)
                return None
            if task.state in _CANCELLED_STATES:
                task.state = "cancelled"
                task.result = "task cancelled"
                task.timestamp = utcnow()
                return None
            if task.state != "queued":
                _log.warning("task %d is %s, not queued: not running it again", task_id, task.state)
                return None
            now = utcnow()
            task.state = "processing"
            task.started_at = now
            task.timestamp = now
            task.checkpoint_time = now
            return task.username, task.deployment_name, Path(task.output or "")

    def _checkpoint(self, task_id: int) -> None:
        with self._database.read() as session:
            state = session.scalar(select(Task.state).where(Task.id == task_id))
        if state in _CANCELLED_STATES:
            raise TaskCancelledError(f"Task {task_id} cancelled")

    def _finish(self, task_id: int, state: str, result: str) -> None:
        with self._database.write() as session:
            session.execute(
                update(Task)
                .where(Task.id == task_id)
                .values(state=state, result=result[:_RESULT_LIMIT], timestamp=utcnow())
            )


class _CheckpointRenewer:
    """Renews a running task's ``checkpoint_time`` from its own thread."""

    def __init__(self, database: Database, task_id: int, interval: float) -> None:
        self._database = database
        self._task_id = task_id
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, name=f"checkpoint-{task_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._done.wait(self._interval):
            try:
                with self._database.write() as session:
                    session.execute(
                        update(Task)
                        .where(Task.id == self._task_id)
                        .values(checkpoint_time=utcnow())
                    )
            except Exception:
                _log.exception("renewing the checkpoint of task %d failed", self._task_id)


_RUNNING_STATES: Final = ("processing", "cancelling")


def _stale_before(checkpoint_interval: float) -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=_STALE_INTERVALS * checkpoint_interval)


def is_stale(task: Task, *, checkpoint_interval: float = CHECKPOINT_INTERVAL) -> bool:
    """Whether `task` runs without a checkpoint for six intervals (its worker is gone).
    Every task gets a checkpoint time when queued; one without (a row made otherwise) is
    not judged (the reference gives it one when read and judges it later)."""
    return (
        task.state in _RUNNING_STATES
        and task.checkpoint_time is not None
        and task.checkpoint_time < _stale_before(checkpoint_interval)
    )


def mark_stale_timeouts(
    database: Database, *, checkpoint_interval: float = CHECKPOINT_INTERVAL
) -> int:
    """Mark ``timeout`` every stale task (`is_stale`); how many were marked."""
    limit = _stale_before(checkpoint_interval)
    with database.write() as session:
        marked = session.execute(
            update(Task)
            .where(Task.state.in_(_RUNNING_STATES))
            .where(Task.checkpoint_time < limit)
            .values(state="timeout", timestamp=utcnow())
        )
        return int(getattr(marked, "rowcount", 0))


# --- staged files -----------------------------------------------------------------

#: The payload key listing the files staged for a task before it was queued (paths).
STAGED_FILES: Final = "staged_files"
#: How the names of staged files and task scratch directories end.
STAGED_SUFFIX: Final = ".staged"
#: Seconds after which the sweeper removes a staged entry that no live task can own.
ORPHAN_AGE: Final = 3600.0
#: Leeway between a file's modification time and a task's timestamp (clocks, rounding).
_CLOCK_LEEWAY: Final = 60.0
_TASK_SCRATCH: Final = re.compile(r"task-(\d+)" + re.escape(STAGED_SUFFIX))
_LIVE_STATES: Final = ("queued", *_RUNNING_STATES)


def task_scratch_dir(scratch_dir: Path, task_id: int) -> Path:
    """Where task `task_id` keeps its own files under the director's `scratch_dir`
    (downloads, unpacked archives); the caller makes it."""
    return scratch_dir / f"task-{task_id}{STAGED_SUFFIX}"


def discard_staged_files(payload: Mapping[str, Any]) -> None:
    """Remove the files `payload` lists under `STAGED_FILES` (those already gone are
    fine: every path that ends a task may try)."""
    for path in payload.get(STAGED_FILES) or ():
        _remove(Path(path))


def discard_staged(job: Job, scratch_dir: Path | None) -> None:
    """Remove everything staged for `job`'s task: the files its payload lists, and its
    scratch directory under the director's `scratch_dir` (when given)."""
    discard_staged_files(job.payload)
    if scratch_dir is not None:
        _remove(task_scratch_dir(scratch_dir, job.task_id))


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except FileNotFoundError:
        pass
    except OSError as error:
        _log.warning("cannot remove staged %s: %s", path, error)


def _staged_entries(scratch_dir: Path) -> list[Path]:
    try:
        return [entry for entry in scratch_dir.iterdir() if entry.name.endswith(STAGED_SUFFIX)]
    except FileNotFoundError:
        return []


def _modified(path: Path) -> float | None:
    """`path`'s modification time; None once it is gone."""
    try:
        return path.lstat().st_mtime
    except FileNotFoundError:
        return None


class TaskSweeper:
    """Every `interval` seconds, takes back the jobs of workers that stopped
    heartbeating and marks their tasks ``timeout``, as it does running tasks whose
    checkpoint is stale (`mark_stale_timeouts`); with the director's `scratch_dir` it
    also removes what was staged for the tasks of those jobs, and orphaned staged
    entries older than `orphan_age` seconds (`remove_orphans`)."""

    def __init__(
        self,
        database: Database,
        queue: TaskQueue,
        *,
        interval: float = 10.0,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
        scratch_dir: Path | None = None,
        orphan_age: float = ORPHAN_AGE,
    ) -> None:
        self._database = database
        self._queue = queue
        self._interval = interval
        self._checkpoint_interval = checkpoint_interval
        self._scratch_dir = scratch_dir
        self._orphan_age = orphan_age
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> list[int]:
        """One round; the ids of the tasks whose jobs were taken back and marked
        ``timeout`` (tasks without a checkpoint for too long are marked too)."""
        mark_stale_timeouts(self._database, checkpoint_interval=self._checkpoint_interval)
        jobs = [reserved.job for reserved in self._queue.recover_expired()]
        task_ids = [job.task_id for job in jobs]
        if task_ids:
            with self._database.write() as session:
                session.execute(
                    update(Task)
                    .where(Task.id.in_(task_ids))
                    .where(Task.state.in_(_LIVE_STATES))
                    .values(
                        state="timeout",
                        result="task timed out: its worker stopped",
                        timestamp=utcnow(),
                    )
                )
        for job in jobs:
            _log.warning("task %d timed out: its worker stopped heartbeating", job.task_id)
            discard_staged(job, self._scratch_dir)
        if self._scratch_dir is not None:
            self.remove_orphans()
        return task_ids

    def remove_orphans(self) -> list[Path]:
        """Remove the ``*.staged`` entries of the scratch directory untouched for
        `orphan_age` seconds that no live (queued, processing, cancelling) task can own;
        the paths removed.

        A task's scratch directory names its task. An upload's file names none, but it
        was written just before its task was queued, so its owner, while live, has a
        timestamp (queued, then started) no older than the file: a file older than every
        live task's timestamp has no live owner.
        """
        if self._scratch_dir is None:
            return []
        cutoff = time.time() - self._orphan_age
        old = [
            (entry, modified)
            for entry in _staged_entries(self._scratch_dir)
            if (modified := _modified(entry)) is not None and modified < cutoff
        ]
        if not old:
            return []
        with self._database.read() as session:
            rows = session.execute(
                select(Task.id, Task.timestamp).where(Task.state.in_(_LIVE_STATES))
            ).all()
        live: dict[int, dt.datetime | None] = dict(rows)
        newest = max(
            (float("inf") if stamp is None else stamp.timestamp() for stamp in live.values()),
            default=None,
        )
        removed = []
        for entry, modified in old:
            task = _TASK_SCRATCH.fullmatch(entry.name)
            if task is not None:
                owned = int(task[1]) in live
            else:
                owned = newest is not None and newest >= modified - _CLOCK_LEEWAY
            if not owned:
                _log.warning("removing %s: staged for a task that has ended or never was", entry)
                _remove(entry)
                removed.append(entry)
        return removed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="task-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self.sweep()
            except Exception:
                _log.exception("sweeping expired task leases failed")
