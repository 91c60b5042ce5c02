"""Deployment routes that read: the list, a manifest, instances and VMs from the
database, variables, and which configs each deployment used.

``format=full`` on instances and vms asks every agent for its state: it queues a ``vms``
task (``retrieve vm-stats``) on the urgent queue, as the reference does, and answers 302
to it; the task's result has one JSON line per instance or VM (`jobs.vm_states`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get
from litestar.params import FromPath, QueryParameter
from sqlalchemy.orm import Session

from bosh_core.director import views
from bosh_core.director.api.app import Director, DirectorDependency
from bosh_core.director.api.tasks import start_task
from bosh_core.director.db.models import Deployment

__all__ = ["ROUTES"]

_Exclude = Annotated[str | None, QueryParameter(description="'true' leaves this out")]
_Format = Annotated[
    str | None,
    QueryParameter(
        name="format",
        description="'full': a task asking every agent for its state (302 to the task)",
    ),
]


@get("/deployments", sync_to_thread=True, summary="Deployments, by name")
def list_deployments(
    director: DirectorDependency,
    exclude_configs: _Exclude = None,
    exclude_releases: _Exclude = None,
    exclude_stemcells: _Exclude = None,
    exclude_lock: _Exclude = None,
) -> list[dict[str, Any]]:
    with director.database.read() as session:
        return views.deployments(
            session,
            with_configs=exclude_configs != "true",
            with_releases=exclude_releases != "true",
            with_stemcells=exclude_stemcells != "true",
            with_lock=exclude_lock != "true",
        )


@get("/deployments/{deployment:str}", sync_to_thread=True, summary="A deployment's manifest")
def show_deployment(director: DirectorDependency, deployment: FromPath[str]) -> dict[str, Any]:
    with director.database.read() as session:
        return {"manifest": views.find_deployment(session, deployment).manifest_text}


@get(
    "/deployments/{deployment:str}/instances",
    summary="A deployment's instances, from the database (format=full: from the agents)",
)
async def list_instances(
    request: Request[Any, Any, Any],
    director: DirectorDependency,
    deployment: FromPath[str],
    output_format: _Format = None,
) -> Response[Any]:
    return await _listed(
        request,
        director,
        deployment,
        output_format,
        views.deployment_instances,
        every_instance=True,
    )


@get(
    "/deployments/{deployment:str}/vms",
    summary="A deployment's VMs (inactive ones too), from the database (format=full: agents)",
)
async def list_vms(
    request: Request[Any, Any, Any],
    director: DirectorDependency,
    deployment: FromPath[str],
    output_format: _Format = None,
) -> Response[Any]:
    return await _listed(
        request, director, deployment, output_format, views.deployment_vms, every_instance=False
    )


async def _listed(
    request: Request[Any, Any, Any],
    director: Director,
    deployment: str,
    output_format: str | None,
    view: Callable[[Session, Deployment], list[dict[str, Any]]],
    *,
    every_instance: bool,
) -> Response[Any]:
    """`view` of the deployment from the database, or with ``format=full`` the task that
    asks the agents."""
    if output_format == "full":
        return await _vm_states_task(request, director, deployment, every_instance=every_instance)

    def recorded() -> list[dict[str, Any]]:
        with director.database.read() as session:
            return view(session, views.find_deployment(session, deployment))

    return Response(await anyio.to_thread.run_sync(recorded))


async def _vm_states_task(
    request: Request[Any, Any, Any], director: Director, deployment: str, *, every_instance: bool
) -> Response[None]:
    """Queue the ``vms`` task on the urgent queue (a status request should not wait
    behind deploys) for an existing deployment; 302 to it, as other task routes answer."""

    def find() -> None:
        with director.database.read() as session:
            views.find_deployment(session, deployment)

    await anyio.to_thread.run_sync(find)
    return await start_task(
        request,
        director,
        "vms",
        "retrieve vm-stats",
        {"deployment": deployment, "every_instance": every_instance},
        deployment=deployment,
        queue="urgent",
    )


@get(
    "/deployments/{deployment:str}/variables",
    sync_to_thread=True,
    summary="Config-server ids of a deployment's variables",
)
def list_variables(director: DirectorDependency, deployment: FromPath[str]) -> list[dict[str, str]]:
    with director.database.read() as session:
        return views.deployment_variables(session, views.find_deployment(session, deployment))


@get(
    "/deployment_configs",
    sync_to_thread=True,
    summary="Configs each deployment used: ?deployment[]=name (repeatable)",
)
def list_deployment_configs(
    director: DirectorDependency, request: Request[Any, Any, Any]
) -> list[dict[str, Any]]:
    # Rack reads `deployment[]=a&deployment[]=b` as a list and `deployment=a` as one name.
    names = [
        *request.query_params.getall("deployment[]", []),
        *request.query_params.getall("deployment", []),
    ]
    with director.database.read() as session:
        return views.deployment_configs(session, names)


ROUTES = [
    list_deployments,
    show_deployment,
    list_instances,
    list_vms,
    list_variables,
    list_deployment_configs,
]
