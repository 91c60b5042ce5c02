"""The database fixtures moved up to ``tests/core/director/conftest.py`` (shared with the
queue, locks and events tests); re-exported for modules that import them from here."""

from __future__ import annotations

from tests.core.director.conftest import (  # noqa: F401  (fixtures)
    ADMIN_URL,
    database,
    database_url,
    empty_database,
    postgres_admin,
    postgres_url,
    sqlite_url,
)
