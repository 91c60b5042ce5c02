"""A worker: reserve a job, run its handler, complete it; heartbeat meanwhile.

A worker runs one job at a time, in the thread that calls `Worker.run` (a process's
main thread under `run_worker`, or a thread of the embedded director). While the
handler runs, a second thread renews the lease. `Worker.stop` (SIGTERM under
`run_worker`) lets the current job finish and takes no new one.

Handlers own the task's state and outputs: the worker completes the job whether the
handler returned or raised (the handler records ``done`` or ``error`` itself). Only a
job whose process dies, or whose lease is lost, is left for `recover_expired`.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

from bosh_core.director.errors import ReservationLostError
from bosh_core.director.queue import DEFAULT_QUEUES, Job, Reserved, TaskQueue

__all__ = ["Handler", "Worker", "run_worker"]

_log = logging.getLogger(__name__)

#: Runs one job; what it returns is ignored (results go to the task row).
Handler = Callable[[Job], object]


class Worker:
    """Serves `queues` (priority order) of `queue` with `handlers` keyed by job type."""

    def __init__(
        self,
        queue: TaskQueue,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str,
        queues: Sequence[str] = DEFAULT_QUEUES,
        poll_timeout: float = 1.0,
        heartbeat_interval: float | None = None,
        fallback: Handler | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        # Runs jobs of types without a handler (else they are dropped with an error log).
        self.fallback = fallback
        self.worker_id = worker_id
        self.queues = tuple(queues)
        # How soon a stop request is noticed while idle.
        self.poll_timeout = poll_timeout
        # Three renewals per lease: one lost round trip does not cost the job.
        self.heartbeat_interval = heartbeat_interval or queue.lease_seconds / 3
        self._stop = threading.Event()

    def stop(self) -> None:
        """Finish the current job, then return from `run`."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> int:
        """Serve jobs until `stop`; how many jobs were run."""
        count = 0
        while not self._stop.is_set():
            if self.run_once(timeout=self.poll_timeout) is not None:
                count += 1
        return count

    def run_once(self, *, timeout: float) -> Job | None:
        """Wait up to `timeout` for one job and run it; the job, or None."""
        reserved = self.queue.reserve(self.queues, worker_id=self.worker_id, timeout=timeout)
        if reserved is None:
            return None
        if self._stop.is_set():
            # Stopped while waiting: the job is the next worker's, untouched.
            self.queue.release(reserved)
            return None
        self._run(reserved)
        return reserved.job

    def start(self) -> threading.Thread:
        """`run` in a new daemon thread (the embedded director's in-process workers)."""
        thread = threading.Thread(target=self.run, name=f"worker-{self.worker_id}", daemon=True)
        thread.start()
        return thread

    def _run(self, reserved: Reserved) -> None:
        job = reserved.job
        heartbeat = _Heartbeat(self.queue, reserved, interval=self.heartbeat_interval)
        heartbeat.start()
        try:
            handler = self.handlers.get(job.job_type, self.fallback)
            if handler is None:
                _log.error(
                    "worker %s: no handler for job type %r (task %d); dropping the job",
                    self.worker_id,
                    job.job_type,
                    job.task_id,
                )
            else:
                handler(job)
        except Exception:
            _log.exception(
                "worker %s: job %s (task %d, %s) failed",
                self.worker_id,
                job.id,
                job.task_id,
                job.job_type,
            )
        finally:
            heartbeat.stop()
        if heartbeat.lost:
            _log.warning(
                "worker %s: lease of task %d was lost while it ran; not completing it",
                self.worker_id,
                job.task_id,
            )
            return
        try:
            self.queue.complete(reserved)
        except ReservationLostError as error:
            _log.warning("worker %s: %s", self.worker_id, error)


class _Heartbeat:
    """Renews one reservation's lease every `interval` seconds from its own thread."""

    def __init__(self, queue: TaskQueue, reserved: Reserved, *, interval: float) -> None:
        self._queue = queue
        self._reserved = reserved
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-{reserved.worker_id}", daemon=True
        )
        self.lost = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self._queue.heartbeat(self._reserved)
            except ReservationLostError:
                self.lost = True
                return
            except Exception:
                # A dropped connection: the next beat may get through before the lease ends.
                _log.exception("heartbeat of task %d failed", self._reserved.job.task_id)


def run_worker(
    queue: TaskQueue,
    handlers: Mapping[str, Handler],
    *,
    worker_id: str,
    queues: Sequence[str] = DEFAULT_QUEUES,
    poll_timeout: float = 1.0,
    fallback: Handler | None = None,
) -> int:
    """Run a worker in this thread until SIGTERM or SIGINT, which let the current job
    finish first; how many jobs it ran. Signal handlers are installed only when called
    from the main thread, and the previous ones are put back on return."""
    worker = Worker(
        queue,
        handlers,
        worker_id=worker_id,
        queues=queues,
        poll_timeout=poll_timeout,
        fallback=fallback,
    )

    def request_stop(signum: int, frame: FrameType | None) -> None:
        _log.info("worker %s: %s, stopping after the current job", worker_id, signum)
        worker.stop()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main_thread:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, request_stop)
    try:
        return worker.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
