"""delete_deployment on SQLite and PostgreSQL with a real local CPI: a running VM and a
VM the cloud no longer has, disks orphaned, IPs released, events, force and cancel; and
on a director with its embedded NATS, whose deleted VMs' agents lose their credentials."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import func, select

from bosh_core.bus import BusConnectionError
from bosh_core.bus.certs import MbusCert
from bosh_core.bus.nats import NatsBus
from bosh_core.cpi.types import VMCID, DiskCID, StemcellCID
from bosh_core.director.api import DirectorConfig
from bosh_core.director.api.app import Director
from bosh_core.director.api.auth import BasicAuthenticator
from bosh_core.director.cloud import Clouds
from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    VM,
    Deployment,
    Instance,
    IPAddress,
    OrphanDisk,
    PersistentDisk,
    Release,
    ReleaseVersion,
    Stemcell,
)
from bosh_core.director.errors import (
    CpiNotConfiguredError,
    DeploymentIgnoredInstancesDeletionError,
    DeploymentNotFoundError,
    TaskCancelledError,
)
from bosh_core.director.jobs.delete_deployment import delete_deployment
from bosh_core.director.tasks.events import EventLog
from bosh_core.mappings import deep_merge
from tests.core.director.agent_world import CPI_NAME, agent_world
from tests.core.director.jobs.local_cloud import (
    IS_ROOT,
    NEEDS_ROOT,
    Lines,
    default_clouds,
    local_cpi,
    stemcell_image,
)

pytestmark = pytest.mark.skipif(not IS_ROOT, reason=NEEDS_ROOT)

MISSING_VM = "vm-00000000-0000-0000-0000-000000000001"


@attrs.frozen
class Setup:
    vm: VMCID  # web/0's running VM
    disk: DiskCID  # web/0's persistent disk, attached
    rendered: str  # web/0's rendered templates blob


class World:
    """A director without a message bus (no agent credentials to revoke) whose local
    CPI's VMs run ``sleep``."""

    def __init__(self, database: Database, tmp_path: Path) -> None:
        config = DirectorConfig(name="test-director", data_dir=tmp_path / "director")
        self.director = Director(config, database, BasicAuthenticator(()))
        self.database = database
        self.cpi = local_cpi(tmp_path / "cloud")
        self.clouds: Clouds = default_clouds(tmp_path / "cloud")
        self.blobstore = self.director.blobstore
        self.audit = self.director.events
        self.locks = self.director.locks
        self.lines = Lines()
        self.created_vms: list[str] = []

    def delete_leftover_vms(self) -> None:
        """Stop the VMs a test left running (a refused deletion keeps them)."""
        for vm in self.created_vms:
            if self.cpi.has_vm(VMCID(vm)):
                self.cpi.delete_vm(VMCID(vm))

    def delete(self, name: str = "cf", **options: Any) -> str:
        self.lines = Lines()
        return delete_deployment(
            self.director,
            name,
            clouds=self.clouds,
            event_log=EventLog(self.lines),
            task_id=12,
            user="ops",
            **options,
        )

    def count(self, model: type[Any]) -> int:
        with self.database.read() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def events(self) -> list[tuple[str, str, str | None, bool, bool]]:
        """``(action, object_type, object_name, ends another, has an error)``, oldest
        first, lock events left out."""
        return [
            (e.action, e.object_type, e.object_name, e.parent_id is not None, e.error is not None)
            for e in reversed(self.audit.list())
            if e.object_type != "lock"
        ]

    def deploy(self, tmp_path: Path, *, vm_cpi: str = "") -> Setup:
        """Deployment ``cf``: web/0 with a running VM, an attached disk and two IPs;
        worker/0 whose VM the cloud no longer has (on CPI `vm_cpi`)."""
        stemcell_cid = self.cpi.create_stemcell(str(stemcell_image(tmp_path / "image")), {})
        disk = self.cpi.create_disk(16, {}, None)
        vm, _ = self.cpi.create_vm(
            "agent-web-0",
            StemcellCID(stemcell_cid),
            {},
            {"default": {"type": "dynamic", "cloud_properties": {}}},
            [disk],
            {"bosh": {}},
        )
        self.created_vms.append(vm)
        source = tmp_path / "rendered.tgz"
        source.write_bytes(b"rendered templates")
        rendered = self.blobstore.put(source)
        with self.database.write() as session:
            stemcell_row = Stemcell(
                name="s", version="1", operating_system="ubuntu-jammy", cid=stemcell_cid
            )
            release_version = ReleaseVersion(release=Release(name="app"), version="1")
            deployment = Deployment(
                name="cf", stemcells=[stemcell_row], release_versions=[release_version]
            )
            web = Instance(
                deployment=deployment,
                job="web",
                index=0,
                uuid="web-uuid",
                az="z1",
                spec={"rendered_templates_archive": {"blobstore_id": rendered, "sha1": "x"}},
            )
            web_vm = VM(instance=web, cid=vm, agent_id="agent-web-0", active=True)
            web.persistent_disks.append(
                PersistentDisk(disk_cid=disk, size=16, active=True, cloud_properties={"t": 1})
            )
            worker = Instance(deployment=deployment, job="worker", index=0, uuid="worker-uuid")
            VM(instance=worker, cid=MISSING_VM, agent_id="agent-worker-0", cpi=vm_cpi)
            session.add(deployment)
            session.flush()
            session.add_all(
                [
                    IPAddress(network_name="default", address=1, instance=web, vm_id=web_vm.id),
                    IPAddress(network_name="default", address=2, instance=worker, static=True),
                ]
            )
        return Setup(vm, disk, rendered)


