"""Named locks on SQLite and PostgreSQL: exclusion, timeout, renewal, takeover, GET /locks."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import update

from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import Lock
from bosh_core.director.errors import LockLostError, LockTimeoutError
from bosh_core.director.events import EventLog
from bosh_core.director.locks import (
    HeldLock,
    Locks,
    compile_lock,
    deployment_lock,
    release_lock,
    stemcell_lock,
)


@pytest.fixture
def events(database: Database) -> EventLog:
    return EventLog(database)


@pytest.fixture
def locks(database: Database, events: EventLog) -> Locks:
    return Locks(database, events=events, poll_interval=0.05)


def _expire(database: Database, name: str, seconds_ago: float) -> None:
    with database.write() as session:
        session.execute(
            update(Lock)
            .where(Lock.name == name)
            .values(expired_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago))
        )


def test_names_follow_the_reference() -> None:
    assert deployment_lock("cf") == "lock:deployment:cf"
    assert release_lock("uaa") == "lock:release:uaa"
    assert compile_lock(7, "ubuntu-jammy", "1.5") == "lock:compile:7:ubuntu-jammy/1.5"
    assert stemcell_lock("bosh-stemcell", "1.5") == "lock:stemcells:bosh-stemcell:1.5"


def test_a_lock_excludes_others_until_released(locks: Locks, events: EventLog) -> None:
    name = deployment_lock("cf")
    held = locks.acquire(name, task_id=12, user="admin", deployment="cf", renew=False)
    assert locks.is_locked(name)
    started = time.monotonic()
    with pytest.raises(LockTimeoutError, match="Locking task id is 12") as failure:
        locks.acquire(name, timeout=0.3, task_id=13)
    assert 0.28 <= time.monotonic() - started < 2
    assert isinstance(failure.value, TimeoutError)
    assert held.release() is True
    assert not locks.is_locked(name)
    with locks.acquire(name, timeout=0, task_id=13, renew=False) as again:
        assert locks.get(name) is not None and again.task_id == "13"
    assert locks.list() == []

    acquire, release = sorted(
        (e for e in events.list(object_type="lock", task=12)), key=lambda e: e.id
    )
    assert (acquire.action, acquire.object_name, acquire.deployment, acquire.user) == (
        "acquire",
        name,
        "cf",
        "admin",
    )
    assert (release.action, release.parent_id) == ("release", acquire.id)


def test_a_waiting_acquire_gets_the_lock_when_released(locks: Locks) -> None:
    name = release_lock("uaa")
    held = locks.acquire(name, renew=False)
    threading.Timer(0.2, held.release).start()
    with locks.acquire(name, timeout=5, renew=False):
        pass


def test_an_expired_lock_is_taken_over_and_its_holder_finds_out(
    locks: Locks, database: Database
) -> None:
    name = deployment_lock("cf")
    dead = locks.acquire(name, task_id=1, renew=False)
    _expire(database, name, 1)
    taker = locks.acquire(name, timeout=0, task_id=2, renew=False)
    info = locks.get(name)
    assert info is not None and (info.uid, info.task_id) == (taker.uid, "2")
    with pytest.raises(LockLostError):
        dead.renew()
    assert dead.release() is False  # does not delete the new holder's row
    assert locks.is_locked(name)
    taker.release()


def test_renewal_keeps_a_lock_alive_and_a_lost_one_is_reported(
    locks: Locks, database: Database, events: EventLog
) -> None:
    name = compile_lock(3, "ubuntu", "1")
    lost: list[HeldLock] = []
    held = locks.acquire(name, expiration=0.4, task_id=5, on_lost=lost.append)
    time.sleep(1.0)  # over twice the expiration: alive only by renewal
    with pytest.raises(LockTimeoutError):
        locks.acquire(name, timeout=0)
    assert not held.lost

    # Another director takes it over (as after a network partition).
    with database.write() as session:
        session.execute(update(Lock).where(Lock.name == name).values(uid="someone-else"))
    deadline = time.monotonic() + 5
    while not lost and time.monotonic() < deadline:  # the callback runs after the flag
        time.sleep(0.02)
    assert held.lost and lost == [held]
    [event] = events.list(action="lost")
    assert (event.object_name, event.task, event.error) == (
        name,
        "5",
        "Lock renewal thread exiting",
    )
    assert held.release() is False


def test_list_for_the_api_prunes_long_expired_locks(locks: Locks, database: Database) -> None:
    fresh = locks.acquire(deployment_lock("cf"), task_id=12, renew=False)
    locks.acquire(compile_lock(3, "ubuntu", "1"), task_id=13, renew=False)
    locks.acquire(release_lock("old"), renew=False)
    _expire(database, release_lock("old"), 61)
    _expire(database, compile_lock(3, "ubuntu", "1"), 5)  # expired, not yet pruned

    listed = locks.list_api()
    assert [(lock["type"], lock["resource"], lock["task_id"]) for lock in listed] == [
        ("compile", ["3", "ubuntu/1"], "13"),
        ("deployment", ["cf"], "12"),
    ]
    info = locks.get(deployment_lock("cf"))
    assert info is not None
    assert listed[1]["timeout"] == f"{info.expired_at.timestamp():.6f}"
    assert float(listed[1]["timeout"]) > time.time() + 200  # 240 s by default
    fresh.release()


def test_acquire_all_takes_sorted_and_gives_back_on_failure(locks: Locks) -> None:
    blocker = locks.acquire(release_lock("b"), renew=False)
    with pytest.raises(LockTimeoutError):
        locks.acquire_all([release_lock("c"), release_lock("b"), release_lock("a")], timeout=0)
    assert not locks.is_locked(release_lock("a"))
    blocker.release()
    held = locks.acquire_all([release_lock("c"), release_lock("a")], timeout=0, renew=False)
    assert [lock.name for lock in held] == [release_lock("a"), release_lock("c")]
    for lock in held:
        lock.release()


def test_two_directors_contending_get_the_lock_one_at_a_time(database: Database) -> None:
    inside = 0
    peak = 0
    guard = threading.Lock()

    def contend() -> None:
        nonlocal inside, peak
        own = open_database(database.url)
        try:
            own_locks = Locks(own, poll_interval=0.02)
            for _ in range(3):
                with own_locks.acquire(deployment_lock("cf"), timeout=20, renew=False):
                    with guard:
                        inside += 1
                        peak = max(peak, inside)
                    time.sleep(0.01)
                    with guard:
                        inside -= 1
        finally:
            own.dispose()

    threads = [threading.Thread(target=contend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert peak == 1
