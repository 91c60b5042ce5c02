"""An instance's persistent disks brought to what its plan wants (the reference's
``DiskManager``), on a VM whose agent answers.

For each disk the plan wants (by name; ``""`` is the classic ``persistent_disk``):

- none yet: the CPI creates it next to the VM and attaches it, the agent learns its
  hint (``add_persistent_disk``) and mounts it; the row turns active once mounted;
- one of the same size and cloud properties: it is attached to the VM (a recreated VM
  gets it again) and mounted;
- one that differs (or ``--recreate-persistent-disks``): a new disk is created,
  attached and mounted beside the old one, the agent copies the data over
  (``migrate_disk``), then the old one is detached and orphaned.

A disk the plan no longer wants is unmounted, detached and orphaned. Orphaned disks
stay in the cloud (``bosh disks --orphaned``) until cleaned up. Only the unnamed disk is
mounted on ``/var/vcap/store``; named disks are attached and announced to the agent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import select

from bosh_core.cpi.base import CPI
from bosh_core.cpi.errors import DiskNotAttachedError
from bosh_core.cpi.types import VMCID, DiskCID
from bosh_core.director.db.models import VM, Instance, OrphanDisk, PersistentDisk
from bosh_core.director.events import TaskAudit
from bosh_core.planning.changes import DiskSpec

if TYPE_CHECKING:
    from bosh_core.director.agents import BlockingAgentClient
    from bosh_core.director.api.app import Director

__all__ = ["DiskManager", "orphan_disk"]

_log = logging.getLogger(__name__)


@attrs.frozen
class _Disk:
    id: int
    cid: str
    name: str
    size: int
    cloud_properties: Mapping[str, Any]

    def matches(self, wanted: DiskSpec) -> bool:
        return self.size == wanted.size and dict(self.cloud_properties) == dict(
            wanted.cloud_properties or {}
        )


def orphan_disk(audit: TaskAudit, director: Director, disk_id: int, *, instance_name: str) -> None:
    """Turn the ``persistent_disks`` row `disk_id` of `audit.deployment` into an
    ``orphan_disks`` row (the disk stays in the cloud), between ``orphan disk`` events."""
    with director.database.read() as session:
        disk = session.get(PersistentDisk, disk_id)
        if disk is None:
            return
        cid = disk.disk_cid
    with (
        audit.audited(action="orphan", object_type="disk", object_name=cid, instance=instance_name),
        director.database.write() as session,
    ):
        disk = session.get(PersistentDisk, disk_id)
        if disk is None:
            return
        row = session.get(Instance, disk.instance_id)
        _log.info("Orphaning disk: '%s', %s", cid, "active" if disk.active else "inactive")
        session.add(
            OrphanDisk(
                disk_cid=cid,
                size=disk.size,
                cpi=disk.cpi,
                availability_zone=row.az if row is not None else None,
                deployment_name=audit.deployment or "",
                instance_name=instance_name,
                cloud_properties=dict(disk.cloud_properties),
            )
        )
        session.delete(disk)


class DiskManager:
    """Persistent disks of one deploy's instances (of `audit.deployment`). `cpi_for`
    gives the CPI of a VM row."""

    def __init__(
        self,
        director: Director,
        *,
        audit: TaskAudit,
        cpi_for: Callable[[VM], CPI],
        recreate_persistent_disks: bool = False,
    ) -> None:
        self._director = director
        self._audit = audit
        self._cpi_for = cpi_for
        self._recreate = recreate_persistent_disks

    def converge(
        self,
        instance_id: int,
        instance_name: str,
        vm: VM,
        agent: BlockingAgentClient,
        wanted: tuple[DiskSpec, ...],
        *,
        new_vm: bool,
    ) -> None:
        """Give the instance on `vm` exactly the `wanted` disks, mounted. The disks it
        keeps are attached and mounted again only on a `new_vm`."""
        cpi = self._cpi_for(vm)
        have = {disk.name: disk for disk in self._active(instance_id)}
        for disk in wanted:
            current = have.pop(disk.name, None)
            if current is not None and new_vm:
                self._attach(cpi, vm, agent, current)
            if current is None or not current.matches(disk) or self._recreate:
                self._create(instance_id, instance_name, cpi, vm, agent, disk, replacing=current)
        for gone in have.values():
            self.detach(vm, agent, gone.cid)
            orphan_disk(self._audit, self._director, gone.id, instance_name=instance_name)

    def detach_all(self, instance_id: int, vm: VM, agent: BlockingAgentClient | None) -> None:
        """Unmount (when the agent answers) and detach every disk of the instance from
        `vm`, before the VM goes."""
        for disk in self._active(instance_id):
            self.detach(vm, agent, disk.cid)

    def detach(self, vm: VM, agent: BlockingAgentClient | None, disk_cid: str) -> None:
        if agent is not None:
            agent.run("unmount_disk", disk_cid)
            agent.run("remove_persistent_disk", disk_cid)
        assert vm.cid is not None
        try:
            self._cpi_for(vm).detach_disk(VMCID(vm.cid), DiskCID(disk_cid))
        except DiskNotAttachedError:
            _log.info("Disk %s was not attached to VM %s", disk_cid, vm.cid)

    # -- internals -------------------------------------------------------------------

    def _active(self, instance_id: int) -> list[_Disk]:
        with self._director.database.read() as session:
            rows = session.scalars(
                select(PersistentDisk)
                .where(PersistentDisk.instance_id == instance_id, PersistentDisk.active.is_(True))
                .order_by(PersistentDisk.id)
            )
            return [
                _Disk(row.id, row.disk_cid, row.name, row.size, dict(row.cloud_properties))
                for row in rows
            ]

    def _attach(self, cpi: CPI, vm: VM, agent: BlockingAgentClient, disk: _Disk) -> None:
        assert vm.cid is not None
        hint = cpi.attach_disk(VMCID(vm.cid), DiskCID(disk.cid))
        agent.run("add_persistent_disk", disk.cid, hint)
        if not disk.name:
            agent.run("mount_disk", disk.cid)

    def _create(
        self,
        instance_id: int,
        instance_name: str,
        cpi: CPI,
        vm: VM,
        agent: BlockingAgentClient,
        wanted: DiskSpec,
        *,
        replacing: _Disk | None,
    ) -> None:
        assert vm.cid is not None
        with self._audit.audited(
            action="create", object_type="disk", instance=instance_name
        ) as audit:
            cid = cpi.create_disk(wanted.size, dict(wanted.cloud_properties or {}), VMCID(vm.cid))
            audit.object_name = cid
            with self._director.database.write() as session:
                row = PersistentDisk(
                    instance_id=instance_id,
                    disk_cid=cid,
                    name=wanted.name,
                    size=wanted.size,
                    cloud_properties=dict(wanted.cloud_properties or {}),
                    cpi=vm.cpi,
                    active=False,
                )
                session.add(row)
                session.flush()
                disk_id = row.id
        new = _Disk(disk_id, cid, wanted.name, wanted.size, dict(wanted.cloud_properties or {}))
        self._attach(cpi, vm, agent, new)
        if replacing is not None and not wanted.name:
            agent.run("migrate_disk", timeout=24 * 3600.0)
        with self._director.database.write() as session:
            created = session.get(PersistentDisk, disk_id)
            assert created is not None
            created.active = True
            if replacing is not None:
                old = session.get(PersistentDisk, replacing.id)
                if old is not None:
                    old.active = False
        if replacing is not None:
            self.detach(vm, agent, replacing.cid)
            orphan_disk(self._audit, self._director, replacing.id, instance_name=instance_name)
