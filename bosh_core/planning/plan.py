"""The deploy plan: the desired deployment set against what the director has, as one value.

`make_plan` assembles the pure planning pieces the way the reference's
``DeploymentPlan::Assembler`` and ``InstancePlanner`` do, for a `DeploymentInputs` value
(the manifest after variable interpolation, the merged cloud config, the runtime
configs, what releases and stemcells the director has, the existing instances and every
IP the director holds):

1. releases and stemcells of the manifest are bound to the uploaded ones; addons of the
   manifest and the runtime configs are added to the instance groups;
2. each instance group's ``vm_type``, ``vm_extensions``, disk types and jobs are checked
   against the cloud config and the releases. Every problem of the deployment is
   collected and reported at once (one problem is raised as the reference's own error);
3. instances are placed (AZs, indexes, bootstrap) and their IPs reserved, with one
   allocator for the whole deploy so groups never share an address;
4. links are resolved, job properties bound, packages and compiled builds looked up;
5. each instance gets its desired spec (the director's full instance spec), compared
   with the existing one: its ``changes`` and action; the rollout follows.

Rendering templates needs the job archives and Ruby, so it is not part of the pure
plan: `instances_to_render` gives the renderer its input, and
`Plan.with_configuration_hashes` adds the rendered configuration hashes, which decides
the ``configuration`` change of each instance.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from bosh_core.director.errors import (
    DeploymentPlanErrors,
    DeploymentUnknownTemplateError,
    DirectorError,
    InstanceGroupUnknownDiskTypeError,
    InstanceGroupUnknownVmExtensionError,
    InstanceGroupUnknownVmTypeError,
    ReleaseNotFoundError,
    ReleaseVersionNotFoundError,
    StemcellNotFoundError,
)
from bosh_core.mappings import deep_merge
from bosh_core.models.cloud_config import CloudConfig
from bosh_core.models.manifest import (
    Amount,
    InstanceGroup,
    Lifecycle,
    Manifest,
    Stemcell,
    VmStrategy,
)
from bosh_core.models.release import JobSpec
from bosh_core.models.runtime_config import RuntimeConfig
from bosh_core.models.validation import canonical_name
from bosh_core.planning.addons import apply_addons
from bosh_core.planning.changes import (
    ActualInstance,
    DesiredInstance,
    DesiredState,
    DiskSpec,
    InstanceAction,
    InstanceChanges,
    InstanceSpec,
    Requests,
    VmFacts,
    plan_changes,
)
from bosh_core.planning.compilation import (
    CompilationPlan,
    CompiledBuild,
    PackageNeed,
    ReleasePackage,
    ReleaseVersion,
    RequirementKey,
    StemcellRef,
    plan_compilation,
)
from bosh_core.planning.links import (
    DeploymentLinks,
    DnsSettings,
    LinkInstance,
    LinkProvider,
    default_network,
    resolve_links,
)
from bosh_core.planning.networks import ExistingIP, IPAllocator, IPHolder, Reservation
from bosh_core.planning.placement import (
    ExistingInstance,
    InstanceStatus,
    PlannedInstance,
    plan_placement,
)
from bosh_core.planning.properties import bind_job_properties
from bosh_core.planning.rollout import InstanceRef as RolloutRef
from bosh_core.planning.rollout import (
    ResolvedUpdate,
    Rollout,
    RolloutGroup,
    UpdateOverrides,
    plan_rollout,
    resolve_update,
)
from bosh_core.templates.inputs import (
    InstanceJob,
    InstanceToRender,
    JobTemplates,
    ProvidedLink,
    ReleaseRef,
)
from bosh_core.templates.inputs import InstanceSpec as TemplateInstanceSpec
from bosh_core.templates.inputs import Link as TemplateLink
from bosh_core.templates.inputs import LinkInstance as TemplateLinkInstance

__all__ = [
    "CompiledPackageRecord",
    "DeployFlags",
    "DeploymentInputs",
    "ExistingInstanceState",
    "InstanceGroupPlan",
    "InstancePlan",
    "ObsoleteInstance",
    "Plan",
    "PlannedJob",
    "ReleaseData",
    "ReleaseJob",
    "StemcellData",
    "instances_to_render",
    "make_plan",
]

_ALL = "*"


# -- inputs ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReleaseJob:
    """A job of an uploaded release version: its spec and the blob agents fetch."""

    spec: JobSpec
    version: str
    sha1: str
    blobstore_id: str


@attrs.frozen(kw_only=True)
class ReleaseData:
    """An uploaded release version: its jobs by name and its packages."""

    name: str
    version: str
    jobs: Mapping[str, ReleaseJob] = attrs.field(factory=dict)
    packages: tuple[ReleasePackage, ...] = ()


@attrs.frozen(kw_only=True)
class StemcellData:
    """An uploaded stemcell (a ``stemcells`` row)."""

    name: str
    operating_system: str
    version: str
    cid: str = ""
    cpi: str = ""
    api_version: int | None = None

    def spec(self) -> dict[str, Any]:
        """The instance spec's ``stemcell``."""
        return {"name": self.name, "version": self.version}


