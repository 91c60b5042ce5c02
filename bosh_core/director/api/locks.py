"""``GET /locks``: the locks held now, after pruning long-expired ones (as the reference)."""

from __future__ import annotations

from typing import Any

from litestar import get

from bosh_core.director.api.app import DirectorDependency

__all__ = ["ROUTES", "list_locks"]


@get("/locks", sync_to_thread=True, summary="Locks held now")
def list_locks(director: DirectorDependency) -> list[dict[str, Any]]:
    return director.locks.list_api()


ROUTES = [list_locks]
