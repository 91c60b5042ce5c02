"""The task queue in the director's database: one ``queued_jobs`` row per job.

A row waits while its ``worker_id`` is null. ``reserve`` takes the first waiting row of
the first queue asked for (priority order), then by ``position`` and ``id``, and stamps
it with the worker, a fresh ``reservation`` value and the lease's end, in one statement::

    UPDATE queued_jobs SET worker_id = ..., reservation = ..., lease_expires_at = ...
    WHERE id = (SELECT id FROM queued_jobs WHERE worker_id IS NULL AND queue IN (...)
                ORDER BY <queue priority>, position, id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING ...

On PostgreSQL ``SKIP LOCKED`` lets concurrent workers pass over each other's candidate
rows instead of queueing behind them; on SQLite the statement runs in a ``BEGIN
IMMEDIATE`` transaction, under its single writer. ``Reserved.token`` is
``<row id>:<reservation>``: ``heartbeat``/``complete``/``release`` match both, so a
handle whose job was recovered (even if later reserved again by the same worker) never
touches the newer reservation.

Leases are measured with this process's clock (UTC): the director and its workers are
expected to share a clock, as they share a machine or NTP. Waiting workers poll every
``poll_interval`` seconds; inside one process an enqueue or release wakes them at once.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Delete, Update, case, delete, func, select, update

from bosh_core.director.db import Database
from bosh_core.director.db.models import QueuedJob
from bosh_core.director.errors import QueueError
from bosh_core.director.queue import (
    Job,
    Reserved,
    check_enqueue,
    check_queue_name,
    check_reserve,
    check_worker_id,
    reservation_lost,
)

__all__ = ["DatabaseTaskQueue"]

_DEFAULT_POLL_INTERVAL: Final = 0.2

# Wakes reserve() calls waiting in this process when a job becomes available.
_WAKE = threading.Condition()


class DatabaseTaskQueue:
    """`TaskQueue` on the director's database (SQLite or PostgreSQL), migrated to at
    least revision ``0002``."""

    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = _DEFAULT_POLL_INTERVAL,
    ) -> None:
        if lease_seconds <= 0:
            raise QueueError(f"lease_seconds must be positive, not {lease_seconds}")
        if poll_interval <= 0:
            raise QueueError(f"poll_interval must be positive, not {poll_interval}")
        self._db = database
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval

    @property
    def lease_seconds(self) -> float:
        return self._lease_seconds

    @property
    def database(self) -> Database:
        return self._db

    def enqueue(
        self,
        task_id: int,
        job_type: str,
        payload: Mapping[str, Any],
        *,
        queue: str = "normal",
    ) -> Job:
        check_enqueue(task_id, job_type, queue)
        document = _json_copy(task_id, payload)
        now = _now()
        job = Job(
            id=uuid.uuid4().hex,
            task_id=task_id,
            job_type=job_type,
            payload=document,
            queue=queue,
            enqueued_at=now.timestamp(),
        )
        with self._db.write() as session:
            session.add(
                QueuedJob(
                    job_id=job.id,
                    task_id=task_id,
                    job_type=job_type,
                    payload=document,
                    queue=queue,
                    position=0,
                    enqueued_at=now,
                )
            )
        _wake_all()
        return job

    def reserve(self, queues: Sequence[str], *, worker_id: str, timeout: float) -> Reserved | None:
        check_reserve(queues, worker_id)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            reserved = self._take(list(queues), worker_id)
            if reserved is not None:
                return reserved
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with _WAKE:
                _WAKE.wait(min(remaining, self._poll_interval))

    def heartbeat(self, reserved: Reserved) -> None:
        self._change_own_row(reserved, update(QueuedJob).values(lease_expires_at=self._lease_end()))

    def complete(self, reserved: Reserved) -> None:
        self._change_own_row(reserved, delete(QueuedJob))

    def release(self, reserved: Reserved) -> None:
        self._change_own_row(reserved, update(QueuedJob).values(**_waiting_again()))
        _wake_all()

    def _change_own_row(self, reserved: Reserved, statement: Update | Delete) -> None:
        """Run `statement` on the job's row while `reserved` still holds it; no row
        changed means the lease was lost (the job was recovered meanwhile)."""
        row_id, reservation = _parse_token(reserved)
        with self._db.write() as session:
            changed = session.execute(
                statement.where(
                    QueuedJob.id == row_id, QueuedJob.reservation == reservation
                ).execution_options(synchronize_session=False)
            )
        if _rowcount(changed) == 0:
            raise reservation_lost(reserved)

    def recover_expired(self, *, requeue: bool = False) -> list[Reserved]:
        now = _now()
        expired = (
            QueuedJob.worker_id.is_not(None),
            QueuedJob.lease_expires_at < now,
        )
        with self._db.write() as session:
            rows = session.scalars(
                select(QueuedJob)
                .where(*expired)
                .order_by(QueuedJob.id)
                .with_for_update(skip_locked=True)
            ).all()
            recovered = [_reserved(row) for row in rows]
            ids = [row.id for row in rows]
            if ids:
                # The rows are locked (PostgreSQL) or the database is (SQLite): the
                # leases checked above still hold.
                if requeue:
                    session.execute(
                        update(QueuedJob)
                        .where(QueuedJob.id.in_(ids))
                        .values(**_waiting_again())
                        .execution_options(synchronize_session=False)
                    )
                else:
                    session.execute(
                        delete(QueuedJob)
                        .where(QueuedJob.id.in_(ids))
                        .execution_options(synchronize_session=False)
                    )
            session.expunge_all()
        if recovered and requeue:
            _wake_all()
        return recovered

    def pending(self, queue: str) -> int:
        check_queue_name(queue)
        with self._db.read() as session:
            count = session.scalar(
                select(func.count())
                .select_from(QueuedJob)
                .where(QueuedJob.queue == queue, QueuedJob.worker_id.is_(None))
            )
        return int(count or 0)

    def reserved_by(self, worker_id: str) -> list[Reserved]:
        """The jobs `worker_id` holds now, newest reservation first."""
        check_worker_id(worker_id)
        with self._db.read() as session:
            rows = session.scalars(
                select(QueuedJob)
                .where(QueuedJob.worker_id == worker_id)
                .order_by(QueuedJob.reserved_at.desc(), QueuedJob.id.desc())
            ).all()
            return [_reserved(row) for row in rows]

    def _take(self, queues: list[str], worker_id: str) -> Reserved | None:
        priority = case({name: rank for rank, name in enumerate(queues)}, value=QueuedJob.queue)
        candidate = (
            select(QueuedJob.id)
            .where(QueuedJob.worker_id.is_(None), QueuedJob.queue.in_(queues))
            .order_by(priority, QueuedJob.position, QueuedJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        now = _now()
        reservation = uuid.uuid4().hex
        with self._db.write() as session:
            row = session.execute(
                update(QueuedJob)
                .where(QueuedJob.id == candidate)
                .values(
                    worker_id=worker_id,
                    reservation=reservation,
                    reserved_at=now,
                    lease_expires_at=now + dt.timedelta(seconds=self._lease_seconds),
                )
                .returning(
                    QueuedJob.id,
                    QueuedJob.job_id,
                    QueuedJob.task_id,
                    QueuedJob.job_type,
                    QueuedJob.payload,
                    QueuedJob.queue,
                    QueuedJob.enqueued_at,
                )
                .execution_options(synchronize_session=False)
            ).one_or_none()
        if row is None:
            return None
        job = Job(
            id=row.job_id,
            task_id=row.task_id,
            job_type=row.job_type,
            payload=row.payload,
            queue=row.queue,
            enqueued_at=row.enqueued_at.timestamp(),
        )
        return Reserved(job=job, worker_id=worker_id, token=f"{row.id}:{reservation}")

    def _lease_end(self) -> dt.datetime:
        return _now() + dt.timedelta(seconds=self._lease_seconds)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _wake_all() -> None:
    with _WAKE:
        _WAKE.notify_all()


def _waiting_again() -> dict[str, Any]:
    """Column values that put a row back at the front of its queue: the most recently
    given back is taken first, as with the Redis queue."""
    return {
        "worker_id": None,
        "reservation": None,
        "reserved_at": None,
        "lease_expires_at": None,
        "position": -time.time_ns() // 1000,
    }


def _reserved(row: QueuedJob) -> Reserved:
    if row.worker_id is None or row.reservation is None:
        raise QueueError(f"Queued job {row.job_id} is not reserved")
    job = Job(
        id=row.job_id,
        task_id=row.task_id,
        job_type=row.job_type,
        payload=row.payload,
        queue=row.queue,
        enqueued_at=row.enqueued_at.timestamp(),
    )
    return Reserved(job=job, worker_id=row.worker_id, token=f"{row.id}:{row.reservation}")


def _json_copy(task_id: int, payload: Mapping[str, Any]) -> dict[str, Any]:
    # Stored as JSON: what a worker reads back must equal what was queued.
    try:
        document: dict[str, Any] = json.loads(json.dumps(dict(payload), allow_nan=False))
    except (TypeError, ValueError) as error:
        raise QueueError(f"Payload of task {task_id} is not JSON: {error}") from error
    return document


def _parse_token(reserved: Reserved) -> tuple[int, str]:
    row_id, _, reservation = reserved.token.partition(":")
    if not row_id.isdigit() or not reservation:
        raise QueueError(f"Not a database queue reservation: {reserved.token!r}")
    return int(row_id), reservation


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