@attrs.frozen(kw_only=True)
class CompiledPackageRecord:
    """A compiled package the director has, with the blob agents download."""

    build: CompiledBuild
    blobstore_id: str
    sha1: str


@attrs.frozen(kw_only=True)
class ExistingInstanceState:
    """An instance the director has for the deployment, as its database (and, when the
    caller asked them, its agent) tell it. ``spec`` is the last full spec stored for it
    (empty when it was never updated); ``job_state`` the agent's ``get_state`` answer
    (``unresponsive`` when it did not answer under ``--fix``), None when not asked."""

    instance_group: str
    uuid: str
    index: int
    az: str | None = None
    bootstrap: bool = False
    ignore: bool = False
    state: str = "started"
    update_completed: bool = True
    spec: Mapping[str, Any] = attrs.field(factory=dict)
    cloud_properties: Mapping[str, Any] = attrs.field(factory=dict)
    ips: tuple[ExistingIP, ...] = ()
    vm: VmFacts | None = None
    disks: tuple[DiskSpec, ...] = ()
    job_state: str | None = None

    @property
    def name(self) -> str:
        return f"{self.instance_group}/{self.uuid}"

    def placement(self) -> ExistingInstance:
        return ExistingInstance(
            uuid=self.uuid,
            index=self.index,
            az=self.az,
            has_persistent_disk=bool(self.disks),
            ignore=self.ignore,
            bootstrap=self.bootstrap,
            ips=self.ips,
        )

    def actual(self) -> ActualInstance:
        return ActualInstance(
            spec=_comparable(self.spec, self.cloud_properties, ()),
            state=self.state,
            vm=self.vm,
            job_state=self.job_state,
            update_completed=self.update_completed,
            persistent_disks=self.disks,
        )


@attrs.frozen(kw_only=True)
class DeployFlags:
    """The deploy's options (``bosh deploy`` flags). ``skip_drain`` lists ``ig`` or
    ``ig/id`` entries, or ``*`` for every instance."""

    recreate: bool = False
    recreate_vms_created_before: dt.datetime | None = None
    recreate_persistent_disks: bool = False
    fix: bool = False
    skip_drain: tuple[str, ...] = ()
    canaries: Amount | None = None
    max_in_flight: Amount | None = None

    def requests(self) -> Requests:
        return Requests(
            recreate=self.recreate,
            recreate_vms_created_before=self.recreate_vms_created_before,
            recreate_persistent_disks=self.recreate_persistent_disks,
        )

    def overrides(self) -> UpdateOverrides:
        return UpdateOverrides(canaries=self.canaries, max_in_flight=self.max_in_flight)

    def skips_drain(self, group: str, uuid_: str, index: int) -> bool:
        wanted = set(self.skip_drain)
        return bool(wanted & {_ALL, group, f"{group}/{uuid_}", f"{group}/{index}"})


@attrs.frozen(kw_only=True)
class DeploymentInputs:
    """Everything `make_plan` looks at. ``releases`` are keyed by (name, version) and
    hold at least the versions the manifest and runtime configs name (resolved: no
    ``latest``); ``reserved_ips`` is every IP the director holds, any deployment;
    ``other_deployments`` the link providers of the other deployments;
    ``initial_deploy`` is true while the deployment has no stored manifest."""

    manifest: Manifest
    cloud_config: CloudConfig
    runtime_configs: tuple[RuntimeConfig, ...] = ()
    releases: Mapping[tuple[str, str], ReleaseData] = attrs.field(factory=dict)
    stemcells: tuple[StemcellData, ...] = ()
    existing: tuple[ExistingInstanceState, ...] = ()
    reserved_ips: Mapping[str, IPHolder] = attrs.field(factory=dict)
    director_ips: tuple[str, ...] = ()
    compiled: tuple[CompiledPackageRecord, ...] = ()
    flags: DeployFlags = DeployFlags()
    initial_deploy: bool = True
    other_deployments: Mapping[str, Sequence[LinkProvider]] = attrs.field(factory=dict)
    dns: DnsSettings = attrs.field(factory=DnsSettings)
    teams: tuple[str, ...] = ()
    default_vm_strategy: VmStrategy = VmStrategy.DELETE_CREATE


# -- outputs -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PlannedJob:
    """A job on an instance group: its release job, bound properties and links."""

    name: str
    release: str
    release_version: str
    version: str
    sha1: str
    blobstore_id: str
    packages: tuple[str, ...]
    properties: dict[str, Any]
    links: dict[str, dict[str, Any]]
    provided_links: tuple[ProvidedLink, ...] = ()

    def template_entry(self) -> dict[str, Any]:
        """The job's entry in the instance spec's ``job.templates``."""
        return {
            "name": self.name,
            "version": self.version,
            "sha1": self.sha1,
            "blobstore_id": self.blobstore_id,
        }


