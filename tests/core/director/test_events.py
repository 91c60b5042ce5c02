"""The events log on SQLite and PostgreSQL: recording, the API shape, every filter."""

from __future__ import annotations

import datetime as dt

import pytest

from bosh_core.director.db import Database
from bosh_core.director.errors import ValidationInvalidType
from bosh_core.director.events import EVENT_PAGE_SIZE, EventLog, add_event, parse_event_time

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


@pytest.fixture
def events(database: Database) -> EventLog:
    return EventLog(database)


def test_an_event_is_stored_and_shown_as_the_api_does(events: EventLog) -> None:
    start = events.record(
        user="admin",
        action="update",
        object_type="deployment",
        object_name="cf",
        task=12,
        deployment="cf",
        context={"before": {"releases": ["r/1"]}, "after": {"releases": ["r/2"]}},
        timestamp=T0,
    )
    assert start is not None
    end = events.record(
        user="admin",
        action="update",
        object_type="deployment",
        object_name="cf",
        task="12",
        deployment="cf",
        parent_id=start.id,
        error=RuntimeError("Timed out pinging VM"),
        timestamp=T0 + dt.timedelta(seconds=30),
    )
    assert end is not None
    assert events.get(start.id) == start
    assert [e.id for e in events.list()] == [end.id, start.id]
    assert end.to_api() == {
        "id": str(end.id),
        "parent_id": str(start.id),
        "timestamp": int(T0.timestamp()) + 30,
        "user": "admin",
        "action": "update",
        "object_type": "deployment",
        "object_name": "cf",
        "error": "Timed out pinging VM",
        "task": "12",
        "deployment": "cf",
        "context": {},
    }
    assert start.to_api()["context"] == {
        "before": {"releases": ["r/1"]},
        "after": {"releases": ["r/2"]},
    }
    assert "parent_id" not in start.to_api() and "instance" not in start.to_api()


def test_every_filter(events: EventLog) -> None:
    ids = {}
    for n, (user, action, obj, name, dep, inst, task) in enumerate(
        [
            ("admin", "acquire", "lock", "lock:deployment:cf", "cf", None, "1"),
            ("admin", "create", "vm", "vm-1", "cf", "router/abc", "1"),
            ("ops", "delete", "deployment", "zk", "zk", None, "2"),
            ("hm", "create", "alert", "a1", "cf", "router/abc", None),
        ]
    ):
        record = events.record(
            user=user,
            action=action,
            object_type=obj,
            object_name=name,
            deployment=dep,
            instance=inst,
            task=task,
            timestamp=T0 + dt.timedelta(seconds=10 * n),
        )
        assert record is not None
        ids[name] = record.id

    def names(**filters: object) -> list[str | None]:
        return [e.object_name for e in events.list(**filters)]  # type: ignore[arg-type]

    assert names() == ["a1", "zk", "vm-1", "lock:deployment:cf"]
    assert names(before_id=ids["zk"]) == ["vm-1", "lock:deployment:cf"]
    assert names(before=T0 + dt.timedelta(seconds=10)) == ["lock:deployment:cf"]
    # after is exclusive to the second, as the reference's "after_time + 1".
    assert names(after=T0 + dt.timedelta(seconds=10)) == ["a1", "zk"]
    assert names(after=T0 + dt.timedelta(seconds=9)) == ["a1", "zk", "vm-1"]
    assert names(task=1) == ["vm-1", "lock:deployment:cf"]
    assert names(deployment="cf") == ["a1", "vm-1", "lock:deployment:cf"]
    assert names(instance="router/abc") == ["a1", "vm-1"]
    assert names(user="ops") == ["zk"]
    assert names(action="create") == ["a1", "vm-1"]
    assert names(object_type="lock") == ["lock:deployment:cf"]
    assert names(object_name="vm-1") == ["vm-1"]
    assert names(deployment="cf", action="create", user="admin") == ["vm-1"]
    assert names(deployment="nope") == []


def test_a_page_is_200_events_and_before_id_pages_on(events: EventLog, database: Database) -> None:
    with database.write() as session:
        for n in range(EVENT_PAGE_SIZE + 5):
            add_event(session, user="u", action="create", object_type="vm", object_name=f"{n}")
    page = events.list()
    assert len(page) == EVENT_PAGE_SIZE
    assert page[0].object_name == str(EVENT_PAGE_SIZE + 4)
    rest = events.list(before_id=page[-1].id)
    assert [e.object_name for e in rest] == ["4", "3", "2", "1", "0"]
    with pytest.raises(ValidationInvalidType):
        events.list(limit=EVENT_PAGE_SIZE + 1)


def test_add_event_joins_the_callers_transaction(events: EventLog, database: Database) -> None:
    with pytest.raises(RuntimeError), database.write() as session:
        add_event(session, user="u", action="delete", object_type="disk")
        raise RuntimeError("rolled back")
    assert events.list() == []


def test_disabled_log_records_nothing(database: Database) -> None:
    off = EventLog(database, enabled=False)
    assert off.record(user="u", action="create", object_type="vm") is None
    assert EventLog(database).list() == []


def test_bad_events_and_times_are_refused(events: EventLog) -> None:
    with pytest.raises(ValidationInvalidType, match="action"):
        events.record(user="u", action="", object_type="vm")
    with pytest.raises(ValidationInvalidType, match="Context must be a hash"):
        events.record(user="u", action="a", object_type="vm", context=["x"])  # type: ignore[arg-type]
    with pytest.raises(ValidationInvalidType, match="time zone"):
        events.list(before=dt.datetime(2026, 1, 1))
    assert parse_event_time("1700000000") == dt.datetime.fromtimestamp(1700000000, dt.UTC)
    assert parse_event_time("2026-01-02T03:04:05Z") == T0
    assert parse_event_time("2026-01-02 03:04:05") == T0
    with pytest.raises(ValidationInvalidType, match="Invalid before_time parameter"):
        parse_event_time("yesterday", parameter="before_time")
