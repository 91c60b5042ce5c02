"""The director's VM factory: a planned instance becomes a VM whose agent answers, and goes.

`VMFactory.create` is the reference's ``CreateVmStep`` (with ``VmCreator``'s event-log
task and ``MetadataUpdater``), for one instance of a deploy plan:

1. the instance's row must exist (the deploy records instances before making VMs); its
   active persistent disks go to the CPI so the VM is placed next to them;
2. a new agent id gets NATS credentials (``director.agents.credentials_for``): they are
   the ``env.bosh.mbus.cert`` of create_vm, with the instance group's ``env`` and the
   ``bosh.group``/``bosh.groups`` names the agent tags its processes with;
3. create_vm goes to the CPI serving the instance's AZ, built with the stemcell's API
   version (a VMCreationFailed with ``ok_to_retry`` is tried again, as the reference
   does, up to `DEFAULT_MAX_VM_CREATE_TRIES` times);
4. the ``vms`` row is written, linked to its instance, in one transaction (active when
   the instance has no other active VM: a create-swap-delete keeps the old one active);
5. the VM's metadata is set (the director, deployment, instance ...; a CPI without
   set_vm_metadata is fine), then the director waits for the agent to answer a ping.

Whatever fails on the way, nothing is left behind: a VM the cloud made is deleted again
(and its row), the agent's credentials are revoked, and the error is raised.

`VMFactory.delete` is the reference's ``DeleteVmStep``: the CPI that made the VM deletes
it under ``lock:vm:<cid>`` (a VM the cloud no longer has is fine), the agent's
credentials are revoked, the row goes. With ``force`` the cloud's errors are warnings.

Both record the reference's audit events: ``create vm`` (its end names the new cid) and
``delete vm``, each end naming its start in ``parent_id`` and carrying the error if any.
The calls block (CPI calls and the agent wait): the deploy runs them on worker threads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select, update

from bosh_core.cpi.base import CPI
from bosh_core.cpi.errors import (
    NotImplementedError_,
    NotSupportedError,
    VMCreationFailedError,
    VMNotFoundError,
)
from bosh_core.cpi.types import VMCID, DiskCID, StemcellCID
from bosh_core.director.blobstores import agent_blobstores
from bosh_core.director.cloud import Clouds
from bosh_core.director.db.models import VM, Deployment, Instance, IPAddress, PersistentDisk
from bosh_core.director.error_ignorer import ignored_if_forced
from bosh_core.director.errors import InstanceNotFoundError, StemcellNotFoundError
from bosh_core.director.events import AuditedAction
from bosh_core.director.locks import vm_lock
from bosh_core.mappings import deep_merge
from bosh_core.models.cloud_config import AvailabilityZone
from bosh_core.models.validation import canonical_name
from bosh_core.planning.plan import InstancePlan, StemcellData

if TYPE_CHECKING:
    from bosh_core.director.api.app import Director
    from bosh_core.director.tasks.events import EventLog as TaskEventLog
    from bosh_core.director.tasks.events import Stage

__all__ = [
    "CREATE_MISSING_VMS_STAGE",
    "DEFAULT_MAX_VM_CREATE_TRIES",
    "VM_LOCK_TIMEOUT",
    "VMFactory",
    "vm_task_name",
]

_log = logging.getLogger(__name__)

#: The event-log stage a deploy creates its instances' VMs in (the reference's).
CREATE_MISSING_VMS_STAGE: Final = "Creating missing vms"
#: How often create_vm is tried when the CPI says retrying is fine (the reference's
#: ``max_vm_create_tries`` default).
DEFAULT_MAX_VM_CREATE_TRIES: Final = 5
#: How long deleting a VM waits for its lock (the reference's 10 s).
VM_LOCK_TIMEOUT: Final = 10.0


def vm_task_name(instance: InstancePlan) -> str:
    """The instance's task in the event log: ``web/<uuid> (0)``."""
    return f"{instance.name} ({instance.index})"


