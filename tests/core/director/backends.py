"""Throwaway backends of the machine for tests that run a whole director: a fresh
PostgreSQL database, dropped at the end, and a Redis db whose task queue is emptied
before and after (the Redis queue's keys have a fixed prefix, so each director needs a
db number of its own)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

__all__ = ["redis_queue", "throwaway_database"]

_QUEUE_KEYS = "bosh:queue*"


@contextlib.contextmanager
def throwaway_database(admin: Engine, admin_url: str, *, prefix: str) -> Iterator[tuple[str, str]]:
    """A new database `<prefix>_<random>` on `admin`'s server: (name, URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _clear_queue(client: redis.Redis) -> None:
    keys = list(client.scan_iter(_QUEUE_KEYS))
    if keys:
        client.delete(*keys)


@contextlib.contextmanager
def redis_queue(url: str) -> Iterator[redis.Redis]:
    """A client of the Redis db at `url`, its task queue empty; skips without Redis."""
    client = redis.Redis.from_url(url)
    try:
        _clear_queue(client)
    except redis.ConnectionError as error:
        client.close()
        pytest.skip(f"no Redis server at {url}: {error}")
    try:
        yield client
    finally:
        _clear_queue(client)
        client.close()
