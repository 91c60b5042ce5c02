"""Deleting releases, stemcells and deployments: each a task, answered with 302 to it.

The thing to delete must exist when the request comes (404 with the reference's code
otherwise, and no task); the task itself checks again under its lock.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Request, Response, delete
from litestar.params import FromPath
from litestar.status_codes import HTTP_302_FOUND
from sqlalchemy import select

from bosh_core.director import views
from bosh_core.director.api.app import DirectorDependency
from bosh_core.director.api.tasks import query_flag, start_task
from bosh_core.director.db.models import Stemcell
from bosh_core.director.errors import StemcellNotFoundError

__all__ = ["ROUTES"]


@delete(
    "/releases/{name:str}",
    status_code=HTTP_302_FOUND,
    summary="Delete a release, or one version of it (?version=)",
)
async def delete_release(
    request: Request[Any, Any, Any], director: DirectorDependency, name: FromPath[str]
) -> Response[None]:
    def check() -> None:
        with director.database.read() as session:
            views.find_release(session, name)

    await anyio.to_thread.run_sync(check)
    payload = {
        "name": name,
        "version": request.query_params.get("version"),
        "force": query_flag(request, "force"),
    }
    return await start_task(request, director, "delete_release", f"delete release: {name}", payload)


@delete(
    "/stemcells/{name:str}/{version:str}",
    status_code=HTTP_302_FOUND,
    summary="Delete a stemcell (from every CPI it was uploaded to)",
)
async def delete_stemcell(
    request: Request[Any, Any, Any],
    director: DirectorDependency,
    name: FromPath[str],
    version: FromPath[str],
) -> Response[None]:
    def check() -> None:
        query = select(Stemcell.id).where(Stemcell.name == name, Stemcell.version == version)
        with director.database.read() as session:
            if session.scalar(query.limit(1)) is None:
                raise StemcellNotFoundError(f"Stemcell '{name}/{version}' doesn't exist")

    await anyio.to_thread.run_sync(check)
    payload = {"name": name, "version": version, "force": query_flag(request, "force")}
    return await start_task(
        request, director, "delete_stemcell", f"delete stemcell: {name}/{version}", payload
    )


@delete(
    "/deployments/{deployment:str}",
    status_code=HTTP_302_FOUND,
    summary="Delete a deployment: its VMs, then its rows; disks are orphaned",
)
async def delete_deployment(
    request: Request[Any, Any, Any], director: DirectorDependency, deployment: FromPath[str]
) -> Response[None]:
    def check() -> None:
        with director.database.read() as session:
            views.find_deployment(session, deployment)

    await anyio.to_thread.run_sync(check)
    payload = {
        "name": deployment,
        "force": query_flag(request, "force"),
        "keep_snapshots": query_flag(request, "keep_snapshots"),
    }
    return await start_task(
        request,
        director,
        "delete_deployment",
        f"delete deployment {deployment}",
        payload,
        deployment=deployment,
    )


ROUTES = [delete_release, delete_stemcell, delete_deployment]
