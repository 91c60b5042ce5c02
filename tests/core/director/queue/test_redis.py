"""RedisTaskQueue against a real Redis: order, priority, leases, recovery."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import redis

from bosh_core.director.errors import QueueError, ReservationLostError
from bosh_core.director.queue import TaskQueue
from bosh_core.director.queue.redis import RedisTaskQueue


def test_is_a_task_queue(queue: RedisTaskQueue) -> None:
    assert isinstance(queue, TaskQueue)


def test_jobs_come_out_in_order_with_their_payload(queue: RedisTaskQueue) -> None:
    first = queue.enqueue(1, "update_deployment", {"manifest": "name: a", "fix": True})
    second = queue.enqueue(2, "delete_release", {"name": "r"})
    assert queue.pending("normal") == 2

    got = queue.reserve(["normal"], worker_id="w1", timeout=0)
    assert got is not None
    assert got.job == first
    assert got.worker_id == "w1"
    assert queue.pending("normal") == 1
    assert queue.reserved_by("w1") == [got]

    queue.complete(got)
    assert queue.reserved_by("w1") == []
    nxt = queue.reserve(["normal"], worker_id="w1", timeout=0)
    assert nxt is not None and nxt.job == second


def test_urgent_before_normal_and_only_the_queues_asked_for(queue: RedisTaskQueue) -> None:
    queue.enqueue(1, "update_deployment", {})
    queue.enqueue(2, "vms", {}, queue="urgent")

    only_normal = queue.reserve(["normal"], worker_id="n", timeout=0)
    assert only_normal is not None and only_normal.job.task_id == 1
    queue.enqueue(3, "update_deployment", {})

    first = queue.reserve(["urgent", "normal"], worker_id="w", timeout=0)
    second = queue.reserve(["urgent", "normal"], worker_id="w", timeout=0)
    assert first is not None and second is not None
    assert (first.job.task_id, first.job.queue) == (2, "urgent")
    assert second.job.task_id == 3
    assert queue.reserve(["urgent", "normal"], worker_id="w", timeout=0) is None


def test_reserve_waits_for_the_timeout_then_returns_none(queue: RedisTaskQueue) -> None:
    started = time.monotonic()
    assert queue.reserve(["urgent", "normal"], worker_id="w", timeout=0.3) is None
    assert 0.28 <= time.monotonic() - started < 2


def test_a_waiting_reserve_wakes_up_on_enqueue(queue: RedisTaskQueue) -> None:
    got = []
    waiter = threading.Thread(
        target=lambda: got.append(queue.reserve(["urgent", "normal"], worker_id="w", timeout=10))
    )
    started = time.monotonic()
    waiter.start()
    time.sleep(0.1)
    queue.enqueue(7, "ssh", {}, queue="urgent")
    waiter.join(timeout=10)
    assert got and got[0] is not None and got[0].job.task_id == 7
    assert time.monotonic() - started < 2


def test_release_puts_the_job_back_first_in_line(queue: RedisTaskQueue) -> None:
    queue.enqueue(1, "a", {})
    queue.enqueue(2, "b", {})
    got = queue.reserve(["normal"], worker_id="w", timeout=0)
    assert got is not None
    queue.release(got)
    again = queue.reserve(["normal"], worker_id="other", timeout=0)
    assert again is not None and again.job == got.job
    with pytest.raises(ReservationLostError):
        queue.release(got)


def test_heartbeat_keeps_the_lease_and_expiry_is_recovered(queue: RedisTaskQueue) -> None:
    queue.enqueue(5, "update_deployment", {"x": 1})
    got = queue.reserve(["normal"], worker_id="w", timeout=0)
    assert got is not None
    for _ in range(3):
        time.sleep(0.3)
        queue.heartbeat(got)
        assert queue.recover_expired() == []

    time.sleep(0.8)
    assert queue.recover_expired() == [got]
    assert queue.recover_expired() == []
    assert queue.reserved_by("w") == []
    assert queue.pending("normal") == 0  # reported, not requeued: the task is marked timeout
    with pytest.raises(ReservationLostError, match="task 5"):
        queue.heartbeat(got)
    with pytest.raises(ReservationLostError):
        queue.complete(got)


def test_recover_with_requeue_hands_the_job_to_another_worker(queue: RedisTaskQueue) -> None:
    queue.enqueue(1, "a", {}, queue="urgent")
    queue.enqueue(2, "b", {}, queue="urgent")
    got = queue.reserve(["urgent"], worker_id="dead", timeout=0)
    assert got is not None
    time.sleep(0.8)
    assert queue.recover_expired(requeue=True) == [got]
    again = queue.reserve(["urgent"], worker_id="alive", timeout=0)
    assert again is not None and again.job == got.job


def test_queued_jobs_survive_a_new_client(queue: RedisTaskQueue, prefix: str) -> None:
    queue.enqueue(1, "a", {"k": [1, 2]})
    held = queue.enqueue(2, "b", {})
    reserved = queue.reserve(["normal"], worker_id="w", timeout=0)
    assert reserved is not None

    restarted = RedisTaskQueue.from_url("redis://127.0.0.1:6379/0", prefix=prefix)
    assert restarted.pending("normal") == 1
    assert restarted.reserved_by("w") == [reserved]
    left = restarted.reserve(["normal"], worker_id="w2", timeout=0)
    assert left is not None and left.job == held


def test_many_concurrent_workers_get_each_job_exactly_once(
    redis_client: redis.Redis, prefix: str
) -> None:
    producer = RedisTaskQueue(redis_client, prefix=prefix)
    for task_id in range(300):
        producer.enqueue(task_id, "noop", {}, queue="urgent" if task_id % 3 == 0 else "normal")
    seen: list[int] = []
    lock = threading.Lock()

    def work(worker_id: str) -> None:
        own = RedisTaskQueue(redis.Redis.from_url("redis://127.0.0.1:6379/0"), prefix=prefix)
        while got := own.reserve(["urgent", "normal"], worker_id=worker_id, timeout=0.2):
            with lock:
                seen.append(got.job.task_id)
            own.complete(got)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Counter(seen) == Counter(range(300))


def test_bad_input_is_refused(queue: RedisTaskQueue) -> None:
    with pytest.raises(QueueError, match="Unknown task queue 'fast'"):
        queue.enqueue(1, "a", {}, queue="fast")
    with pytest.raises(QueueError, match="not JSON"):
        queue.enqueue(1, "a", {"when": object()})
    with pytest.raises(QueueError, match="integer"):
        queue.enqueue("1", "a", {})  # type: ignore[arg-type]
    with pytest.raises(QueueError, match="worker_id"):
        queue.reserve(["normal"], worker_id="a b", timeout=0)
    with pytest.raises(QueueError, match="non-empty list"):
        queue.reserve("normal", worker_id="w", timeout=0)
    with pytest.raises(QueueError):
        RedisTaskQueue(redis.Redis(), lease_seconds=0)
    assert queue.pending("normal") == 0
