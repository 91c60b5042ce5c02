"""The director's side of planning: `DeploymentInputs` read from its database.

`read_deployment_inputs` gathers, for one deployment and its (interpolated) manifest,
everything `bosh_core.planning.plan.make_plan` needs: the current cloud configs merged
(several named ones are used as one, as the reference's ``CloudConfigsConsolidator``
does) and runtime configs, the release versions the manifest and runtime configs name
(job specs as ``upload_release`` stored them in ``templates.spec``, packages with their
dependencies), every stemcell, the deployment's instances with their VMs, disks and IPs,
every IP the director holds (all deployments: IPs are unique across them) and the
compiled packages of those releases. ``version: latest`` of a manifest release or
stemcell becomes the newest uploaded version first (`resolve_latest`).

`load_job_templates` fetches the job archives a plan uses from the blobstore, each
checked against the sha1 recorded for it, for template rendering.

Not read here: the agents' ``get_state`` (the deploy job asks agents and fills
``ExistingInstanceState.job_state``), and other deployments' link providers (no link
tables yet: cross-deployment links see none).
"""

from __future__ import annotations

import ipaddress
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from bosh_core import serialization
from bosh_core.blobstore import Blobstore
from bosh_core.blobstore.verified import get_verified
from bosh_core.director.configs import (
    ConfigRecord,
    ConfigStore,
    DeployConfigs,
    parse_config_content,
)
from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    CompiledPackage,
    Deployment,
    Instance,
    IPAddress,
    Package,
    Release,
    ReleaseVersion,
    Stemcell,
)
from bosh_core.director.errors import (
    ReleaseNotFoundError,
    StemcellNotFoundError,
)
from bosh_core.director.views import find_deployment
from bosh_core.models.cloud_config import load_cloud_configs
from bosh_core.models.manifest import load_manifest
from bosh_core.models.release import JobSpec
from bosh_core.models.runtime_config import load_runtime_configs
from bosh_core.models.version import version_order
from bosh_core.planning.changes import DiskSpec, VmFacts
from bosh_core.planning.compilation import CompiledBuild, ReleasePackage, StemcellRef
from bosh_core.planning.networks import ExistingIP, IPHolder
from bosh_core.planning.plan import (
    CompiledPackageRecord,
    DeployFlags,
    DeploymentInputs,
    ExistingInstanceState,
    Plan,
    ReleaseData,
    ReleaseJob,
    StemcellData,
)
from bosh_core.templates import JobTemplates

__all__ = [
    "bind_in_use",
    "load_job_templates",
    "read_deployment_inputs",
    "release_version_rows",
    "resolve_latest",
    "stemcell_rows",
]

_LATEST = "latest"

Interpolate = Callable[[Any], Any]
"""Resolves ``((variables))`` of a config document (the deploy's variable set)."""


def read_deployment_inputs(
    database: Database,
    manifest: Mapping[str, Any],
    *,
    flags: DeployFlags | None = None,
    configs: DeployConfigs | None = None,
    interpolate_config: Interpolate = lambda document: document,
) -> DeploymentInputs:
    """The planning inputs of deploying `manifest` (a document, variables resolved).

    `interpolate_config` resolves the variables of each cloud and runtime config, as
    the reference does with the deploy's variable set. Raises ManifestError for a bad
    manifest or config, ReleaseNotFoundError / StemcellNotFoundError for a ``latest``
    nothing was uploaded for.
    """
    store = ConfigStore(database)
    records = store.records((configs or store.deploy_configs()).ids)
    cloud = load_cloud_configs(_documents(records, "cloud", interpolate_config))
    runtime_documents = _documents(records, "runtime", interpolate_config)
    runtime = load_runtime_configs(runtime_documents) if runtime_documents else None
    with database.read() as session:
        document = resolve_latest(session, manifest)
        loaded = load_manifest(document)
        wanted = {(r.name, r.version) for r in loaded.releases}
        if runtime is not None:
            wanted |= {(r.name, r.version) for r in runtime.releases}
        releases = _releases(session, wanted)
        deployment = session.scalars(
            select(Deployment)
            .where(Deployment.name == loaded.name)
            .options(selectinload(Deployment.teams))
        ).first()
        return DeploymentInputs(
            manifest=loaded,
            cloud_config=cloud,
            runtime_configs=(runtime,) if runtime is not None else (),
            releases={(r.name, r.version): r for r in releases.values()},
            stemcells=tuple(
                StemcellData(
                    name=row.name,
                    operating_system=row.operating_system,
                    version=row.version,
                    cid=row.cid,
                    cpi=row.cpi,
                    api_version=row.api_version,
                )
                for row in session.scalars(select(Stemcell).order_by(Stemcell.id))
            ),
            existing=_existing(session, deployment) if deployment is not None else (),
            reserved_ips=_reserved_ips(session),
            compiled=_compiled(session, releases),
            flags=flags or DeployFlags(),
            initial_deploy=deployment is None or deployment.manifest_text is None,
            teams=tuple(team.name for team in deployment.teams) if deployment else (),
        )


