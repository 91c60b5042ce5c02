"""Director tasks: the outputs a task writes (event log, result, debug and CPI logs) and
the reader behind ``GET /tasks/:id/output``."""

from bosh_core.director.tasks.events import EventLog, Stage, TrackedTask, event_line
from bosh_core.director.tasks.output import (
    OUTPUT_TYPES,
    TaskOutput,
    read_output,
    redact,
    redact_text,
    stream_output,
)

__all__ = [
    "OUTPUT_TYPES",
    "EventLog",
    "Stage",
    "TaskOutput",
    "TrackedTask",
    "event_line",
    "read_output",
    "redact",
    "redact_text",
    "stream_output",
]
