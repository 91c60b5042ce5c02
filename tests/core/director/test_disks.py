"""Persistent disks of an instance brought to its plan (DiskManager), on a real VM of the
local CPI whose agent mounts them: created and mounted, kept, migrated with their data
to a bigger disk, and orphaned when no longer wanted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from sqlalchemy import select

from bosh_core.director.db.models import VM, Event, OrphanDisk, PersistentDisk
from bosh_core.director.disks import DiskManager
from bosh_core.director.events import TaskAudit
from bosh_core.director.vms import VMFactory
from bosh_core.planning.changes import DiskSpec
from tests.core.director.agent_world import (
    AZS,
    AgentWorld,
    agent_world,
    needs_root,
    planned_instance,
)

pytestmark = needs_root

DEPLOYMENT = "disks"
NETWORK_PREFIX = "127.244.35"  # loopback mode: VMs share the host's network stack


@attrs.frozen
class OnVM:
    world: AgentWorld
    vm: VM
    instance_id: int
    disks: DiskManager

    def converge(self, *wanted: DiskSpec, new_vm: bool = False) -> None:
        assert self.vm.agent_id is not None
        agent = self.world.director.agents.blocking_client(self.vm.agent_id)
        self.disks.converge(self.instance_id, "web/0", self.vm, agent, wanted, new_vm=new_vm)

    def rows(self) -> list[tuple[str, int, bool]]:
        with self.world.director.database.read() as session:
            found = session.scalars(select(PersistentDisk).order_by(PersistentDisk.id))
            return [(disk.disk_cid, disk.size, disk.active) for disk in found]

    def mounts(self) -> dict[str, str]:
        vm_dir = self.world.cpi.config.dir / "vms" / str(self.vm.cid)
        mounts: dict[str, str] = json.loads((vm_dir / "vcap/bosh/mounts.json").read_text())
        return mounts

    def disk_data(self, cid: str) -> Path:
        return self.world.cpi.config.dir / "disks" / cid


@pytest.fixture(scope="module")
def on_vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnVM]:
    root = tmp_path_factory.mktemp("disks")
    with agent_world(root, deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX) as world:
        director = world.director
        factory = VMFactory(director, clouds=world.clouds, azs=AZS, agent_wait_timeout=30)
        instance = planned_instance(
            director, deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX, index=0, env={}
        )
        vm = factory.create(instance, deployment=DEPLOYMENT, stemcell_cid=world.stemcell)
        disks = DiskManager(
            director,
            audit=TaskAudit(director.events, "admin", 7, DEPLOYMENT),
            cpi_for=lambda row: world.clouds.get(row.cpi, stemcell_api_version=2),
        )
        yield OnVM(world, vm, vm.instance_id, disks)


def test_a_new_disk_is_created_attached_and_mounted_on_the_store(on_vm: OnVM) -> None:
    on_vm.converge(DiskSpec("", 10), new_vm=True)

    [(cid, size, active)] = on_vm.rows()
    assert (size, active) == (10, True)
    assert on_vm.mounts() == {"store": cid}
    with on_vm.world.director.database.read() as session:
        events = [(e.action, e.object_type, e.object_name) for e in session.scalars(select(Event))]
    assert ("create", "disk", cid) in events


def test_a_kept_disk_on_a_kept_vm_is_left_alone(on_vm: OnVM) -> None:
    before = on_vm.rows()
    on_vm.converge(DiskSpec("", 10))
    assert on_vm.rows() == before


def test_a_bigger_disk_gets_the_data_and_the_old_one_is_orphaned(on_vm: OnVM) -> None:
    [(old, _, _)] = on_vm.rows()
    (on_vm.disk_data(old) / "kept.txt").write_text("data of the job")

    on_vm.converge(DiskSpec("", 20))

    [(new, size, active)] = on_vm.rows()
    assert (size, active) == (20, True) and new != old
    assert on_vm.mounts() == {"store": new}
    assert (on_vm.disk_data(new) / "kept.txt").read_text() == "data of the job"
    assert (
        json.loads((on_vm.world.cpi.config.dir / "disks" / f"{old}.json").read_text())["vm_cid"]
        is None
    )  # detached, still in the cloud
    with on_vm.world.director.database.read() as session:
        orphans = [
            (o.disk_cid, o.size, o.deployment_name) for o in session.scalars(select(OrphanDisk))
        ]
    assert orphans == [(old, 10, DEPLOYMENT)]


def test_a_disk_no_longer_wanted_is_unmounted_and_orphaned(on_vm: OnVM) -> None:
    [(cid, _, _)] = on_vm.rows()
    on_vm.converge()

    assert on_vm.rows() == [] and on_vm.mounts() == {}
    with on_vm.world.director.database.read() as session:
        assert cid in set(session.scalars(select(OrphanDisk.disk_cid)))