def release_version_rows(
    session: Session, releases: Iterable[tuple[str, str]]
) -> list[ReleaseVersion]:
    """The stored versions among `releases` ((name, version) pairs)."""
    wanted = list(releases)
    if not wanted:
        return []
    return list(
        session.scalars(
            select(ReleaseVersion)
            .join(Release)
            .where(
                or_(*((Release.name == name) & (ReleaseVersion.version == v) for name, v in wanted))
            )
        )
    )


def stemcell_rows(session: Session, stemcells: Iterable[StemcellData]) -> list[Stemcell]:
    """The uploads of `stemcells` (by name and version, to every CPI)."""
    wanted = list(stemcells)
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Stemcell).where(
                or_(*((Stemcell.name == s.name) & (Stemcell.version == s.version) for s in wanted))
            )
        )
    )


def bind_in_use(
    database: Database,
    deployment: str,
    *,
    releases: Iterable[tuple[str, str]] = (),
    stemcells: Iterable[StemcellData] = (),
) -> None:
    """Add these release versions and stemcells to those `deployment` uses, keeping the
    others (the deploy's end sets the final ones), so that deleting them is refused from
    now on, as the reference binds them while it plans. Raises ReleaseNotFoundError for a
    release version deleted since it was read."""
    wanted = sorted(set(releases))
    with database.write() as session:
        row = find_deployment(session, deployment)
        found = release_version_rows(session, wanted)
        missing = set(wanted) - {(v.release.name, v.version) for v in found}
        if missing:
            name, version = sorted(missing)[0]
            raise ReleaseNotFoundError(
                f"Release version '{name}/{version}' doesn't exist: it was deleted while the"
                " deploy read it; deploy again"
            )
        row.release_versions = _union(row.release_versions, found)
        row.stemcells = _union(row.stemcells, stemcell_rows(session, stemcells))


def _union(kept: list[Any], added: Iterable[Any]) -> list[Any]:
    return [*kept, *(item for item in added if item not in kept)]


