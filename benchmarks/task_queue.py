"""Task queue throughput: jobs and tasks per second through each backend, 4 workers.

Backends: the database queue on SQLite and on PostgreSQL (a fresh database), and Redis
(127.0.0.1:6379, under a key prefix of its own, deleted after; its task rows are in a
fresh PostgreSQL database, as a director with several worker processes would keep
them). Each backend is measured twice, with `--workers` worker processes
(`bosh_core.director.queue.Worker`), started and idle before the jobs are queued:

- queue only: `--jobs` jobs enqueued without task rows, then reserved, run by a handler
  that does nothing, and completed: jobs/s from the workers' go to the last completion;
- whole task: `--jobs` tasks created as the API creates them (`TaskQueuer.create`: the
  row, its output directory, the job), then run by `TaskRunner` with a no-op job
  function (queued -> processing -> done, outputs, checkpoints): tasks/s likewise.

The enqueue (create) rate of the one process that queued them is printed too.

    .venv/bin/python benchmarks/task_queue.py [--jobs 1000] [--workers 4] \
        [--backends sqlite,postgresql,redis] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import attrs
import redis
from _director import POSTGRES_ADMIN_URL, database_url
from sqlalchemy import delete, func, select

from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import Task
from bosh_core.director.queue import DatabaseTaskQueue, Job, RedisTaskQueue, TaskQueue, Worker
from bosh_core.director.tasks.runner import JobContext, TaskQueuer, TaskRunner

BACKENDS = ("sqlite", "postgresql", "redis")
REDIS_URL = "redis://127.0.0.1:6379/0"
JOB_TYPE = "bench_noop"


@attrs.frozen
class Backend:
    """Where jobs and task rows go; picklable for the worker processes."""

    name: str
    database_url: str
    redis_prefix: str | None = None  # None: the database's own queue

    def open_queue(self, database: Database) -> TaskQueue:
        if self.redis_prefix is None:
            return DatabaseTaskQueue(database)
        return RedisTaskQueue.from_url(REDIS_URL, prefix=self.redis_prefix)


def no_op(context: JobContext, payload: Mapping[str, Any]) -> str:
    return ""


def ignore(job: Job) -> None:
    pass


@attrs.frozen
class Signals:
    """What the parent and the workers share."""

    ready: Synchronized[int]
    done: Synchronized[int]
    go: Event
    stop: Event


def worker_process(backend: Backend, index: int, whole_task: bool, signals: Signals) -> None:
    database = open_database(backend.database_url)
    try:
        if whole_task:
            handlers = TaskRunner(database, {JOB_TYPE: no_op}).handlers()
        else:
            handlers = {JOB_TYPE: ignore}
        worker = Worker(
            backend.open_queue(database), handlers, worker_id=f"bench-{index}", poll_timeout=0.1
        )
        with signals.ready.get_lock():
            signals.ready.value += 1
        signals.go.wait()
        while not signals.stop.is_set():
            if worker.run_once(timeout=0.1) is not None:
                with signals.done.get_lock():
                    signals.done.value += 1
    finally:
        database.dispose()


def measure(
    backend: Backend,
    database: Database,
    *,
    whole_task: bool,
    jobs: int,
    workers: int,
    threads: bool,
    scratch: Path,
) -> tuple[float, float]:
    """(enqueued per second, completed per second)."""
    context = multiprocessing.get_context("spawn")
    signals = Signals(
        context.Value("i", 0), context.Value("i", 0), context.Event(), context.Event()
    )
    start = threading.Thread if threads else context.Process
    processes = [
        start(target=worker_process, args=(backend, index, whole_task, signals))
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        while signals.ready.value < workers:
            if not all(process.is_alive() for process in processes):
                raise RuntimeError("a worker exited before it was ready")
            time.sleep(0.05)
        queue = backend.open_queue(database)
        queuer = TaskQueuer(database, queue, scratch / "tasks")
        started = time.perf_counter()
        for index in range(jobs):
            if whole_task:
                queuer.create(JOB_TYPE, "benchmark no-op", {}, user="admin")
            else:
                queue.enqueue(index + 1, JOB_TYPE, {})
        enqueue_rate = jobs / (time.perf_counter() - started)
        started = time.perf_counter()
        signals.go.set()
        while signals.done.value < jobs:
            if not any(process.is_alive() for process in processes):
                raise RuntimeError(f"workers exited after {signals.done.value} of {jobs} jobs")
            time.sleep(0.005)
        complete_rate = jobs / (time.perf_counter() - started)
    finally:
        signals.go.set()
        signals.stop.set()
        for process in processes:
            process.join(timeout=30)
            if isinstance(process, multiprocessing.process.BaseProcess) and process.is_alive():
                process.kill()
    if whole_task:
        with database.read() as session:
            done = session.scalar(select(func.count()).where(Task.state == "done"))
        if done != jobs:
            print(f"  !! {done} of {jobs} tasks ended done", flush=True)
    return enqueue_rate, complete_rate


@contextlib.contextmanager
def prepared(name: str, scratch: Path, admin_url: str) -> Iterator[tuple[Backend, Database]]:
    """The backend `name` on an empty, migrated database; Redis keys deleted after."""
    rows = "sqlite" if name == "sqlite" else "postgresql"
    with database_url(rows, scratch, admin_url=admin_url) as url:
        prefix = f"bosh-bench-{uuid.uuid4().hex[:8]}" if name == "redis" else None
        database = open_database(url)
        try:
            database.migrate()
            yield Backend(name, url, prefix), database
        finally:
            database.dispose()
            if prefix is not None:
                client = redis.Redis.from_url(REDIS_URL)
                keys = list(client.scan_iter(f"{prefix}:*"))
                if keys:
                    client.delete(*keys)
                client.close()


def durable_commit_ms(database: Database, *, commits: int = 50) -> float:
    """Median milliseconds of one small committed write: on PostgreSQL the disk's flush
    time, which bounds every write the queue makes."""
    times = []
    for _ in range(commits):
        started = time.perf_counter()
        with database.write() as session:
            session.add(Task(type=JOB_TYPE, description="commit probe"))
        times.append(time.perf_counter() - started)
    with database.write() as session:
        session.execute(delete(Task))
    return statistics.median(times) * 1000


def backends(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    if not chosen or any(name not in BACKENDS for name in chosen):
        raise ValueError(f"backends must be among {', '.join(BACKENDS)}, not {text!r}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--backends", type=backends, default=list(BACKENDS))
    parser.add_argument("--postgres", default=POSTGRES_ADMIN_URL, help="an existing database")
    parser.add_argument(
        "--threads",
        action="store_true",
        help="workers as threads of one process (as the director's in-process workers)",
    )
    parser.add_argument("--quick", action="store_true", help="100 jobs")
    args = parser.parse_args()
    if args.quick:
        args.jobs = 100
    print(
        f"{args.jobs} jobs, {args.workers} worker {'threads' if args.threads else 'processes'},"
        f" {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    for name in args.backends:
        with tempfile.TemporaryDirectory(prefix="bosh-queue-bench-") as scratch_name:
            scratch = Path(scratch_name)
            with prepared(name, scratch, args.postgres) as (backend, database):
                label = {"redis": "redis (rows in postgresql)"}.get(name, f"database ({name})")
                if name == "postgresql":
                    print(
                        f"postgresql: one small commit takes {durable_commit_ms(database):.1f} ms"
                        " (median; the disk's flush)",
                        flush=True,
                    )
                for whole_task, what in ((False, "queue only"), (True, "whole task")):
                    enqueued, completed = measure(
                        backend,
                        database,
                        whole_task=whole_task,
                        jobs=args.jobs,
                        workers=args.workers,
                        threads=args.threads,
                        scratch=scratch,
                    )
                    print(
                        f"{label:<28} {what:<10}  {completed:7.1f} /s through {args.workers}"
                        f" workers  (queued at {enqueued:7.1f} /s by one process)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
