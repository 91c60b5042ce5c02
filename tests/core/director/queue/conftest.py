"""A RedisTaskQueue on the machine's Redis (127.0.0.1:6379) under a prefix of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

redis = pytest.importorskip("redis", reason="redis-py is not installed (the 'redis' extra)")

from bosh_core.director.queue.redis import RedisTaskQueue  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.skip(f"no Redis server at {REDIS_URL}: {error}")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    name = f"test:queue:{uuid.uuid4().hex}"
    yield name
    keys = list(redis_client.scan_iter(match=f"{name}:*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def queue(redis_client: redis.Redis, prefix: str) -> RedisTaskQueue:
    return RedisTaskQueue(redis_client, prefix=prefix, lease_seconds=0.6)
