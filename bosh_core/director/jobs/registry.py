"""Which function runs each task type, with the director's services bound in.

A route queues a task with a JSON payload (``director.tasks.create("update_release",
...)``); a worker's `TaskRunner` calls the function registered here for the task's type
with the `JobContext` and that payload. What was staged for a task (the files its
payload lists, such as an uploaded tarball, and its own scratch directory, with a
downloaded tarball or an unpacked archive) is removed by the runner however the task
ends, and by the sweeper when its worker dies (see `bosh_core.director.tasks.runner`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bosh_core.director.tasks.runner import (
    JobContext,
    JobFunction,
    task_scratch_dir,
)

if TYPE_CHECKING:
    from bosh_core.director.api.app import Director
    from bosh_core.director.cloud import Clouds
    from bosh_core.planning.plan import DeployFlags

__all__ = ["job_functions"]


def job_functions(director: Director) -> dict[str, JobFunction]:
    """Every task type this director runs, bound to `director`."""
    functions = {
        "update_release": _update_release,
        "update_stemcell": _update_stemcell,
        "delete_release": _delete_release,
        "delete_stemcell": _delete_stemcell,
        "delete_deployment": _delete_deployment,
        "update_deployment": _update_deployment,
        "vms": _vm_states,
    }
    return {name: functools.partial(function, director) for name, function in functions.items()}


def _scratch(director: Director, context: JobContext) -> Path:
    """The task's own scratch directory, made (the `TaskRunner` removes it at the end)."""
    path = task_scratch_dir(director.config.tmp_dir, context.task_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _clouds(director: Director, context: JobContext) -> Clouds:
    """The task's CPIs (cpi-configs as they are now), logging to its cpi output."""
    from bosh_core.director.cloud import Clouds

    return Clouds.from_database(
        director.database,
        director_uuid=director.uuid,
        default=director.config.default_cpi,
        cpi_log=context.output.cpi_log,
    )


def _update_release(director: Director, context: JobContext, payload: Mapping[str, Any]) -> str:
    from bosh_core.director.errors import ReleaseSha1DoesNotMatchError
    from bosh_core.director.jobs.remote import verify_digest
    from bosh_core.director.jobs.upload_release import upload_release

    tarball = _fetched_tarball(director, context, payload, resource="release")
    if sha1 := payload.get("sha1"):
        with context.event_log.single_step("Verifying remote release"):
            verify_digest(
                tarball, str(sha1), mismatch=ReleaseSha1DoesNotMatchError, resource="release"
            )
    return upload_release(
        director.database,
        director.blobstore,
        tarball,
        event_log=context.event_log,
        locks=director.locks,
        task_id=context.task_id,
        user=context.user,
        fix=bool(payload.get("fix")),
        rebase=bool(payload.get("rebase")),
        scratch_dir=_scratch(director, context),
    )


def _update_stemcell(director: Director, context: JobContext, payload: Mapping[str, Any]) -> str:
    from bosh_core.director.jobs.stemcells import upload_stemcell

    tarball = _fetched_tarball(director, context, payload, resource="stemcell")
    return upload_stemcell(
        director.database,
        _clouds(director, context),
        tarball,
        event_log=context.event_log,
        locks=director.locks,
        task_id=context.task_id,
        user=context.user,
        fix=bool(payload.get("fix")),
        sha1=payload.get("sha1"),
        scratch_dir=_scratch(director, context),
    )


def _delete_release(director: Director, context: JobContext, payload: Mapping[str, Any]) -> str:
    from bosh_core.director.jobs.delete_release import delete_release

    return delete_release(
        director.database,
        director.blobstore,
        str(payload["name"]),
        payload.get("version"),
        force=bool(payload.get("force")),
        event_log=context.event_log,
        locks=director.locks,
        task_id=context.task_id,
        user=context.user,
    )


def _delete_stemcell(director: Director, context: JobContext, payload: Mapping[str, Any]) -> str:
    from bosh_core.director.jobs.stemcells import delete_stemcell

    return delete_stemcell(
        director.database,
        _clouds(director, context),
        str(payload["name"]),
        str(payload["version"]),
        force=bool(payload.get("force")),
        event_log=context.event_log,
        locks=director.locks,
        task_id=context.task_id,
        user=context.user,
    )


def _delete_deployment(director: Director, context: JobContext, payload: Mapping[str, Any]) -> str:
    from bosh_core.director.jobs.delete_deployment import delete_deployment

    return delete_deployment(
        director,
        str(payload["name"]),
        clouds=_clouds(director, context),
        force=bool(payload.get("force")),
        keep_snapshots=bool(payload.get("keep_snapshots")),
        event_log=context.event_log,
        task_id=context.task_id,
        user=context.user,
        checkpoint=context.checkpoint,
    )


def _vm_states(director: Director, context: JobContext, payload: Mapping[str, Any]) -> str:
    """``?format=full`` of a deployment's instances or VMs: each agent's state, one JSON
    line per instance or VM in the result."""
    from bosh_core.director.jobs.vm_states import vm_states

    return vm_states(
        director.database,
        director.agents,
        str(payload["deployment"]),
        every_instance=bool(payload.get("every_instance")),
        write=context.output.write_result,
    )


def _update_deployment(director: Director, context: JobContext, payload: Mapping[str, Any]) -> str:
    """``POST /deployments``: a deploy, or with ``dry_run`` only its preparation (locked,
    variables generated, planned, every template rendered)."""
    from bosh_core.director.configs import DeployConfigs
    from bosh_core.director.jobs.prepare_deployment import DeployOptions
    from bosh_core.director.jobs.update_deployment import update_deployment

    return update_deployment(
        director,
        str(payload["manifest_text"]),
        options=DeployOptions(
            flags=_deploy_flags(payload),
            dry_run=bool(payload.get("dry_run")),
            force_latest_variables=bool(payload.get("force_latest_variables")),
            configs=DeployConfigs.from_api(payload["context"]) if "context" in payload else None,
        ),
        event_log=context.event_log,
        task_id=context.task_id,
        clouds=_clouds(director, context),
        user=context.user,
        checkpoint=context.checkpoint,
    )


def _deploy_flags(payload: Mapping[str, Any]) -> DeployFlags:
    """The planning flags from the route's payload (query values as the CLI sent them)."""
    import datetime as dt

    from bosh_core.models.manifest import Amount
    from bosh_core.planning.plan import DeployFlags

    before = payload.get("recreate_vms_created_before")
    skip_drain = str(payload.get("skip_drain") or "")
    return DeployFlags(
        recreate=bool(payload.get("recreate")),
        recreate_vms_created_before=dt.datetime.fromisoformat(before) if before else None,
        recreate_persistent_disks=bool(payload.get("recreate_persistent_disks")),
        fix=bool(payload.get("fix")),
        skip_drain=tuple(item for item in skip_drain.split(",") if item),
        canaries=Amount.parse(payload["canaries"]) if payload.get("canaries") else None,
        max_in_flight=(
            Amount.parse(payload["max_in_flight"]) if payload.get("max_in_flight") else None
        ),
    )


def _fetched_tarball(
    director: Director, context: JobContext, payload: Mapping[str, Any], *, resource: str
) -> Path:
    """The uploaded tarball's path, or where the one at ``payload["location"]`` was
    downloaded to in the task's scratch directory (stage "Downloading remote
    <resource>")."""
    if "tarball" in payload:
        return Path(payload["tarball"])
    from bosh_core.director.jobs.remote import download

    destination = _scratch(director, context) / f"{resource}.tgz"
    with context.event_log.single_step(f"Downloading remote {resource}"):
        download(str(payload["location"]), destination, resource=resource)
    return destination
