"""Compilation planning: dependency keys, the reuse rule, the DAG a worker pool walks."""

from __future__ import annotations

import json

import pytest

from bosh_core import serialization
from bosh_core.director.errors import (
    PackageMissingExportedFromError,
    PackageMissingSourceCodeError,
    ReleasePackageDependencyError,
    StemcellNotPresentInExportedFromError,
)
from bosh_core.director.views import manifest_dependency_key
from bosh_core.planning.compilation import (
    CompiledBuild,
    CompileQueue,
    PackageNeed,
    ReleasePackage,
    ReleaseVersion,
    RequirementKey,
    StemcellRef,
    UnknownDependencyError,
    dependency_key,
    plan_compilation,
)

JAMMY = StemcellRef("ubuntu-jammy", "1.123")


def _release(
    *packages: ReleasePackage, exported_from: tuple[StemcellRef, ...] = ()
) -> ReleaseVersion:
    return ReleaseVersion(name="app", version="1", packages=packages, exported_from=exported_from)


# app -> (lib, ruby); ruby -> lib; lib -> ()
LIB = ReleasePackage(name="lib", version="1.0")
RUBY = ReleasePackage(name="ruby", version="3.2", dependencies=("lib",))
APP = ReleasePackage(name="app", version="7", dependencies=("ruby", "lib"))
RELEASE = _release(APP, RUBY, LIB)


def _need(
    release: ReleaseVersion = RELEASE,
    group: str = "web",
    *names: str,
    stemcell: StemcellRef = JAMMY,
) -> PackageNeed:
    return PackageNeed(
        instance_group=group, release=release, packages=names or ("app",), stemcell=stemcell
    )


def _build(package: ReleasePackage, stemcell: StemcellRef, key: str | None = None) -> CompiledBuild:
    packages = {item.name: item for item in (APP, RUBY, LIB)}
    return CompiledBuild(
        id=f"{package.name}-{stemcell}",
        release="app",
        package=package.name,
        package_version=package.version,
        stemcell=stemcell,
        dependency_key=key if key is not None else dependency_key(package, packages),
    )


def test_dependency_key_is_the_sorted_transitive_tree_as_compact_json() -> None:
    packages = {item.name: item for item in (APP, RUBY, LIB)}
    assert dependency_key(LIB, packages) == "[]"
    assert json.loads(dependency_key(APP, packages)) == [
        ["lib", "1.0"],
        ["ruby", "3.2", [["lib", "1.0"]]],
    ]
    assert " " not in dependency_key(APP, packages)


def test_dependency_key_names_a_missing_dependency() -> None:
    with pytest.raises(UnknownDependencyError) as caught:
        dependency_key(RUBY, {"ruby": RUBY})
    assert (caught.value.package, caught.value.dependency) == ("ruby", "lib")


def test_manifest_dependency_key_uses_the_shared_function() -> None:
    compiled = [
        {"name": "app", "version": "7", "dependencies": ["ruby", "lib"]},
        {"name": "ruby", "version": "3.2", "dependencies": ["lib"]},
        {"name": "lib", "version": "1.0", "dependencies": []},
    ]
    assert manifest_dependency_key("app", compiled) == dependency_key(
        APP, {p.name: p for p in (APP, RUBY, LIB)}
    )


def test_requirements_come_in_dependency_order_with_their_groups() -> None:
    plan = plan_compilation([_need(), _need(RELEASE, "worker", "ruby")], [])
    names = [item.key.package for item in plan.requirements]
    assert names.index("lib") < names.index("ruby") < names.index("app")
    by_name = {item.key.package: item for item in plan.requirements}
    assert by_name["ruby"].instance_groups == ("web", "worker")
    assert by_name["app"].instance_groups == ("web",)
    assert {dep.package for dep in by_name["app"].dependencies} == {"lib", "ruby"}
    assert [item.key.package for item in plan.ready()] == ["lib"]


def test_each_stemcell_is_its_own_requirement() -> None:
    other = StemcellRef("ubuntu-noble", "1.5")
    plan = plan_compilation([_need(), _need(RELEASE, "db", "lib", stemcell=other)], [])
    assert {(item.key.package, item.key.stemcell) for item in plan.requirements} == {
        ("lib", "ubuntu-jammy/1.123"),
        ("ruby", "ubuntu-jammy/1.123"),
        ("app", "ubuntu-jammy/1.123"),
        ("lib", "ubuntu-noble/1.5"),
    }


def test_exact_builds_are_reused_and_the_rest_is_ready_in_order() -> None:
    plan = plan_compilation([_need()], [_build(LIB, JAMMY), _build(RUBY, JAMMY)])
    assert [item.key.package for item in plan.reused] == ["lib", "ruby"]
    assert [item.key.package for item in plan.to_compile] == ["app"]
    assert [item.key.package for item in plan.ready()] == ["app"]


def test_a_build_with_another_dependency_key_is_not_reused() -> None:
    plan = plan_compilation([_need()], [_build(RUBY, JAMMY, key='[["lib","0.9"]]')])
    assert {item.key.package for item in plan.to_compile} == {"lib", "ruby", "app"}


