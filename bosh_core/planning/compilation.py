"""What a deploy must compile, what it can reuse, and in which order.

The director compiles per *requirement*: one package of one release version for one
stemcell (os and version), keyed further by its ``dependency_key`` (the transitive
``[name, version]`` tree of its dependencies), so a package rebuilt against other
dependencies is never mistaken for the one wanted. For each requirement the lookup
follows the reference's ``CompiledPackageFinder``:

1. a release with ``exported_from`` stemcells only takes builds made on one of them
   (exact os, version and dependency key);
2. otherwise an exact build for the stemcell;
3. otherwise, for a package **without source** (from a compiled release, where
   compiling is impossible), the newest build for the same os, same dependency key and
   same stemcell major version (``1.123`` reuses ``1.90``). A source package is
   recompiled instead: the reference reuses across stemcell versions only what it could
   not rebuild.

What is left forms a DAG: a requirement is ready when every dependency is compiled
(reused or done). `CompilationPlan` is the frozen, inspectable result; `CompileQueue`
walks it for a worker pool (``ready`` / ``complete``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from bosh_core.director.errors import (
    PackageMissingExportedFromError,
    PackageMissingSourceCodeError,
    ReleasePackageDependencyError,
    StemcellNotPresentInExportedFromError,
)
from bosh_core.errors import BoshError
from bosh_core.models.version import Version, VersionError, version_order

__all__ = [
    "CompilationPlan",
    "CompileQueue",
    "CompiledBuild",
    "PackageIdentity",
    "PackageNeed",
    "ReleasePackage",
    "ReleaseVersion",
    "Requirement",
    "RequirementKey",
    "StemcellRef",
    "UnknownDependencyError",
    "dependency_key",
    "plan_compilation",
]


class UnknownDependencyError(BoshError):
    """A package names a dependency that is not among the packages given.

    Callers turn this into their own error (a bad release manifest, a broken release),
    since only they know where the packages came from."""

    def __init__(self, package: str, dependency: str) -> None:
        self.package = package
        self.dependency = dependency
        super().__init__(f"Package '{package}' depends on '{dependency}', which is not known")


class PackageIdentity(Protocol):
    """What `dependency_key` needs of a package: release.MF entries, DB rows and
    `ReleasePackage` all have it."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def dependencies(self) -> Sequence[str]: ...


def dependency_key(package: PackageIdentity, packages: Mapping[str, PackageIdentity]) -> str:
    """The reference's ``KeyGenerator#dependency_key``: the package's dependencies sorted
    by name, each ``[name, version]`` plus ``[...its own dependencies...]`` when it has
    some, as compact JSON (``[]`` for none). The same key is computed when a compiled
    release is uploaded and when a deploy looks for a build, so they must agree.

    Shared subtrees are computed once: a diamond-shaped dependency graph stays linear.
    Raises `UnknownDependencyError` for a dependency missing from `packages`."""
    entries: dict[str, list[Any]] = {}

    def entry(name: str, needed_by: str) -> list[Any]:
        if name in entries:
            return entries[name]
        found = packages.get(name)
        if found is None:
            raise UnknownDependencyError(needed_by, name)
        result: list[Any] = [found.name, found.version]
        if found.dependencies:
            result.append([entry(sub, name) for sub in sorted(found.dependencies)])
        entries[name] = result
        return result

    tree = [entry(name, package.name) for name in sorted(package.dependencies)]
    return json.dumps(tree, separators=(",", ":"))


@attrs.frozen
class StemcellRef:
    """A stemcell as compilation sees it: builds are made per os and version."""

    os: str
    version: str

    def __str__(self) -> str:
        return f"{self.os}/{self.version}"

    def same_major(self, other: StemcellRef) -> bool:
        """Same os and same major version: a build for one runs on the other (the
        reference's ``StemcellVersion.match``; ``_`` counts as ``.`` in old versions)."""
        return self.os == other.os and _major(self.version) == _major(other.version)


def _major(version: str) -> object:
    try:
        release = Version.parse(version.replace("_", ".")).release
    except VersionError:
        return version  # not a stemcell version: only equal text matches
    return release[0] if release else None


@attrs.frozen(kw_only=True)
class ReleasePackage:
    """A package of a release version. ``has_source`` is False for packages of a
    compiled release: they can only be reused, never compiled."""

    name: str
    version: str
    dependencies: tuple[str, ...] = ()
    has_source: bool = True


