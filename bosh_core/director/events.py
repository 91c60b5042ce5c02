"""The director's audit events (``bosh events``): who did what to which object, when.

Events are rows of ``events``. An event that ends another (a lock ``release`` for its
``acquire``, a finished deployment update for its start) names it in ``parent_id``.

    events = EventLog(db)
    start = events.record(user="admin", action="update", object_type="deployment",
                          object_name="cf", task=12, deployment="cf")
    events.record(..., parent_id=start.id, error="...")
    [e.to_api() for e in events.list(deployment="cf")]    # GET /events, newest first

The pair is usually recorded around a block: ``with events.audited(user=..., action=
"delete", object_type="vm", object_name=cid): ...`` records the start, and the end when
the block ends, with the error if it raised. What ends elsewhere (a lock, released by
another call) keeps the `AuditedAction` of `EventLog.begin` and calls its ``end``.

``GET /events`` returns at most `EVENT_PAGE_SIZE` events; the next page is asked with
``before_id`` = the last id seen.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import re
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, Final, Required, TypedDict, Unpack

import attrs
from sqlalchemy import select
from sqlalchemy.orm import Session

from bosh_core.director.db import Database
from bosh_core.director.db.models import Event
from bosh_core.director.errors import ValidationInvalidType

__all__ = [
    "EVENT_PAGE_SIZE",
    "AuditFields",
    "AuditedAction",
    "EventLog",
    "EventRecord",
    "TaskAudit",
    "TaskAuditFields",
    "add_event",
    "parse_event_time",
]

#: The most events one ``GET /events`` returns.
EVENT_PAGE_SIZE: Final = 200

_INTEGER = re.compile(r"[-+]?\d+")


@attrs.frozen
class EventRecord:
    """One stored event."""

    id: int
    timestamp: dt.datetime
    user: str
    action: str
    object_type: str
    object_name: str | None = None
    parent_id: int | None = None
    error: str | None = None
    task: str | None = None
    deployment: str | None = None
    instance: str | None = None
    context: Mapping[str, Any] = attrs.field(factory=dict)

    def to_api(self) -> dict[str, Any]:
        """The JSON object of ``GET /events``: ids as strings, the time as epoch seconds,
        keys without a value (null or "") left out."""
        fields: dict[str, Any] = {
            "id": str(self.id),
            "parent_id": "" if self.parent_id is None else str(self.parent_id),
            "timestamp": int(self.timestamp.timestamp()),
            "user": self.user,
            "action": self.action,
            "object_type": self.object_type,
            "object_name": self.object_name,
            "error": self.error,
            "task": self.task,
            "deployment": self.deployment,
            "instance": self.instance,
            "context": dict(self.context),
        }
        return {key: value for key, value in fields.items() if value is not None and value != ""}

    @classmethod
    def from_row(cls, row: Event) -> EventRecord:
        return cls(
            id=row.id,
            timestamp=row.timestamp,
            user=row.user,
            action=row.action,
            object_type=row.object_type,
            object_name=row.object_name,
            parent_id=row.parent_id,
            error=row.error,
            task=row.task,
            deployment=row.deployment,
            instance=row.instance,
            context=dict(row.context or {}),
        )


def add_event(
    session: Session,
    *,
    user: str,
    action: str,
    object_type: str,
    object_name: str | None = None,
    task: int | str | None = None,
    deployment: str | None = None,
    instance: str | None = None,
    context: Mapping[str, Any] | None = None,
    error: object | None = None,
    parent_id: int | None = None,
    timestamp: dt.datetime | None = None,
) -> EventRecord:
    """Record an event in `session`'s transaction (it is stored when that commits)."""
    for name, value in (("user", user), ("action", action), ("object_type", object_type)):
        if not isinstance(value, str) or not value:
            raise ValidationInvalidType(f"Event {name} must be a non-empty string, not {value!r}")
    if context is not None and not isinstance(context, Mapping):
        raise ValidationInvalidType("Context must be a hash")
    if timestamp is not None and timestamp.tzinfo is None:
        raise ValidationInvalidType(f"Event timestamp {timestamp!r} has no time zone")
    row = Event(
        parent_id=parent_id,
        timestamp=timestamp or dt.datetime.now(dt.UTC),
        user=user,
        action=action,
        object_type=object_type,
        object_name=object_name,
        error=None if error is None else str(error),
        task=None if task is None else str(task),
        deployment=deployment,
        instance=instance,
        context=dict(context or {}),
    )
    session.add(row)
    session.flush()
    return EventRecord.from_row(row)


class AuditFields(TypedDict, total=False):
    """What an audited action's events say (`EventLog.begin`, `EventLog.audited`)."""

    user: Required[str]
    action: Required[str]
    object_type: Required[str]
    object_name: str | None
    task: int | str | None
    deployment: str | None
    instance: str | None
    context: Mapping[str, Any] | None


class TaskAuditFields(TypedDict, total=False):
    """`AuditFields` less what a `TaskAudit` fills in."""

    action: Required[str]
    object_type: Required[str]
    object_name: str | None
    instance: str | None
    context: Mapping[str, Any] | None


@attrs.define
class AuditedAction:
    """An action whose start event is recorded (`start_id`: None when events are off);
    `end` records its end. `object_name` and `context` may be set meanwhile: a new VM's
    cid is known only once the VM exists, a deployment's releases after its deploy."""

    _events: EventLog
    _fields: Mapping[str, Any]
    object_name: str | None
    start_id: int | None
    context: Mapping[str, Any] | None = None

    def end(self, *, action: str | None = None, error: object | None = None) -> EventRecord | None:
        """Record the end: the start's fields, the current `object_name`, the start in
        ``parent_id`` and `error` (the exception the action failed with) if any. `action`
        names an end that is an action of its own (a lock's ``release`` ends its
        ``acquire``)."""
        fields = {**self._fields, "action": action or self._fields["action"]}
        return self._events.record(
            **fields,
            object_name=self.object_name,
            context=self.context,
            parent_id=self.start_id,
            error=error,
        )