def resolve_latest(session: Session, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """`manifest` with ``version: latest`` of its releases and stemcells replaced by the
    newest uploaded version (the reference resolves them before planning)."""
    document = dict(manifest)
    releases = document.get("releases")
    if isinstance(releases, list):
        document["releases"] = [_resolve_release(session, entry) for entry in releases]
    stemcells = document.get("stemcells")
    if isinstance(stemcells, list):
        document["stemcells"] = [_resolve_stemcell(session, entry) for entry in stemcells]
    return document


def load_job_templates(
    database: Database, blobstore: Blobstore, plan: Plan
) -> dict[tuple[str, str], JobTemplates]:
    """The templates of every job `plan` places: (release name, job name) -> templates,
    each read from the job archive ``upload_release`` stored, checked against its sha1."""
    wanted = {(job.release, job.name): job for instance in plan.instances for job in instance.jobs}
    found: dict[tuple[str, str], JobTemplates] = {}
    with tempfile.TemporaryDirectory(prefix="job-templates-") as scratch:
        for number, key in enumerate(sorted(wanted)):
            job = wanted[key]
            archive = Path(scratch) / f"{number}.tgz"
            release = f"{job.release}/{job.release_version}"
            get_verified(
                blobstore,
                blob_id=job.blobstore_id,
                destination=archive,
                digest=job.sha1,
                what=f"job '{job.name}/{job.version}' of release '{release}'",
                remedy=f"upload release '{release}' again with 'bosh upload-release --fix',"
                " which stores every job archive afresh",
            )
            found[key] = JobTemplates.from_archive(archive)
    return found


# -- configs -----------------------------------------------------------------------------


def _documents(
    records: Iterable[ConfigRecord], type_: str, interpolate: Interpolate
) -> dict[str, Any]:
    """The configs of `type_` among `records`, by name, each interpolated."""
    return {
        record.name: interpolate(parse_config_content(record.content))
        for record in records
        if record.type == type_
    }


# -- latest ------------------------------------------------------------------------------


def _newest(versions: Iterable[str]) -> str | None:
    """The newest of `versions` by BOSH version order (unparsable ones come first)."""
    return max(versions, key=version_order, default=None)


def _resolve_release(session: Session, entry: Any) -> Any:
    if not isinstance(entry, Mapping) or str(entry.get("version")) != _LATEST:
        return entry
    name = str(entry.get("name"))
    newest = _newest(
        session.scalars(select(ReleaseVersion.version).join(Release).where(Release.name == name))
    )
    if newest is None:
        raise ReleaseNotFoundError(f"Release '{name}' doesn't exist")
    return {**entry, "version": newest}


def _resolve_stemcell(session: Session, entry: Any) -> Any:
    if not isinstance(entry, Mapping) or str(entry.get("version")) != _LATEST:
        return entry
    if entry.get("os") is not None:
        query = select(Stemcell.version).where(Stemcell.operating_system == str(entry["os"]))
        missing = f"Stemcell version 'latest' for OS '{entry['os']}' doesn't exist"
    else:
        query = select(Stemcell.version).where(Stemcell.name == str(entry.get("name")))
        missing = f"Stemcell '{entry.get('name')}/latest' doesn't exist"
    newest = _newest(session.scalars(query))
    if newest is None:
        raise StemcellNotFoundError(missing)
    return {**entry, "version": newest}


# -- releases and compiled packages ----------------------------------------------------------


def _releases(session: Session, wanted: set[tuple[str, str]]) -> dict[int, ReleaseData]:
    """The release versions of `wanted` that exist, by ReleaseVersion id (a missing one
    is for `make_plan` to report, with every other problem)."""
    found: dict[int, ReleaseData] = {}
    names = {name for name, _ in wanted}
    rows = session.scalars(
        select(ReleaseVersion)
        .join(Release)
        .where(Release.name.in_(names))
        .options(
            selectinload(ReleaseVersion.release),
            selectinload(ReleaseVersion.templates),
            selectinload(ReleaseVersion.packages),
        )
    )
    for row in rows:
        if (row.release.name, row.version) not in wanted:
            continue
        found[row.id] = ReleaseData(
            name=row.release.name,
            version=row.version,
            jobs={
                job.name: ReleaseJob(
                    spec=serialization.structure(
                        job.spec, JobSpec, source=f"job '{job.name}' of {row.release.name}"
                    ),
                    version=job.version,
                    sha1=job.sha1,
                    blobstore_id=job.blobstore_id,
                )
                for job in row.templates
            },
            packages=tuple(
                ReleasePackage(
                    name=package.name,
                    version=package.version,
                    dependencies=tuple(package.dependency_set),
                    has_source=package.blobstore_id is not None,
                )
                for package in row.packages
            ),
        )
    return found


def _compiled(
    session: Session, releases: Mapping[int, ReleaseData]
) -> tuple[CompiledPackageRecord, ...]:
    if not releases:
        return ()
    rows = session.execute(
        select(CompiledPackage, Package.name, Package.version, Release.name)
        .join(Package, CompiledPackage.package_id == Package.id)
        .join(Release, Package.release_id == Release.id)
        .where(Release.name.in_({r.name for r in releases.values()}))
    )
    return tuple(
        CompiledPackageRecord(
            build=CompiledBuild(
                id=str(row.id),
                release=release,
                package=package,
                package_version=version,
                stemcell=StemcellRef(row.stemcell_os, row.stemcell_version),
                dependency_key=row.dependency_key,
                build=row.build,
            ),
            blobstore_id=row.blobstore_id,
            sha1=row.sha1,
        )
        for row, package, version, release in rows
    )


# -- instances and IPs ---------------------------------------------------------------------


def _ip_text(address: int) -> str:
    return str(ipaddress.ip_address(address))


def _existing(session: Session, deployment: Deployment) -> tuple[ExistingInstanceState, ...]:
    instances = session.scalars(
        select(Instance)
        .where(Instance.deployment_id == deployment.id, Instance.compilation.is_(False))
        .order_by(Instance.job, Instance.index)
        .options(
            selectinload(Instance.vms),
            selectinload(Instance.persistent_disks),
            selectinload(Instance.ip_addresses),
        )
    )
    states = []
    for instance in instances:
        vm = next((vm for vm in instance.vms if vm.active), None)
        states.append(
            ExistingInstanceState(
                instance_group=instance.job,
                uuid=instance.uuid,
                index=instance.index,
                az=instance.az,
                bootstrap=instance.bootstrap,
                ignore=instance.ignore,
                state=instance.state,
                update_completed=instance.update_completed,
                spec=instance.spec or {},
                cloud_properties=instance.cloud_properties or {},
                ips=tuple(
                    ExistingIP(network=ip.network_name, ip=_ip_text(ip.address), static=ip.static)
                    for ip in instance.ip_addresses
                ),
                vm=VmFacts(created_at=vm.created_at, env=vm.env) if vm is not None else None,
                disks=tuple(
                    DiskSpec(disk.name, disk.size, disk.cloud_properties)
                    for disk in instance.persistent_disks
                    if disk.active
                ),
            )
        )
    return tuple(states)


def _reserved_ips(session: Session) -> dict[str, IPHolder]:
    rows = session.execute(
        select(IPAddress, Instance.uuid, Instance.job, Deployment.name)
        .outerjoin(Instance, IPAddress.instance_id == Instance.id)
        .outerjoin(Deployment, Instance.deployment_id == Deployment.id)
    )
    return {
        _ip_text(ip.address): IPHolder(
            network=ip.network_name,
            deployment=deployment,
            instance_group=group,
            instance_uuid=instance_uuid,
            static=ip.static,
        )
        for ip, instance_uuid, group, deployment in rows
    }
