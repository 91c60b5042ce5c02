"""Deleting one instance of a deployment (the reference's ``InstanceDeleter``), for a
deploy's obsolete instances and for ``bosh delete-deployment``.

In the stage's task ``ig/uuid (index)``, between ``delete instance`` audit events:

1. the jobs of its active VM are stopped (`Stopper`: pre-stop with every next state
   ``delete``, drain ``shutdown``, stop, post-stop) when its agent answers; an agent
   that does not answer is noted in the debug log and the deletion goes on;
2. its VMs are deleted (`VMFactory.delete`: the cloud's VM, the agent's credentials);
3. its persistent disks are orphaned (kept in the cloud until cleaned up) and the blob
   of its rendered templates is deleted;
4. its IP addresses are released and its row goes.

With `force`, errors of the agent, the cloud and the blobstore are task warnings and the
deletion carries on (`ignored_if_forced`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from bosh_core.agent.errors import AgentTimeoutError
from bosh_core.director.agents import AgentsUnavailableError
from bosh_core.director.db.models import Instance, IPAddress
from bosh_core.director.disks import orphan_disk
from bosh_core.director.error_ignorer import ignored_if_forced
from bosh_core.director.events import TaskAudit
from bosh_core.director.stopper import NextState, Stopper
from bosh_core.director.vms import VMFactory

if TYPE_CHECKING:
    from bosh_core.director.api.app import Director
    from bosh_core.director.tasks.events import EventLog, Stage, TrackedTask

__all__ = ["InstanceDeleter"]

_log = logging.getLogger(__name__)


class InstanceDeleter:
    """Deletes instances of `audit.deployment`; `next_state` tells pre-stop scripts
    whether the deployment stays (a deploy) or goes (``delete-deployment``)."""

    def __init__(
        self,
        director: Director,
        *,
        audit: TaskAudit,
        factory: VMFactory,
        stopper: Stopper,
        event_log: EventLog,
        next_state: NextState,
        force: bool = False,
    ) -> None:
        self._director = director
        self._audit = audit
        self._factory = factory
        self._stopper = stopper
        self._event_log = event_log
        self._next_state = next_state
        self._force = force

    def delete(self, instance_id: int, *, stage: Stage, drain: bool = True) -> None:
        with self._director.database.read() as session:
            instance = session.get(Instance, instance_id)
            assert instance is not None  # the caller holds the deployment's lock
            label = f"{instance.job}/{instance.uuid} ({instance.index})"
            name = f"{instance.job}/{instance.uuid}"
            compilation = instance.compilation
            spec: dict[str, Any] = instance.spec or {}
            vms = list(instance.vms)
            disks = [disk.id for disk in instance.persistent_disks]
        deployment = self._audit.deployment
        assert deployment is not None
        with (
            self._audit.audited(
                action="delete", object_type="instance", object_name=name, instance=name
            ),
            stage.track(label) as task,
        ):
            active = next((vm for vm in vms if vm.active and vm.agent_id), None)
            if active is not None and active.agent_id is not None:
                with ignored_if_forced(self._force, self._event_log):
                    self._stop(active.agent_id, task, spec, drain=drain)
            for vm in vms:
                self._factory.delete(vm, force=self._force)
            if not compilation:
                for disk_id in disks:
                    with ignored_if_forced(self._force, self._event_log):
                        orphan_disk(self._audit, self._director, disk_id, instance_name=name)
                with ignored_if_forced(self._force, self._event_log):
                    self._delete_rendered_templates(spec)
            with self._director.database.write() as session:
                session.execute(delete(IPAddress).where(IPAddress.instance_id == instance_id))
                row = session.get(Instance, instance_id)
                if row is not None:
                    session.delete(row)

    def _stop(self, agent_id: str, task: TrackedTask, spec: dict[str, Any], *, drain: bool) -> None:
        """Stop the jobs; an agent that does not answer (or a director without a bus to
        reach it) cannot, and its VM goes all the same."""
        try:
            self._stopper.stop(
                self._director.agents.blocking_client(agent_id),
                task,
                drain=drain,
                shutdown=True,
                next_state=self._next_state,
                apply_spec=spec,
            )
        except (AgentTimeoutError, AgentsUnavailableError) as error:
            _log.info("Jobs of agent %s not stopped; deleting its VM: %s", agent_id, error)

    def _delete_rendered_templates(self, spec: dict[str, Any]) -> None:
        """The archive of the instance's rendered job templates (``rendered_templates_
        archive`` of its spec)."""
        archive = spec.get("rendered_templates_archive")
        blob_id = archive.get("blobstore_id") if isinstance(archive, dict) else None
        if isinstance(blob_id, str) and blob_id:
            self._director.blobstore.delete(blob_id)
