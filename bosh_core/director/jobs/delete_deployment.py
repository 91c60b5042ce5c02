"""Deleting a deployment: the job behind ``bosh delete-deployment``.

As the reference's ``DeleteDeployment`` (with ``DeploymentDeleter``, ``InstanceDeleter``,
``DeleteVmStep`` and ``OrphanDiskManager``), under ``lock:deployment:<name>``:

- a deployment with ignored instances is refused;
- stage "Deleting instances", one task per instance (``job/uuid (index)``), deleted by
  `InstanceDeleter`: its jobs stopped (every next state ``delete``), its VMs deleted
  through the CPI that made them, its persistent disks orphaned (kept in the cloud,
  listed by ``bosh disks --orphaned`` until cleaned up), the rendered-templates blob
  its spec names deleted, its IP addresses released, its row gone;
- stage "Removing deployment artifacts": "Detaching stemcells", "Detaching releases";
  then "Destroying deployment" (shown under "Deleting properties", as the reference
  shows it).

Audit events as the reference records them: ``delete deployment`` around the whole,
``delete instance`` around each instance, ``delete vm`` around each VM and ``orphan disk``
around each disk, each end event naming its start in ``parent_id`` and carrying the error
if any. With `force`, errors of the agents, the cloud, the blobstore or a CPI no
longer configured are reported as warnings and the deletion carries on.

Not done here (yet): snapshots, DNS records and dynamic disks do not exist in this
director, so `keep_snapshots` has nothing to keep. Instances are deleted one after the
other (the reference uses ``max_threads``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from bosh_core.director.db.models import Deployment, Instance
from bosh_core.director.errors import (
    DeploymentIgnoredInstancesDeletionError,
)
from bosh_core.director.events import TaskAudit
from bosh_core.director.instance_deleter import InstanceDeleter
from bosh_core.director.stopper import NextState, Stopper
from bosh_core.director.tasks.events import EventLog
from bosh_core.director.views import find_deployment
from bosh_core.director.vms import VMFactory

if TYPE_CHECKING:
    from bosh_core.director.api.app import Director
    from bosh_core.director.cloud import Clouds

__all__ = ["delete_deployment"]

_log = logging.getLogger(__name__)


def delete_deployment(
    director: Director,
    name: str,
    *,
    clouds: Clouds | None = None,
    force: bool = False,
    keep_snapshots: bool = False,
    event_log: EventLog,
    task_id: int | str,
    user: str = "admin",
    checkpoint: Callable[[], None] = lambda: None,
) -> str:
    """Delete deployment `name` of `director` with its instances, VMs and IPs, orphaning
    its disks; returns the task's result, ``/deployments/<name>``.

    `clouds` are the task's CPIs (default: the director's). `checkpoint` is called
    between instances and before the deployment's own rows go (it raises when the task is
    being cancelled). `keep_snapshots` is accepted for the API's sake: there are no
    snapshots to keep or delete.
    """
    audit = TaskAudit(director.events, user, task_id, name)
    instances = InstanceDeleter(
        director,
        audit=audit,
        factory=VMFactory(director, clouds=clouds, task_id=task_id, user=user, event_log=event_log),
        stopper=Stopper(checkpoint=checkpoint),
        event_log=event_log,
        next_state=NextState(vm="delete", instance="delete", deployment="delete"),
        force=force,
    )
    deleter = _Deleter(
        director, instances, deployment=name, event_log=event_log, task_id=task_id, user=user
    )
    with audit.audited(action="delete", object_type="deployment", object_name=name):
        deleter.run(checkpoint)
    return f"/deployments/{name}"


class _Deleter:
    def __init__(
        self,
        director: Director,
        instances: InstanceDeleter,
        *,
        deployment: str,
        event_log: EventLog,
        task_id: int | str,
        user: str,
    ) -> None:
        self._director = director
        self._db = director.database
        self._instances = instances
        self._deployment = deployment
        self._events = event_log
        self._task_id = task_id
        self._user = user

    def run(self, checkpoint: Callable[[], None]) -> None:
        with self._director.locks.deployment(
            self._deployment, task_id=self._task_id, user=self._user
        ):
            self._delete(checkpoint)

    def _delete(self, checkpoint: Callable[[], None]) -> None:
        deployment_id, instances = self._find()
        stage = self._events.stage("Deleting instances", total=len(instances))
        for instance_id in instances:
            checkpoint()
            self._instances.delete(instance_id, stage=stage)
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
            deployment = find_deployment(session, self._deployment)
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
