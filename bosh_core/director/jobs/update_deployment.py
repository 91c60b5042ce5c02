"""A deploy: the job behind ``POST /deployments`` (the reference's ``UpdateDeployment``).

Under ``lock:deployment:<name>``, after `prepare_locked` (variables, plan, templates;
where a ``--dry-run`` stops):

1. the plan's instances are recorded (rows, and the IPs they hold on manual networks),
   so every later step finds them;
2. packages are compiled (`compile_packages`) and the specs name the compiled blobs;
   the rendered templates of every instance to update go to the blobstore;
3. stage "Deleting unneeded instances": instances the manifest no longer has are
   stopped (drain ``shutdown``), their VMs deleted and their disks orphaned; those of
   removed groups all at once, a shrunk group's at most its ``max_in_flight`` at a time;
4. stage "Creating missing vms": a VM for every new instance, in parallel;
5. stage "Updating instance" per group, tags ``[group]``: the rollout of the plan —
   batches of groups (serial one after another, parallel together), in each group AZ
   by AZ, canaries first (task ``ig/uuid (i) (canary)``), then the rest with at most
   ``max_in_flight`` at once; the first failure stops handing out work and fails the
   deploy once what runs has ended;
6. ``post-deploy`` scripts on every instance when something changed;
7. IPs no instance holds any more are released; the deployment keeps its manifest,
   configs, releases and stemcells; the variable set is marked deployed.

Audit events ``create|update deployment`` around it all and ``create|update|recreate
instance`` around each instance.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Final

import attrs
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bosh_core.director.db.models import (
    VM,
    Deployment,
    Instance,
    IPAddress,
)
from bosh_core.director.db.models import Config as ConfigRow
from bosh_core.director.deployment_state import release_version_rows, stemcell_rows
from bosh_core.director.disks import DiskManager
from bosh_core.director.events import TaskAudit
from bosh_core.director.instance_deleter import InstanceDeleter
from bosh_core.director.instance_updater import InstanceUpdater
from bosh_core.director.jobs.compile_packages import compile_packages
from bosh_core.director.jobs.prepare_deployment import (
    DeployOptions,
    PreparedDeployment,
    prepare_deployment,
)
from bosh_core.director.stopper import NextState, Stopper
from bosh_core.director.views import find_deployment
from bosh_core.director.vms import CREATE_MISSING_VMS_STAGE, VMFactory, vm_task_name
from bosh_core.models.manifest import Lifecycle
from bosh_core.planning.changes import InstanceAction
from bosh_core.planning.plan import InstancePlan, ObsoleteInstance, Plan
from bosh_core.planning.rollout import AzStage, GroupRollout
from bosh_core.templates import RenderedInstance

if TYPE_CHECKING:
    from bosh_core.director.api.app import Director
    from bosh_core.director.cloud import Clouds
    from bosh_core.director.tasks.events import EventLog, Stage

__all__ = ["update_deployment"]

UPDATE_STAGE: Final = "Updating instance"
DELETE_STAGE: Final = "Deleting unneeded instances"
#: VMs created at once in "Creating missing vms" (the reference's ``max_threads``).
_MAX_THREADS: Final = 32


def update_deployment(
    director: Director,
    manifest_text: str,
    *,
    options: DeployOptions,
    event_log: EventLog,
    task_id: int | str,
    clouds: Clouds,
    user: str = "admin",
    checkpoint: Callable[[], None] = lambda: None,
) -> str:
    """Deploy `manifest_text` (see the module docstring); the task result."""
    with prepare_deployment(
        director,
        manifest_text,
        options=options,
        event_log=event_log,
        task_id=task_id,
        user=user,
    ) as prepared:
        if not options.dry_run:
            _Deploy(
                director,
                prepared,
                manifest_text=manifest_text,
                event_log=event_log,
                task_id=task_id,
                user=user,
                clouds=clouds,
                checkpoint=checkpoint,
            ).run()
    return f"/deployments/{prepared.plan.deployment}"


class _Deploy:
    def __init__(
        self,
        director: Director,
        prepared: PreparedDeployment,
        *,
        manifest_text: str,
        event_log: EventLog,
        task_id: int | str,
        user: str,
        clouds: Clouds,
        checkpoint: Callable[[], None],
    ) -> None:
        self.director = director
        self.prepared = prepared
        self.plan = prepared.plan
        self.name = prepared.plan.deployment
        self.manifest_text = manifest_text
        self.event_log = event_log
        self.task_id = task_id
        self.user = user
        self.clouds = clouds
        self.checkpoint = checkpoint
        self.audit = TaskAudit(director.events, user, task_id, self.name)
        self.stopper = Stopper(checkpoint=checkpoint)
        self.factory = VMFactory(
            director,
            clouds=clouds,
            azs=prepared.inputs.cloud_config.azs,
            task_id=task_id,
            user=user,
            event_log=event_log,
        )
        self.updater = InstanceUpdater(
            director,
            audit=self.audit,
            factory=self.factory,
            disks=DiskManager(
                director,
                audit=self.audit,
                cpi_for=self.factory.cpi_for,
                recreate_persistent_disks=self.plan.flags.recreate_persistent_disks,
            ),
            stopper=self.stopper,
            stemcell_cid=self._stemcell_cid,
            variable_set_id=prepared.variable_set_id,
            checkpoint=checkpoint,
        )

    def run(self) -> None:
        before = self._releases_and_stemcells()
        action = "create" if self.plan.initial_deploy else "update"
        with self.audit.audited(
            action=action, object_type="deployment", object_name=self.name
        ) as audited:
            self._record_instances()
            made = compile_packages(
                self.director,
                self.plan,
                deployment=self.name,
                cloud_config=self.prepared.inputs.cloud_config,
                stemcells=self.prepared.inputs.stemcells,
                event_log=self.event_log,
                task_id=self.task_id,
                user=self.user,
                checkpoint=self.checkpoint,
                clouds=self.clouds,
            )
            self.plan = self._with_archives(self.plan.with_compiled_packages(made))
            self._delete_obsolete()
            self._create_missing_vms()
            self._roll_out()
            self._run_post_deploy()
            self._persist()
            self.prepared.variables.mark_deployed(self.prepared.variable_set_id)
            audited.context = {"before": before, "after": self._releases_and_stemcells()}

    # -- 1. instances and their IPs --------------------------------------------------------

    def _record_instances(self) -> None:
        with self.director.database.write() as session:
            deployment = self._deployment_row(session)
            rows = {row.uuid: row for row in deployment.instances}
            for instance in self.plan.instances:
                row = rows.get(instance.uuid)
                if row is None:
                    row = Instance(
                        deployment=deployment,
                        uuid=instance.uuid,
                        job=instance.instance_group,
                        index=instance.index,
                        state=instance.desired().target_state,
                        update_completed=False,
                    )
                    session.add(row)
                row.job, row.index = instance.instance_group, instance.index
                row.az, row.bootstrap = instance.az, instance.bootstrap
                session.flush()
                held = {ip.address for ip in row.ip_addresses}
                for reservation in instance.reservations:
                    if reservation.ip is None or reservation.network_type != "manual":
                        continue
                    address = int(ipaddress.ip_address(reservation.ip))
                    if address not in held:
                        session.add(
                            IPAddress(
                                instance_id=row.id,
                                network_name=reservation.network,
                                address=address,
                                static=reservation.type == "static",
                                task_id=str(self.task_id),
                            )
                        )

    # -- 2. rendered templates ------------------------------------------------------------

    def _with_archives(self, plan: Plan) -> Plan:
        """The plan whose changed instances' specs name their rendered templates'
        archive (put into the blobstore now) and template hashes."""
        rendered = {item.id: item for item in self.prepared.rendered}
        groups = []
        for group in plan.groups:
            instances = tuple(
                attrs.evolve(instance, spec=self._archived(instance, rendered[instance.uuid]))
                if instance.changes.changes and instance.uuid in rendered
                else instance
                for instance in group.instances
            )
            groups.append(attrs.evolve(group, instances=instances))
        return attrs.evolve(plan, groups=tuple(groups))

    def _archived(self, instance: InstancePlan, rendered: RenderedInstance) -> dict[str, Any]:
        stored = rendered.archive().persist(self.director.blobstore)
        return {
            **instance.spec,
            "template_hashes": rendered.template_hashes,
            "rendered_templates_archive": stored.to_spec(),
        }

    # -- 3. obsolete instances ------------------------------------------------------------

    def _delete_obsolete(self) -> None:
        obsolete = self.plan.obsolete
        if not obsolete:
            return
        stage = self.event_log.stage(DELETE_STAGE, total=len(obsolete))
        deleter = InstanceDeleter(
            self.director,
            audit=self.audit,
            factory=self.factory,
            stopper=self.stopper,
            event_log=self.event_log,
            next_state=NextState(vm="delete", instance="delete"),
        )
        ids = self._instance_ids()
        skip_drain = self.plan.flags.skips_drain
        by_name = {gone.name: gone for gone in obsolete}

        def deleting(gone: ObsoleteInstance) -> Callable[[], None]:
            drain = not skip_drain(gone.instance_group, gone.uuid, gone.index)
            return functools.partial(deleter.delete, ids[gone.uuid], stage=stage, drain=drain)

        # The groups the manifest no longer has go all at once (the reference's
        # max_threads); a shrunk group's instances at most its max_in_flight at a time.
        waves = [([deleting(gone) for gone in self.plan.obsolete_groups], _MAX_THREADS)]
        waves += [
            ([deleting(by_name[ref.name]) for ref in rollout.delete], rollout.delete_max_in_flight)
            for rollout in self.plan.rollout.groups
        ]
        for work, workers in waves:
            _run_all(work, workers=workers, checkpoint=self.checkpoint)

    # -- 4. missing VMs -------------------------------------------------------------------

    def _create_missing_vms(self) -> None:
        missing = [
            instance
            for group in self.plan.groups
            if group.lifecycle is Lifecycle.SERVICE
            for instance in group.instances
            # The plan's action says so: an instance without a VM that is not detached.
            if instance.action is InstanceAction.CREATE
        ]
        if not missing:
            return
        stage = self.event_log.stage(CREATE_MISSING_VMS_STAGE, total=len(missing))
        _run_all(
            [
                functools.partial(self.updater.create_vm, instance, stage=stage)
                for instance in missing
            ],
            workers=_MAX_THREADS,
            checkpoint=self.checkpoint,
        )

    # -- 5. the rollout -------------------------------------------------------------------

    def _roll_out(self) -> None:
        groups = {group.name: group for group in self.plan.groups}
        for batch in self.plan.rollout.batches:
            self.checkpoint()
            rolling = [group for group in batch.groups if group.stages]
            if batch.serial:
                for group in rolling:
                    self.checkpoint()
                    self._update_group(group, groups[group.name].instances)
            else:
                _run_all(
                    [
                        functools.partial(self._update_group, group, groups[group.name].instances)
                        for group in rolling
                    ],
                    workers=max(len(rolling), 1),
                    checkpoint=self.checkpoint,
                )

    def _update_group(self, rollout: GroupRollout, instances: Sequence[InstancePlan]) -> None:
        by_name = {instance.name: instance for instance in instances}
        total = sum(len(stage.canaries) + len(stage.rest) for stage in rollout.stages)
        stage = self.event_log.stage(UPDATE_STAGE, total=total, tags=[rollout.name])
        for az_stage in rollout.stages:
            self._update_az(rollout, az_stage, by_name, stage)

    def _update_az(
        self,
        rollout: GroupRollout,
        az_stage: AzStage,
        by_name: dict[str, InstancePlan],
        stage: Stage,
    ) -> None:
        def updating(name: str, *, canary: bool) -> Callable[[], None]:
            instance = by_name[name]
            label = vm_task_name(instance) + (" (canary)" if canary else "")

            def work() -> None:
                with stage.track(label) as task:
                    self.updater.update(instance, update=rollout.update, canary=canary, task=task)

            return work

        for wave in (
            [updating(ref.name, canary=True) for ref in az_stage.canaries],
            [updating(ref.name, canary=False) for ref in az_stage.rest],
        ):
            _run_all(wave, workers=az_stage.max_in_flight, checkpoint=self.checkpoint)

    # -- 6. post-deploy -------------------------------------------------------------------

    def _run_post_deploy(self) -> None:
        if not any(group.changed for group in self.plan.rollout.groups):
            return
        with self.director.database.read() as session:
            agents = list(
                session.scalars(
                    select(VM.agent_id)
                    .join(Instance)
                    .join(Deployment)
                    .where(Deployment.name == self.name, VM.active.is_(True))
                )
            )

        def post_deploy(agent_id: str) -> None:
            self.director.agents.blocking_client(agent_id).run(
                "run_script", "post-deploy", {}, timeout=3600.0
            )

        _run_all(
            [functools.partial(post_deploy, agent_id) for agent_id in agents if agent_id],
            workers=_MAX_THREADS,
            checkpoint=self.checkpoint,
        )

    # -- 7. what the deployment keeps -------------------------------------------------------

    def _persist(self) -> None:
        held = {
            (instance.uuid, int(ipaddress.ip_address(r.ip)))
            for instance in self.plan.instances
            for r in instance.reservations
            if r.ip is not None
        }
        with self.director.database.write() as session:
            deployment = self._deployment_row(session)
            for instance in deployment.instances:
                stale = [
                    ip.id for ip in instance.ip_addresses if (instance.uuid, ip.address) not in held
                ]
                if stale:
                    session.execute(delete(IPAddress).where(IPAddress.id.in_(stale)))
            deployment.manifest_text = self.manifest_text
            deployment.configs = list(
                session.scalars(
                    select(ConfigRow).where(ConfigRow.id.in_(self.prepared.configs.ids))
                )
            )
            deployment.release_versions = release_version_rows(
                session, ((r.name, r.version) for r in self.plan.releases)
            )
            deployment.stemcells = stemcell_rows(session, self.plan.stemcells)

    # -- helpers ----------------------------------------------------------------------------

    def _deployment_row(self, session: Session) -> Deployment:
        return find_deployment(session, self.name)  # prepare_locked made it; we hold its lock

    def _instance_ids(self) -> dict[str, int]:
        with self.director.database.read() as session:
            rows = session.execute(
                select(Instance.uuid, Instance.id)
                .join(Deployment)
                .where(Deployment.name == self.name)
            )
            return dict(rows.tuples().all())

    def _releases_and_stemcells(self) -> dict[str, list[str]]:
        with self.director.database.read() as session:
            deployment = session.scalar(select(Deployment).where(Deployment.name == self.name))
            if deployment is None:
                return {"releases": [], "stemcells": []}
            return {
                "releases": sorted(
                    f"{rv.release.name}/{rv.version}" for rv in deployment.release_versions
                ),
                "stemcells": sorted(f"{s.name}/{s.version}" for s in deployment.stemcells),
            }

    def _stemcell_cid(self, instance: InstancePlan) -> str:
        """The cid of the instance's stemcell as uploaded to its AZ's CPI (found by OS
        when the manifest names the stemcell by OS)."""
        manifest = self.prepared.inputs.manifest
        group = next(g for g in manifest.instance_groups if g.name == instance.instance_group)
        by_os = any(s.os is not None for s in manifest.stemcells if s.alias == group.stemcell)
        uploaded = self.prepared.inputs.stemcells
        found = self.factory.stemcell_for(uploaded, instance.stemcell, instance.az, by_os=by_os)
        return found.cid


def _run_all(
    work: Sequence[Callable[[], object]], *, workers: int, checkpoint: Callable[[], None]
) -> None:
    """Run `work` with at most `workers` at once; after the first failure nothing new
    starts, and that failure is raised once what runs has ended."""
    if not work:
        return
    failure: BaseException | None = None
    pending = list(work)
    running: set[Future[object]] = set()
    with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="deploy") as pool:
        while pending or running:
            while pending and len(running) < workers and failure is None:
                checkpoint()
                running.add(pool.submit(pending.pop(0)))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                error = future.exception()
                if error is not None and failure is None:
                    failure = error
            if failure is not None:
                pending.clear()
    if failure is not None:
        raise failure
