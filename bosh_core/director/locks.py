"""Named locks in the director's database, shared by the director and its workers.

A lock is a ``locks`` row: a unique ``name``, the holder's random ``uid``, the time it
expires and the holding task. Acquiring inserts the row; when the name is taken, a row
whose time is past is taken over (its holder died without releasing it); otherwise the
caller retries every `poll_interval` until its ``timeout``, then fails with
`LockTimeoutError`. A holder keeps its lock alive with a renewal thread (every half
``expiration``); if a renewal finds the row gone or owned by another uid, the lock is
*lost*: a ``lost`` event is recorded and ``on_lost`` is called (the director then sets
the task ``cancelling``, as BOSH does).

    locks = Locks(db, events=EventLog(db))
    with locks.acquire(deployment_lock("cf"), timeout=10, task_id="12", user="admin",
                       deployment="cf"):
        ...  # update the deployment

Names (`deployment_lock` and the others) are those of the reference director.
Acquire and release are recorded as ``lock`` events when an `EventLog` is given.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Final

import attrs
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bosh_core.director.db import Database
from bosh_core.director.db.models import Lock
from bosh_core.director.errors import DirectorError, LockLostError, LockTimeoutError
from bosh_core.director.events import AuditedAction, EventLog

__all__ = [
    "DEFAULT_EXPIRATION",
    "DEPLOYMENT_LOCK_TIMEOUT",
    "PRUNE_EXPIRED_AFTER",
    "RELEASE_LOCK_TIMEOUT",
    "HeldLock",
    "LockInfo",
    "Locks",
    "compile_lock",
    "deployment_lock",
    "network_lock",
    "release_lock",
    "stemcell_lock",
    "vm_lock",
]

_log = logging.getLogger(__name__)

#: How long a lock lives without renewal (the reference's 240 s; renewed every 120 s).
DEFAULT_EXPIRATION: Final = 240.0
#: How long a task waits for a deployment's lock (the reference's 10 s).
DEPLOYMENT_LOCK_TIMEOUT: Final = 10.0
#: How long a task waits for a release's lock (the reference's 5 minutes).
RELEASE_LOCK_TIMEOUT: Final = 300.0
#: ``GET /locks`` first deletes locks expired longer ago than this (seconds).
PRUNE_EXPIRED_AFTER: Final = 60.0


def deployment_lock(name: str) -> str:
    """Held while a deployment changes (deploy, delete, cck, start/stop, errands)."""
    return f"lock:deployment:{name}"


def release_lock(name: str) -> str:
    """Held while a release is uploaded, deleted or bound to a deployment."""
    return f"lock:release:{name}"


def compile_lock(package_id: int | str, stemcell_os: str, stemcell_version: str) -> str:
    """Held while one package is compiled for one stemcell."""
    return f"lock:compile:{package_id}:{stemcell_os}/{stemcell_version}"


def stemcell_lock(name: str, version: str) -> str:
    return f"lock:stemcells:{name}:{version}"


def vm_lock(cid: str) -> str:
    return f"lock:vm:{cid}"


def network_lock(name: str) -> str:
    return f"lock:networks:{name}"


@attrs.frozen
class LockInfo:
    """A lock as stored: who holds it and until when."""

    name: str
    uid: str
    expired_at: dt.datetime
    task_id: str

    def to_api(self) -> dict[str, Any]:
        """The JSON object of ``GET /locks``: ``lock:deployment:cf`` is type
        ``deployment``, resource ``["cf"]``; the expiry in epoch seconds as a string."""
        parts = self.name.split(":")
        return {
            "type": parts[1] if len(parts) > 1 else "",
            "resource": parts[2:],
            "timeout": f"{self.expired_at.timestamp():.6f}",
            "task_id": self.task_id,
        }


class HeldLock:
    """A lock this process holds; release it (or leave its ``with`` block) when done."""

    def __init__(
        self,
        locks: Locks,
        *,
        name: str,
        uid: str,
        expiration: float,
        task_id: str,
        user: str,
        deployment: str | None,
        acquired: AuditedAction | None,
        on_lost: Callable[[HeldLock], None] | None,
    ) -> None:
        self.name = name
        self.uid = uid
        self.expiration = expiration
        self.task_id = task_id
        self.user = user
        self.deployment = deployment
        self._locks = locks
        self._acquired = acquired
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lost(self) -> bool:
        """True once a renewal found the lock taken over or gone."""
        return self._lost.is_set()

    def renew(self) -> None:
        """Push the expiry `expiration` seconds on; `LockLostError` if no longer held."""
        if not self._locks._renew(self):
            raise LockLostError(
                f"Lock {self.name} (uid {self.uid}) is no longer held: it expired and was"
                " taken over or removed"
            )

    def start_renewing(self, interval: float | None = None) -> None:
        """Renew in a daemon thread every `interval` seconds (half the expiration)."""
        if self._thread is not None:
            return
        every = interval if interval is not None else self.expiration / 2
        self._thread = threading.Thread(
            target=self._renew_loop, args=(every,), name=f"renew {self.name}", daemon=True
        )
        self._thread.start()

    def release(self) -> bool:
        """Stop renewing and delete the lock; False if it was not held any more."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        return self._locks._release(self, self._acquired)

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _renew_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                held = self._locks._renew(self)
            except Exception:  # a database hiccup: try again next time
                _log.exception("Renewing lock %s failed", self.name)
                continue
            if not held:
                if not self._stop.is_set():
                    self._locks._lost(self)
                return


