"""The "Compiling packages" part of a deploy (the reference's ``PackageCompileStage`` with
its ``CompilationInstancePool``).

The plan's `CompilationPlan` says what is reused and what must be compiled; here the rest
is compiled on compilation VMs, dependencies first:

1. stage "Preparing package compilation", task "Finding packages to compile": the
   source blob of every package to compile and the compiled blob of every reused build
   are read from the database;
2. stage "Compiling packages", one task ``<package>/<version>`` each: a pool of
   ``compilation.workers`` threads walks the `CompileQueue`. Each item takes
   ``lock:compile:<package id>:<os>/<version>`` (two deploys never compile the same
   thing twice: the second finds the first's build in the database once it has the
   lock), gets a compilation VM, has its agent ``compile_package`` the source with the
   compiled direct dependencies, and records the ``compiled_packages`` row with the next
   build number. What it finishes unblocks its dependents.

Compilation VMs are instances ``compilation-<uuid>`` of the deployment (rows marked
``compilation``, removed with their VM). With ``reuse_compilation_vms`` an idle VM of
the same stemcell takes the next package (at most one VM per worker); otherwise each
package gets its own VM, deleted when it is done. The first failure stops handing out
work (what runs finishes) and is raised once every VM is gone: none is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Final

import attrs
from sqlalchemy import func, select

from bosh_core.director.cloud import Clouds
from bosh_core.director.db.models import (
    VM,
    CompiledPackage,
    Instance,
    Package,
    Release,
)
from bosh_core.director.errors import DirectorError
from bosh_core.director.locks import compile_lock
from bosh_core.director.views import find_deployment
from bosh_core.director.vms import VMFactory
from bosh_core.mappings import deep_merge
from bosh_core.models.cloud_config import CloudConfig, Compilation
from bosh_core.planning.changes import DesiredState, InstanceAction, InstanceChanges
from bosh_core.planning.compilation import (
    CompiledBuild,
    CompileQueue,
    Requirement,
    RequirementKey,
    StemcellRef,
)
from bosh_core.planning.placement import InstanceStatus
from bosh_core.planning.plan import CompiledPackageRecord, InstancePlan, Plan, StemcellData

if TYPE_CHECKING:
    from bosh_core.director.api.app import Director
    from bosh_core.director.tasks.events import EventLog, Stage

__all__ = [
    "COMPILE_LOCK_TIMEOUT",
    "COMPILE_STAGE",
    "PREPARE_STAGE",
    "CompilationConfigMissingError",
    "compile_packages",
]

PREPARE_STAGE: Final = "Preparing package compilation"
COMPILE_STAGE: Final = "Compiling packages"
_log = logging.getLogger(__name__)

_FIND_TASK: Final = "Finding packages to compile"
#: How long an item waits for another task compiling the same package (a compile is long).
COMPILE_LOCK_TIMEOUT: Final = 15 * 60.0
#: How long one agent compile may take.
_COMPILE_TIMEOUT: Final = 60 * 60.0


class CompilationConfigMissingError(DirectorError):
    """Packages must be compiled but the cloud config has no ``compilation`` block."""


@attrs.frozen
class _Source:
    """A package row: its id (for the lock and the build row) and its source blob."""

    package_id: int
    blobstore_id: str
    sha1: str


def compile_packages(
    director: Director,
    plan: Plan,
    *,
    deployment: str,
    cloud_config: CloudConfig,
    stemcells: Sequence[StemcellData],
    event_log: EventLog,
    task_id: int | str,
    user: str = "admin",
    checkpoint: Callable[[], None] = lambda: None,
    clouds: Clouds | None = None,
    agent_wait_timeout: float | None = None,
) -> dict[RequirementKey, CompiledPackageRecord]:
    """Compile what `plan` must compile for `deployment` (a recorded deployment) on VMs
    of `cloud_config`'s compilation block, each from its stemcell as uploaded to the
    compilation AZ's CPI (one of `stemcells`, every upload); the builds made (or found
    made meanwhile by another task), by requirement. `checkpoint` is called before each
    compile (it raises when the task is cancelled). `clouds`/`agent_wait_timeout` go to
    the `VMFactory`."""
    stage = event_log.stage(PREPARE_STAGE, total=1)
    with stage.track(_FIND_TASK):
        to_compile = plan.compilation.to_compile
        sources = _sources(director, to_compile)
        reused = _reused(director, plan)
    if not to_compile:
        return {}
    compilation = cloud_config.compilation
    if compilation is None:
        raise CompilationConfigMissingError(
            f"Deployment '{deployment}' needs {len(to_compile)} package(s) compiled, but the"
            " cloud config has no 'compilation' block: add one (workers, network, vm_type)"
        )
    factory = VMFactory(
        director,
        clouds=clouds,
        azs=cloud_config.azs,
        task_id=task_id,
        user=user,
        event_log=event_log,
        agent_wait_timeout=agent_wait_timeout,
    )
    pool = _VMPool(
        director,
        factory,
        plan,
        cloud_config,
        compilation,
        stemcells=stemcells,
        deployment=deployment,
    )
    compiler = _Compiler(
        director,
        pool,
        sources,
        reused,
        stage=event_log.stage(COMPILE_STAGE, total=len(to_compile)),
        task_id=task_id,
        user=user,
        deployment=deployment,
        checkpoint=checkpoint,
    )
    try:
        return compiler.run(CompileQueue(plan.compilation), workers=max(1, compilation.workers))
    finally:
        pool.delete_all()


def _sources(
    director: Director, to_compile: tuple[Requirement, ...]
) -> dict[RequirementKey, _Source]:
    """The package row of every requirement to compile (planning only plans packages
    with source, so each has its blob)."""
    found: dict[RequirementKey, _Source] = {}
    with director.database.read() as session:
        for item in to_compile:
            key = item.key
            row = session.scalar(
                select(Package)
                .join(Release, Package.release_id == Release.id)
                .where(
                    Release.name == key.release,
                    Package.name == key.package,
                    Package.version == key.package_version,
                )
            )
            if row is None or row.blobstore_id is None or row.sha1 is None:
                raise DirectorError(
                    f"Package '{key.package}/{key.package_version}' of release"
                    f" '{key.release}' has no source in the director: upload the release again"
                )
            found[key] = _Source(row.id, row.blobstore_id, row.sha1)
    return found


def _reused(director: Director, plan: Plan) -> dict[RequirementKey, CompiledPackageRecord]:
    """The compiled blobs of the builds the plan reuses (dependencies of what is
    compiled here)."""
    reuse = {item.key: item.reuse for item in plan.compilation.reused if item.reuse is not None}
    if not reuse:
        return {}
    with director.database.read() as session:
        rows = {
            str(row.id): row
            for row in session.scalars(
                select(CompiledPackage).where(
                    CompiledPackage.id.in_({int(build.id) for build in reuse.values()})
                )
            )
        }
    return {
        key: CompiledPackageRecord(
            build=build, blobstore_id=rows[build.id].blobstore_id, sha1=rows[build.id].sha1
        )
        for key, build in reuse.items()
        if build.id in rows
    }


class _Compiler:
    """Walks the queue with a thread pool; the coordinating thread owns the queue."""

    def __init__(
        self,
        director: Director,
        pool: _VMPool,
        sources: Mapping[RequirementKey, _Source],
        reused: Mapping[RequirementKey, CompiledPackageRecord],
        *,
        stage: Stage,
        task_id: int | str,
        user: str,
        deployment: str,
        checkpoint: Callable[[], None],
    ) -> None:
        self._director = director
        self._pool = pool
        self._sources = sources
        self._compiled: dict[RequirementKey, CompiledPackageRecord] = dict(reused)
        self._made: dict[RequirementKey, CompiledPackageRecord] = {}
        self._stage = stage
        self._task_id = task_id
        self._user = user
        self._deployment = deployment
        self._checkpoint = checkpoint

    def run(
        self, queue: CompileQueue, *, workers: int
    ) -> dict[RequirementKey, CompiledPackageRecord]:
        failure: BaseException | None = None
        running: dict[Future[CompiledPackageRecord], Requirement] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compile") as executor:

            def submit(items: list[Requirement]) -> None:
                for item in items:
                    running[executor.submit(self._compile, item)] = item

            submit(queue.ready())
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    item = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        failure = failure or error
                        continue
                    record = future.result()
                    self._compiled[item.key] = self._made[item.key] = record
                    unblocked = queue.complete(item.key)
                    if failure is None:
                        submit(unblocked)
        if failure is not None:
            raise failure
        return self._made

    def _compile(self, item: Requirement) -> CompiledPackageRecord:
        key = item.key
        source = self._sources[key]
        with self._stage.track(f"{key.package}/{key.package_version}"):
            self._checkpoint()
            with self._director.locks.acquire(
                compile_lock(source.package_id, item.stemcell.os, item.stemcell.version),
                timeout=COMPILE_LOCK_TIMEOUT,
                task_id=self._task_id,
                user=self._user,
                deployment=self._deployment,
            ):
                made = self._find_build(item, source)
                if made is not None:  # another task compiled it while this one waited
                    return made
                with self._pool.vm(item.stemcell) as agent_id:
                    result = self._director.agents.blocking_client(agent_id).run(
                        "compile_package",
                        source.blobstore_id,
                        source.sha1,
                        key.package,
                        key.package_version,
                        self._dependency_spec(item),
                        timeout=_COMPILE_TIMEOUT,
                    )
                return self._record(item, source, result["result"])

    def _dependency_spec(self, item: Requirement) -> dict[str, dict[str, str]]:
        """The compiled direct dependencies, as the agent installs them."""
        spec = {}
        for key in item.dependencies:
            record = self._compiled[key]
            spec[key.package] = {
                "name": key.package,
                "version": f"{key.package_version}.{record.build.build}",
                "sha1": record.sha1,
                "blobstore_id": record.blobstore_id,
            }
        return spec

    def _find_build(self, item: Requirement, source: _Source) -> CompiledPackageRecord | None:
        with self._director.database.read() as session:
            row = session.scalar(
                select(CompiledPackage).where(
                    CompiledPackage.package_id == source.package_id,
                    CompiledPackage.stemcell_os == item.stemcell.os,
                    CompiledPackage.stemcell_version == item.stemcell.version,
                    CompiledPackage.dependency_key_sha1 == _sha1(item.dependency_key),
                )
            )
            return None if row is None else _record_of(item, row)

    def _record(
        self, item: Requirement, source: _Source, result: Mapping[str, Any]
    ) -> CompiledPackageRecord:
        """The ``compiled_packages`` row of a new build: the next build number of the
        package for this stemcell."""
        with self._director.database.write() as session:
            last = session.scalar(
                select(func.max(CompiledPackage.build)).where(
                    CompiledPackage.package_id == source.package_id,
                    CompiledPackage.stemcell_os == item.stemcell.os,
                    CompiledPackage.stemcell_version == item.stemcell.version,
                )
            )
            row = CompiledPackage(
                package_id=source.package_id,
                stemcell_os=item.stemcell.os,
                stemcell_version=item.stemcell.version,
                dependency_key=item.dependency_key,
                dependency_key_sha1=_sha1(item.dependency_key),
                blobstore_id=str(result["blobstore_id"]),
                sha1=str(result["sha1"]),
                build=(last or 0) + 1,
            )
            session.add(row)
            session.flush()
            return _record_of(item, row)


def _record_of(item: Requirement, row: CompiledPackage) -> CompiledPackageRecord:
    key = item.key
    return CompiledPackageRecord(
        build=CompiledBuild(
            id=str(row.id),
            release=key.release,
            package=key.package,
            package_version=key.package_version,
            stemcell=item.stemcell,
            dependency_key=row.dependency_key,
            build=row.build,
        ),
        blobstore_id=row.blobstore_id,
        sha1=row.sha1,
    )


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


class _VMPool:
    """Compilation VMs: idle ones per stemcell when they are reused, else one per use."""

    def __init__(
        self,
        director: Director,
        factory: VMFactory,
        plan: Plan,
        cloud_config: CloudConfig,
        compilation: Compilation,
        *,
        stemcells: Sequence[StemcellData],
        deployment: str,
    ) -> None:
        self._director = director
        self._factory = factory
        self._plan = plan
        self._cloud_config = cloud_config
        self._compilation = compilation
        self._stemcells = stemcells
        self._deployment = deployment
        self._lock = threading.Lock()
        self._idle: dict[StemcellRef, list[VM]] = {}
        self._all: list[VM] = []

    @contextlib.contextmanager
    def vm(self, stemcell: StemcellRef) -> Iterator[str]:
        """A compilation VM for `stemcell` while the block runs: its agent id."""
        with self._lock:
            idle = self._idle.get(stemcell)
            vm = idle.pop() if idle else None
        if vm is None:
            vm = self._create(stemcell)
        assert vm.agent_id is not None
        try:
            yield vm.agent_id
        except BaseException:
            self._delete(vm)  # a VM a compile failed on may be in any state
            raise
        if self._compilation.reuse_compilation_vms:
            with self._lock:
                self._idle.setdefault(stemcell, []).append(vm)
        else:
            self._delete(vm)

    def delete_all(self) -> None:
        """Delete every VM still there (at the end, whatever happened): each is tried,
        the first failure is raised after."""
        with self._lock:
            left, self._all, self._idle = list(self._all), [], {}
        failure: Exception | None = None
        for vm in left:
            try:
                self._destroy(vm)
            except Exception as error:
                _log.error("Failed to delete compilation VM %s: %s", vm.cid, error)
                failure = failure or error
        if failure is not None:
            raise failure

    def _create(self, stemcell: StemcellRef) -> VM:
        instance = self._instance(stemcell)
        try:
            vm = self._factory.create(
                instance, deployment=self._deployment, stemcell_cid=instance.stemcell.cid
            )
        except BaseException:
            self._delete_instance(instance.uuid)
            raise
        with self._lock:
            self._all.append(vm)
        return vm

    def _delete(self, vm: VM) -> None:
        with self._lock:
            if vm not in self._all:
                return
            self._all.remove(vm)
        self._destroy(vm)

    def _destroy(self, vm: VM) -> None:
        """The VM and its ``compilation-<uuid>`` instance row."""
        try:
            self._factory.delete(vm)
        finally:
            with self._director.database.write() as session:
                row = session.get(Instance, vm.instance_id)
                if row is not None:
                    session.delete(row)

    def _delete_instance(self, instance_uuid: str) -> None:
        with self._director.database.write() as session:
            row = session.scalar(select(Instance).where(Instance.uuid == instance_uuid))
            if row is not None:
                session.delete(row)

    def _instance(self, stemcell: StemcellRef) -> InstancePlan:
        """A recorded ``compilation-<uuid>`` instance to make a VM for (the reference's
        ``CompilationInstancePool#create_instance_plan``)."""
        compilation = self._compilation
        name = f"compilation-{uuid.uuid4()}"
        instance_uuid = str(uuid.uuid4())
        with self._director.database.write() as session:
            deployment = find_deployment(session, self._deployment)
            session.add(
                Instance(
                    deployment=deployment,
                    job=name,
                    index=0,
                    uuid=instance_uuid,
                    az=compilation.az,
                    compilation=True,
                )
            )
        return InstancePlan(
            instance_group=name,
            uuid=instance_uuid,
            index=0,
            az=compilation.az,
            bootstrap=True,
            status=InstanceStatus.NEW,
            reservations=(),
            released=(),
            vm_type=compilation.vm_type,
            cloud_properties=self._cloud_properties(),
            stemcell=self._stemcell(stemcell),
            env=dict(compilation.env),
            persistent_disks=(),
            jobs=(),
            spec={"networks": self._networks()},
            state=DesiredState.STARTED,
            actual=None,
            changes=InstanceChanges(changes=(), action=InstanceAction.CREATE),
        )

    def _stemcell(self, wanted: StemcellRef) -> StemcellData:
        """The plan's stemcell of that os and version, as uploaded to the CPI of the
        compilation AZ."""
        bound = next(
            (
                s
                for s in self._plan.stemcells
                if s.operating_system == wanted.os and s.version == wanted.version
            ),
            None,
        )
        if bound is None:
            raise DirectorError(f"Stemcell '{wanted}' is not among the deployment's stemcells")
        # Builds are per OS and version: any upload of those to the AZ's CPI will do.
        return self._factory.stemcell_for(self._stemcells, bound, self._compilation.az, by_os=True)

    def _cloud_properties(self) -> dict[str, Any]:
        """The AZ's cloud properties with the vm_type's (or the block's own) over them."""
        compilation = self._compilation
        az = next((a for a in self._cloud_config.azs if a.name == compilation.az), None)
        vm_type = next(
            (v for v in self._cloud_config.vm_types if v.name == compilation.vm_type), None
        )
        own = vm_type.cloud_properties if vm_type is not None else compilation.cloud_properties
        return deep_merge(dict(az.cloud_properties) if az else {}, dict(own))

    def _networks(self) -> dict[str, Any]:
        """The compilation network as a dynamic one: the CPI picks the address.

        The reference reserves a dynamic IP of a manual network in the database; this
        lets the cloud choose (fine for the local CPI, which allocates a free one)."""
        name = self._compilation.network
        network = next((n for n in self._cloud_config.networks if n.name == name), None)
        if network is None:
            raise DirectorError(f"Compilation workers reference an unknown network '{name}'")
        subnets = getattr(network, "subnets", ()) or ()
        subnet = next(
            (s for s in subnets if not getattr(s, "azs", None) or self._compilation.az in s.azs),
            None,
        )
        return {
            name: {
                "type": "dynamic",
                "cloud_properties": dict(getattr(subnet, "cloud_properties", {}) or {}),
                "dns": list(getattr(subnet, "dns", ()) or ()),
                "default": ["dns", "gateway"],
            }
        }