@attrs.frozen(kw_only=True)
class InstancePlan:
    """One desired instance: where it goes, what runs on it, and what changes.

    ``spec`` is the director's full instance spec (what it stores for the instance and
    derives the agent's apply spec and the templates' ``spec`` from); its
    ``configuration_hash`` is there once templates are rendered. ``actual`` is the
    existing instance (None for a new one).
    """

    instance_group: str
    uuid: str
    index: int
    az: str | None
    bootstrap: bool
    status: InstanceStatus
    reservations: tuple[Reservation, ...]
    released: tuple[ExistingIP, ...]
    vm_type: str | None
    cloud_properties: dict[str, Any]
    stemcell: StemcellData
    env: dict[str, Any]
    persistent_disks: tuple[DiskSpec, ...]
    jobs: tuple[PlannedJob, ...]
    spec: dict[str, Any]
    state: DesiredState
    actual: ActualInstance | None
    changes: InstanceChanges
    skip_drain: bool = False

    @property
    def name(self) -> str:
        return f"{self.instance_group}/{self.uuid}"

    @property
    def action(self) -> InstanceAction:
        return self.changes.action

    def apply_spec(self) -> dict[str, Any]:
        """The spec the agent's ``apply`` gets (the reference's ``ApplySpec``)."""
        keys = (
            "deployment",
            "job",
            "index",
            "name",
            "id",
            "az",
            "networks",
            "packages",
            "dns_domain_name",
            "configuration_hash",
            "persistent_disk",
            "template_hashes",
            "rendered_templates_archive",
        )
        return {key: self.spec[key] for key in keys if key in self.spec}

    def desired(self) -> DesiredInstance:
        return DesiredInstance(
            spec=_comparable(self.spec, self.cloud_properties, self.persistent_disks),
            state=self.state,
        )


@attrs.frozen(kw_only=True)
class ObsoleteInstance:
    """An existing instance the deploy deletes (its group shrank or is gone)."""

    instance_group: str
    uuid: str
    index: int
    az: str | None
    released: tuple[ExistingIP, ...]
    changes: InstanceChanges

    @property
    def name(self) -> str:
        return f"{self.instance_group}/{self.uuid}"


@attrs.frozen(kw_only=True)
class InstanceGroupPlan:
    """An instance group in manifest order, with its effective update settings."""

    name: str
    lifecycle: Lifecycle
    update: ResolvedUpdate
    instances: tuple[InstancePlan, ...]
    obsolete: tuple[ObsoleteInstance, ...]


