"""A task's event log: the JSON lines the CLI renders as stages and progress.

The format is the reference director's (``bosh/director/event_log.rb``): one compact
JSON object per line, keys in this order::

    {"time":1700000000,"stage":"Updating instance","tags":["web"],"total":3,
     "task":"web/0","index":1,"state":"started","progress":0}

``state`` is ``started``, ``in_progress`` (with ``data`` when given), ``finished`` or
``failed`` (``data: {"error": message}``). A failed task ends with a top-level
``{"time", "error": {"code", "message"}}`` line; warnings are ``{"time", "type",
"message"}``. The log only formats: where the lines go (a task's ``event`` file, a
database column) is the `write_line` callable, which must be safe to call from several
threads and must write each line whole.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = [
    "EventLog",
    "Stage",
    "TrackedTask",
    "event_line",
]

Clock = Callable[[], float]


def event_line(entry: Mapping[str, Any]) -> str:
    """`entry` as one event-log line (with its newline), serialized as Ruby's JSON.generate
    does: no spaces, non-ASCII text as UTF-8, insertion order kept."""
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"


class EventLog:
    """Writes a task's events through `write_line` (one call per complete line)."""

    def __init__(self, write_line: Callable[[str], None], *, clock: Clock = time.time) -> None:
        self._write_line = write_line
        self._clock = clock

    def now(self) -> int:
        """The time stamp of an entry written now: whole epoch seconds."""
        return int(self._clock())

    def stage(self, name: str, *, total: int | None = None, tags: Sequence[str] = ()) -> Stage:
        """A stage whose tracked tasks are numbered 1, 2, ... in the order they start."""
        return Stage(self, name, total=total, tags=tags)

    @contextmanager
    def single_step(self, name: str) -> Iterator[TrackedTask]:
        """A stage of one task, both named `name` (the reference's ``single_step_stage``):
        ``with event_log.single_step("Extracting release"): ...``."""
        with self.stage(name, total=1).track(name) as task:
            yield task

    def warn(self, message: str) -> None:
        self.log_entry({"time": self.now(), "type": "warning", "message": message})

    def warn_deprecated(self, message: str) -> None:
        self.log_entry({"time": self.now(), "type": "deprecation", "message": message})

    def log_error(self, error: BaseException) -> None:
        """The top-level error line of a failed task. An exception without a director
        error code gets the generic one (100), as the reference wraps it."""
        code = getattr(error, "error_code", 100)
        self.log_entry({"time": self.now(), "error": {"code": code, "message": str(error)}})

    def log_entry(self, entry: Mapping[str, Any]) -> None:
        self._write_line(event_line(entry))


class Stage:
    """A group of tracked tasks sharing a stage name, tags and total (the CLI draws one
    block per stage and tags)."""

    def __init__(self, log: EventLog, name: str, *, total: int | None, tags: Sequence[str]) -> None:
        self.log = log
        self.name = name
        self.total = total
        self.tags = tuple(tags)
        self._index = 0
        self._index_lock = threading.Lock()

    @contextmanager
    def track(self, task_name: str) -> Iterator[TrackedTask]:
        """Log `task_name` as started, then finished; or failed (and re-raised) when the
        block raises. Tasks tracked concurrently get distinct indexes."""
        with self._index_lock:
            self._index += 1
            index = self._index
        task = TrackedTask(self, task_name, index)
        task.start()
        try:
            yield task
        except Exception as exc:
            task.failed(str(exc))
            raise
        task.finish()

    def log_entry(self, entry: Mapping[str, Any]) -> None:
        self.log.log_entry(
            {
                "time": self.log.now(),
                "stage": self.name,
                "tags": list(self.tags),
                "total": self.total,
                **entry,
            }
        )


class TrackedTask:
    """One step inside a stage; `advance` reports progress and a status in between."""

    def __init__(self, stage: Stage, name: str, index: int) -> None:
        self.stage = stage
        self.name = name
        self.index = index
        self.state = "in_progress"
        self.progress: float = 0

    def start(self) -> None:
        self.state = "started"
        self._log({})

    def advance(self, delta: float = 0, data: Mapping[str, Any] | None = None) -> None:
        """Progress by `delta` percent (capped at 100); `data` such as
        ``{"status": "installing packages"}`` is shown by the CLI as ``L status: task``."""
        self.state = "in_progress"
        self.progress = min(self.progress + delta, 100)
        self._log(data or {})

    def finish(self) -> None:
        self.state = "finished"
        self.progress = 100
        self._log({})

    def failed(self, error_message: str | None = None) -> None:
        self.state = "failed"
        self.progress = 100
        self._log({"error": error_message})

    def _log(self, data: Mapping[str, Any]) -> None:
        entry: dict[str, Any] = {
            "task": self.name,
            "index": self.index,
            "state": self.state,
            "progress": int(self.progress),
        }
        if data:
            entry["data"] = dict(data)
        self.stage.log_entry(entry)
