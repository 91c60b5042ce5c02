"""Task workers inside a director process (the embedded director) or on their own
(``bosh-director worker``): each serves the urgent and normal queues with a `TaskRunner`
over every task type, and a `TaskSweeper` marks the tasks of dead workers ``timeout`` and
removes what was staged for them in the director's scratch directory."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bosh_core.director.jobs.registry import job_functions
from bosh_core.director.queue import DEFAULT_QUEUES
from bosh_core.director.queue.worker import Worker, run_worker
from bosh_core.director.tasks.runner import TaskRunner, TaskSweeper

if TYPE_CHECKING:
    from bosh_core.director.api.app import Director

__all__ = ["WorkerPool", "run_worker_process"]


def _worker_id(index: int) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{index}"


def _runner(director: Director) -> TaskRunner:
    return TaskRunner(
        director.database,
        job_functions(director),
        checkpoint_interval=director.config.task_checkpoint_interval,
        scratch_dir=director.config.tmp_dir,
    )


def _sweeper(director: Director) -> TaskSweeper:
    interval = director.config.task_checkpoint_interval
    return TaskSweeper(
        director.database,
        director.queue,
        interval=interval / 3,
        checkpoint_interval=interval,
        scratch_dir=director.config.tmp_dir,
    )


class WorkerPool:
    """`count` workers as threads of this process, plus the sweeper."""

    def __init__(
        self,
        director: Director,
        count: int,
        *,
        queues: Sequence[str] = DEFAULT_QUEUES,
        poll_timeout: float = 1.0,
    ) -> None:
        runner = _runner(director)
        self.workers = [
            Worker(
                director.queue,
                runner.handlers(),
                worker_id=_worker_id(index),
                queues=queues,
                poll_timeout=poll_timeout,
                fallback=runner.run_unknown,
            )
            for index in range(count)
        ]
        self._sweeper = _sweeper(director)
        self._director = director
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._sweeper.start()
        for worker in self.workers:
            self._director.record_start("worker", worker.worker_id)
        self._threads = [worker.start() for worker in self.workers]

    def stop(self) -> None:
        """Let running tasks finish, then return."""
        for worker in self.workers:
            worker.stop()
        for thread in self._threads:
            thread.join()
        self._sweeper.stop()


def run_worker_process(director: Director, *, index: int, queues: Sequence[str]) -> int:
    """One worker in this process's main thread until SIGTERM/SIGINT; jobs run."""
    runner = _runner(director)
    sweeper = _sweeper(director)
    sweeper.start()
    worker_id = _worker_id(index)
    director.record_start("worker", worker_id)
    try:
        return run_worker(
            director.queue,
            runner.handlers(),
            worker_id=worker_id,
            queues=queues,
            fallback=runner.run_unknown,
        )
    finally:
        sweeper.stop()
