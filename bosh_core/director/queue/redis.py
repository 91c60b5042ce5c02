"""The task queue on Redis: reliable lists with leases.

Keys under one prefix (``bosh:queue`` unless told):

``<prefix>:q:<queue>``
    the queued messages (JSON); enqueue pushes on the left, workers take from the right.
``<prefix>:processing:<worker_id>``
    the messages a worker holds: a job moves here from its queue in one atomic step, so
    it is always in exactly one list and a crash at any moment loses nothing.
``<prefix>:leases``
    a sorted set of ``<worker_id>\\n<message>`` scored by the lease's end (ms, Redis
    server time, so the clocks of director and workers do not matter). A member exists
    exactly while its message is in a processing list.
``<prefix>:wake:<queue>``
    one token per enqueue, for waiting workers to block on (``BLPOP`` waits on several
    lists at once; ``BLMOVE`` waits on one only and could not set the lease in the same
    step, so the move itself is a script that tries the queues in priority order).

Every change touching more than one key is a Lua script or a ``MULTI`` transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import redis

from bosh_core.director.errors import QueueError
from bosh_core.director.queue import (
    Job,
    Reserved,
    check_enqueue,
    check_queue_name,
    check_reserve,
    check_worker_id,
    reservation_lost,
)

__all__ = ["RedisTaskQueue"]

# Spare wake tokens pile up only while no worker waits; a few are enough to wake many.
_WAKE_TOKENS_KEPT: Final = 64

_SERVER_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: processing, leases, queue...; ARGV: worker_id, lease_ms
_TAKE = (
    _SERVER_NOW_MS
    + """
for i = 3, #KEYS do
  local message = redis.call('LMOVE', KEYS[i], KEYS[1], 'RIGHT', 'LEFT')
  if message then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1] .. '\\n' .. message)
    return message
  end
end
return false
"""
)

# KEYS: leases; ARGV: member, lease_ms
_HEARTBEAT = (
    _SERVER_NOW_MS
    + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
return 1
"""
)

# KEYS: processing, leases; ARGV: message, member
_COMPLETE = """
local held = redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[1])
return held
"""

# KEYS: processing, leases, queue, wake; ARGV: message, member, wake_tokens_kept
_RELEASE = """
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('LPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[3]) - 1)
return 1
"""

# KEYS: processing, leases, queue, wake; ARGV: message, member, requeue, wake_tokens_kept
# The lease is checked again here: the worker may have renewed it since it was listed.
_RECOVER = (
    _SERVER_NOW_MS
    + """
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not score or tonumber(score) > now then return 0 end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[1])
if ARGV[3] == '1' then
  redis.call('RPUSH', KEYS[3], ARGV[1])
  redis.call('LPUSH', KEYS[4], '1')
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[4]) - 1)
end
return 1
"""
)