@attrs.frozen(kw_only=True)
class ReleaseVersion:
    """A release version with its packages; ``exported_from`` are the stemcells a
    compiled release was exported from (the manifest's ``releases[].exported_from``)."""

    name: str
    version: str
    packages: tuple[ReleasePackage, ...]
    exported_from: tuple[StemcellRef, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}/{self.version}"


@attrs.frozen(kw_only=True)
class PackageNeed:
    """An instance group needs these packages (its jobs' packages) of a release on a
    stemcell; their dependencies are added by planning."""

    instance_group: str
    release: ReleaseVersion
    packages: tuple[str, ...]
    stemcell: StemcellRef


@attrs.frozen(kw_only=True)
class CompiledBuild:
    """A compiled package the director has (a ``compiled_packages`` row), identified by
    its package's release, name and version. ``id`` is whatever the caller uses to find
    the row again (its database id, a blobstore id)."""

    id: str
    release: str
    package: str
    package_version: str
    stemcell: StemcellRef
    dependency_key: str
    build: int = 1


@attrs.frozen(order=True)
class RequirementKey:
    """One requirement: a package of a release version for one stemcell."""

    release: str
    package: str
    package_version: str
    stemcell: str  # "os/version"

    def __str__(self) -> str:
        return f"{self.package}/{self.package_version} ({self.release}) for {self.stemcell}"


@attrs.frozen(kw_only=True)
class Requirement:
    """A package to have compiled for a stemcell: reused (``reuse`` is set) or to
    compile after its ``dependencies``. ``instance_groups`` are the groups needing it."""

    key: RequirementKey
    stemcell: StemcellRef
    dependency_key: str
    dependencies: tuple[RequirementKey, ...]
    instance_groups: tuple[str, ...]
    reuse: CompiledBuild | None = None

    @property
    def needs_compiling(self) -> bool:
        return self.reuse is None


def _index(plan: CompilationPlan) -> dict[RequirementKey, Requirement]:
    return {item.key: item for item in plan.requirements}


def _dependents(plan: CompilationPlan) -> dict[RequirementKey, tuple[RequirementKey, ...]]:
    found: dict[RequirementKey, list[RequirementKey]] = {}
    for item in plan.requirements:
        for dependency in item.dependencies:
            found.setdefault(dependency, []).append(item.key)
    return {key: tuple(keys) for key, keys in found.items()}


@attrs.frozen
class CompilationPlan:
    """Every requirement of a deploy in dependency order (a dependency before its
    dependents), with the DAG of what is left to compile. Unstructures to JSON as its
    requirements; the indexes are derived."""

    requirements: tuple[Requirement, ...]
    _by_key: Mapping[RequirementKey, Requirement] = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(_index, takes_self=True)
    )
    _dependents: Mapping[RequirementKey, tuple[RequirementKey, ...]] = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(_dependents, takes_self=True)
    )

    def dependents(self, key: RequirementKey) -> tuple[RequirementKey, ...]:
        """The requirements that depend directly on `key`."""
        return self._dependents.get(key, ())

    def requirement(self, key: RequirementKey) -> Requirement:
        return self._by_key[key]

    @property
    def to_compile(self) -> tuple[Requirement, ...]:
        """What must be compiled, in an order a single worker could follow."""
        return tuple(item for item in self.requirements if item.needs_compiling)

    @property
    def reused(self) -> tuple[Requirement, ...]:
        return tuple(item for item in self.requirements if not item.needs_compiling)

    def ready(self, compiled: Iterable[RequirementKey] = ()) -> tuple[Requirement, ...]:
        """What can be compiled now, given the requirements already `compiled` here:
        not compiled yet and every dependency reused or compiled."""
        done = set(compiled)
        return tuple(
            item
            for item in self.to_compile
            if item.key not in done and all(self._available(dep, done) for dep in item.dependencies)
        )

    def _available(self, key: RequirementKey, done: set[RequirementKey]) -> bool:
        return key in done or not self._by_key[key].needs_compiling


