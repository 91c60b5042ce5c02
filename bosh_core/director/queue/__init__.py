"""The director's task queue: one interface, a Redis and (later) a database backend.

A *job* says which task to run (``task_id``, ``job_type``, ``payload``); the task row
itself, its state and outputs live in the database and are not the queue's concern.

Delivery is at-least-once with leases. ``reserve`` hands a job to one worker and starts
a lease of ``lease_seconds``; the worker renews it with ``heartbeat`` while it runs the
job and ends it with ``complete`` (done, whatever the task's outcome) or ``release``
(give it back to the front of its queue). A worker that dies stops renewing: once the
lease has run out, ``recover_expired`` takes the job back and reports it, so the
director marks its task ``timeout`` as BOSH does (or, with ``requeue=True``, puts it
back). A worker still running a job whose lease was taken back learns it from
``heartbeat``/``complete``, which raise `ReservationLostError`.

The interface fits a database table as well as Redis lists: one row per job with
``queue``, ``enqueued_at``, ``worker_id`` and ``lease_expires_at`` columns; ``reserve``
is ``SELECT ... WHERE worker_id IS NULL AND queue IN (...) ORDER BY <queue priority>,
id LIMIT 1 FOR UPDATE SKIP LOCKED`` then an ``UPDATE`` that sets the lease (SQLite: one
``UPDATE ... RETURNING`` under its single writer); ``heartbeat``/``complete``/``release``
are ``UPDATE``/``DELETE`` ``WHERE id = ? AND worker_id = ?`` whose row count says
whether the reservation still stands; ``recover_expired`` selects rows whose lease is
past. `Reserved.token` carries the backend's handle (the Redis message, a row id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import attrs

from bosh_core.director.errors import QueueError, ReservationLostError
from bosh_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from bosh_core.director.db import Database
    from bosh_core.director.queue.database import DatabaseTaskQueue
    from bosh_core.director.queue.redis import RedisTaskQueue
    from bosh_core.director.queue.worker import Handler, Worker, run_worker

__all__ = [
    "DEFAULT_QUEUES",
    "QUEUE_NAMES",
    "DatabaseTaskQueue",
    "Handler",
    "Job",
    "RedisTaskQueue",
    "Reserved",
    "TaskQueue",
    "Worker",
    "check_enqueue",
    "check_queue_name",
    "check_reserve",
    "check_worker_id",
    "open_queue",
    "reservation_lost",
    "run_worker",
]

#: The reference's queues: most tasks go to ``normal``; ``ssh`` and ``vms`` to ``urgent``.
QUEUE_NAMES: Final = ("urgent", "normal", "dynamic_disks")

#: What a worker serves by default, highest priority first (urgent before normal).
DEFAULT_QUEUES: Final = ("urgent", "normal")

__getattr__ = lazy_attributes(
    __name__,
    {
        "DatabaseTaskQueue": "bosh_core.director.queue.database",
        "RedisTaskQueue": "bosh_core.director.queue.redis",
        "Handler": "bosh_core.director.queue.worker",
        "Worker": "bosh_core.director.queue.worker",
        "run_worker": "bosh_core.director.queue.worker",
    },
)


def check_queue_name(queue: str) -> str:
    """`queue` if it is one of `QUEUE_NAMES`, else a `QueueError` naming the known ones."""
    if queue not in QUEUE_NAMES:
        known = ", ".join(QUEUE_NAMES)
        raise QueueError(f"Unknown task queue {queue!r}: expected one of {known}")
    return queue


def check_enqueue(task_id: int, job_type: str, queue: str) -> None:
    """What every backend refuses before queuing: an unknown queue, a task id that is
    not an integer, an empty job type."""
    check_queue_name(queue)
    if isinstance(task_id, bool) or not isinstance(task_id, int):
        raise QueueError(f"task_id must be an integer, not {task_id!r}")
    if not job_type:
        raise QueueError("job_type must not be empty")


def check_worker_id(worker_id: str) -> str:
    """`worker_id` if it is non-empty without whitespace (backends use it in keys)."""
    if not worker_id or any(c.isspace() for c in worker_id):
        raise QueueError(f"worker_id must be non-empty without whitespace, not {worker_id!r}")
    return worker_id


def check_reserve(queues: Sequence[str], worker_id: str) -> None:
    """What every backend refuses before reserving: no queue list, unknown queues, a bad
    worker id."""
    if isinstance(queues, str) or not queues:
        raise QueueError(f"queues must be a non-empty list of queue names, not {queues!r}")
    for queue in queues:
        check_queue_name(queue)
    check_worker_id(worker_id)


def open_queue(url: str | None, database: Database, *, lease_seconds: float) -> TaskQueue:
    """The queue a director config names: Redis at `url` (``redis://...``), or the
    database's own queue table when `url` is None; reservations last `lease_seconds`."""
    if url is None:
        from bosh_core.director.queue.database import DatabaseTaskQueue

        return DatabaseTaskQueue(database, lease_seconds=lease_seconds)
    from bosh_core.director.queue.redis import RedisTaskQueue

    return RedisTaskQueue.from_url(url, lease_seconds=lease_seconds)


@attrs.frozen
class Job:
    """One queued request to run a task.

    ``id`` is unique per enqueue (a task enqueued twice is two jobs); ``payload`` is
    JSON-shaped (what the job class needs beyond the task row).
    """

    id: str
    task_id: int
    job_type: str
    payload: Mapping[str, Any]
    queue: str
    enqueued_at: float


@attrs.frozen
class Reserved:
    """A job held by one worker under a lease; pass it back to the queue that gave it."""

    job: Job
    worker_id: str
    token: str


@runtime_checkable
class TaskQueue(Protocol):
    """What the director needs from a queue backend (Redis now, the database later)."""

    @property
    def lease_seconds(self) -> float:
        """How long a reservation lives without a heartbeat."""
        ...

    def enqueue(
        self,
        task_id: int,
        job_type: str,
        payload: Mapping[str, Any],
        *,
        queue: str = "normal",
    ) -> Job:
        """Queue a job at the back of `queue`; it is stored before this returns."""
        ...

    def reserve(self, queues: Sequence[str], *, worker_id: str, timeout: float) -> Reserved | None:
        """The oldest job of the first non-empty queue in `queues` (priority order),
        leased to `worker_id`; waits up to `timeout` seconds, then None."""
        ...

    def complete(self, reserved: Reserved) -> None:
        """The job is finished (its task done, failed or cancelled): forget it."""
        ...

    def release(self, reserved: Reserved) -> None:
        """Give the job back, to be the next one reserved from its queue."""
        ...

    def heartbeat(self, reserved: Reserved) -> None:
        """Renew the lease for another `lease_seconds`."""
        ...

    def recover_expired(self, *, requeue: bool = False) -> list[Reserved]:
        """Take back every reservation whose lease ran out and return them (their
        worker stopped heartbeating); with `requeue` they go back to their queues."""
        ...

    def pending(self, queue: str) -> int:
        """How many jobs wait in `queue` (reserved ones are not counted)."""
        ...


def reservation_lost(reserved: Reserved) -> ReservationLostError:
    """The error for a heartbeat, completion or release of a job recovered meanwhile."""
    job = reserved.job
    return ReservationLostError(
        f"Worker {reserved.worker_id!r} no longer holds job {job.id} (task {job.task_id}, "
        f"{job.job_type}): its lease expired and it was recovered"
    )