class RedisTaskQueue:
    """`TaskQueue` on one Redis server (or a primary with replicas; not a cluster).

    The client is made at the edge (`from_url`, or ``redis.Redis(...)``); it must not
    have a ``socket_timeout`` shorter than the ``timeout`` given to `reserve`.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "bosh:queue",
        lease_seconds: float = 30.0,
    ) -> None:
        if lease_seconds <= 0:
            raise QueueError(f"lease_seconds must be positive, not {lease_seconds}")
        self._client = client
        self._prefix = prefix
        self._lease_seconds = lease_seconds
        self._take = client.register_script(_TAKE)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)
        self._recover = client.register_script(_RECOVER)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "bosh:queue", lease_seconds: float = 30.0
    ) -> RedisTaskQueue:
        """A queue on the server at `url` (``redis://host:6379/0``, ``rediss://...``)."""
        return cls(redis.Redis.from_url(url), prefix=prefix, lease_seconds=lease_seconds)

    @property
    def lease_seconds(self) -> float:
        return self._lease_seconds

    @property
    def prefix(self) -> str:
        return self._prefix

    def enqueue(
        self,
        task_id: int,
        job_type: str,
        payload: Mapping[str, Any],
        *,
        queue: str = "normal",
    ) -> Job:
        check_enqueue(task_id, job_type, queue)
        job = Job(
            id=uuid.uuid4().hex,
            task_id=task_id,
            job_type=job_type,
            payload=dict(payload),
            queue=queue,
            enqueued_at=time.time(),
        )
        message = _encode(job)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.lpush(self._queue_key(queue), message)
            pipe.lpush(self._wake_key(queue), "1")
            pipe.ltrim(self._wake_key(queue), 0, _WAKE_TOKENS_KEPT - 1)
            pipe.execute()
        return job

    def reserve(self, queues: Sequence[str], *, worker_id: str, timeout: float) -> Reserved | None:
        check_reserve(queues, worker_id)
        keys = [
            self._processing_key(worker_id),
            self._leases_key(),
            *(self._queue_key(queue) for queue in queues),
        ]
        wake_keys = [self._wake_key(queue) for queue in queues]
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            message = self._take(keys=keys, args=[worker_id, self._lease_ms()])
            if message:
                raw = _text(message)
                return Reserved(job=_decode(raw), worker_id=worker_id, token=raw)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # BLPOP's timeout 0 means "forever": never round a short wait down to it.
            self._client.blpop(wake_keys, timeout=max(remaining, 0.01))

    def heartbeat(self, reserved: Reserved) -> None:
        renewed = self._heartbeat(
            keys=[self._leases_key()], args=[_member(reserved), self._lease_ms()]
        )
        if not renewed:
            raise reservation_lost(reserved)

    def complete(self, reserved: Reserved) -> None:
        held = self._complete(
            keys=[self._processing_key(reserved.worker_id), self._leases_key()],
            args=[reserved.token, _member(reserved)],
        )
        if not held:
            raise reservation_lost(reserved)

    def release(self, reserved: Reserved) -> None:
        held = self._release(
            keys=self._move_back_keys(reserved),
            args=[reserved.token, _member(reserved), _WAKE_TOKENS_KEPT],
        )
        if not held:
            raise reservation_lost(reserved)

    def recover_expired(self, *, requeue: bool = False) -> list[Reserved]:
        seconds, microseconds = self._client.time()
        now_ms = int(seconds) * 1000 + int(microseconds) // 1000
        # Without scores the reply is a plain list of members.
        expired = cast(
            "list[bytes | str]", self._client.zrangebyscore(self._leases_key(), "-inf", now_ms)
        )
        recovered = []
        for member in expired:
            worker_id, _, raw = _text(member).partition("\n")
            reserved = Reserved(job=_decode(raw), worker_id=worker_id, token=raw)
            taken = self._recover(
                keys=self._move_back_keys(reserved),
                args=[raw, _member(reserved), "1" if requeue else "0", _WAKE_TOKENS_KEPT],
            )
            if taken:
                recovered.append(reserved)
        return recovered

    def pending(self, queue: str) -> int:
        return int(self._client.llen(self._queue_key(check_queue_name(queue))))

    def reserved_by(self, worker_id: str) -> list[Reserved]:
        """The jobs `worker_id` holds now (its processing list), newest first."""
        messages = self._client.lrange(self._processing_key(check_worker_id(worker_id)), 0, -1)
        return [
            Reserved(job=_decode(_text(m)), worker_id=worker_id, token=_text(m)) for m in messages
        ]

    def _lease_ms(self) -> int:
        return max(1, round(self._lease_seconds * 1000))

    def _move_back_keys(self, reserved: Reserved) -> list[str]:
        return [
            self._processing_key(reserved.worker_id),
            self._leases_key(),
            self._queue_key(reserved.job.queue),
            self._wake_key(reserved.job.queue),
        ]

    def _queue_key(self, queue: str) -> str:
        return f"{self._prefix}:q:{queue}"

    def _wake_key(self, queue: str) -> str:
        return f"{self._prefix}:wake:{queue}"

    def _processing_key(self, worker_id: str) -> str:
        return f"{self._prefix}:processing:{worker_id}"

    def _leases_key(self) -> str:
        return f"{self._prefix}:leases"


def _member(reserved: Reserved) -> str:
    return f"{reserved.worker_id}\n{reserved.token}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _encode(job: Job) -> str:
    try:
        return json.dumps(
            {
                "id": job.id,
                "task_id": job.task_id,
                "job_type": job.job_type,
                "payload": job.payload,
                "queue": job.queue,
                "enqueued_at": job.enqueued_at,
            },
            separators=(",", ":"),
            sort_keys=True,
            allow_nan=False,
        )
    except (TypeError, ValueError) as error:
        raise QueueError(f"Payload of task {job.task_id} is not JSON: {error}") from error


def _decode(raw: str) -> Job:
    try:
        fields = json.loads(raw)
        return Job(
            id=fields["id"],
            task_id=fields["task_id"],
            job_type=fields["job_type"],
            payload=fields["payload"],
            queue=fields["queue"],
            enqueued_at=fields["enqueued_at"],
        )
    except (ValueError, KeyError, TypeError) as error:
        raise QueueError(f"Unreadable message in the task queue: {raw[:200]!r}") from error