class CompileQueue:
    """Hands out the requirements of a plan to compile as they become ready.

    A worker pool takes `ready()` items, compiles them, and reports each with
    `complete()`, which returns what that unblocked. Each requirement is handed out
    once. Not thread-safe: one coordinator (the event loop) owns it.
    """

    def __init__(self, plan: CompilationPlan) -> None:
        self._plan = plan
        self._waiting_on: dict[RequirementKey, int] = {}
        self._ready: list[Requirement] = []
        self._left = 0
        for item in plan.to_compile:
            blocking = sum(1 for dep in item.dependencies if plan.requirement(dep).needs_compiling)
            self._waiting_on[item.key] = blocking
            self._left += 1
            if blocking == 0:
                self._ready.append(item)

    def ready(self) -> list[Requirement]:
        """Take what is ready now (each requirement is returned once)."""
        taken, self._ready = self._ready, []
        return taken

    def complete(self, key: RequirementKey) -> list[Requirement]:
        """Record `key` as compiled; returns the requirements that became ready (they
        are handed out here, not again by `ready`)."""
        if self._waiting_on.pop(key, None) is None:
            raise ValueError(f"{key} is not waiting to be compiled")
        self._left -= 1
        unblocked = []
        for dependent in self._plan.dependents(key):
            if dependent in self._waiting_on:
                self._waiting_on[dependent] -= 1
                if self._waiting_on[dependent] == 0:
                    unblocked.append(self._plan.requirement(dependent))
        return unblocked

    @property
    def finished(self) -> bool:
        return self._left == 0


@attrs.define
class _Draft:
    """A requirement while planning: groups are added as more groups need it."""

    key: RequirementKey
    stemcell: StemcellRef
    dependency_key: str
    dependencies: tuple[RequirementKey, ...]
    reuse: CompiledBuild | None
    groups: dict[str, None] = attrs.field(factory=dict)


@attrs.define
class _Fault:
    error: type[BoshError]
    release: ReleaseVersion
    package: ReleasePackage
    stemcell: StemcellRef


class _Builds:
    """The given compiled builds, indexed for the finder's two lookups."""

    def __init__(self, builds: Iterable[CompiledBuild]) -> None:
        self._exact: dict[tuple[str, str, str, StemcellRef, str], CompiledBuild] = {}
        self._by_os: dict[tuple[str, str, str, str, str], list[CompiledBuild]] = {}
        for build in builds:
            package = (build.release, build.package, build.package_version)
            self._exact.setdefault((*package, build.stemcell, build.dependency_key), build)
            self._by_os.setdefault((*package, build.stemcell.os, build.dependency_key), []).append(
                build
            )

    def exact(
        self, release: str, package: ReleasePackage, stemcell: StemcellRef, key: str
    ) -> CompiledBuild | None:
        return self._exact.get((release, package.name, package.version, stemcell, key))

    def newest_same_major(
        self, release: str, package: ReleasePackage, stemcell: StemcellRef, key: str
    ) -> CompiledBuild | None:
        candidates = [
            build
            for build in self._by_os.get(
                (release, package.name, package.version, stemcell.os, key), ()
            )
            if build.stemcell.same_major(stemcell)
        ]
        return max(
            candidates,
            key=lambda build: version_order(build.stemcell.version.replace("_", ".")),
            default=None,
        )


