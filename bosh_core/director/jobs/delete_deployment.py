"""Deleting a deployment: the job behind ``bosh delete-deployment``.

As the reference's ``DeleteDeployment`` (with ``DeploymentDeleter``, ``InstanceDeleter``,
``DeleteVmStep`` and ``OrphanDiskManager``), under ``lock:deployment:<name>``:

- a deployment with ignored instances is refused;
- stage "Deleting instances", one task per instance (``job/uuid (index)``): its VMs are
  deleted through the CPI that made them (under ``lock:vm:<cid>``; a VM the cloud no
  longer has is fine), its persistent disks are orphaned (kept in the cloud, listed by
  ``bosh disks --orphaned`` until cleaned up), the rendered-templates blob its spec
  names is deleted, its IP addresses are released, its row goes;
- stage "Removing deployment artifacts": "Detaching stemcells", "Detaching releases";
  then "Destroying deployment" (shown under "Deleting properties", as the reference
  shows it).

Audit events as the reference records them: ``delete deployment`` around the whole,
``delete instance`` around each instance, ``delete vm`` around each VM and ``orphan disk``
around each disk, each end event naming its start in ``parent_id`` and carrying the error
if any. With `force`, errors of the cloud, the blobstore or a CPI no longer configured
are reported as warnings and the deletion carries on.

Not done here (yet): agents are not asked to drain and stop their jobs first (the
reference does; nothing reaches agents from a worker yet); VMs of responsive agents are
deleted rather than kept as orphaned VMs; snapshots, DNS records and dynamic disks do
not exist in this director, so `keep_snapshots` has nothing to keep. Instances are
deleted one after the other (the reference uses ``max_threads``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, Final

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bosh_core.blobstore import Blobstore
from bosh_core.cpi.errors import VMNotFoundError
from bosh_core.cpi.types import VMCID
from bosh_core.director.cloud import Clouds
from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    VM,
    Deployment,
    Instance,
    IPAddress,
    OrphanDisk,
    PersistentDisk,
)
from bosh_core.director.errors import (
    DeploymentIgnoredInstancesDeletionError,
    DeploymentNotFoundError,
)
from bosh_core.director.events import EventLog as AuditLog
from bosh_core.director.locks import Locks, deployment_lock, vm_lock
from bosh_core.director.tasks.events import EventLog, Stage

__all__ = ["DEPLOYMENT_LOCK_TIMEOUT", "VM_LOCK_TIMEOUT", "delete_deployment"]

_log = logging.getLogger(__name__)

#: How long a delete waits for the deployment's lock (the reference's 10 s).
DEPLOYMENT_LOCK_TIMEOUT: Final = 10.0
#: How long deleting a VM waits for its lock (the reference's 10 s).
VM_LOCK_TIMEOUT: Final = 10.0


def delete_deployment(
    database: Database,
    clouds: Clouds,
    blobstore: Blobstore,
    name: str,
    *,
    force: bool = False,
    keep_snapshots: bool = False,
    event_log: EventLog,
    locks: Locks,
    task_id: int | str,
    user: str = "admin",
    checkpoint: Callable[[], None] = lambda: None,
    events: AuditLog | None = None,
) -> str:
    """Delete deployment `name` with its instances, VMs and IPs, orphaning its disks;
    returns the task's result, ``/deployments/<name>``.

    `checkpoint` is called between instances and before the deployment's own rows go (it
    raises when the task is being cancelled). `events` records the audit events (by
    default in `database`). `keep_snapshots` is accepted for the API's sake: there are no
    snapshots to keep or delete.
    """
    audit = events if events is not None else AuditLog(database)
    deleter = _Deleter(
        database,
        clouds,
        blobstore,
        deployment=name,
        force=force,
        event_log=event_log,
        locks=locks,
        task_id=task_id,
        user=user,
        audit=audit,
    )
    with deleter.event("delete", "deployment", name):
        deleter.run(checkpoint)
    return f"/deployments/{name}"


class _Deleter:
    def __init__(
        self,
        database: Database,
        clouds: Clouds,
        blobstore: Blobstore,
        *,
        deployment: str,
        force: bool,
        event_log: EventLog,
        locks: Locks,
        task_id: int | str,
        user: str,
        audit: AuditLog,
    ) -> None:
        self._db = database
        self._clouds = clouds
        self._blobstore = blobstore
        self._deployment = deployment
        self._force = force
        self._events = event_log
        self._locks = locks
        self._task_id = task_id
        self._user = user
        self._audit = audit

    def run(self, checkpoint: Callable[[], None]) -> None:
        with self._locks.acquire(
            deployment_lock(self._deployment),
            timeout=DEPLOYMENT_LOCK_TIMEOUT,
            task_id=self._task_id,
            user=self._user,
            deployment=self._deployment,
        ):
            self._delete(checkpoint)

    def _delete(self, checkpoint: Callable[[], None]) -> None:
        deployment_id, instances = self._find()
        stage = self._events.stage("Deleting instances", total=len(instances))
        for instance_id in instances:
            checkpoint()
            self._delete_instance(instance_id, stage)
        checkpoint()
        artifacts = self._events.stage("Removing deployment artifacts", total=3)
        with artifacts.track("Detaching stemcells"), self._db.write() as session:
            deployment = self._deployment_row(session, deployment_id)
            deployment.stemcells.clear()
        with artifacts.track("Detaching releases"), self._db.write() as session:
            deployment = self._deployment_row(session, deployment_id)
            deployment.release_versions.clear()
        # The reference tracks this under its (here always empty) properties stage.
        properties = self._events.stage("Deleting properties", total=0)
        with properties.track("Destroying deployment"), self._db.write() as session:
            session.delete(self._deployment_row(session, deployment_id))

    def _find(self) -> tuple[int, list[int]]:
        with self._db.read() as session:
            deployment = session.scalar(
                select(Deployment).where(Deployment.name == self._deployment)
            )
            if deployment is None:
                raise DeploymentNotFoundError(f"Deployment '{self._deployment}' doesn't exist")
            instances = list(
                session.execute(
                    select(Instance.id, Instance.ignore)
                    .where(Instance.deployment_id == deployment.id)
                    .order_by(Instance.job, Instance.index)
                )
            )
            deployment_id = deployment.id
        if any(ignored for _, ignored in instances):
            raise DeploymentIgnoredInstancesDeletionError(
                f"You are trying to delete deployment '{self._deployment}', which contains"
                " ignored instance(s). Operation not allowed."
            )
        return deployment_id, [instance_id for instance_id, _ in instances]

    @staticmethod
    def _deployment_row(session: Session, deployment_id: int) -> Deployment:
        row = session.get(Deployment, deployment_id)
        assert row is not None  # we hold the deployment's lock
        return row

    # -- one instance ------------------------------------------------------------------

    def _delete_instance(self, instance_id: int, stage: Stage) -> None:
        with self._db.read() as session:
            instance = session.get(Instance, instance_id)
            assert instance is not None  # we hold the deployment's lock
            label = f"{instance.job}/{instance.uuid} ({instance.index})"
            instance_name = f"{instance.job}/{instance.uuid}"
            compilation, az = instance.compilation, instance.az
            spec = instance.spec or {}
            vms = [(vm.id, vm.cid, vm.cpi, vm.stemcell_api_version) for vm in instance.vms]
            disks = [disk.id for disk in instance.persistent_disks]
        with (
            self.event("delete", "instance", instance_name, instance=instance_name),
            stage.track(label),
        ):
            # Agents are not reachable from a worker yet: no drain or stop first.
            for vm_id, cid, cpi, stemcell_api_version in vms:
                self._delete_vm(vm_id, cid, cpi, stemcell_api_version, instance_name)
            if not compilation:
                for disk_id in disks:
                    with self._ignored_if_forced():
                        self._orphan_disk(disk_id, instance_name, az)
                with self._ignored_if_forced():
                    self._delete_rendered_templates(spec)
            with self._db.write() as session:
                # The IP addresses are released with the instance.
                session.execute(delete(IPAddress).where(IPAddress.instance_id == instance_id))
                row = session.get(Instance, instance_id)
                if row is not None:
                    session.delete(row)

    def _delete_vm(
        self,
        vm_id: int,
        cid: str | None,
        cpi: str,
        stemcell_api_version: int | None,
        instance_name: str,
    ) -> None:
        with self.event("delete", "vm", cid, instance=instance_name):
            if cid is not None:
                _log.info("Deleting VM %s", cid)
                with self._ignored_if_forced():
                    cloud = self._clouds.get(cpi, stemcell_api_version=stemcell_api_version)
                    try:
                        with self._locks.acquire(
                            vm_lock(cid),
                            timeout=VM_LOCK_TIMEOUT,
                            task_id=self._task_id,
                            user=self._user,
                        ):
                            cloud.delete_vm(VMCID(cid))
                    except VMNotFoundError:
                        _log.warning("VM '%s' might have already been deleted from the cloud", cid)
            with self._db.write() as session:
                session.execute(
                    update(IPAddress).where(IPAddress.vm_id == vm_id).values(vm_id=None)
                )
                row = session.get(VM, vm_id)
                if row is not None:
                    session.delete(row)

    def _orphan_disk(self, disk_id: int, instance_name: str, az: str | None) -> None:
        with self._db.read() as session:
            disk = session.get(PersistentDisk, disk_id)
            assert disk is not None
            cid = disk.disk_cid
        with self.event("orphan", "disk", cid, instance=instance_name), self._db.write() as session:
            disk = session.get(PersistentDisk, disk_id)
            assert disk is not None
            _log.info("Orphaning disk: '%s', %s", cid, "active" if disk.active else "inactive")
            session.add(
                OrphanDisk(
                    disk_cid=cid,
                    size=disk.size,
                    cpi=disk.cpi,
                    availability_zone=az,
                    deployment_name=self._deployment,
                    instance_name=instance_name,
                    cloud_properties=dict(disk.cloud_properties),
                )
            )
            session.delete(disk)

    def _delete_rendered_templates(self, spec: dict[str, Any]) -> None:
        """The archive of the instance's rendered job templates (``rendered_templates_
        archive`` of its apply spec, as the reference's spec has it)."""
        archive = spec.get("rendered_templates_archive")
        blob_id = archive.get("blobstore_id") if isinstance(archive, dict) else None
        if isinstance(blob_id, str) and blob_id:
            self._blobstore.delete(blob_id)

    # -- events and errors -------------------------------------------------------------

    @contextlib.contextmanager
    def event(
        self, action: str, object_type: str, object_name: str | None, *, instance: str | None = None
    ) -> Iterator[None]:
        """Record the start of `action` and, when the block ends, its end (with the error
        if the block raised)."""
        fields: dict[str, Any] = {
            "user": self._user,
            "action": action,
            "object_type": object_type,
            "object_name": object_name,
            "task": self._task_id,
            "deployment": self._deployment,
            "instance": instance,
        }
        start = self._audit.record(**fields)
        parent_id = None if start is None else start.id
        try:
            yield
        except BaseException as error:
            self._audit.record(**fields, parent_id=parent_id, error=error)
            raise
        self._audit.record(**fields, parent_id=parent_id)

    @contextlib.contextmanager
    def _ignored_if_forced(self) -> Iterator[None]:
        """The reference's ``ErrorIgnorer``: with `force`, an error is a warning."""
        try:
            yield
        except Exception as error:  # a plugin CPI may raise its IaaS library's errors
            if not self._force:
                raise
            self._events.warn(f"Force deleting is set, ignoring exception: {error}")
            _log.error("Force deleting is set, ignoring exception: %s", error)
