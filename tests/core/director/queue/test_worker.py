"""Workers on a real Redis: running jobs, heartbeats, SIGTERM and SIGKILL."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bosh_core.director.queue import Job, Reserved, Worker
from bosh_core.director.queue.redis import RedisTaskQueue


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.02)


def test_worker_runs_jobs_and_survives_failures(
    queue: RedisTaskQueue, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[int] = []

    def fails(job: Job) -> None:
        raise RuntimeError("boom")

    worker = Worker(
        queue,
        {"ok": lambda job: ran.append(job.task_id), "fails": fails},
        worker_id="w1",
        poll_timeout=0.1,
    )
    queue.enqueue(1, "fails", {})
    queue.enqueue(2, "unknown", {})
    queue.enqueue(3, "ok", {})
    queue.enqueue(4, "ok", {}, queue="urgent")
    with caplog.at_level(logging.ERROR):
        thread = worker.start()
        _wait_for(lambda: len(ran) == 2)
        worker.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert ran == [4, 3]
    assert queue.reserved_by("w1") == []
    assert queue.pending("normal") == queue.pending("urgent") == 0
    assert "boom" in caplog.text
    assert "no handler for job type 'unknown'" in caplog.text


def test_heartbeats_keep_a_long_job_from_being_recovered(queue: RedisTaskQueue) -> None:
    finished = threading.Event()

    def slow(job: Job) -> None:
        time.sleep(1.5)  # more than twice the 0.6 s lease
        finished.set()

    worker = Worker(queue, {"slow": slow}, worker_id="w", poll_timeout=0.1)
    queue.enqueue(1, "slow", {})
    thread = worker.start()
    while not finished.is_set():
        assert queue.recover_expired() == []
        time.sleep(0.05)
    worker.stop()
    thread.join(timeout=5)
    assert queue.reserved_by("w") == []


def test_a_worker_whose_lease_was_taken_does_not_complete(queue: RedisTaskQueue) -> None:
    # A worker frozen longer than its lease: the job is recovered and the worker, once
    # back, must not claim it.
    recovered = []

    def frozen(job: Job) -> None:
        time.sleep(1.0)
        recovered.extend(queue.recover_expired())

    worker = Worker(
        queue, {"frozen": frozen}, worker_id="w", poll_timeout=0.1, heartbeat_interval=60
    )
    queue.enqueue(9, "frozen", {})
    assert worker.run_once(timeout=1) is not None
    assert [r.job.task_id for r in recovered] == [9]
    assert queue.reserved_by("w") == []


_WORKER_SCRIPT = """
import sys, time, pathlib, redis
from bosh_core.director.queue import run_worker
from bosh_core.director.queue.redis import RedisTaskQueue

prefix, marks = sys.argv[1], pathlib.Path(sys.argv[2])
queue = RedisTaskQueue(redis.Redis.from_url("redis://127.0.0.1:6379/0"), prefix=prefix,
                       lease_seconds=1.5)

def job(job):
    (marks / f"started-{job.task_id}").touch()
    time.sleep(job.payload["seconds"])
    (marks / f"finished-{job.task_id}").touch()

sys.exit(run_worker(queue, {"job": job}, worker_id="proc", poll_timeout=0.2) != 1)
"""


def _start_worker(prefix: str, marks: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_WORKER_SCRIPT), prefix, str(marks)]
    )


def test_sigterm_finishes_the_current_job_and_takes_no_other(
    redis_client: object, prefix: str, tmp_path: Path
) -> None:
    queue = RedisTaskQueue.from_url("redis://127.0.0.1:6379/0", prefix=prefix)
    queue.enqueue(1, "job", {"seconds": 1.0})
    queue.enqueue(2, "job", {"seconds": 0})
    process = _start_worker(prefix, tmp_path)
    try:
        _wait_for(lambda: (tmp_path / "started-1").exists())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0  # exactly one job was run
    finally:
        process.kill()
    assert (tmp_path / "finished-1").exists()
    assert not (tmp_path / "started-2").exists()
    assert queue.reserved_by("proc") == []
    assert queue.pending("normal") == 1


def test_a_sigkilled_worker_leaves_its_job_recoverable_and_loses_nothing(
    redis_client: object, prefix: str, tmp_path: Path
) -> None:
    queue = RedisTaskQueue.from_url("redis://127.0.0.1:6379/0", prefix=prefix)
    killed = queue.enqueue(1, "job", {"seconds": 60}, queue="urgent")
    waiting = [queue.enqueue(task_id, "job", {"seconds": 0}) for task_id in (2, 3, 4)]
    process = _start_worker(prefix, tmp_path)
    try:
        _wait_for(lambda: (tmp_path / "started-1").exists())
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        process.kill()

    [held] = queue.reserved_by("proc")
    assert held.job == killed
    assert queue.recover_expired() == []  # the lease is still running
    recovered: list[Reserved] = []
    _wait_for(lambda: bool(recovered.extend(queue.recover_expired()) or recovered), 5)
    assert [r.job for r in recovered] == [killed]
    assert queue.reserved_by("proc") == []
    assert queue.pending("normal") == 3

    # A worker started again under the same name runs every job still queued.
    done: list[Job] = []
    worker = Worker(queue, {"job": done.append}, worker_id="proc", poll_timeout=0.1)
    while worker.run_once(timeout=0) is not None:
        pass
    assert done == waiting