class _Planner:
    def __init__(self, builds: Iterable[CompiledBuild]) -> None:
        self._builds = _Builds(builds)
        self._drafts: dict[RequirementKey, _Draft] = {}  # insertion order = dependency order
        self._faults: list[_Fault] = []

    def need(self, need: PackageNeed) -> None:
        packages = {package.name: package for package in need.release.packages}
        for name in need.packages:
            if name not in packages:
                raise ReleasePackageDependencyError(
                    f"Instance group '{need.instance_group}' needs package '{name}',"
                    f" which release '{need.release}' does not have"
                )
            self._visit(need, packages, packages[name], [])

    def _visit(
        self,
        need: PackageNeed,
        packages: Mapping[str, ReleasePackage],
        package: ReleasePackage,
        path: list[str],
    ) -> RequirementKey:
        key = RequirementKey(need.release.name, package.name, package.version, str(need.stemcell))
        draft = self._drafts.get(key)
        if draft is None:
            if package.name in path:
                raise ReleasePackageDependencyError(f"Cycle: {'=>'.join([*path, package.name])}")
            dependencies = []
            for name in sorted(package.dependencies):
                if name not in packages:
                    raise ReleasePackageDependencyError(
                        f"Package '{package.name}' depends on '{name}', which release"
                        f" '{need.release}' does not have"
                    )
                dependencies.append(
                    self._visit(need, packages, packages[name], [*path, package.name])
                )
            key_json = dependency_key(package, packages)
            draft = _Draft(
                key=key,
                stemcell=need.stemcell,
                dependency_key=key_json,
                dependencies=tuple(dependencies),
                reuse=self._find(need, package, key_json),
            )
            self._drafts[key] = draft
        draft.groups[need.instance_group] = None
        return key

    def _find(self, need: PackageNeed, package: ReleasePackage, key: str) -> CompiledBuild | None:
        release, stemcell = need.release, need.stemcell
        if release.exported_from:
            fitting = [item for item in release.exported_from if item.same_major(stemcell)]
            if not fitting:
                self._fault(StemcellNotPresentInExportedFromError, need, package)
                return None
            for exported in fitting:
                found = self._builds.exact(release.name, package, exported, key)
                if found is not None:
                    return found
            for exported in fitting:  # the reference names the stemcells exported from
                self._fault(PackageMissingExportedFromError, need, package, exported)
            return None
        found = self._builds.exact(release.name, package, stemcell, key)
        if found is None and not package.has_source:
            found = self._builds.newest_same_major(release.name, package, stemcell, key)
            if found is None:
                self._fault(PackageMissingSourceCodeError, need, package)
        return found

    def _fault(
        self,
        error: type[BoshError],
        need: PackageNeed,
        package: ReleasePackage,
        stemcell: StemcellRef | None = None,
    ) -> None:
        self._faults.append(_Fault(error, need.release, package, stemcell or need.stemcell))

    def plan(self) -> CompilationPlan:
        if self._faults:
            raise _faults_error(self._faults)
        requirements = tuple(
            Requirement(
                key=draft.key,
                stemcell=draft.stemcell,
                dependency_key=draft.dependency_key,
                dependencies=draft.dependencies,
                instance_groups=tuple(draft.groups),
                reuse=draft.reuse,
            )
            for draft in self._drafts.values()
        )
        return CompilationPlan(requirements)


def plan_compilation(
    needs: Iterable[PackageNeed], compiled: Iterable[CompiledBuild]
) -> CompilationPlan:
    """The compilation plan of a deploy: every needed package and its transitive
    dependencies per stemcell, each reused from `compiled` when the lookup rule allows,
    in dependency order.

    Packages that can be neither reused nor compiled are reported together, as the
    reference's ``PackageValidator`` does: `PackageMissingSourceCodeError`,
    `PackageMissingExportedFromError` or `StemcellNotPresentInExportedFromError`.
    A dependency cycle or an unknown package raises `ReleasePackageDependencyError`.
    """
    planner = _Planner(compiled)
    for need in needs:
        planner.need(need)
    return planner.plan()


def _faults_error(faults: Sequence[_Fault]) -> BoshError:
    """One error for every package that cannot be had, worded as the reference words it
    (the error class is that of the last release's faults, as there)."""
    by_release: dict[str, list[_Fault]] = {}
    for fault in faults:
        by_release.setdefault(str(fault.release), []).append(fault)
    several_stemcells = len({fault.stemcell for fault in faults}) > 1
    message = "\n"
    error: type[BoshError] = PackageMissingSourceCodeError
    for release, release_faults in by_release.items():
        error = release_faults[0].error
        if error is StemcellNotPresentInExportedFromError:
            stemcells = "', '".join(dict.fromkeys(str(fault.stemcell) for fault in release_faults))
            message += (
                f"Can't use release '{release}': expected to find stemcell for '{stemcells}'"
                " to be configured in exported_from'"
            )
        elif error is PackageMissingExportedFromError:
            message += f"Can't use release '{release}':\n"
            for stemcell in dict.fromkeys(fault.stemcell for fault in release_faults):
                message += (
                    f"Packages must be exported from stemcell '{stemcell}', but some packages"
                    " are not compiled for this stemcell:\n"
                )
                message += _listed(f for f in release_faults if f.stemcell == stemcell)
        elif several_stemcells:
            message += (
                f"Can't use release '{release}'. It references packages without source code"
                " and are not compiled against intended stemcells:\n"
            )
            for fault in sorted(release_faults, key=lambda f: f.package.name):
                message += (
                    f" - '{fault.package.name}/{fault.package.version}'"
                    f" against stemcell '{fault.stemcell}'\n"
                )
        else:
            message += (
                f"Can't use release '{release}'. It references packages without source code"
                f" and are not compiled against stemcell '{release_faults[0].stemcell}':\n"
            )
            message += _listed(release_faults)
    return error(message)


def _listed(faults: Iterable[_Fault]) -> str:
    names = dict.fromkeys(f"{fault.package.name}/{fault.package.version}" for fault in faults)
    return "".join(f" - '{name}'\n" for name in sorted(names))
