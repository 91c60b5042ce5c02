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
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
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
    "JobContext",
    "JobFunction",
    "TaskQueuer",
    "TaskRunner",
    "TaskSweeper",
    "is_stale",
    "mark_stale_timeouts",
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
    ) -> None:
        self._database = database
        self._functions = dict(functions)
        self._checkpoint_interval = checkpoint_interval

    @property
    def job_types(self) -> Sequence[str]:
        return tuple(self._functions)

    def handlers(self) -> dict[str, Callable[[Job], None]]:
        """`Worker` handlers: every task type served by `run`."""
        return dict.fromkeys(self._functions, self.run)

    def run_unknown(self, job: Job) -> None:
        """A `Worker`'s fallback: a task of a type this director does not run ends in
        ``error`` at once (a client following it would otherwise wait forever)."""
        if self._start(job.task_id) is not None:
            message = f"This director cannot run tasks of type '{job.job_type}'"
            _log.error("task %d: %s", job.task_id, message)
            self._finish(job.task_id, "error", message)

    def run(self, job: Job) -> None:
        """Run `job`'s task to its end state (never raises for the job's own failures)."""
        started = self._start(job.task_id)
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

    def _start(self, task_id: int) -> tuple[str, str | None, Path] | None:
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
    """Whether `task` runs without a checkpoint for six intervals (its worker is gone);
    a task without any checkpoint time is not judged, as the reference does not."""
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


class TaskSweeper:
    """Every `interval` seconds, takes back the jobs of workers that stopped
    heartbeating and marks their tasks ``timeout``, as it does running tasks whose
    checkpoint is stale (`mark_stale_timeouts`)."""

    def __init__(
        self,
        database: Database,
        queue: TaskQueue,
        *,
        interval: float = 10.0,
        checkpoint_interval: float = CHECKPOINT_INTERVAL,
    ) -> None:
        self._database = database
        self._queue = queue
        self._interval = interval
        self._checkpoint_interval = checkpoint_interval
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> list[int]:
        """One round; the ids of the tasks whose jobs were taken back and marked
        ``timeout`` (tasks without a checkpoint for too long are marked too)."""
        mark_stale_timeouts(self._database, checkpoint_interval=self._checkpoint_interval)
        task_ids = [reserved.job.task_id for reserved in self._queue.recover_expired()]
        if not task_ids:
            return []
        with self._database.write() as session:
            session.execute(
                update(Task)
                .where(Task.id.in_(task_ids))
                .where(Task.state.in_(("queued", "processing", "cancelling")))
                .values(
                    state="timeout", result="task timed out: its worker stopped", timestamp=utcnow()
                )
            )
        for task_id in task_ids:
            _log.warning("task %d timed out: its worker stopped heartbeating", task_id)
        return task_ids

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