@pytest.fixture
def director(database: Database, tmp_path: Path) -> Iterator[World]:
    world = World(database, tmp_path)
    yield world
    world.delete_leftover_vms()


def test_delete_removes_vms_orphans_disks_and_releases_ips(director: World, tmp_path: Path) -> None:
    setup = director.deploy(tmp_path)
    assert director.cpi.has_vm(setup.vm)
    assert director.delete() == "/deployments/cf"

    assert not director.cpi.has_vm(setup.vm)
    assert director.cpi.has_disk(setup.disk)  # orphaned, not deleted
    assert not director.blobstore.exists(setup.rendered)
    for model in (Deployment, Instance, VM, IPAddress, PersistentDisk):
        assert director.count(model) == 0, model
    assert director.count(Stemcell) == director.count(ReleaseVersion) == 1
    with director.database.read() as session:
        orphan = session.scalars(select(OrphanDisk)).one()
        assert (
            orphan.disk_cid,
            orphan.size,
            orphan.availability_zone,
            orphan.deployment_name,
            orphan.instance_name,
            orphan.cloud_properties,
        ) == (setup.disk, 16, "z1", "cf", "web/web-uuid", {"t": 1})

    assert director.lines.finished() == [
        ("Deleting instances", "web/web-uuid (0)"),
        ("Deleting instances", "worker/worker-uuid (0)"),
        ("Removing deployment artifacts", "Detaching stemcells"),
        ("Removing deployment artifacts", "Detaching releases"),
        ("Deleting properties", "Destroying deployment"),
    ]
    assert director.events() == [
        ("delete", "deployment", "cf", False, False),
        ("delete", "instance", "web/web-uuid", False, False),
        ("delete", "vm", setup.vm, False, False),
        ("delete", "vm", setup.vm, True, False),
        ("orphan", "disk", setup.disk, False, False),
        ("orphan", "disk", setup.disk, True, False),
        ("delete", "instance", "web/web-uuid", True, False),
        ("delete", "instance", "worker/worker-uuid", False, False),
        ("delete", "vm", MISSING_VM, False, False),
        ("delete", "vm", MISSING_VM, True, False),
        ("delete", "instance", "worker/worker-uuid", True, False),
        ("delete", "deployment", "cf", True, False),
    ]
    [end] = director.audit.list(action="delete", object_type="deployment", limit=1)
    assert (end.user, end.task, end.deployment) == ("ops", "12", "cf")


