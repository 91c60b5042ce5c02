"""A director whose VMs have real agents: its embedded NATS, the local CPI (through a
cpi-config naming it, serving AZ ``z1``) in loopback mode, and a stemcell uploaded to it.
Shared by the tests that create VMs (VM factory, compilation, ...). Needs root."""

from __future__ import annotations

import contextlib
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from bosh_core.cpi.local import LocalCPI, make_stemcell
from bosh_core.cpi.types import VMCID, CPIContext
from bosh_core.digest import file_digest
from bosh_core.director.api import Director, DirectorConfig, create_app
from bosh_core.director.api.config import MbusConfig
from bosh_core.director.cloud import Clouds
from bosh_core.director.db import open_database
from bosh_core.director.db.models import Deployment, Instance
from bosh_core.models.cloud_config import AvailabilityZone
from bosh_core.models.cpi_config import load_cpi_configs
from bosh_core.planning.changes import DesiredState, InstanceAction, InstanceChanges
from bosh_core.planning.placement import InstanceStatus
from bosh_core.planning.plan import InstancePlan, StemcellData
from tests.core.agent.test_runtime import tgz

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="local CPI VMs with their own mount and PID namespaces need root"
)

CPI_NAME = "local-z1"
AZS = (AvailabilityZone(name="z1", cpi=CPI_NAME),)
STEMCELL_NAME = "bosh-local-ubuntu"


@attrs.frozen
class AgentWorld:
    director: Director
    cpi: LocalCPI
    stemcell: str  # its cid in the local CPI
    clouds: Clouds

    def cloud_vms(self) -> list[str]:
        vms = self.cpi.config.dir / "vms"
        return sorted(path.name for path in vms.iterdir()) if vms.is_dir() else []


@contextlib.contextmanager
def agent_world(root: Path, *, deployment: str, network_prefix: str) -> Iterator[AgentWorld]:
    """The director (SQLite under `root`, deployment `deployment` recorded) running until
    the block ends; VMs get addresses in ``<network_prefix>.0/24``. Every VM left in the
    cloud is deleted at the end."""
    config = DirectorConfig(
        name="test-director",
        data_dir=root / "data",
        bind="127.0.0.1",
        mbus=MbusConfig(embedded=True, port=0),
    )
    database = open_database(f"sqlite:///{root / 'bosh.db'}")
    database.migrate()
    app = create_app(config, database)
    with database.write() as session:
        if session.scalar(select(Deployment.id).where(Deployment.name == deployment)) is None:
            session.add(Deployment(name=deployment))
    made = make_stemcell(root / "stemcell.tgz", name=STEMCELL_NAME, version="1")
    with tarfile.open(made) as archive:
        archive.extractall(root / "stemcell", filter="data")
    try:
        with TestClient(app):
            director: Director = app.state.director
            properties = {
                "dir": str(root / "cpi"),
                "network_mode": "loopback",
                "network_cidr": f"{network_prefix}.0/24",
                "agent": {
                    "mbus": director.agents.agent_url,
                    # The agents share the director's own (local) blobstore directory.
                    "blobstore": {
                        "provider": "local",
                        "options": {"blobstore_path": str(config.blobstore_dir)},
                    },
                },
            }
            cpi = LocalCPI(properties, context=CPIContext())
            stemcell = cpi.create_stemcell(str(root / "stemcell" / "image"), {})
            clouds = Clouds(
                director_uuid=director.uuid,
                default=None,
                cpi_config=load_cpi_configs(
                    {
                        "local": {
                            "cpis": [{"name": CPI_NAME, "type": "local", "properties": properties}]
                        }
                    }
                ),
            )
            world = AgentWorld(director=director, cpi=cpi, stemcell=stemcell, clouds=clouds)
            try:
                yield world
            finally:
                for vm_cid in world.cloud_vms():
                    cpi.delete_vm(VMCID(vm_cid))
    finally:
        database.dispose()


def planned_instance(
    director: Director, *, deployment: str, network_prefix: str, index: int, env: dict[str, Any]
) -> InstancePlan:
    """A planned instance of group ``web`` in z1 with address ``<network_prefix>.<10 +
    index>``, recorded in the database as a deploy records it before making its VM."""
    instance_uuid = str(uuid.uuid4())
    with director.database.write() as session:
        found = session.scalar(select(Deployment).where(Deployment.name == deployment))
        assert found is not None
        session.add(Instance(deployment=found, job="web", index=index, uuid=instance_uuid, az="z1"))
    networks = {
        "default": {
            "type": "manual",
            "ip": f"{network_prefix}.{10 + index}",
            "netmask": "255.255.255.0",
            "gateway": f"{network_prefix}.1",
            "default": ["dns", "gateway"],
            "dns": [],
            "cloud_properties": {},
        }
    }
    return InstancePlan(
        instance_group="web",
        uuid=instance_uuid,
        index=index,
        az="z1",
        bootstrap=index == 0,
        status=InstanceStatus.NEW,
        reservations=(),
        released=(),
        vm_type="default",
        cloud_properties={},
        stemcell=StemcellData(
            name=STEMCELL_NAME,
            operating_system="ubuntu",
            version="1",
            cpi=CPI_NAME,
            api_version=2,
        ),
        env=env,
        persistent_disks=(),
        jobs=(),
        spec={"networks": networks, "tags": {"team": "blue"}},
        state=DesiredState.STARTED,
        actual=None,
        changes=InstanceChanges(changes=(), action=InstanceAction.CREATE),
    )


def start_tiny_job(
    director: Director,
    agent_id: str,
    workdir: Path,
    *,
    deployment: str,
    scripts: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Apply and start job 'tiny' (one ``sleep`` process, plus `scripts` such as
    ``{"drain": "#!/bin/sh ..."}`` in its bin/) on the agent, as a deploy would; the
    apply spec."""
    pidfile = "/var/vcap/sys/run/tiny/tiny.pid"
    files = {
        "tiny/monit": (
            f"check process tiny\n  with pidfile {pidfile}\n"
            '  start program "/var/vcap/jobs/tiny/bin/ctl start"\n'
            '  stop program "/var/vcap/jobs/tiny/bin/ctl stop"\n  group vcap\n'
        ),
        "tiny/bin/ctl": (
            f'#!/bin/sh\ncase "$1" in\n  start) sleep 600 & echo $! > {pidfile} ;;\n'
            f"  stop) kill $(cat {pidfile}) ;;\nesac\n"
        ),
        **{f"tiny/bin/{name}": text for name, text in (scripts or {}).items()},
    }
    archive = tgz(workdir / f"rendered-{uuid.uuid4().hex}.tgz", files)
    spec = {
        "deployment": deployment,
        "job": {"name": "tiny", "templates": [{"name": "tiny", "version": "1"}]},
        "packages": {},
        "rendered_templates_archive": {
            "blobstore_id": director.blobstore.put(archive),
            "sha1": str(file_digest(archive, "sha256")),
        },
    }
    client = director.agents.blocking_client(agent_id)
    assert client.run("apply", spec) == "applied"
    assert client.send("start") == "started"
    return spec