class Locks:
    """The named locks of one director database."""

    def __init__(
        self,
        database: Database,
        *,
        events: EventLog | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        if poll_interval <= 0:
            raise DirectorError(f"poll_interval must be positive, not {poll_interval}")
        self._db = database
        self._events = events
        self._poll_interval = poll_interval

    def acquire(
        self,
        name: str,
        *,
        timeout: float = 1.0,
        expiration: float = DEFAULT_EXPIRATION,
        task_id: int | str = "",
        user: str = "admin",
        deployment: str | None = None,
        renew: bool = True,
        on_lost: Callable[[HeldLock], None] | None = None,
    ) -> HeldLock:
        """Take the lock `name`, waiting up to `timeout` seconds (0: try once).

        With `renew` a thread keeps it alive until it is released; `on_lost` is called
        (in that thread) if it is lost meanwhile.
        """
        if not name.startswith("lock:"):
            raise DirectorError(f"Lock names start with 'lock:', not {name!r}")
        if expiration <= 0:
            raise DirectorError(f"Lock expiration must be positive, not {expiration}")
        uid = uuid.uuid4().hex
        task = str(task_id)
        started = time.monotonic()
        while not self._try_take(name, uid, expiration, task):
            if time.monotonic() - started >= timeout:
                holder = self.get(name)
                holding = f" Locking task id is {holder.task_id}." if holder else ""
                raise LockTimeoutError(
                    f"Failed to acquire lock for {name} uid: {uid}.{holding}"
                    f" Timed out after {timeout:g} seconds."
                )
            time.sleep(min(self._poll_interval, max(timeout - (time.monotonic() - started), 0)))
        _log.debug("Acquired lock %s (uid %s)", name, uid)
        acquired = (
            None
            if self._events is None
            else self._events.begin(action="acquire", **_event_fields(user, name, task, deployment))
        )
        held = HeldLock(
            self,
            name=name,
            uid=uid,
            expiration=expiration,
            task_id=task,
            user=user,
            deployment=deployment,
            acquired=acquired,
            on_lost=on_lost,
        )
        if renew:
            held.start_renewing()
        return held

    def acquire_all(self, names: builtins.list[str], **options: Any) -> builtins.list[HeldLock]:
        """Take several locks in sorted order (so two tasks never wait on each other);
        on failure the ones taken are released again."""
        held: builtins.list[HeldLock] = []
        try:
            for name in sorted(set(names)):
                held.append(self.acquire(name, **options))
        except BaseException:
            for lock in reversed(held):
                lock.release()
            raise
        return held

    def deployment(self, name: str, *, task_id: int | str, user: str) -> HeldLock:
        """Take ``lock:deployment:<name>`` as a task changing that deployment does."""
        return self.acquire(
            deployment_lock(name),
            timeout=DEPLOYMENT_LOCK_TIMEOUT,
            task_id=task_id,
            user=user,
            deployment=name,
        )

    @contextlib.contextmanager
    def releases(self, names: Iterable[str], *, task_id: int | str, user: str) -> Iterator[None]:
        """Hold ``lock:release:<name>`` of each release while the block runs (as a
        deploy does while it reads its releases, so none is deleted meanwhile)."""
        held = self.acquire_all(
            [release_lock(name) for name in names],
            timeout=RELEASE_LOCK_TIMEOUT,
            task_id=task_id,
            user=user,
        )
        try:
            yield
        finally:
            for lock in reversed(held):
                lock.release()

    def get(self, name: str) -> LockInfo | None:
        with self._db.read() as session:
            row = session.scalar(select(Lock).where(Lock.name == name))
            return None if row is None else _info(row)

    def list(self, *, prune: bool = True) -> builtins.list[LockInfo]:
        """Every lock by name; first (with `prune`) deletes those expired longer than
        `PRUNE_EXPIRED_AFTER` seconds ago, as ``GET /locks`` does."""
        if prune:
            cutoff = _now() - dt.timedelta(seconds=PRUNE_EXPIRED_AFTER)
            with self._db.write() as session:
                session.execute(
                    delete(Lock)
                    .where(Lock.expired_at <= cutoff)
                    .execution_options(synchronize_session=False)
                )
        with self._db.read() as session:
            return [_info(row) for row in session.scalars(select(Lock).order_by(Lock.name))]

    def list_api(self) -> builtins.list[dict[str, Any]]:
        """The body of ``GET /locks``."""
        return [lock.to_api() for lock in self.list()]

    def is_locked(self, name: str) -> bool:
        """Whether `name` is held now (an expired row counts as free)."""
        lock = self.get(name)
        return lock is not None and lock.expired_at > _now()

    def _try_take(self, name: str, uid: str, expiration: float, task_id: str) -> bool:
        expires = _now() + dt.timedelta(seconds=expiration)
        try:
            with self._db.write() as session:
                session.add(Lock(name=name, uid=uid, expired_at=expires, task_id=task_id))
            return True
        except IntegrityError:
            pass
        with self._db.write() as session:
            taken = session.execute(
                update(Lock)
                .where(Lock.name == name, Lock.expired_at < _now())
                .values(uid=uid, expired_at=expires, task_id=task_id)
                .execution_options(synchronize_session=False)
            )
        if int(getattr(taken, "rowcount", 0)) == 1:
            _log.info("Took over expired lock %s", name)
            return True
        return False

    def _renew(self, lock: HeldLock) -> bool:
        expires = _now() + dt.timedelta(seconds=lock.expiration)
        with self._db.write() as session:
            renewed = session.execute(
                update(Lock)
                .where(Lock.name == lock.name, Lock.uid == lock.uid)
                .values(expired_at=expires)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(renewed, "rowcount", 0)) == 1

    def _release(self, lock: HeldLock, acquired: AuditedAction | None) -> bool:
        with self._db.write() as session:
            deleted = session.execute(
                delete(Lock)
                .where(Lock.name == lock.name, Lock.uid == lock.uid)
                .execution_options(synchronize_session=False)
            )
        held = int(getattr(deleted, "rowcount", 0)) == 1
        if not held:
            _log.debug("Lock %s (uid %s) was no longer held at release", lock.name, lock.uid)
        if acquired is not None:
            acquired.end(action="release")
        return held

    def _lost(self, lock: HeldLock) -> None:
        lock._lost.set()
        _log.warning("Lost lock %s (uid %s)", lock.name, lock.uid)
        if self._events is not None:
            self._events.record(
                action="lost",
                error="Lock renewal thread exiting",
                **_event_fields(lock.user, lock.name, lock.task_id, lock.deployment),
            )
        if lock._on_lost is not None:
            lock._on_lost(lock)


def _event_fields(user: str, name: str, task_id: str, deployment: str | None) -> dict[str, Any]:
    """What a lock's events (``acquire``, its ``release``, ``lost``) record besides their
    action."""
    return {
        "user": user,
        "object_type": "lock",
        "object_name": name,
        "task": task_id or None,
        "deployment": deployment,
    }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _info(row: Lock) -> LockInfo:
    return LockInfo(name=row.name, uid=row.uid, expired_at=row.expired_at, task_id=row.task_id)
