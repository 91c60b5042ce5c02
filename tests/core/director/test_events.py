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
    # The forms the CLI prints, which users paste into `bosh events --before`.
    assert parse_event_time("2026-01-02 03:04:05 UTC") == T0
    assert parse_event_time("Fri Jan  2 03:04:05 UTC 2026") == T0
    with pytest.raises(ValidationInvalidType, match="Invalid time parameter"):
        parse_event_time("2026-01-02 03:04:05 PST")  # not read as UTC, hours off
    with pytest.raises(ValidationInvalidType, match="Invalid before_time parameter"):
        parse_event_time("yesterday", parameter="before_time")


def _pairs(events: EventLog) -> list[tuple[str, str | None, bool, str | None]]:
    """(action, object_name, names its start, error) of every event, oldest first."""
    return [
        (e.action, e.object_name, e.parent_id is not None, e.error) for e in reversed(events.list())
    ]


def test_an_audited_block_records_its_start_and_its_end(events: EventLog) -> None:
    with events.audited(
        user="ops", action="create", object_type="vm", task=7, deployment="cf", instance="w/1"
    ) as created:
        created.object_name = "vm-1"  # known only once the VM exists
    with (
        pytest.raises(RuntimeError, match="cloud said no"),
        events.audited(user="ops", action="delete", object_type="vm", object_name="vm-1"),
    ):
        raise RuntimeError("cloud said no")

    assert _pairs(events) == [
        ("create", None, False, None),
        ("create", "vm-1", True, None),
        ("delete", "vm-1", False, None),
        ("delete", "vm-1", True, "cloud said no"),
    ]
    create_end, create_start = events.list(action="create")
    assert create_start.id == created.start_id == create_end.parent_id
    assert (create_end.user, create_end.task, create_end.deployment, create_end.instance) == (
        "ops",
        "7",
        "cf",
        "w/1",
    )


def test_an_action_ended_elsewhere_may_end_as_another_action(events: EventLog) -> None:
    acquired = events.begin(user="u", action="acquire", object_type="lock", object_name="lock:x")
    end = acquired.end(action="release")
    assert end is not None and end.parent_id == acquired.start_id
    assert _pairs(events) == [("acquire", "lock:x", False, None), ("release", "lock:x", True, None)]


def test_a_disabled_log_audits_nothing(database: Database) -> None:
    off = EventLog(database, enabled=False)
    with off.audited(user="u", action="delete", object_type="vm") as deleted:
        assert deleted.start_id is None
    assert EventLog(database).list() == []