def test_source_packages_are_recompiled_for_another_stemcell_version() -> None:
    plan = plan_compilation(
        [_need(RELEASE, "web", "lib")], [_build(LIB, StemcellRef("ubuntu-jammy", "1.90"))]
    )
    assert [item.key.package for item in plan.to_compile] == ["lib"]


def test_packages_without_source_reuse_the_newest_build_of_the_same_major() -> None:
    lib = ReleasePackage(name="lib", version="1.0", has_source=False)
    release = _release(lib)
    builds = [
        _build(LIB, StemcellRef("ubuntu-jammy", "1.90")),
        _build(LIB, StemcellRef("ubuntu-jammy", "1.100")),
        _build(LIB, StemcellRef("ubuntu-jammy", "2.1")),
        _build(LIB, StemcellRef("ubuntu-noble", "1.200")),
    ]
    plan = plan_compilation([_need(release, "web", "lib")], builds)
    (requirement,) = plan.requirements
    assert requirement.reuse is not None
    assert requirement.reuse.stemcell == StemcellRef("ubuntu-jammy", "1.100")
    assert plan.to_compile == ()


def test_packages_without_source_or_build_are_reported_together() -> None:
    lib = ReleasePackage(name="lib", version="1.0", has_source=False)
    ruby = ReleasePackage(name="ruby", version="3.2", dependencies=("lib",), has_source=False)
    with pytest.raises(PackageMissingSourceCodeError) as caught:
        plan_compilation([_need(_release(ruby, lib), "web", "ruby")], [])
    assert str(caught.value) == (
        "\nCan't use release 'app/1'. It references packages without source code and are not"
        " compiled against stemcell 'ubuntu-jammy/1.123':\n - 'lib/1.0'\n - 'ruby/3.2'\n"
    )
    assert caught.value.error_code == 60001


def test_exported_from_takes_only_builds_of_those_stemcells() -> None:
    exported = StemcellRef("ubuntu-jammy", "1.90")
    lib = ReleasePackage(name="lib", version="1.0", has_source=False)
    plan = plan_compilation(
        [_need(_release(lib, exported_from=(exported,)), "web", "lib")],
        [_build(LIB, JAMMY), _build(LIB, exported)],
    )
    reuse = plan.requirements[0].reuse
    assert reuse is not None and reuse.stemcell == exported
    with pytest.raises(
        PackageMissingExportedFromError,
        match=r"Packages must be exported from stemcell 'ubuntu-jammy/1\.90'",
    ):
        plan_compilation(
            [_need(_release(lib, exported_from=(exported,)), "web", "lib")], [_build(LIB, JAMMY)]
        )
    with pytest.raises(
        StemcellNotPresentInExportedFromError,
        match=r"expected to find stemcell for 'ubuntu-jammy/1\.123'",
    ):
        plan_compilation(
            [
                _need(
                    _release(lib, exported_from=(StemcellRef("ubuntu-jammy", "2.0"),)), "web", "lib"
                )
            ],
            [],
        )


def test_a_dependency_cycle_is_refused() -> None:
    a = ReleasePackage(name="a", version="1", dependencies=("b",))
    b = ReleasePackage(name="b", version="1", dependencies=("a",))
    with pytest.raises(ReleasePackageDependencyError, match="Cycle: a=>b=>a"):
        plan_compilation([_need(_release(a, b), "web", "a")], [])


def test_the_queue_hands_out_each_requirement_once_as_it_becomes_ready() -> None:
    plan = plan_compilation([_need()], [])
    queue = CompileQueue(plan)
    assert [item.key.package for item in queue.ready()] == ["lib"]
    assert queue.ready() == []
    lib = RequirementKey("app", "lib", "1.0", "ubuntu-jammy/1.123")
    assert [item.key.package for item in queue.complete(lib)] == ["ruby"]
    assert not queue.finished
    (ruby,) = plan.dependents(lib)[:1]
    assert [item.key.package for item in queue.complete(ruby)] == ["app"]
    app = RequirementKey("app", "app", "7", "ubuntu-jammy/1.123")
    assert queue.complete(app) == []
    assert queue.finished
    with pytest.raises(ValueError, match="not waiting"):
        queue.complete(app)


def test_a_wide_diamond_graph_plans_fast_and_unstructures_to_json() -> None:
    base = ReleasePackage(name="base", version="1")
    middle = [
        ReleasePackage(name=f"m{i:03}", version="1", dependencies=("base",)) for i in range(300)
    ]
    top = ReleasePackage(name="top", version="1", dependencies=tuple(p.name for p in middle))
    plan = plan_compilation([_need(_release(top, *middle, base), "web", "top")], [])
    assert len(plan.requirements) == 302
    assert len(plan.dependents(plan.requirements[0].key)) == 300
    document = serialization.converter.unstructure(plan)
    assert json.loads(json.dumps(document))["requirements"][0]["key"]["package"] == "base"