class VMFactory:
    """Creates and deletes one deploy's VMs through `director`'s CPIs, agents, locks and
    events.

    `clouds` are the task's CPIs (default: the director's, as its database configures
    them now); `azs` the cloud config's AZs, which name the CPI of each (needed with a
    cpi-config). `task_id` and `user` go into the audit events and locks;
    `event_log` (the task's) gets the warnings of a forced delete. `agent_wait_timeout`
    bounds the wait for a new VM's agent (default: the director's).
    """

    def __init__(
        self,
        director: Director,
        *,
        clouds: Clouds | None = None,
        azs: Sequence[AvailabilityZone] = (),
        task_id: int | str | None = None,
        user: str = "admin",
        event_log: TaskEventLog | None = None,
        max_create_tries: int = DEFAULT_MAX_VM_CREATE_TRIES,
        agent_wait_timeout: float | None = None,
    ) -> None:
        self._director = director
        self._clouds = clouds or Clouds.from_database(
            director.database, director_uuid=director.uuid, default=director.config.default_cpi
        )
        self._azs = tuple(azs)
        self._task_id = task_id
        self._user = user
        self._event_log = event_log
        self._max_create_tries = max_create_tries
        self._agent_wait_timeout = agent_wait_timeout

    # -- creating ------------------------------------------------------------------------

    def stemcell_for(
        self,
        uploaded: Iterable[StemcellData],
        wanted: StemcellData,
        az: str | None,
        *,
        by_os: bool = False,
    ) -> StemcellData:
        """The upload of `wanted` (its name, or with `by_os` its OS, and its version) to
        the CPI serving `az`: with a cpi-config each CPI has its own, maybe of another
        name (rows under a name the CPI had before count), as in the reference's
        ``Stemcell#model_for_cpi``."""
        cpi = self._clouds.name_for_az(az, self._azs)
        aliases = self._clouds.aliases(cpi) if cpi else ("",)

        def key(stemcell: StemcellData) -> tuple[str, str]:
            return (stemcell.operating_system if by_os else stemcell.name, stemcell.version)

        same = [s for s in uploaded if key(s) == key(wanted)]
        found = next((s for s in same if s.cpi == aliases[0]), None) or next(
            (s for s in same if s.cpi in aliases), None
        )
        if found is None:
            where = f"cpi {cpi}" if cpi else "default cpi"
            raise StemcellNotFoundError(
                f'Required stemcell {{"name"=>"{wanted.name}", "version"=>"{wanted.version}"}}'
                f" not found for {where}, please upload again"
            )
        return found

    def create(
        self,
        instance: InstancePlan,
        *,
        deployment: str,
        stemcell_cid: str,
        event_log_stage: Stage | None = None,
    ) -> VM:
        """A running VM for `instance` of `deployment`, from the stemcell the AZ's CPI
        knows as `stemcell_cid`, whose agent answers; its (detached) ``vms`` row.

        With `event_log_stage` (normally `CREATE_MISSING_VMS_STAGE`) the creation is a
        task of that stage, named by `vm_task_name`.
        """
        tracked = (
            event_log_stage.track(vm_task_name(instance))
            if event_log_stage is not None
            else contextlib.nullcontext()
        )
        with tracked:
            return self._create(instance, deployment=deployment, stemcell_cid=stemcell_cid)

    def _create(self, instance: InstancePlan, *, deployment: str, stemcell_cid: str) -> VM:
        instance_id, disk_cids = self._instance_row(instance, deployment)
        api_version = instance.stemcell.api_version
        cpi_name = self._clouds.name_for_az(instance.az, self._azs)
        agent_id = str(uuid.uuid4())
        agents = self._director.agents
        with self._audited("create", deployment=deployment, instance=instance.name) as audit:
            environment = self._environment(instance, deployment=deployment, agent_id=agent_id)
            try:
                cpi = self._clouds.get(cpi_name, stemcell_api_version=api_version)
                vm_cid = self._create_vm(
                    cpi,
                    agent_id,
                    StemcellCID(stemcell_cid),
                    instance.cloud_properties,
                    instance.spec.get("networks") or {},
                    disk_cids,
                    environment,
                )
            except BaseException:
                agents.revoke([agent_id])
                raise
            audit.object_name = vm_cid
            try:
                vm = self._record(
                    instance,
                    instance_id,
                    vm_cid=vm_cid,
                    agent_id=agent_id,
                    cpi_name=cpi_name,
                    stemcell_api_version=api_version,
                )
            except BaseException:
                with self._cleanup(vm_cid):
                    with self._audited(
                        "delete", deployment=deployment, instance=instance.name, object_name=vm_cid
                    ):
                        self._delete_from_cloud(cpi, vm_cid)
                    agents.revoke([agent_id])
                raise
        try:
            self._set_metadata(cpi, vm_cid, instance, deployment=deployment)
            _log.info("Waiting for agent %s of VM %s (%s)", agent_id, vm_cid, instance.name)
            agents.wait_for_agent(agent_id, timeout=self._agent_wait_timeout)
        except BaseException as error:
            _log.error("Failed to create/contact VM %s: %s", vm_cid, error)
            with self._cleanup(vm_cid):
                self.delete(vm)
            raise
        return vm

    def _instance_row(self, instance: InstancePlan, deployment: str) -> tuple[int, list[DiskCID]]:
        """The instance's row id and the cids of its active persistent disks."""
        with self._director.database.read() as session:
            row = session.scalar(
                select(Instance)
                .join(Deployment)
                .where(Instance.uuid == instance.uuid, Deployment.name == deployment)
            )
            if row is None:
                raise InstanceNotFoundError(
                    f"Instance '{instance.name}' of deployment '{deployment}' doesn't exist:"
                    " the deploy records instances before it creates their VMs"
                )
            disks = session.scalars(
                select(PersistentDisk.disk_cid).where(
                    PersistentDisk.instance_id == row.id, PersistentDisk.active.is_(True)
                )
            )
            return row.id, [DiskCID(cid) for cid in disks]

    def _environment(
        self, instance: InstancePlan, *, deployment: str, agent_id: str
    ) -> dict[str, Any]:
        """create_vm's ``env``: the instance group's, the agent's NATS credentials, and
        the process groups the agent uses (canonical ``<director>-<deployment>-<ig>``...)."""
        director = canonical_name(self._director.config.name)
        names = [canonical_name(deployment), canonical_name(instance.instance_group)]
        bosh: dict[str, Any] = {
            "group": "-".join([director, *names]),
            "groups": [
                director,
                *names,
                f"{director}-{names[0]}",
                "-".join(names),
                "-".join([director, *names]),
            ],
        }
        tags = instance.spec.get("tags") or {}
        if tags:
            bosh["tags"] = dict(tags)
        blobstores = agent_blobstores(self._director.config)
        if blobstores:
            bosh["blobstores"] = blobstores
        environment = deep_merge(dict(instance.env), {"bosh": bosh})
        return deep_merge(environment, self._director.agents.credentials_for(agent_id))

    def _create_vm(
        self,
        cpi: CPI,
        agent_id: str,
        stemcell_cid: StemcellCID,
        cloud_properties: Mapping[str, Any],
        networks: Mapping[str, Any],
        disk_cids: list[DiskCID],
        environment: Mapping[str, Any],
    ) -> VMCID:
        tries = 0
        while True:
            tries += 1
            try:
                created = cpi.create_vm(
                    agent_id,
                    stemcell_cid,
                    dict(cloud_properties),
                    dict(networks),
                    disk_cids,
                    dict(environment),
                )
            except VMCreationFailedError as error:
                if not error.ok_to_retry or tries >= self._max_create_tries:
                    raise
                _log.error("Failed to create VM, retrying (%d): %s", tries, error)
                continue
            return created.vm_cid

    def _record(
        self,
        instance: InstancePlan,
        instance_id: int,
        *,
        vm_cid: str,
        agent_id: str,
        cpi_name: str,
        stemcell_api_version: int | None,
    ) -> VM:
        """The VM's row, linked to its instance (active unless another VM of the instance
        is), in one transaction. ``env`` is the instance group's: what a later deploy
        compares (the credentials stay out of the database)."""
        with self._director.database.write() as session:
            row = session.get(Instance, instance_id)
            if row is None:
                raise InstanceNotFoundError(
                    f"Instance '{instance.name}' was deleted while its VM was created"
                )
            vm = VM(
                instance=row,
                cid=vm_cid,
                agent_id=agent_id,
                cpi=cpi_name,
                active=not any(other.active for other in row.vms),
                created_at=dt.datetime.now(dt.UTC),
                stemcell_api_version=stemcell_api_version,
                env=dict(instance.env),
                network_spec=dict(instance.spec.get("networks") or {}),
            )
            session.add(vm)
            session.flush()
            return vm

    def cpi_for(self, vm: VM) -> CPI:
        """The CPI that made `vm` (a row), for calls about it."""
        return self._clouds.get(vm.cpi, stemcell_api_version=vm.stemcell_api_version)

    def set_metadata(self, vm: VM, instance: InstancePlan, *, deployment: str) -> None:
        """Tag `vm` (a row) again: a deploy that changes only tags does just this."""
        assert vm.cid is not None
        self._set_metadata(self.cpi_for(vm), vm.cid, instance, deployment=deployment)

    def _set_metadata(
        self, cpi: CPI, vm_cid: str, instance: InstancePlan, *, deployment: str
    ) -> None:
        """Tag the VM as the reference's ``MetadataUpdater`` does (the manifest's and the
        group's tags, then the director's own keys)."""
        metadata = {
            **(instance.spec.get("tags") or {}),
            "director": self._director.config.name,
            "deployment": deployment,
            "id": instance.uuid,
            "job": instance.instance_group,
            "instance_group": instance.instance_group,
            "index": str(instance.index),
            "name": instance.name,
            "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        try:
            cpi.set_vm_metadata(VMCID(vm_cid), metadata)
        except (NotImplementedError_, NotSupportedError) as error:
            _log.debug("VM metadata not set on %s: %s", vm_cid, error)

    # -- deleting ------------------------------------------------------------------------

    def delete(self, vm: VM, *, force: bool = False) -> None:
        """Delete `vm` (a ``vms`` row) in its cloud, revoke its agent's credentials (on a
        director with a message bus), remove the row.

        With `force`, errors of the cloud (or of a CPI no longer configured) and of the
        revocation are logged as warnings and the row goes anyway.
        """
        with self._director.database.read() as session:
            found = session.execute(
                select(Instance.job, Instance.uuid, Deployment.name)
                .join(Deployment)
                .where(Instance.id == vm.instance_id)
            ).first()
        instance_name = f"{found[0]}/{found[1]}" if found else None
        deployment = found[2] if found else None
        with self._audited(
            "delete", deployment=deployment, instance=instance_name, object_name=vm.cid
        ):
            if vm.cid is not None:
                with ignored_if_forced(force, self._event_log):
                    self._delete_from_cloud(self.cpi_for(vm), vm.cid)
            if vm.agent_id is not None:
                with ignored_if_forced(force, self._event_log):
                    self._revoke(vm.agent_id)
            with self._director.database.write() as session:
                session.execute(
                    update(IPAddress).where(IPAddress.vm_id == vm.id).values(vm_id=None)
                )
                row = session.get(VM, vm.id)
                if row is not None:
                    session.delete(row)

    def _revoke(self, agent_id: str) -> None:
        """Take the agent's credentials off the bus. A director without a message bus
        issued none (creating a VM needs the bus), so there is nothing to revoke."""
        agents = self._director.agents
        if agents.config is None:
            _log.debug("No message bus: agent %s has no credentials to revoke", agent_id)
            return
        agents.revoke([agent_id])

    def _delete_from_cloud(self, cpi: CPI, vm_cid: str) -> None:
        _log.info("Deleting VM %s", vm_cid)
        with self._director.locks.acquire(
            vm_lock(vm_cid),
            timeout=VM_LOCK_TIMEOUT,
            task_id="" if self._task_id is None else self._task_id,
            user=self._user,
        ):
            try:
                cpi.delete_vm(VMCID(vm_cid))
            except VMNotFoundError:
                _log.warning("VM '%s' might have already been deleted from the cloud", vm_cid)

    # -- events and errors -----------------------------------------------------------------

    def _audited(
        self,
        action: str,
        *,
        deployment: str | None,
        instance: str | None,
        object_name: str | None = None,
    ) -> contextlib.AbstractContextManager[AuditedAction]:
        """``<action> vm`` recorded around a block, which may name the VM (its cid)."""
        return self._director.events.audited(
            user=self._user,
            action=action,
            object_type="vm",
            object_name=object_name,
            task=self._task_id,
            deployment=deployment,
            instance=instance,
        )

    @staticmethod
    @contextlib.contextmanager
    def _cleanup(vm_cid: str) -> Iterator[None]:
        """Undoing a failed creation: its own failure is logged, not raised, so the
        caller sees the error that made the creation fail."""
        try:
            yield
        except Exception as error:
            _log.error("Failed to clean up VM %s after a failed creation: %s", vm_cid, error)
