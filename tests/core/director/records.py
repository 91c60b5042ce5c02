"""Director state for the read-route tests: releases imported by the real upload job,
deployments, stemcells, instances and VMs as rows."""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bosh_core.blobstore import Blobstore
from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    VM,
    Config,
    Deployment,
    Instance,
    IPAddress,
    Release,
    ReleaseVersion,
    Stemcell,
    Team,
)
from bosh_core.director.jobs.upload_release import upload_release
from bosh_core.director.locks import Locks
from bosh_core.director.tasks.events import EventLog

_task_ids = itertools.count(1)


def import_release(
    database: Database, blobstore: Blobstore, tarball: Path, *, scratch: Path
) -> None:
    """What a worker does for ``bosh upload-release``."""
    scratch.mkdir(parents=True, exist_ok=True)
    upload_release(
        database,
        blobstore,
        tarball,
        event_log=EventLog(lambda _line: None),
        locks=Locks(database),
        task_id=next(_task_ids),
        scratch_dir=scratch,
    )


def add_stemcell(
    database: Database,
    name: str = "bosh-warden-boshlite-ubuntu-jammy-go_agent",
    version: str = "1.18",
    *,
    os: str = "ubuntu-jammy",
    cpi: str = "",
    cid: str | None = None,
) -> None:
    with database.write() as session:
        session.add(
            Stemcell(
                name=name,
                version=version,
                operating_system=os,
                cid=cid or f"stemcell-{name}-{version}",
                cpi=cpi,
                api_version=3,
            )
        )


def add_cloud_config(database: Database, name: str = "default", *, deleted: bool = False) -> int:
    with database.write() as session:
        config = Config(type="cloud", name=name, content="{}", deleted=deleted)
        session.add(config)
        session.flush()
        return config.id


def add_deployment(
    database: Database,
    name: str,
    *,
    manifest: str | None = None,
    releases: Sequence[tuple[str, str]] = (),
    stemcells: Sequence[tuple[str, str]] = (),
    teams: Sequence[str] = (),
    config_ids: Sequence[int] = (),
) -> int:
    """A deployment as a deploy leaves it: using these release versions, stemcells
    (name, version) and configs, owned by these teams."""
    with database.write() as session:
        deployment = Deployment(name=name, manifest_text=manifest)
        for release_name, version in releases:
            found = session.scalar(
                select(ReleaseVersion)
                .join(Release)
                .where(Release.name == release_name, ReleaseVersion.version == version)
            )
            assert found is not None, f"no release {release_name}/{version}"
            deployment.release_versions.append(found)
        for stemcell_name, version in stemcells:
            stemcell = session.scalar(
                select(Stemcell).where(Stemcell.name == stemcell_name, Stemcell.version == version)
            )
            assert stemcell is not None, f"no stemcell {stemcell_name}/{version}"
            deployment.stemcells.append(stemcell)
        for team_name in teams:
            team = session.scalar(select(Team).where(Team.name == team_name))
            deployment.teams.append(team or Team(name=team_name))
        for config_id in config_ids:
            config = session.get(Config, config_id)
            assert config is not None
            deployment.configs.append(config)
        session.add(deployment)
        session.flush()
        return deployment.id


def add_instance(
    database: Database,
    deployment_id: int,
    job: str,
    index: int,
    *,
    uuid: str,
    az: str | None = "z1",
    lifecycle: str = "service",
    state: str = "started",
    vms: Sequence[dict[str, Any]] = (),
    ips: Sequence[tuple[str, str, int | None]] = (),
) -> None:
    """An instance with VMs (``cid``, ``agent_id``, ``active``, ``created_at``,
    ``network_spec``) and reserved IPs (network, address, index of the VM it is on)."""
    with database.write() as session:
        instance = Instance(
            deployment_id=deployment_id,
            job=job,
            index=index,
            uuid=uuid,
            az=az,
            state=state,
            spec={"lifecycle": lifecycle},
        )
        for values in vms:
            instance.vms.append(VM(**{"created_at": dt.datetime.now(dt.UTC), **values}))
        session.add(instance)
        session.flush()
        for network, address, vm_index in ips:
            session.add(
                IPAddress(
                    network_name=network,
                    address=int(ipaddress.ip_address(address)),
                    instance_id=instance.id,
                    vm_id=None if vm_index is None else instance.vms[vm_index].id,
                )
            )
