"""One instance of a deploy brought to its plan (the reference's ``InstanceUpdater`` with
its ``Stopper``, ``StateApplier`` and ``Starter``), on worker threads.

By the instance's action (`bosh_core.planning.changes.InstanceAction`):

- ``light_update`` (tags or DNS only): the VM's metadata is set again;
- ``restart``, ``recreate``, ``create``, ``detach``: unless its VM is new or its agent
  does not answer, the instance is stopped: ``pre-stop`` and ``drain`` (type
  ``shutdown`` when the VM or its disks go, else ``update`` with the new apply spec; a
  positive answer is seconds to wait, a negative one asks again after that long), then
  the agent's ``stop`` and ``post-stop``. ``--skip-drain`` skips the first two;
- ``detach``: its disks are detached and the VM deleted (the instance and disks stay);
- ``recreate``: disks detached, the VM deleted, a new one made (delete-create);
- then the persistent disks converge (`DiskManager`), the agent ``apply``s the spec
  (packages and rendered jobs installed), and a started instance runs ``pre-start``,
  ``start``, and is watched (``get_state`` on `watch_schedule`) until its jobs run, then
  ``post-start``.

The instance's row is marked ``update_completed = false`` first and gets its new spec,
cloud properties and state at the end: an instance whose update failed half-way is
dirty and fully updated by the next deploy. Each step shows as the reference's
``data.status`` of the instance's event-log task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from sqlalchemy import select

from bosh_core.director.db.models import VM, Deployment, Instance
from bosh_core.director.disks import DiskManager
from bosh_core.director.events import TaskAudit
from bosh_core.director.stopper import AGENT_TASK_TIMEOUT, NextState, Stopper
from bosh_core.director.vms import VMFactory, vm_task_name
from bosh_core.models.manifest import WatchTime
from bosh_core.planning.changes import ChangeKind, DesiredState, InstanceAction
from bosh_core.planning.plan import InstancePlan
from bosh_core.planning.rollout import ResolvedUpdate, job_not_running_error, watch_schedule

if TYPE_CHECKING:
    from bosh_core.director.agents import BlockingAgentClient
    from bosh_core.director.api.app import Director
    from bosh_core.director.tasks.events import Stage, TrackedTask

__all__ = ["InstanceUpdater", "instance_row_id"]

#: Changes after which a drain is a ``shutdown`` (the disks the jobs use change).
_SHUTDOWN_KINDS: Final = frozenset(
    {ChangeKind.PERSISTENT_DISK, ChangeKind.RECREATE_PERSISTENT_DISKS}
)


def instance_row_id(director: Director, deployment: str, instance_uuid: str) -> int:
    with director.database.read() as session:
        found = session.scalar(
            select(Instance.id)
            .join(Deployment)
            .where(Instance.uuid == instance_uuid, Deployment.name == deployment)
        )
    if found is None:
        raise LookupError(f"instance {instance_uuid} of deployment {deployment} is not recorded")
    return found


class InstanceUpdater:
    """Updates instances of `deployment` (recorded rows, VMs made by `factory`).

    `audit` records the instance events; `stemcell_cid` gives the cid of an instance's
    stemcell in its AZ's CPI; `variable_set_id` is the deploy's, recorded on each
    updated instance; `checkpoint` raises when the task is cancelled.
    """

    def __init__(
        self,
        director: Director,
        *,
        audit: TaskAudit,
        factory: VMFactory,
        disks: DiskManager,
        stopper: Stopper,
        stemcell_cid: Callable[[InstancePlan], str],
        variable_set_id: int,
        checkpoint: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        assert audit.deployment is not None
        self._director = director
        self._audit = audit
        self._deployment = audit.deployment
        self._factory = factory
        self._disks = disks
        self._stopper = stopper
        self._stemcell_cid = stemcell_cid
        self._variable_set_id = variable_set_id
        self._checkpoint = checkpoint
        self._sleep = sleep

    # -- the steps ---------------------------------------------------------------------

    def create_vm(self, instance: InstancePlan, *, stage: Stage | None = None) -> VM:
        """The VM of an instance that has none; a task of `stage` when given (the
        "Creating missing vms" stage)."""
        return self._factory.create(
            instance,
            deployment=self._deployment,
            stemcell_cid=self._stemcell_cid(instance),
            event_log_stage=stage,
        )

    def update(
        self,
        instance: InstancePlan,
        *,
        update: ResolvedUpdate,
        canary: bool,
        task: TrackedTask,
    ) -> None:
        """Bring `instance` to its plan; `task` shows the steps."""
        instance_id = instance_row_id(self._director, self._deployment, instance.uuid)
        action = self._event_action(instance)
        with self._audit.audited(
            action=action,
            object_type="instance",
            object_name=instance.name,
            instance=instance.name,
            context={
                "az": instance.az,
                "changes": sorted(change.kind.value for change in instance.changes.changes),
            },
        ):
            self._mark_dirty(instance_id)
            vm = self._active_vm(instance_id)
            if instance.action is InstanceAction.LIGHT_UPDATE and vm is not None:
                self._factory.set_metadata(vm, instance, deployment=self._deployment)
            else:
                self._converge(instance, instance_id, vm, update=update, canary=canary, task=task)
            self._record_applied(instance, instance_id)

    def _converge(
        self,
        instance: InstancePlan,
        instance_id: int,
        vm: VM | None,
        *,
        update: ResolvedUpdate,
        canary: bool,
        task: TrackedTask,
    ) -> None:
        answering = instance.actual is None or instance.actual.job_state != "unresponsive"
        agent = self._agent(vm) if vm is not None and answering else None
        target = instance.desired().target_state
        if agent is not None and instance.actual is not None and instance.actual.vm is not None:
            self._stop(instance, agent, task, target=target)
        if target == DesiredState.DETACHED.value:
            if vm is not None:
                self._disks.detach_all(instance_id, vm, agent)
                self._factory.delete(vm)
            return
        # A VM made by this deploy: the setup stage's, or the one made here.
        new_vm = instance.actual is None or instance.actual.vm is None
        if vm is not None and instance.action is InstanceAction.RECREATE:
            self._disks.detach_all(instance_id, vm, agent)
            self._factory.delete(vm)
            vm = None
        if vm is None:
            vm, new_vm = self.create_vm(instance), True
        agent = self._agent(vm)
        self._disks.converge(
            instance_id, instance.name, vm, agent, instance.persistent_disks, new_vm=new_vm
        )
        self._checkpoint()
        task.advance(data={"status": "installing packages"})
        agent.run("apply", instance.apply_spec(), timeout=AGENT_TASK_TIMEOUT)
        if target != DesiredState.STARTED.value:
            return
        task.advance(data={"status": "executing pre-start"})
        agent.run("run_script", "pre-start", {}, timeout=AGENT_TASK_TIMEOUT)
        task.advance(data={"status": "starting jobs"})
        agent.send("start")
        self._watch(
            instance, agent, update.canary_watch_time if canary else update.update_watch_time
        )
        task.advance(data={"status": "executing post-start"})
        agent.run("run_script", "post-start", {}, timeout=AGENT_TASK_TIMEOUT)

    def _stop(
        self, instance: InstancePlan, agent: BlockingAgentClient, task: TrackedTask, *, target: str
    ) -> None:
        vm_goes = instance.action in (InstanceAction.RECREATE, InstanceAction.DETACH)
        self._stopper.stop(
            agent,
            task,
            drain=not instance.skip_drain,
            shutdown=vm_goes
            or target != DesiredState.STARTED.value
            or bool(instance.changes.kinds & _SHUTDOWN_KINDS),
            next_state=NextState(vm="delete" if vm_goes else "keep"),
            apply_spec=instance.apply_spec(),
        )

    def _watch(self, instance: InstancePlan, agent: BlockingAgentClient, watch: WatchTime) -> None:
        """Poll ``get_state`` until the jobs run; the reference's error when they never do."""
        for delay_ms in watch_schedule(watch):
            self._sleep(delay_ms / 1000)
            self._checkpoint()
            if agent.send("get_state").get("job_state") == "running":
                return
        error = job_not_running_error(vm_task_name(instance), agent.send("get_state", "full"))
        if error is not None:
            raise error

    # -- records -----------------------------------------------------------------------

    def _event_action(self, instance: InstancePlan) -> str:
        if instance.actual is None:
            return "create"
        if instance.action is InstanceAction.RECREATE:
            return "recreate"
        return "update"

    def _agent(self, vm: VM) -> BlockingAgentClient:
        assert vm.agent_id is not None
        return self._director.agents.blocking_client(vm.agent_id)

    def _active_vm(self, instance_id: int) -> VM | None:
        with self._director.database.read() as session:
            return session.scalar(select(VM).where(VM.instance_id == instance_id, VM.active))

    def _mark_dirty(self, instance_id: int) -> None:
        with self._director.database.write() as session:
            row = session.get(Instance, instance_id)
            assert row is not None
            row.update_completed = False

    def _record_applied(self, instance: InstancePlan, instance_id: int) -> None:
        with self._director.database.write() as session:
            row = session.get(Instance, instance_id)
            assert row is not None
            row.spec = dict(instance.spec)
            row.cloud_properties = dict(instance.cloud_properties)
            row.state = instance.desired().target_state
            row.update_completed = True
            row.variable_set_id = self._variable_set_id
