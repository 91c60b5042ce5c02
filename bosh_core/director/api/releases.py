"""Release routes. Reading: ``GET /releases`` (every release with its versions) and
``GET /releases/:name`` (its packages, jobs and versions; with ``?version=`` one
version as ``bosh inspect-release`` shows it). Uploading and deleting add their
handlers to `ROUTES`."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.params import FromPath, FromQuery

from bosh_core.director import views
from bosh_core.director.api.app import DirectorDependency

__all__ = ["ROUTES"]


@get("/releases", sync_to_thread=True, summary="Releases by name, each with its versions")
def list_releases(director: DirectorDependency) -> list[dict[str, Any]]:
    with director.database.read() as session:
        return views.releases(session)


@get(
    "/releases/{name:str}",
    sync_to_thread=True,
    summary="A release's packages, jobs and versions; ?version= inspects one version",
)
def show_release(
    director: DirectorDependency, name: FromPath[str], version: FromQuery[str | None] = None
) -> dict[str, Any]:
    name = name.strip()
    with director.database.read() as session:
        if version:
            return views.inspect_release(session, name, version)
        return views.release(session, name)


ROUTES = [list_releases, show_release]