@attrs.frozen
class TaskAudit:
    """The audit events of one task's work on one deployment: `audited` fills in who
    runs the task, its id and the deployment."""

    events: EventLog
    user: str
    task: int | str | None
    deployment: str | None = None

    def audited(
        self, **fields: Unpack[TaskAuditFields]
    ) -> contextlib.AbstractContextManager[AuditedAction]:
        return self.events.audited(
            user=self.user, task=self.task, deployment=self.deployment, **fields
        )


class EventLog:
    """Events of one director database. With ``enabled=False`` (the director's
    ``record_events: false``) nothing is stored and `record` returns None."""

    def __init__(self, database: Database, *, enabled: bool = True) -> None:
        self._db = database
        self.enabled = enabled

    def record(
        self,
        *,
        user: str,
        action: str,
        object_type: str,
        object_name: str | None = None,
        task: int | str | None = None,
        deployment: str | None = None,
        instance: str | None = None,
        context: Mapping[str, Any] | None = None,
        error: object | None = None,
        parent_id: int | None = None,
        timestamp: dt.datetime | None = None,
    ) -> EventRecord | None:
        """Store an event in a transaction of its own."""
        if not self.enabled:
            return None
        with self._db.write() as session:
            return add_event(
                session,
                user=user,
                action=action,
                object_type=object_type,
                object_name=object_name,
                task=task,
                deployment=deployment,
                instance=instance,
                context=context,
                error=error,
                parent_id=parent_id,
                timestamp=timestamp,
            )

    def begin(self, **fields: Unpack[AuditFields]) -> AuditedAction:
        """Record the start of the action (with its context, which its end repeats
        unless changed); the returned `AuditedAction` records its end."""
        start = self.record(**fields)
        object_name = fields.pop("object_name", None)
        context = fields.pop("context", None)
        return AuditedAction(
            self, fields, object_name, None if start is None else start.id, context
        )

    @contextlib.contextmanager
    def audited(self, **fields: Unpack[AuditFields]) -> Iterator[AuditedAction]:
        """`begin` the action, and end it when the block ends (with the error if the
        block raised, which is raised on)."""
        audited = self.begin(**fields)
        try:
            yield audited
        except BaseException as error:
            audited.end(error=error)
            raise
        audited.end()

    def get(self, event_id: int) -> EventRecord | None:
        with self._db.read() as session:
            row = session.get(Event, event_id)
            return None if row is None else EventRecord.from_row(row)

    def list(
        self,
        *,
        before_id: int | None = None,
        before: dt.datetime | None = None,
        after: dt.datetime | None = None,
        task: int | str | None = None,
        deployment: str | None = None,
        instance: str | None = None,
        user: str | None = None,
        action: str | None = None,
        object_type: str | None = None,
        object_name: str | None = None,
        limit: int = EVENT_PAGE_SIZE,
    ) -> builtins.list[EventRecord]:
        """Events matching every filter given, newest (highest id) first, at most `limit`.

        `before_id` keeps ids below it; `before` keeps times before it; `after` keeps
        times from the second after it on, as the reference does (``after`` is exclusive
        at one-second precision: the CLI's times have no fractions).
        """
        if not 0 < limit <= EVENT_PAGE_SIZE:
            raise ValidationInvalidType(f"limit must be 1 to {EVENT_PAGE_SIZE}, not {limit}")
        query = select(Event).order_by(Event.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(Event.id < before_id)
        if before is not None:
            query = query.where(Event.timestamp < _aware(before, "before"))
        if after is not None:
            query = query.where(Event.timestamp >= _aware(after, "after") + dt.timedelta(seconds=1))
        equal: dict[str, Any] = {
            "task": None if task is None else str(task),
            "deployment": deployment,
            "instance": instance,
            "user": user,
            "action": action,
            "object_type": object_type,
            "object_name": object_name,
        }
        for column, value in equal.items():
            if value is not None:
                query = query.where(getattr(Event, column) == value)
        with self._db.read() as session:
            return [EventRecord.from_row(row) for row in session.scalars(query)]


def parse_event_time(value: str, *, parameter: str = "time") -> dt.datetime:
    """A ``before_time``/``after_time``/``timestamp`` value of the API: epoch seconds, or
    a time in any form Ruby's ``Time.parse`` reads, as the reference reads it (ISO 8601,
    ``2016-05-08 17:26:32 UTC``, or ``Thu May  8 17:26:32 UTC 2016`` as ``bosh events``
    prints it); UTC when it names no zone."""
    from dateutil import parser as dateutil_parser  # only when a time filter is given

    text = value.strip()
    try:
        if _INTEGER.fullmatch(text):
            return dt.datetime.fromtimestamp(int(text), dt.UTC)
        with warnings.catch_warnings():
            # A zone it does not know (PST...) would be read as UTC, hours off: refused.
            warnings.simplefilter("error", dateutil_parser.UnknownTimezoneWarning)
            parsed = dateutil_parser.parse(text)
    except (ValueError, OverflowError, OSError, dateutil_parser.UnknownTimezoneWarning) as error:
        raise ValidationInvalidType(f"Invalid {parameter} parameter: {value!r}") from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None:
        raise ValidationInvalidType(f"Event filter {name}={value!r} has no time zone")
    return value
