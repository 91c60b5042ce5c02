"""compile_packages on real pieces: the sample hello release (hello-app depends on
python-runtime) planned for the local stemcell and compiled by real agents on local CPI
compilation VMs; reuse on the next deploy; a failing packaging script."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bosh_core.director.configs import ConfigStore
from bosh_core.director.db.models import CompiledPackage, Instance, Package
from bosh_core.director.deployment_state import read_deployment_inputs
from bosh_core.director.jobs.compile_packages import (
    COMPILE_STAGE,
    PREPARE_STAGE,
    compile_packages,
)
from bosh_core.director.tasks.events import EventLog
from bosh_core.errors import BoshError
from bosh_core.planning.plan import DeploymentInputs, Plan, make_plan
from bosh_core.release.index import QuietReporter
from bosh_core.release.releasedir import ReleaseDir, write_release_tarball
from tests.core.director.agent_world import CPI_NAME, AgentWorld, agent_world, needs_root
from tests.core.director.hello_release import ROOT, build_hello_tarball, sample_manifest
from tests.core.director.jobs.local_cloud import Lines
from tests.core.director.records import add_stemcell, import_release

pytestmark = needs_root

DEPLOYMENT = "hello"
NETWORK_PREFIX = "127.244.32"


def _cloud_config() -> dict[str, Any]:
    return {
        "azs": [{"name": "z1", "cpi": CPI_NAME}],
        "vm_types": [{"name": "default"}],
        "networks": [
            {
                "name": "default",
                "type": "manual",
                "subnets": [
                    {
                        "range": f"{NETWORK_PREFIX}.0/24",
                        "gateway": f"{NETWORK_PREFIX}.1",
                        "azs": ["z1"],
                    }
                ],
            }
        ],
        "compilation": {
            "workers": 2,
            "az": "z1",
            "reuse_compilation_vms": True,
            "vm_type": "default",
            "network": "default",
        },
    }


def _broken_tarball(directory: Path) -> Path:
    """The sample release as release ``broken``, whose hello-app packaging fails."""
    source = directory / "broken-release"
    shutil.copytree(ROOT / "examples" / "hello-release", source)
    (source / "packages" / "hello-app" / "packaging").write_text("echo no luck >&2\nexit 3\n")
    release_dir = ReleaseDir(source, cache_dir=directory / "cache", reporter=QuietReporter())
    release = release_dir.build_release(
        name="broken", version=release_dir.next_dev_version("broken"), force=True
    )
    tarball = directory / "broken.tgz"
    write_release_tarball(release, tarball)
    return tarball


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentWorld]:
    root = tmp_path_factory.mktemp("compile")
    with agent_world(root, deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX) as made:
        director = made.director
        for tarball in (build_hello_tarball(root), _broken_tarball(root)):
            import_release(director.database, director.blobstore, tarball, scratch=root / "tmp")
        add_stemcell(director.database, "bosh-local-ubuntu", "1", cpi=CPI_NAME, cid=made.stemcell)
        ConfigStore(director.database).create_if_changed(
            "cloud", "default", yaml.safe_dump(_cloud_config())
        )
        yield made


def _plan(world: AgentWorld, release: str = "hello") -> tuple[Plan, DeploymentInputs]:
    manifest = sample_manifest()
    manifest["releases"] = [{"name": release, "version": "latest"}]
    manifest["instance_groups"][0]["jobs"][0]["release"] = release
    inputs = read_deployment_inputs(world.director.database, manifest)
    return make_plan(inputs), inputs


def _compile(world: AgentWorld, plan: Plan, inputs: DeploymentInputs, lines: Lines) -> Any:
    return compile_packages(
        world.director,
        plan,
        deployment=DEPLOYMENT,
        cloud_config=inputs.cloud_config,
        stemcells=inputs.stemcells,
        event_log=EventLog(lines),
        task_id=5,
        user="ops",
        clouds=world.clouds,
        agent_wait_timeout=30,
    )


def _builds(world: AgentWorld, release_package: str) -> int:
    with world.director.database.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(CompiledPackage)
                .join(Package)
                .where(Package.name == release_package)
            )
            or 0
        )


def _compilation_instances(world: AgentWorld) -> int:
    with world.director.database.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Instance).where(Instance.compilation.is_(True))
            )
            or 0
        )


def test_packages_compile_in_dependency_order_then_are_reused(world: AgentWorld) -> None:
    plan, inputs = _plan(world)
    assert [item.key.package for item in plan.compilation.to_compile] == [
        "python-runtime",
        "hello-app",
    ]
    lines = Lines()

    made = _compile(world, plan, inputs, lines)

    assert sorted(key.package for key in made) == ["hello-app", "python-runtime"]
    assert all(record.build.build == 1 for record in made.values())
    finished = lines.finished()
    assert finished[0] == (PREPARE_STAGE, "Finding packages to compile")
    compiled = [task for stage, task in finished if stage == COMPILE_STAGE]
    assert [task.split("/")[0] for task in compiled] == ["python-runtime", "hello-app"]
    assert world.cloud_vms() == [] and _compilation_instances(world) == 0
    created = world.director.events.list(task=5, action="create", object_type="vm")
    # reuse_compilation_vms: hello-app waited for python-runtime, so one VM did both.
    assert [(event.instance or "").split("/")[0][:12] for event in created] == ["compilation-"] * 2
    with world.director.database.read() as session:
        app = session.scalar(
            select(CompiledPackage).join(Package).where(Package.name == "hello-app")
        )
        assert app is not None and app.stemcell_os == "ubuntu-jammy"
        assert app.stemcell_version == "1" and app.dependency_key.startswith('[["python-runtime"')
    assert world.director.blobstore.exists(app.blobstore_id)

    # The next deploy plans with those builds: nothing left to compile, no VM made.
    plan, inputs = _plan(world)
    assert plan.compilation.to_compile == () and len(plan.compilation.reused) == 2
    lines = Lines()
    assert _compile(world, plan, inputs, lines) == {}
    assert [stage for stage, _ in lines.finished()] == [PREPARE_STAGE]
    assert _builds(world, "hello-app") == 1


def test_a_failing_packaging_script_fails_the_stage_and_leaves_no_vm(world: AgentWorld) -> None:
    plan, inputs = _plan(world, release="broken")
    lines = Lines()

    with pytest.raises(BoshError, match="hello-app"):
        _compile(world, plan, inputs, lines)

    failed = [
        (entry["stage"], entry["task"])
        for entry in lines.entries()
        if entry.get("state") == "failed"
    ]
    assert [(stage, task.split("/")[0]) for stage, task in failed] == [(COMPILE_STAGE, "hello-app")]
    assert world.cloud_vms() == [] and _compilation_instances(world) == 0
    with world.director.database.read() as session:
        broken = session.scalars(
            select(CompiledPackage.id).join(Package).where(Package.name == "hello-app")
        ).all()
    assert len(broken) == 1  # hello's build only; broken's python-runtime was compiled