@attrs.frozen(kw_only=True)
class Plan:
    """A deploy's plan. ``manifest`` is the one planned (addons applied);
    ``obsolete_groups`` are the instances of groups the manifest no longer has;
    ``warnings`` go to the task's event log."""

    deployment: str
    manifest: Manifest
    releases: tuple[ReleaseData, ...]
    stemcells: tuple[StemcellData, ...]
    groups: tuple[InstanceGroupPlan, ...]
    obsolete_groups: tuple[ObsoleteInstance, ...]
    compilation: CompilationPlan
    links: DeploymentLinks
    rollout: Rollout
    flags: DeployFlags
    initial_deploy: bool
    default_vm_strategy: VmStrategy
    package_builds: Mapping[RequirementKey, CompiledPackageRecord] = attrs.field(factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def instances(self) -> tuple[InstancePlan, ...]:
        return tuple(instance for group in self.groups for instance in group.instances)

    @property
    def obsolete(self) -> tuple[ObsoleteInstance, ...]:
        return (
            *(instance for group in self.groups for instance in group.obsolete),
            *self.obsolete_groups,
        )

    def with_configuration_hashes(self, hashes: Mapping[str, str]) -> Plan:
        """This plan once templates are rendered: `hashes` maps instance uuids to their
        configuration hash, which joins each spec and is compared with the existing one;
        changes, actions and the rollout follow."""
        return self._with_specs(
            lambda instance: (
                {**instance.spec, "configuration_hash": hashes[instance.uuid]}
                if instance.uuid in hashes
                else None
            )
        )

    def with_compiled_packages(self, made: Mapping[RequirementKey, CompiledPackageRecord]) -> Plan:
        """This plan once its packages are compiled: `made` (the new builds) join the
        reused ones, so every spec's ``packages`` names its compiled blobs."""
        builds = {**self.package_builds, **made}
        releases = {release.name: release for release in self.releases}

        def with_packages(instance: InstancePlan) -> dict[str, Any]:
            stemcell = StemcellRef(instance.stemcell.operating_system, instance.stemcell.version)
            packages = _package_specs(instance.jobs, releases, builds, stemcell)
            return {**instance.spec, "packages": packages}

        return attrs.evolve(self._with_specs(with_packages), package_builds=builds)

    def _with_specs(self, new_spec: Callable[[InstancePlan], dict[str, Any] | None]) -> Plan:
        """This plan with the specs `new_spec` gives (None keeps one), each instance's
        changes compared again, and the rollout that follows."""
        requests = self.flags.requests()
        groups = []
        for group in self.groups:
            instances = []
            for instance in group.instances:
                spec = new_spec(instance)
                if spec is None:
                    instances.append(instance)
                    continue
                updated = attrs.evolve(instance, spec=spec)
                changes = plan_changes(updated.desired(), updated.actual, requests=requests)
                instances.append(attrs.evolve(updated, changes=changes))
            groups.append(attrs.evolve(group, instances=tuple(instances)))
        return attrs.evolve(
            self,
            groups=tuple(groups),
            rollout=_rollout(
                self.manifest,
                groups,
                flags=self.flags,
                initial_deploy=self.initial_deploy,
                default_vm_strategy=self.default_vm_strategy,
            ),
        )

    def describe(self) -> str:
        """A readable summary for ``--dry-run`` and debugging: instances with their action
        and the kinds of change (never property values: they may be secrets)."""
        lines = [f"Deployment '{self.deployment}'"]
        for group in self.groups:
            update = group.update
            lines.append(
                f"  Instance group '{group.name}' ({group.lifecycle.value}):"
                f" canaries {update.canaries}, max_in_flight {update.max_in_flight},"
                f" {'serial' if update.serial else 'parallel'}"
            )
            for instance in group.instances:
                ips = ", ".join(f"{r.network}={r.ip or 'dynamic'}" for r in instance.reservations)
                kinds = ", ".join(change.kind.value for change in instance.changes.changes)
                bootstrap = " bootstrap" if instance.bootstrap else ""
                lines.append(
                    f"    {instance.name} ({instance.index}) az={instance.az}{bootstrap}"
                    f" [{ips}]: {instance.action.value}" + (f" ({kinds})" if kinds else "")
                )
            lines += [f"    {gone.name} ({gone.index}): delete" for gone in group.obsolete]
        lines += [f"  {gone.name} ({gone.index}): delete" for gone in self.obsolete_groups]
        to_compile = self.compilation.to_compile
        lines.append(
            f"  Compilation: {len(to_compile)} to compile, {len(self.compilation.reused)} reused"
        )
        lines += [f"    {requirement.key}" for requirement in to_compile]
        for number, batch in enumerate(self.rollout.batches, start=1):
            kind = "serial" if batch.serial else "parallel"
            lines.append(f"  Batch {number} ({kind}):")
            for rollout in batch.groups:
                if rollout.delete:
                    lines.append(f"    {rollout.name}: delete {len(rollout.delete)}")
                for stage in rollout.stages:
                    canaries = ", ".join(ref.name for ref in stage.canaries)
                    waves = " | ".join(
                        ", ".join(ref.name for ref in wave) for wave in stage.batches()
                    )
                    lines.append(
                        f"    {rollout.name} az={stage.az}: canaries [{canaries}] then [{waves}]"
                    )
        lines += [f"  Warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


# -- planning ----------------------------------------------------------------------------


def make_plan(
    inputs: DeploymentInputs, *, new_uuid: Callable[[], str] = lambda: str(uuid.uuid4())
) -> Plan:
    """The plan of deploying `inputs.manifest` (see the module docstring).

    Raises the reference's error for a single problem (an unknown release, stemcell,
    vm type, disk type, vm extension, job, network or AZ...), `DeploymentPlanErrors`
    listing them all when there are several; link and compilation problems as
    `resolve_links` and `plan_compilation` raise them.
    """
    return _Planner(inputs, new_uuid).plan()


class _Planner:
    def __init__(self, inputs: DeploymentInputs, new_uuid: Callable[[], str]) -> None:
        self.inputs = inputs
        self.new_uuid = new_uuid
        self.errors: list[DirectorError] = []
        self.cloud = inputs.cloud_config

    def plan(self) -> Plan:
        inputs = self.inputs
        deployment = inputs.manifest.name
        stemcells = self._bind_stemcells()
        added = apply_addons(
            inputs.manifest,
            inputs.runtime_configs,
            teams=inputs.teams,
            stemcell_os={alias: s.operating_system for alias, s in stemcells.items()},
        )
        manifest = added.manifest
        releases = self._bind_releases(manifest)
        for group in manifest.instance_groups:
            self._check_group(group, releases)
        self._raise_errors(deployment)

        allocator = IPAllocator(
            self.cloud.networks, reserved=inputs.reserved_ips, director_ips=inputs.director_ips
        )
        existing_by_group: dict[str, list[ExistingInstanceState]] = {}
        for state in inputs.existing:
            existing_by_group.setdefault(state.instance_group, []).append(state)
        placements: dict[str, tuple[PlannedInstance, ...]] = {}
        obsolete: dict[str, tuple[PlannedInstance, ...]] = {}
        for group in manifest.instance_groups:
            try:
                placement = plan_placement(
                    group,
                    deployment=deployment,
                    cloud_config=self.cloud,
                    existing=[s.placement() for s in existing_by_group.get(group.name, ())],
                    allocator=allocator,
                    randomize_az_placement=bool(manifest.features.randomize_az_placement),
                    new_uuid=self.new_uuid,
                )
            except DirectorError as error:
                self.errors.append(error)
                continue
            placements[group.name] = placement.instances
            obsolete[group.name] = placement.obsolete
        self._raise_errors(deployment)

        dns = inputs.dns.for_features(manifest.features)
        links = resolve_links(
            manifest,
            {
                (job.release, job.name): releases[job.release].jobs[job.name].spec
                for group in manifest.instance_groups
                for job in group.jobs
            },
            {
                group.name: [_link_instance(deployment, i, dns) for i in placements[group.name]]
                for group in manifest.instance_groups
            },
            other_deployments=inputs.other_deployments,
            dns=inputs.dns,
        )
        compilation = plan_compilation(
            self._package_needs(manifest, releases, stemcells),
            (record.build for record in inputs.compiled),
        )
        builds = _reused_builds(compilation, inputs.compiled)
        states = {state.uuid: state for state in inputs.existing}
        groups = []
        for group in manifest.instance_groups:
            jobs = self._jobs(manifest, group, releases, links)
            update = resolve_update(
                manifest.update,
                group,
                overrides=inputs.flags.overrides(),
                default_vm_strategy=inputs.default_vm_strategy,
            )
            stemcell = stemcells[group.stemcell]
            packages = _package_specs(
                jobs,
                releases,
                builds,
                StemcellRef(stemcell.operating_system, stemcell.version),
            )
            instances = tuple(
                self._instance(
                    manifest,
                    group,
                    planned,
                    states.get(planned.uuid),
                    jobs=jobs,
                    update=update,
                    stemcell=stemcell,
                    packages=packages,
                    dns=dns,
                )
                for planned in placements[group.name]
            )
            groups.append(
                InstanceGroupPlan(
                    name=group.name,
                    lifecycle=group.lifecycle,
                    update=update,
                    instances=instances,
                    obsolete=tuple(
                        _obsolete(states[gone.uuid], gone.released) for gone in obsolete[group.name]
                    ),
                )
            )
        wanted = {group.name for group in manifest.instance_groups}
        return Plan(
            deployment=deployment,
            manifest=manifest,
            releases=tuple(releases.values()),
            stemcells=tuple(dict.fromkeys(stemcells.values())),
            groups=tuple(groups),
            obsolete_groups=tuple(
                _obsolete(state, state.ips)
                for state in sorted(inputs.existing, key=lambda s: (s.instance_group, s.index))
                if state.instance_group not in wanted
            ),
            compilation=compilation,
            links=links,
            rollout=_rollout(
                manifest,
                groups,
                flags=inputs.flags,
                initial_deploy=inputs.initial_deploy,
                default_vm_strategy=inputs.default_vm_strategy,
            ),
            flags=inputs.flags,
            initial_deploy=inputs.initial_deploy,
            default_vm_strategy=inputs.default_vm_strategy,
            package_builds=builds,
            warnings=links.warnings,
        )

    # -- binding and checks ----------------------------------------------------------

    def _raise_errors(self, deployment: str) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DeploymentPlanErrors(deployment, [str(error) for error in self.errors])

    def _bind_stemcells(self) -> dict[str, StemcellData]:
        bound: dict[str, StemcellData] = {}
        for wanted in self.inputs.manifest.stemcells:
            found = [s for s in self.inputs.stemcells if _stemcell_matches(wanted, s)]
            if found:
                bound[wanted.alias] = found[0]
            elif wanted.os is not None:
                self.errors.append(
                    StemcellNotFoundError(
                        f"Stemcell version '{wanted.version}' for OS '{wanted.os}' doesn't exist"
                    )
                )
            else:
                self.errors.append(
                    StemcellNotFoundError(
                        f"Stemcell '{wanted.name}/{wanted.version}' doesn't exist"
                    )
                )
        return bound

    def _bind_releases(self, manifest: Manifest) -> dict[str, ReleaseData]:
        bound: dict[str, ReleaseData] = {}
        names = {name for name, _ in self.inputs.releases}
        for release in manifest.releases:
            found = self.inputs.releases.get((release.name, release.version))
            if found is not None:
                bound[release.name] = found
            elif release.name not in names:
                self.errors.append(ReleaseNotFoundError(f"Release '{release.name}' doesn't exist"))
            else:
                self.errors.append(
                    ReleaseVersionNotFoundError(
                        f"Release version '{release.name}/{release.version}' doesn't exist"
                    )
                )
        return bound

    def _check_group(self, group: InstanceGroup, releases: Mapping[str, ReleaseData]) -> None:
        where = f"Instance group '{group.name}'"
        cloud = self.cloud
        if group.vm_type is not None and group.vm_type not in {v.name for v in cloud.vm_types}:
            self.errors.append(
                InstanceGroupUnknownVmTypeError(
                    f"{where} references an unknown vm type '{group.vm_type}'"
                )
            )
        extensions = {extension.name for extension in cloud.vm_extensions}
        self.errors += [
            InstanceGroupUnknownVmExtensionError(
                f"The vm_extension '{name}' has not been configured in cloud-config."
            )
            for name in group.vm_extensions
            if name not in extensions
        ]
        disk_types = {disk.name for disk in cloud.disk_types}
        if group.persistent_disk_type is not None and group.persistent_disk_type not in disk_types:
            self.errors.append(
                InstanceGroupUnknownDiskTypeError(
                    f"{where} references an unknown disk type '{group.persistent_disk_type}'"
                )
            )
        self.errors += [
            InstanceGroupUnknownDiskTypeError(
                f"{where} persistent_disks's section references an unknown disk type '{disk.type}'"
            )
            for disk in group.persistent_disks or ()
            if disk.type not in disk_types
        ]
        for job in group.jobs:
            release = releases.get(job.release)
            if release is not None and job.name not in release.jobs:
                self.errors.append(DeploymentUnknownTemplateError(f"Can't find job '{job.name}'"))

    # -- per group -------------------------------------------------------------------

    def _package_needs(
        self,
        manifest: Manifest,
        releases: Mapping[str, ReleaseData],
        stemcells: Mapping[str, StemcellData],
    ) -> list[PackageNeed]:
        exported = {
            release.name: tuple(StemcellRef(s.os, s.version) for s in release.exported_from)
            for release in manifest.releases
        }
        needs = []
        for group in manifest.instance_groups:
            stemcell = stemcells[group.stemcell]
            per_release: dict[str, dict[str, None]] = {}
            for job in group.jobs:
                spec = releases[job.release].jobs[job.name].spec
                per_release.setdefault(job.release, {}).update(dict.fromkeys(spec.packages))
            for name, packages in per_release.items():
                release = releases[name]
                needs.append(
                    PackageNeed(
                        instance_group=group.name,
                        release=ReleaseVersion(
                            name=release.name,
                            version=release.version,
                            packages=release.packages,
                            exported_from=exported.get(name, ()),
                        ),
                        packages=tuple(packages),
                        stemcell=StemcellRef(stemcell.operating_system, stemcell.version),
                    )
                )
        return needs

    def _jobs(
        self,
        manifest: Manifest,
        group: InstanceGroup,
        releases: Mapping[str, ReleaseData],
        links: DeploymentLinks,
    ) -> tuple[PlannedJob, ...]:
        jobs = []
        for job in group.jobs:
            release = releases[job.release]
            release_job = release.jobs[job.name]
            jobs.append(
                PlannedJob(
                    name=job.name,
                    release=release.name,
                    release_version=release.version,
                    version=release_job.version,
                    sha1=release_job.sha1,
                    blobstore_id=release_job.blobstore_id,
                    packages=release_job.spec.packages,
                    properties=bind_job_properties(
                        release_job.spec,
                        job,
                        group_properties=group.properties,
                        global_properties=manifest.properties,
                    ),
                    links=links.for_job(group.name, job.name),
                    provided_links=tuple(
                        ProvidedLink(p.original_name, p.type, f"{p.name}-{p.type}")
                        for p in links.providers
                        if p.kind == "job" and p.instance_group == group.name and p.job == job.name
                    ),
                )
            )
        return tuple(jobs)

    def _instance(
        self,
        manifest: Manifest,
        group: InstanceGroup,
        planned: PlannedInstance,
        state: ExistingInstanceState | None,
        *,
        jobs: tuple[PlannedJob, ...],
        update: ResolvedUpdate,
        stemcell: StemcellData,
        packages: dict[str, dict[str, Any]],
        dns: DnsSettings,
    ) -> InstancePlan:
        cloud = self.cloud
        az = next((a for a in cloud.azs if a.name == planned.az), None)
        vm_type = next((v for v in cloud.vm_types if v.name == group.vm_type), None)
        cloud_properties: dict[str, Any] = dict(az.cloud_properties) if az else {}
        for layer in [
            vm_type.cloud_properties if vm_type else {},
            *(e.cloud_properties for e in cloud.vm_extensions if e.name in group.vm_extensions),
        ]:
            cloud_properties = deep_merge(cloud_properties, layer)
        disks = _disks(group, cloud)
        networks = planned.network_settings
        first = jobs[0] if jobs else None
        spec: dict[str, Any] = {
            "deployment": manifest.name,
            "job": {
                "name": group.name,
                "templates": [job.template_entry() for job in jobs],
                **({"template": first.name, "version": first.version} if first else {}),
            },
            "index": planned.index,
            "bootstrap": planned.bootstrap,
            "lifecycle": group.lifecycle.value,
            "name": group.name,
            "id": planned.uuid,
            "az": planned.az,
            "networks": networks,
            "vm_type": (
                {"name": vm_type.name, "cloud_properties": vm_type.cloud_properties}
                if vm_type
                else None
            ),
            "vm_resources": attrs.asdict(group.vm_resources) if group.vm_resources else None,
            "stemcell": stemcell.spec(),
            "env": group.env,
            "packages": packages,
            "properties": {job.name: job.properties for job in jobs},
            "properties_need_filtering": True,
            "dns_domain_name": dns.root_domain,
            "address": _address(manifest.name, group, planned, dns),
            "update": _update_spec(update),
            "persistent_disk": disks[0].size if disks else 0,
            "tags": {**manifest.tags, **group.tags},
        }
        desired_state = _desired_state(state)
        actual = state.actual() if state is not None else None
        instance = InstancePlan(
            instance_group=group.name,
            uuid=planned.uuid,
            index=planned.index,
            az=planned.az,
            bootstrap=planned.bootstrap,
            status=planned.status,
            reservations=planned.reservations,
            released=planned.released,
            vm_type=group.vm_type,
            cloud_properties=cloud_properties,
            stemcell=stemcell,
            env=dict(group.env),
            persistent_disks=disks,
            jobs=jobs,
            spec=spec,
            state=desired_state,
            actual=actual,
            changes=InstanceChanges(changes=(), action=InstanceAction.NONE),
            skip_drain=self.inputs.flags.skips_drain(group.name, planned.uuid, planned.index),
        )
        changes = plan_changes(instance.desired(), actual, requests=self.inputs.flags.requests())
        return attrs.evolve(instance, changes=changes)


# -- helpers ---------------------------------------------------------------------------


def _stemcell_matches(wanted: Stemcell, have: StemcellData) -> bool:
    if wanted.version != have.version:
        return False
    if wanted.os is not None:
        return wanted.os == have.operating_system
    return wanted.name == have.name


def _comparable(
    spec: Mapping[str, Any], cloud_properties: Mapping[str, Any], disks: tuple[DiskSpec, ...]
) -> InstanceSpec:
    """The parts of a full instance spec `plan_changes` compares."""
    stemcell = spec.get("stemcell") or {}
    return InstanceSpec(
        stemcell_name=stemcell.get("name"),
        stemcell_version=stemcell.get("version"),
        cloud_properties=dict(cloud_properties),
        env=spec.get("env") or {},
        networks=spec.get("networks") or {},
        packages=spec.get("packages") or {},
        configuration_hash=spec.get("configuration_hash"),
        job=spec.get("job"),
        persistent_disks=disks,
        tags=spec.get("tags") or {},
    )


def _desired_state(state: ExistingInstanceState | None) -> DesiredState:
    """A deploy keeps an instance stopped or detached by ``bosh stop``; others start."""
    if state is None:
        return DesiredState.STARTED
    try:
        return DesiredState(state.state)
    except ValueError:
        return DesiredState.STARTED


def _disks(group: InstanceGroup, cloud: CloudConfig) -> tuple[DiskSpec, ...]:
    types = {disk.name: disk for disk in cloud.disk_types}
    if group.persistent_disks:
        return tuple(
            DiskSpec(disk.name, types[disk.type].disk_size, types[disk.type].cloud_properties)
            for disk in group.persistent_disks
        )
    if group.persistent_disk_type is not None:
        disk_type = types[group.persistent_disk_type]
        return (DiskSpec("", disk_type.disk_size, disk_type.cloud_properties),)
    if group.persistent_disk:
        return (DiskSpec("", group.persistent_disk),)
    return ()


def _dns_name(deployment: str, group: str, uuid_: str, network: str, domain: str) -> str:
    parts = [uuid_, canonical_name(group), canonical_name(network), canonical_name(deployment)]
    return ".".join([*parts, domain])


def _link_instance(deployment: str, planned: PlannedInstance, dns: DnsSettings) -> LinkInstance:
    """An instance as links show it: IPs (DNS names on dynamic networks) per network."""
    names = {
        r.network: _dns_name(
            deployment, planned.instance_group, planned.uuid, r.network, dns.root_domain
        )
        for r in planned.reservations
    }
    return LinkInstance(
        id=planned.uuid,
        index=planned.index,
        az=planned.az,
        bootstrap=planned.bootstrap,
        addresses={r.network: r.ip or names[r.network] for r in planned.reservations},
        dns_addresses=names,
    )


def _address(
    deployment: str, group: InstanceGroup, planned: PlannedInstance, dns: DnsSettings
) -> str | None:
    """The instance's ``spec.address``: on its default network, its IP (a DNS name on
    a dynamic network or with ``use_dns_addresses``)."""
    network = default_network(group)
    reservation = next((r for r in planned.reservations if r.network == network), None)
    if reservation is None:
        return None
    if reservation.ip is None or dns.use_dns_addresses:
        return _dns_name(deployment, group.name, planned.uuid, network, dns.root_domain)
    return reservation.ip


def _update_spec(update: ResolvedUpdate) -> dict[str, Any]:
    return {
        "canaries": str(update.canaries),
        "max_in_flight": str(update.max_in_flight),
        "canary_watch_time": str(update.canary_watch_time),
        "update_watch_time": str(update.update_watch_time),
        "serial": update.serial,
        "vm_strategy": update.vm_strategy.value,
    }


def _reused_builds(
    compilation: CompilationPlan, compiled: Iterable[CompiledPackageRecord]
) -> dict[RequirementKey, CompiledPackageRecord]:
    """The compiled package each reused requirement takes."""
    by_id = {record.build.id: record for record in compiled}
    return {
        item.key: by_id[item.reuse.id]
        for item in compilation.reused
        if item.reuse is not None and item.reuse.id in by_id
    }


def _package_specs(
    jobs: Iterable[PlannedJob],
    releases: Mapping[str, ReleaseData],
    builds: Mapping[RequirementKey, CompiledPackageRecord],
    stemcell: StemcellRef,
) -> dict[str, dict[str, Any]]:
    """The spec's ``packages``: each package a job names, with its compiled blob when
    there is a build (a package still to compile has only its name and version)."""
    specs: dict[str, dict[str, Any]] = {}
    for job in jobs:
        versions = {p.name: p.version for p in releases[job.release].packages}
        for name in job.packages:
            if name in specs:
                continue
            record = builds.get(RequirementKey(job.release, name, versions[name], str(stemcell)))
            if record is None:
                specs[name] = {"name": name, "version": versions[name]}
            else:
                specs[name] = {
                    "name": name,
                    "version": f"{versions[name]}.{record.build.build}",
                    "sha1": record.sha1,
                    "blobstore_id": record.blobstore_id,
                }
    return specs


def _obsolete(state: ExistingInstanceState, released: tuple[ExistingIP, ...]) -> ObsoleteInstance:
    return ObsoleteInstance(
        instance_group=state.instance_group,
        uuid=state.uuid,
        index=state.index,
        az=state.az,
        released=released,
        changes=plan_changes(None, state.actual()),
    )


def _rollout(
    manifest: Manifest,
    groups: Sequence[InstanceGroupPlan],
    *,
    flags: DeployFlags,
    initial_deploy: bool,
    default_vm_strategy: VmStrategy,
) -> Rollout:
    """Errand groups have no VMs after a deploy: only service groups roll out."""
    by_name = {group.name: group for group in manifest.instance_groups}
    return plan_rollout(
        manifest.update,
        [
            RolloutGroup(
                group=by_name[group.name],
                changed=tuple(
                    RolloutRef(instance.name, instance.az)
                    for instance in group.instances
                    if instance.changes.changes
                )
                if group.lifecycle is Lifecycle.SERVICE
                else (),
                obsolete=tuple(RolloutRef(gone.name, gone.az) for gone in group.obsolete),
            )
            for group in groups
        ],
        initial_deploy=initial_deploy,
        overrides=flags.overrides(),
        default_vm_strategy=default_vm_strategy,
    )


# -- rendering inputs --------------------------------------------------------------------


def _template_link(content: Mapping[str, Any]) -> TemplateLink:
    return TemplateLink(
        instances=tuple(
            TemplateLinkInstance(
                name=str(item.get("name", "")),
                id=str(item.get("id", "")),
                index=int(item.get("index", 0)),
                az=item.get("az"),
                address=item.get("address"),
                bootstrap=bool(item.get("bootstrap", False)),
            )
            for item in content.get("instances") or ()
        ),
        properties=dict(content.get("properties") or {}),
        address=content.get("address"),
        instance_group=content.get("instance_group"),
        deployment_name=content.get("deployment_name"),
        default_network=content.get("default_network"),
        domain=content.get("domain"),
    )


def instances_to_render(
    plan: Plan, templates: Mapping[tuple[str, str], JobTemplates]
) -> list[InstanceToRender]:
    """What the renderer needs for every desired instance; `templates` maps (release
    name, job name) to the job's templates (read from its archive)."""
    rendered = []
    for instance in plan.instances:
        spec = instance.spec
        rendered.append(
            InstanceToRender(
                spec=TemplateInstanceSpec(
                    deployment=plan.deployment,
                    name=instance.instance_group,
                    index=instance.index,
                    id=instance.uuid,
                    az=instance.az,
                    bootstrap=instance.bootstrap,
                    address=spec["address"],
                    networks=spec["networks"],
                    persistent_disk=spec["persistent_disk"],
                    dns_domain_name=spec["dns_domain_name"],
                    job=spec["job"],
                ),
                jobs=tuple(
                    InstanceJob(
                        templates=templates[(job.release, job.name)],
                        release=ReleaseRef(job.release, job.release_version),
                        properties=job.properties,
                        links={name: _template_link(c) for name, c in job.links.items()},
                        provided_links=job.provided_links,
                    )
                    for job in instance.jobs
                ),
            )
        )
    return rendered
