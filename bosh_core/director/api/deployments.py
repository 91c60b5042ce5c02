"""Deployment routes that read: the list, a manifest, instances and VMs from the
database, variables, and which configs each deployment used.

``format=full`` on instances and vms (a task asking every agent for its state) comes
with the agents; until then it is refused rather than answered with the database view
the CLI would misread.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import FromPath, QueryParameter

from bosh_core.director import views
from bosh_core.director.api.app import DirectorDependency
from bosh_core.director.errors import ValidationInvalidValue

__all__ = ["ROUTES"]

_Exclude = Annotated[str | None, QueryParameter(description="'true' leaves this out")]
_Format = Annotated[
    str | None,
    QueryParameter(name="format", description="'full' (agents' states) is not supported yet"),
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
    sync_to_thread=True,
    summary="A deployment's instances, from the database",
)
def list_instances(
    director: DirectorDependency, deployment: FromPath[str], output_format: _Format = None
) -> list[dict[str, Any]]:
    _refuse_full(output_format)
    with director.database.read() as session:
        return views.deployment_instances(session, views.find_deployment(session, deployment))


@get(
    "/deployments/{deployment:str}/vms",
    sync_to_thread=True,
    summary="A deployment's VMs (inactive ones too), from the database",
)
def list_vms(
    director: DirectorDependency, deployment: FromPath[str], output_format: _Format = None
) -> list[dict[str, Any]]:
    _refuse_full(output_format)
    with director.database.read() as session:
        return views.deployment_vms(session, views.find_deployment(session, deployment))


def _refuse_full(output_format: str | None) -> None:
    if output_format == "full":
        raise ValidationInvalidValue(
            "format=full (instance states from the agents) is not supported by this"
            " director yet; leave out format for the states recorded in the database"
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
