"""DatabaseTaskQueue on SQLite and PostgreSQL.

The backend-neutral cases of the Redis queue and worker tests run here too, against a
`queue` fixture that overrides theirs (pytest resolves fixtures from the module that
collects a test); the cases below them are the database's own.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import QueuedJob
from bosh_core.director.errors import QueueError, ReservationLostError
from bosh_core.director.queue import TaskQueue
from bosh_core.director.queue.database import DatabaseTaskQueue
from tests.core.director.queue.test_redis import (  # noqa: F401 - collected here as well
    test_a_waiting_reserve_wakes_up_on_enqueue,
    test_heartbeat_keeps_the_lease_and_expiry_is_recovered,
    test_is_a_task_queue,
    test_jobs_come_out_in_order_with_their_payload,
    test_recover_with_requeue_hands_the_job_to_another_worker,
    test_release_puts_the_job_back_first_in_line,
    test_reserve_waits_for_the_timeout_then_returns_none,
    test_urgent_before_normal_and_only_the_queues_asked_for,
)
from tests.core.director.queue.test_worker import (  # noqa: F401 - collected here as well
    test_a_worker_whose_lease_was_taken_does_not_complete,
    test_heartbeats_keep_a_long_job_from_being_recovered,
    test_worker_runs_jobs_and_survives_failures,
)


@pytest.fixture
def queue(database: Database) -> DatabaseTaskQueue:
    return DatabaseTaskQueue(database, lease_seconds=0.6, poll_interval=0.05)


def test_the_protocol_is_implemented(queue: DatabaseTaskQueue) -> None:
    assert isinstance(queue, TaskQueue)
    assert queue.lease_seconds == 0.6


def test_a_stale_handle_never_touches_a_later_reservation(queue: DatabaseTaskQueue) -> None:
    queue.enqueue(1, "a", {})
    first = queue.reserve(["normal"], worker_id="w", timeout=0)
    assert first is not None
    time.sleep(0.7)
    assert queue.recover_expired(requeue=True) == [first]
    # The same worker takes the same row again: the old handle must not match it.
    second = queue.reserve(["normal"], worker_id="w", timeout=0)
    assert second is not None and second.job == first.job and second.token != first.token
    with pytest.raises(ReservationLostError):
        queue.complete(first)
    queue.heartbeat(second)
    queue.complete(second)
    assert queue.reserved_by("w") == []


def test_jobs_survive_a_new_database_connection(
    queue: DatabaseTaskQueue, database: Database
) -> None:
    queue.enqueue(1, "a", {"k": [1, 2], "nested": {"x": None}})
    held = queue.enqueue(2, "b", {}, queue="urgent")
    reserved = queue.reserve(["normal"], worker_id="w", timeout=0)
    assert reserved is not None

    reopened = open_database(database.url)
    try:
        restarted = DatabaseTaskQueue(reopened)
        assert restarted.pending("normal") == 0
        assert restarted.pending("urgent") == 1
        assert restarted.reserved_by("w") == [reserved]
        assert reserved.job.payload == {"k": [1, 2], "nested": {"x": None}}
        left = restarted.reserve(["urgent", "normal"], worker_id="w2", timeout=0)
        assert left is not None and left.job == held
        restarted.complete(reserved)
    finally:
        reopened.dispose()


def test_recover_reports_only_expired_leases_and_deletes_them(
    queue: DatabaseTaskQueue, database: Database
) -> None:
    queue.enqueue(1, "a", {})
    queue.enqueue(2, "b", {})
    dead = queue.reserve(["normal"], worker_id="dead", timeout=0)
    assert dead is not None
    time.sleep(0.4)
    alive = queue.reserve(["normal"], worker_id="alive", timeout=0)
    assert alive is not None
    time.sleep(0.3)
    assert queue.recover_expired() == [dead]
    with database.read() as session:
        assert session.scalars(select(QueuedJob.task_id)).all() == [2]


def test_many_workers_with_their_own_connections_get_each_job_once(
    database: Database,
) -> None:
    producer = DatabaseTaskQueue(database)
    for task_id in range(120):
        producer.enqueue(task_id, "noop", {}, queue="urgent" if task_id % 3 == 0 else "normal")
    seen: list[int] = []
    guard = threading.Lock()

    def work(worker_id: str) -> None:
        own_db = open_database(database.url)
        own = DatabaseTaskQueue(own_db, poll_interval=0.05)
        try:
            while got := own.reserve(["urgent", "normal"], worker_id=worker_id, timeout=0.2):
                with guard:
                    seen.append(got.job.task_id)
                own.complete(got)
        finally:
            own_db.dispose()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Counter(seen) == Counter(range(120))
    assert producer.pending("normal") == producer.pending("urgent") == 0


def test_bad_input_is_refused(queue: DatabaseTaskQueue, database: Database) -> None:
    with pytest.raises(QueueError, match="Unknown task queue 'fast'"):
        queue.enqueue(1, "a", {}, queue="fast")
    with pytest.raises(QueueError, match="not JSON"):
        queue.enqueue(1, "a", {"when": object()})
    with pytest.raises(QueueError, match="not JSON"):
        queue.enqueue(1, "a", {"x": float("nan")})
    with pytest.raises(QueueError, match="integer"):
        queue.enqueue("1", "a", {})  # type: ignore[arg-type]
    with pytest.raises(QueueError, match="job_type"):
        queue.enqueue(1, "", {})
    with pytest.raises(QueueError, match="worker_id"):
        queue.reserve(["normal"], worker_id="a b", timeout=0)
    with pytest.raises(QueueError, match="non-empty list"):
        queue.reserve("normal", worker_id="w", timeout=0)
    with pytest.raises(QueueError):
        DatabaseTaskQueue(database, lease_seconds=0)
    assert queue.pending("normal") == 0


@pytest.fixture
def two_postgres_sessions(postgres_url: str) -> Iterator[tuple[Database, Database]]:
    first, second = open_database(postgres_url), open_database(postgres_url)
    first.migrate()
    yield first, second
    first.dispose()
    second.dispose()


def test_postgres_reserve_skips_rows_another_transaction_has_locked(
    two_postgres_sessions: tuple[Database, Database],
) -> None:
    first, second = two_postgres_sessions
    queue = DatabaseTaskQueue(second)
    queue.enqueue(1, "a", {})
    queue.enqueue(2, "b", {})
    # Another transaction holds the oldest row (as a reserve in flight would): a reserve
    # must pass over it at once instead of waiting for that transaction.
    with first.write() as session:
        session.scalars(select(QueuedJob).where(QueuedJob.task_id == 1).with_for_update()).one()
        started = time.monotonic()
        got = queue.reserve(["normal"], worker_id="w", timeout=0)
        assert time.monotonic() - started < 2
    assert got is not None and got.job.task_id == 2
