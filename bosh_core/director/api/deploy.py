"""Deploying: ``POST /deployments/:d/diff`` and ``POST /deployments``.

The diff shows what a deploy of the posted manifest would change in the stored one, each
merged with its configs (`bosh_core.director.deployment_diff`; secrets redacted unless
``redact=false``), with the ids of the cloud and runtime
configs it would use as ``context``; the CLI sends that context back with the deploy, so
the task uses the configs the user saw, even if someone updates one in between. A
failure to diff is not an HTTP error: as in the reference the answer is 200 with an
empty diff and the ``error``, and the CLI goes on.

``POST /deployments`` checks the manifest, then queues an ``update_deployment`` task
(``create deployment``, or ``create deployment (dry run)``) and answers 302 to it.
Manifests with ``((variables))`` are checked for YAML and a name only: the director
fills their variables in the task, and only then can their fields be typed.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any, Final

import anyio.to_thread
from litestar import Request, Response, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_302_FOUND

from bosh_core.director import deployment_diff
from bosh_core.director.api.app import Director, DirectorDependency
from bosh_core.director.api.errors import consumes
from bosh_core.director.api.tasks import query_flag, start_task
from bosh_core.director.configs import ConfigStore, parse_manifest
from bosh_core.director.errors import (
    BadManifestError,
    ConfigNotFoundError,
    DeploymentInvalidConfigReferenceError,
    ValidationInvalidType,
    ValidationInvalidValue,
    ValidationMissingField,
)
from bosh_core.errors import BoshError, ManifestError
from bosh_core.models.manifest import load_manifest

__all__ = ["ROUTES"]

_YAML: Final = "text/yaml"
_CONFIG_TYPES: Final = ("cloud", "runtime")
#: Query flags of ``POST /deployments`` passed on to the task as booleans.
_FLAGS: Final = (
    "dry_run",
    "recreate",
    "recreate_persistent_disks",
    "fix",
    "force_latest_variables",
)
#: Query values passed on as given (``skip_drain``: ``*`` or ``ig1,ig2/id``; the
#: numbers may be percentages: the task reads them as the manifest's update block).
_VALUES: Final = ("skip_drain", "canaries", "max_in_flight")


def _manifest_text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise BadManifestError(
            "Incorrect YAML structure of the uploaded manifest: the body is not UTF-8 text"
        ) from None


# -- diff ---------------------------------------------------------------------------------


@post(
    "/deployments/{deployment:str}/diff",
    guards=[consumes(_YAML)],
    status_code=200,
    summary="What deploying the posted manifest (YAML) would change, with the configs it"
    " would use as context",
)
async def diff_deployment(
    request: Request[Any, Any, Any], director: DirectorDependency, deployment: FromPath[str]
) -> dict[str, Any]:
    raw = await request.body()
    redact = request.query_params.get("redact") != "false"
    try:
        result: dict[str, Any] = await anyio.to_thread.run_sync(
            functools.partial(
                deployment_diff.diff_deployment,
                director.database,
                deployment,
                _manifest_text(raw),
                redact=redact,
            )
        )
    except BoshError as error:
        return {"diff": [], "error": f"Unable to diff manifest: {error}"}
    return result


# -- deploy -------------------------------------------------------------------------------


def _checked_manifest(raw: bytes) -> tuple[str, str]:
    """The manifest's text and name; raises the reference's errors for a body that is
    no manifest, and ours (with every problem's path) for one that is invalid."""
    text = _manifest_text(raw)
    document = parse_manifest(text, source="deployment manifest")
    name = document.get("name")
    if not name:
        raise ValidationMissingField("Deployment manifest must have a 'name' key")
    if "((" not in text:
        try:
            load_manifest(document)
        except ManifestError as error:
            raise BadManifestError(str(error)) from None
    return text, str(name)


def _recreate_before(request: Request[Any, Any, Any], recreate: bool) -> str | None:
    value: str | None = request.query_params.get("recreate_vms_created_before")
    if value is None:
        return None
    if not recreate:
        raise ValidationInvalidValue(
            "Must pass recreate=true when specifying recreate_vms_created_before"
        )
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationInvalidValue(
            f"Invalid RFC 3339 timestamp for recreate_vms_created_before: {value}"
        )
    return value


def _requested_context(director: Director, value: str | None) -> dict[str, list[int]]:
    """The ``context`` query parameter (ids of the configs the CLI's diff used), each id
    checked; without it, the current configs."""
    if value is None:
        return ConfigStore(director.database).deploy_configs().to_api()
    try:
        requested = json.loads(value)
    except ValueError:
        raise ValidationInvalidType(f"'context' is not valid JSON: {value}") from None
    if not isinstance(requested, dict):
        raise ValidationInvalidType(f"'context' must be a JSON object: {value}")
    store = ConfigStore(director.database)
    context: dict[str, list[int]] = {}
    for type_ in _CONFIG_TYPES:
        key = f"{type_}_config_ids"
        ids = requested.get(key) or []
        if not isinstance(ids, list):
            raise ValidationInvalidType(f"'context.{key}' must be a list of config ids")
        try:
            context[key] = [store.get(str(config_id)).id for config_id in ids]
        except ConfigNotFoundError:
            raise DeploymentInvalidConfigReferenceError(
                "Context includes invalid config ID"
            ) from None
    return context


@post(
    "/deployments",
    guards=[consumes(_YAML)],
    status_code=HTTP_302_FOUND,
    summary="Deploy the posted manifest (YAML): a task, create deployment",
)
async def create_deployment(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> Response[None]:
    raw = await request.body()
    text, name = await anyio.to_thread.run_sync(_checked_manifest, raw)
    options: dict[str, Any] = {flag: query_flag(request, flag) for flag in _FLAGS}
    options.update({key: request.query_params.get(key) for key in _VALUES})
    options["recreate_vms_created_before"] = _recreate_before(request, options["recreate"])
    context = await anyio.to_thread.run_sync(
        _requested_context, director, request.query_params.get("context")
    )
    description = "create deployment (dry run)" if options["dry_run"] else "create deployment"
    payload = {"manifest_text": text, **options, "context": context}
    return await start_task(
        request, director, "update_deployment", description, payload, deployment=name
    )


ROUTES = [diff_deployment, create_deployment]
