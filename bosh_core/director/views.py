"""What the director knows, read from its database in the shapes its API answers.

Each function takes an open session and returns plain JSON-ready values (dicts, lists,
strings), keyed and ordered as the reference director's controllers and managers
(``DeploymentsController``, ``ReleaseManager``, ``StemcellManager``...) answer, so a
route handler is one call and a benchmark or script can read the same views without
HTTP::

    with database.read() as session:
        views.deployments(session)                      # GET /deployments
        views.inspect_release(session, "nginx", "1.2")  # GET /releases/nginx?version=1.2

Lookups fail with the reference's errors (`DeploymentNotFoundError`, 70000...).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from bosh_core.director.db.models import (
    VM,
    CompiledPackage,
    Config,
    Deployment,
    Instance,
    IPAddress,
    Lock,
    Package,
    Release,
    ReleaseVersion,
    Stemcell,
    Team,
    Template,
    Variable,
    VariableSet,
    deployments_configs,
    deployments_release_versions,
    deployments_stemcells,
    deployments_teams,
    latest_configs,
)
from bosh_core.director.errors import (
    BadManifestError,
    DeploymentNotFoundError,
    ReleaseNotFoundError,
    ReleaseVersionInvalidError,
    ReleaseVersionNotFoundError,
)
from bosh_core.director.locks import deployment_lock
from bosh_core.models.cpi_config import load_cpi_configs
from bosh_core.models.version import Version, VersionError
from bosh_core.planning.compilation import ReleasePackage, UnknownDependencyError, dependency_key

__all__ = [
    "cpi_aliases",
    "deployment_configs",
    "deployment_instances",
    "deployment_variables",
    "deployment_vms",
    "deployments",
    "find_deployment",
    "find_release",
    "find_release_version",
    "inspect_release",
    "manifest_dependency_key",
    "matching_compiled_packages",
    "matching_packages",
    "parse_release_version",
    "release",
    "releases",
    "stemcell_needed",
    "stemcells",
]

# ----------------------------------------------------------------------- deployments


def find_deployment(session: Session, name: str) -> Deployment:
    """The deployment called `name` (the reference's ``DeploymentLookup#by_name``)."""
    found = session.scalar(select(Deployment).where(Deployment.name == name))
    if found is None:
        raise DeploymentNotFoundError(f"Deployment '{name}' doesn't exist")
    return found


def deployments(
    session: Session,
    *,
    with_configs: bool = True,
    with_releases: bool = True,
    with_stemcells: bool = True,
    with_lock: bool = True,
) -> list[dict[str, Any]]:
    """``GET /deployments``, by name: name, teams, and unless left out (the API's
    ``exclude_*``) whether the deployment used the latest cloud configs, its stemcells
    and release versions, and whether a task holds its lock now.

    One query per kind of fact, reading only the columns shown (no ORM objects, no
    config contents): the Health Monitor and every ``bosh deployments`` call this."""
    names = session.execute(select(Deployment.id, Deployment.name).order_by(Deployment.name))
    teams = _by_deployment(
        session,
        select(deployments_teams.c.deployment_id, Team.id, Team.name).join(
            Team, Team.id == deployments_teams.c.team_id
        ),
    )
    result = []
    cloud_configs = _cloud_config_heads(session) if with_configs else []
    used_configs = _by_deployment(
        session,
        select(deployments_configs.c.deployment_id, Config.id)
        .join(Config, Config.id == deployments_configs.c.config_id)
        .where(Config.type == "cloud"),
        enabled=with_configs,
    )
    stemcells = _by_deployment(
        session,
        select(deployments_stemcells.c.deployment_id, Stemcell.name, Stemcell.version).join(
            Stemcell, Stemcell.id == deployments_stemcells.c.stemcell_id
        ),
        enabled=with_stemcells,
    )
    releases = _by_deployment(
        session,
        select(deployments_release_versions.c.deployment_id, Release.name, ReleaseVersion.version)
        .join(
            ReleaseVersion,
            ReleaseVersion.id == deployments_release_versions.c.release_version_id,
        )
        .join(Release, Release.id == ReleaseVersion.release_id),
        enabled=with_releases,
    )
    locked = _locked_deployment_locks(session) if with_lock else set()
    for deployment_id, name in names:
        team_rows = teams.get(deployment_id, [])
        entry: dict[str, Any] = {"name": name, "teams": sorted(row[1] for row in team_rows)}
        if with_configs:
            entry["cloud_config"] = _cloud_config_state(
                sorted(row[0] for row in used_configs.get(deployment_id, [])),
                {row[0] for row in team_rows},
                cloud_configs,
            )
        if with_stemcells:
            entry["stemcells"] = [
                {"name": stemcell, "version": version}
                for stemcell, version in sorted(stemcells.get(deployment_id, []))
            ]
        if with_releases:
            entry["releases"] = [
                {"name": release, "version": version}
                for release, version in sorted(releases.get(deployment_id, []))
            ]
        if with_lock:
            entry["locked"] = deployment_lock(name) in locked
        result.append(entry)
    return result


def _by_deployment(
    session: Session, query: Select[Any], *, enabled: bool = True
) -> dict[int, list[tuple[Any, ...]]]:
    """The rows of `query` (deployment id first) grouped by deployment id, without it."""
    grouped: dict[int, list[tuple[Any, ...]]] = {}
    if enabled:
        for deployment_id, *rest in session.execute(query):
            grouped.setdefault(deployment_id, []).append(tuple(rest))
    return grouped


def _cloud_config_heads(session: Session) -> list[tuple[int, str, int | None, bool]]:
    """Every cloud config version as (id, name, team id, deleted): the state of each
    deployment is computed from these, without loading any config's content."""
    rows = session.execute(
        select(Config.id, Config.name, Config.team_id, Config.deleted).where(Config.type == "cloud")
    )
    return [(row.id, row.name, row.team_id, row.deleted) for row in rows]


def _cloud_config_state(
    used: Sequence[int],
    team_ids: set[int],
    cloud_configs: Sequence[tuple[int, str, int | None, bool]],
) -> str:
    """``none`` when the deployment used no cloud config (`used`, sorted ids),
    ``latest`` when it used the newest version of every cloud config its teams see (not
    deleted), else ``outdated``."""
    if not used:
        return "none"
    newest: dict[str, tuple[int, bool]] = {}
    for config_id, name, team_id, deleted in cloud_configs:
        if (team_id is None or team_id in team_ids) and config_id > newest.get(name, (-1,))[0]:
            newest[name] = (config_id, deleted)
    current = sorted(config_id for config_id, deleted in newest.values() if not deleted)
    return "latest" if list(used) == current else "outdated"


def _locked_deployment_locks(session: Session) -> set[str]:
    """Names of the deployment locks held now (an expired row is free)."""
    now = dt.datetime.now(dt.UTC)
    return set(
        session.scalars(
            select(Lock.name).where(
                Lock.name.startswith(deployment_lock(""), autoescape=True), Lock.expired_at > now
            )
        )
    )


def deployment_instances(session: Session, deployment: Deployment) -> list[dict[str, Any]]:
    """``GET /deployments/:d/instances`` (from the database, without asking agents):
    each instance with its active VM, if any, and whether it should have one."""
    result = []
    for instance in _instances(session, deployment):
        active = next((vm for vm in instance.vms if vm.active), None)
        entry = _vm_entry(instance, active)
        entry["expects_vm"] = _expects_vm(instance)
        result.append(entry)
    return result


def deployment_vms(session: Session, deployment: Deployment) -> list[dict[str, Any]]:
    """``GET /deployments/:d/vms`` (from the database): every VM of every instance,
    the inactive ones of a create-swap-delete update too."""
    result = []
    for instance in _instances(session, deployment):
        for vm in instance.vms:
            entry = _vm_entry(instance, vm)
            entry["active"] = vm.active
            # This director gives agents no permanent NATS credentials (yet).
            entry["permanent_nats_credentials"] = False
            result.append(entry)
    return result


def _instances(session: Session, deployment: Deployment) -> Iterable[Instance]:
    query = (
        select(Instance)
        .where(Instance.deployment_id == deployment.id)
        .options(selectinload(Instance.vms), selectinload(Instance.ip_addresses))
        .order_by(Instance.id)
    )
    return session.scalars(query)


def _vm_entry(instance: Instance, vm: VM | None) -> dict[str, Any]:
    created = None if vm is None else vm.created_at.astimezone(dt.UTC)
    return {
        "agent_id": None if vm is None else vm.agent_id,
        "cid": None if vm is None else vm.cid,
        "job": instance.job,
        "index": instance.index,
        "id": instance.uuid,
        "az": instance.az,
        "ips": [] if vm is None else _vm_ips(vm),
        "vm_created_at": None if created is None else f"{created:%Y-%m-%dT%H:%M:%SZ}",
    }


def _expects_vm(instance: Instance) -> bool:
    """A service instance that is started or stopped has a VM; errands and detached
    instances do not."""
    lifecycle = (instance.spec or {}).get("lifecycle")
    return lifecycle == "service" and instance.state in ("started", "stopped")


def _vm_ips(vm: VM) -> list[str]:
    """The VM's addresses, reserved and dynamic, each once, in numeric order; a single
    address given with its full prefix (``/32``, ``/128``) without it."""
    texts = [str(ipaddress.ip_address(address.address)) for address in _reserved(vm)]
    for network in (vm.network_spec or {}).values():
        if isinstance(network, Mapping) and network.get("ip"):
            prefix = network.get("prefix")
            texts.append(f"{network['ip']}/{prefix}" if prefix else str(network["ip"]))
    unique = dict.fromkeys(_without_single_prefix(text) for text in texts)
    return sorted(unique, key=lambda text: int(ipaddress.ip_interface(text).ip))


def _without_single_prefix(text: str) -> str:
    address, slash, prefix = text.partition("/")
    if slash and prefix == ("128" if ":" in address else "32"):
        return address
    return text


def _reserved(vm: VM) -> list[IPAddress]:
    # Addresses belong to the instance; each names the VM it is on.
    return [address for address in vm.instance.ip_addresses if address.vm_id == vm.id]


def deployment_variables(session: Session, deployment: Deployment) -> list[dict[str, str]]:
    """``GET /deployments/:d/variables``: the config-server ids of the deployment's
    variables over all its variable sets, each (id, name) once."""
    rows = session.execute(
        select(Variable.variable_id, Variable.variable_name)
        .join(VariableSet)
        .where(VariableSet.deployment_id == deployment.id)
        .order_by(Variable.id)
    )
    unique = dict.fromkeys((row.variable_id, row.variable_name) for row in rows)
    return [{"id": variable_id, "name": name} for variable_id, name in unique]


def deployment_configs(session: Session, names: Sequence[str]) -> list[dict[str, Any]]:
    """``GET /deployment_configs?deployment[]=``: the configs each named deployment's
    last deploy used; no names, no entries (as the reference)."""
    if not names:
        return []
    rows = session.execute(
        select(Deployment.id, Deployment.name, Config.id, Config.type, Config.name)
        .select_from(deployments_configs)
        .join(Deployment, Deployment.id == deployments_configs.c.deployment_id)
        .join(Config, Config.id == deployments_configs.c.config_id)
        .where(Deployment.name.in_(names))
        .order_by(Deployment.id, Config.id)
    )
    return [
        {
            "id": deployment_id,
            "deployment": deployment_name,
            "config": {"id": config_id, "type": config_type, "name": config_name},
        }
        for deployment_id, deployment_name, config_id, config_type, config_name in rows
    ]


# -------------------------------------------------------------------------- releases

_OLD_DEV_VERSION = re.compile(r"(?P<release>.*)\.(?P<dev>[0-9]+)-dev")
_NEW_DEV_VERSION = re.compile(r"(?P<release>.*)\+dev\.(?P<dev>[0-9]+)")


def parse_release_version(text: str) -> Version:
    """A release version; the old dev form ``1.2-dev`` is read as ``1+dev.2``."""
    old = _OLD_DEV_VERSION.fullmatch(text)
    return Version.parse(f"{old['release']}+dev.{old['dev']}" if old else text)


def releases(session: Session) -> list[dict[str, Any]]:
    """``GET /releases``: each release by name with its versions, oldest first."""
    deployed = set(session.scalars(select(deployments_release_versions.c.release_version_id)))
    query = (
        select(Release)
        .options(selectinload(Release.versions).selectinload(ReleaseVersion.templates))
        .order_by(Release.name)
    )
    return [
        {
            "name": release.name,
            "release_versions": [
                {
                    "version": version.version,
                    "commit_hash": version.commit_hash,
                    "uncommitted_changes": version.uncommitted_changes,
                    "currently_deployed": version.id in deployed,
                    "job_names": [template.name for template in version.templates],
                }
                for version in sorted(
                    release.versions, key=lambda version: parse_release_version(version.version)
                )
            ],
        }
        for release in session.scalars(query)
    ]


def find_release(session: Session, name: str) -> Release:
    found = session.scalar(select(Release).where(Release.name == name))
    if found is None:
        raise ReleaseNotFoundError(f"Release '{name}' doesn't exist")
    return found


def find_release_version(session: Session, release: Release, version: str) -> ReleaseVersion:
    """The version as stored, else in its other dev form (``1+dev.2`` and ``1.2-dev``
    name the same version), as the reference's ``ReleaseManager#find_version``."""

    def stored(text: str) -> ReleaseVersion | None:
        return session.scalar(
            select(ReleaseVersion).where(
                ReleaseVersion.release_id == release.id, ReleaseVersion.version == text
            )
        )

    found = stored(version)
    if found is None:
        try:
            parsed = str(parse_release_version(version))
        except VersionError:
            raise ReleaseVersionInvalidError(f"Release version invalid: {version}") from None
        if parsed != version:
            found = stored(parsed)
        elif new := _NEW_DEV_VERSION.fullmatch(parsed):
            found = stored(f"{new['release']}.{new['dev']}-dev")
    if found is None:
        raise ReleaseVersionNotFoundError(
            f"Release version '{release.name}/{version}' doesn't exist"
        )
    return found


def release(session: Session, name: str) -> dict[str, Any]:
    """``GET /releases/:name``: every package, job and version the release has."""
    found = find_release(session, name)
    packages = session.scalars(
        select(Package).where(Package.release_id == found.id).order_by(Package.id)
    )
    jobs = session.scalars(
        select(Template).where(Template.release_id == found.id).order_by(Template.id)
    )
    return {
        "packages": [
            {
                "name": package.name,
                "sha1": package.sha1,
                "version": package.version,
                "dependencies": list(package.dependency_set),
            }
            for package in packages
        ],
        "jobs": [
            {
                "name": job.name,
                "sha1": job.sha1,
                "version": job.version,
                "packages": list(job.package_names),
            }
            for job in jobs
        ],
        "versions": list(
            session.scalars(
                select(ReleaseVersion.version)
                .where(ReleaseVersion.release_id == found.id)
                .order_by(ReleaseVersion.id)
            )
        ),
    }


def inspect_release(session: Session, name: str, version: str) -> dict[str, Any]:
    """``GET /releases/:name?version=``: the version's jobs (with their links) and
    packages (with the stemcells they are compiled for), by name."""
    found = find_release_version(session, find_release(session, name), version)
    packages = session.scalars(
        select(Package)
        .where(Package.id.in_([package.id for package in found.packages]))
        .options(selectinload(Package.compiled_packages))
        .order_by(Package.name)
    )
    return {
        "jobs": [
            {
                "name": job.name,
                "blobstore_id": job.blobstore_id,
                "sha1": job.sha1,
                "fingerprint": job.fingerprint,
                "consumes": job.spec.get("consumes") or [],
                "provides": job.spec.get("provides") or [],
            }
            for job in sorted(found.templates, key=lambda job: job.name)
        ],
        "packages": [
            {
                "name": package.name,
                "blobstore_id": package.blobstore_id,
                "sha1": package.sha1,
                "fingerprint": package.fingerprint,
                "compiled_packages": [
                    {
                        "stemcell": f"{compiled.stemcell_os}/{compiled.stemcell_version}",
                        "sha1": compiled.sha1,
                        "blobstore_id": compiled.blobstore_id,
                    }
                    for compiled in sorted(package.compiled_packages, key=_stemcell_of)
                ],
            }
            for package in packages
        ],
    }


def _stemcell_of(compiled: CompiledPackage) -> tuple[str, str]:
    return compiled.stemcell_os, compiled.stemcell_version


# ------------------------------------------------------------------------- stemcells


def stemcells(session: Session) -> list[dict[str, Any]]:
    """``GET /stemcells``: by name, each with the deployments that use it."""
    users: dict[int, list[dict[str, str]]] = {}
    for stemcell_id, deployment_name in session.execute(
        select(deployments_stemcells.c.stemcell_id, Deployment.name)
        .join(Deployment, Deployment.id == deployments_stemcells.c.deployment_id)
        .order_by(Deployment.name)
    ):
        users.setdefault(stemcell_id, []).append({"name": deployment_name})
    return [
        {
            "name": stemcell.name,
            "operating_system": stemcell.operating_system,
            "version": stemcell.version,
            "cid": stemcell.cid,
            "cpi": stemcell.cpi,
            "deployments": users.get(stemcell.id, []),
            "api_version": stemcell.api_version,
            "id": stemcell.id,
        }
        for stemcell in session.scalars(select(Stemcell).order_by(Stemcell.name, Stemcell.id))
    ]


def cpi_aliases(session: Session) -> list[list[str]]:
    """For each CPI of the current cpi configs, the names a stemcell row may carry for
    it (its name, then its former ones); without cpi configs, the director's one CPI,
    recorded as ``""`` (the reference's ``CloudFactory#all_names``/``get_cpi_aliases``)."""
    configs = latest_configs(session, "cpi")
    if not configs:
        return [[""]]
    merged = load_cpi_configs({config.name: config.content for config in configs})
    return [[cpi.name, *(old.name for old in cpi.migrated_from)] for cpi in merged.cpis]


def stemcell_needed(session: Session, name: str, version: str) -> bool:
    """``POST /stemcell_uploads``: whether some CPI lacks stemcell `name`/`version`."""
    present = set(
        session.scalars(
            select(Stemcell.cpi).where(Stemcell.name == name, Stemcell.version == version)
        )
    )
    return any(present.isdisjoint(aliases) for aliases in cpi_aliases(session))


# -------------------------------------------------------------------------- packages


def matching_packages(session: Session, manifest: Any) -> list[str]:
    """``POST /packages/matches``: fingerprints of the release.MF's packages whose
    source the director already has, which ``upload-release`` then leaves out of the
    tarball. None while that release version is only partly uploaded (so a ``--fix``
    style upload sends everything)."""
    packages = _manifest_list(manifest, "packages")
    if _version_incomplete(session, manifest):
        return []
    fingerprints = _fingerprints(packages)
    rows = session.scalars(
        select(Package.fingerprint)
        .where(
            Package.fingerprint.in_(fingerprints),
            Package.sha1.is_not(None),
            Package.blobstore_id.is_not(None),
        )
        .order_by(Package.id)
    )
    return list(dict.fromkeys(rows))


def matching_compiled_packages(session: Session, manifest: Any) -> list[str]:
    """``POST /packages/matches_compiled``: fingerprints of the compiled release.MF's
    packages the director has compiled for the same stemcell and the same compiled
    dependencies. A fingerprint is left out when any package with it still needs
    uploading (two packages may share a fingerprint under different names)."""
    compiled = _manifest_list(manifest, "compiled_packages")
    if _version_incomplete(session, manifest):
        return []
    wanted = []
    for entry in compiled:
        if isinstance(entry, Mapping):
            name = str(entry.get("name"))
            wanted.append(
                (
                    name,
                    str(entry.get("fingerprint")),
                    str(entry.get("stemcell")),
                    manifest_dependency_key(name, compiled),
                )
            )
    rows = session.execute(
        select(
            Package.name,
            Package.fingerprint,
            CompiledPackage.stemcell_os,
            CompiledPackage.stemcell_version,
            CompiledPackage.dependency_key,
        )
        .join(CompiledPackage, CompiledPackage.package_id == Package.id)
        .where(Package.fingerprint.in_(_fingerprints(compiled)))
        .order_by(CompiledPackage.id)
    )
    existing = [
        (name, fingerprint, f"{stemcell_os}/{stemcell_version}", key)
        for name, fingerprint, stemcell_os, stemcell_version, key in rows
    ]
    needing_upload = {entry[1] for entry in wanted if entry not in existing}
    present = dict.fromkeys(entry[1] for entry in existing if entry in wanted)
    return [fingerprint for fingerprint in present if fingerprint not in needing_upload]


def manifest_dependency_key(name: str, compiled_packages: Sequence[Any]) -> str:
    """The dependency key of compiled package `name` from a release.MF's
    ``compiled_packages`` (the reference's ``KeyGenerator#dependency_key_from_manifest``),
    computed as deploys compute it so that uploads and deploys find the same builds."""
    by_name = {
        str(entry.get("name")): ReleasePackage(
            name=str(entry.get("name")),
            version=str(entry.get("version")),
            dependencies=tuple(str(sub) for sub in entry.get("dependencies") or ()),
        )
        for entry in compiled_packages
        if isinstance(entry, Mapping)
    }
    if name not in by_name:
        raise BadManifestError(f"Package '{name}' not found in the release manifest.")
    try:
        return dependency_key(by_name[name], by_name)
    except UnknownDependencyError as error:
        raise BadManifestError(
            f"Compiled package '{error.package}' depends on '{error.dependency}',"
            " which the release manifest does not list"
        ) from None


def _manifest_list(manifest: Any, key: str) -> list[Any]:
    if not isinstance(manifest, Mapping) or not isinstance(manifest.get(key), list):
        raise BadManifestError("Manifest doesn't have a usable packages section")
    entries: list[Any] = manifest[key]
    return entries


def _fingerprints(packages: Iterable[Any]) -> list[str]:
    return [
        str(package["fingerprint"])
        for package in packages
        if isinstance(package, Mapping) and package.get("fingerprint") is not None
    ]


def _version_incomplete(session: Session, manifest: Mapping[str, Any]) -> bool:
    """Whether the manifest's release version is stored but its upload never finished."""
    completed = session.scalar(
        select(ReleaseVersion.update_completed)
        .join(Release)
        .where(
            Release.name == str(manifest.get("name")),
            ReleaseVersion.version == str(manifest.get("version")),
        )
    )
    return completed is False