def test_a_vm_of_a_cpi_no_longer_configured_needs_force(director: World, tmp_path: Path) -> None:
    setup = director.deploy(tmp_path, vm_cpi="retired")
    with pytest.raises(CpiNotConfiguredError, match="CPI 'retired' not found"):
        director.delete()
    assert director.count(Deployment) == 1
    assert director.count(Instance) == 1  # web/0 went first
    assert director.events()[-1] == ("delete", "deployment", "cf", True, True)
    assert director.lines.entries()[-1]["state"] == "failed"

    director.delete(force=True)
    assert director.count(Deployment) == director.count(VM) == 0
    assert director.lines.warnings() == [
        "Force deleting is set, ignoring exception: CPI 'retired' not found in cpi-config"
        " (because cpi-config is not set)"
    ]
    assert director.cpi.has_disk(setup.disk)


def test_ignored_instances_block_the_deletion(director: World, tmp_path: Path) -> None:
    director.deploy(tmp_path)
    with director.database.write() as session:
        session.scalars(select(Instance).where(Instance.job == "web")).one().ignore = True
    with pytest.raises(DeploymentIgnoredInstancesDeletionError, match="ignored instance"):
        director.delete(force=True)
    assert director.count(VM) == 2


def test_an_unknown_deployment(director: World) -> None:
    with pytest.raises(DeploymentNotFoundError, match="Deployment 'nope' doesn't exist"):
        director.delete("nope")
    assert director.events() == [
        ("delete", "deployment", "nope", False, False),
        ("delete", "deployment", "nope", True, True),
    ]


def test_cancelling_stops_between_instances(director: World, tmp_path: Path) -> None:
    director.deploy(tmp_path)
    calls: list[int] = []

    def checkpoint() -> None:
        calls.append(1)
        if len(calls) > 1:
            raise TaskCancelledError("Task 12 cancelled")

    with pytest.raises(TaskCancelledError):
        director.delete(checkpoint=checkpoint)
    with director.database.read() as session:
        assert list(session.scalars(select(Instance.job))) == ["worker"]
    assert director.locks.list() == []  # the deployment's lock was released


def test_deleting_a_deployment_revokes_its_agents_credentials(tmp_path: Path) -> None:
    with agent_world(tmp_path, deployment="agents", network_prefix="127.244.33") as world:
        director = world.director
        agent_id = "agent-of-web-0"
        environment = deep_merge({"bosh": {}}, director.agents.credentials_for(agent_id))
        vm, _ = world.cpi.create_vm(
            agent_id,
            StemcellCID(world.stemcell),
            {},
            {"default": {"type": "dynamic", "cloud_properties": {}}},
            [],
            environment,
        )
        director.agents.wait_for_agent(agent_id, timeout=30)  # its credentials let it on
        agents_file = director.config.nats_dir / "agents.json"
        assert agent_id in json.loads(agents_file.read_text())
        with director.database.write() as session:
            deployment = session.scalars(select(Deployment)).one()
            web = Instance(deployment=deployment, job="web", index=0, uuid="web-uuid", az="z1")
            session.add(VM(instance=web, cid=vm, agent_id=agent_id, cpi=CPI_NAME, active=True))

        lines = Lines()
        delete_deployment(
            director, "agents", clouds=world.clouds, event_log=EventLog(lines), task_id=3
        )

        assert not world.cpi.has_vm(vm)
        assert agent_id not in json.loads(agents_file.read_text())
        cert = MbusCert(**environment["bosh"]["mbus"]["cert"])
        with pytest.raises(BusConnectionError, match="Authorization Violation"):
            asyncio.run(
                NatsBus.connect(director.agents.agent_url, tls=cert, max_reconnect_attempts=0)
            )
        assert lines.warnings() == []
