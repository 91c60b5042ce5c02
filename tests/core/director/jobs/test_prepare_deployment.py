"""prepare_deployment (the dry run of a deploy) on SQLite and PostgreSQL with the sample
release uploaded: event stages, variables, rendering, errors and the lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bosh_core.director import locks as locks_module
from bosh_core.director.api import DirectorConfig
from bosh_core.director.api.app import Director
from bosh_core.director.api.auth import BasicAuthenticator
from bosh_core.director.configs import ConfigStore
from bosh_core.director.db import Database
from bosh_core.director.db.models import Lock, VariableSet
from bosh_core.director.errors import (
    InstanceGroupUnknownVmTypeError,
    LockTimeoutError,
    ReleaseInUseError,
)
from bosh_core.director.jobs.delete_release import delete_release
from bosh_core.director.jobs.prepare_deployment import (
    DeployOptions,
    PreparedDeployment,
    prepare_deployment,
)
from bosh_core.director.locks import release_lock
from bosh_core.director.tasks.events import EventLog
from bosh_core.planning.changes import InstanceAction
from bosh_core.templates import RenderErrors, TemplateRenderer
from tests.core.director.hello_release import build_hello_tarball, install_hello, sample_manifest
from tests.core.director.jobs.local_cloud import Lines


@pytest.fixture(scope="session")
def hello_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hello_tarball(tmp_path_factory.mktemp("hello"))


@pytest.fixture(scope="module")
def renderer() -> Iterator[TemplateRenderer]:
    with TemplateRenderer() as shared:
        yield shared


@pytest.fixture
def director(database: Database, hello_tarball: Path, tmp_path: Path) -> Director:
    config = DirectorConfig(name="test-director", data_dir=tmp_path / "director")
    director = Director(config, database, BasicAuthenticator(()))
    install_hello(database, director.blobstore, hello_tarball, tmp_path / "scratch")
    return director


class Run:
    def __init__(self, director: Director, renderer: TemplateRenderer) -> None:
        self.director = director
        self.renderer = renderer
        self.lines = Lines()

    def __call__(self, manifest: dict[str, Any], **options: Any) -> PreparedDeployment:
        self.lines = Lines()
        with prepare_deployment(
            self.director,
            yaml.safe_dump(manifest),
            options=DeployOptions(dry_run=True, **options),
            event_log=EventLog(self.lines),
            task_id=7,
            renderer=self.renderer,
        ) as prepared:
            return prepared

    def tasks(self) -> list[tuple[str, str, str]]:
        return [
            (entry["stage"], entry["task"], entry["state"])
            for entry in self.lines.entries()
            if "stage" in entry
        ]

    def count(self, model: type[Any]) -> int:
        with self.director.database.read() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def run(director: Director, renderer: TemplateRenderer) -> Run:
    return Run(director, renderer)


def _config(prepared: PreparedDeployment, index: int) -> dict[str, Any]:
    rendered = prepared.rendered[index].job("hello").file("config/hello.json")
    document: dict[str, Any] = json.loads(rendered.content)
    return document


def test_a_dry_run_plans_and_renders_every_instance(run: Run) -> None:
    prepared = run(sample_manifest())

    assert run.tasks() == [
        ("Preparing deployment", "Preparing deployment", "started"),
        ("Preparing deployment", "Preparing deployment", "finished"),
        ("Preparing deployment", "Rendering templates", "started"),
        ("Preparing deployment", "Rendering templates", "finished"),
    ]
    plan = prepared.plan
    assert [i.action for i in plan.instances] == [InstanceAction.CREATE] * 2
    assert [r.id for r in prepared.rendered] == [i.uuid for i in plan.instances]
    for instance, rendered in zip(plan.instances, prepared.rendered, strict=True):
        assert instance.spec["configuration_hash"] == rendered.configuration_hash
    config = _config(prepared, 1)
    assert config["message"] == "Hello from BOSH!"
    assert config["instance"]["index"] == 1 and config["instance"]["az"] == "z1"
    assert config["peers"] == ["http://10.244.0.2:8080", "http://10.244.0.3:8080"]
    assert run.count(Lock) == 0  # released
    assert run.count(VariableSet) == 1


def test_variables_are_generated_and_never_logged(run: Run) -> None:
    manifest = sample_manifest()
    manifest["variables"].append({"name": "greeting", "type": "password"})
    manifest["instance_groups"][0]["jobs"][0]["properties"]["message"] = "((greeting))"

    prepared = run(manifest)

    password = _config(prepared, 0)["message"]
    assert len(password) == 20 and "((" not in password
    assert _config(prepared, 1)["message"] == password
    assert password not in "".join(run.lines.lines)


def test_every_rendering_error_is_reported_together(run: Run) -> None:
    manifest = sample_manifest()
    manifest["instance_groups"][0]["jobs"][0]["properties"]["port"] = "not-a-port"

    with pytest.raises(RenderErrors) as raised:
        run(manifest)

    assert len({error.index for error in raised.value.errors}) == 2
    assert str(raised.value).startswith(
        "Unable to render instance groups for deployment. Errors are:\n"
        "  - Unable to render jobs for instance group 'hello'. Errors are:"
    )
    assert run.tasks()[-1] == ("Preparing deployment", "Rendering templates", "failed")
    assert run.count(Lock) == 0


def test_a_planning_error_fails_the_preparing_task(run: Run) -> None:
    manifest = sample_manifest()
    manifest["instance_groups"][0]["vm_type"] = "huge"

    with pytest.raises(InstanceGroupUnknownVmTypeError):
        run(manifest)

    assert run.tasks()[-1] == ("Preparing deployment", "Preparing deployment", "failed")
    assert run.count(Lock) == 0


def test_the_configs_of_the_requests_context_are_used_even_when_newer_ones_exist(
    run: Run,
) -> None:
    # `bosh deploy` sends back the config ids its diff showed; a cloud config updated
    # meanwhile must not be deployed unseen.
    store = ConfigStore(run.director.database)
    shown = store.deploy_configs()
    current = store.current("cloud", "default")
    assert current is not None
    renamed = current.content.replace("vm_types:\n- name: default", "vm_types:\n- name: renamed")
    renamed = renamed.replace("  vm_type: default", "  vm_type: renamed")  # compilation's
    assert renamed.count("renamed") == 2
    store.create_if_changed("cloud", "default", renamed)

    with pytest.raises(InstanceGroupUnknownVmTypeError):
        run(sample_manifest())  # the newest config has no vm_type 'default'

    prepared = run(sample_manifest(), configs=shown)
    assert prepared.configs == shown
    assert prepared.inputs.cloud_config.vm_types[0].name == "default"


def test_the_releases_are_locked_while_they_are_read(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the reference binds its releases under their locks: a release being deleted or
    # uploaded is not read half-way.
    monkeypatch.setattr(locks_module, "RELEASE_LOCK_TIMEOUT", 0.2)
    with (
        run.director.locks.acquire(release_lock("hello"), task_id=99),
        pytest.raises(LockTimeoutError, match=r"lock:release:hello .* Locking task id is 99"),
    ):
        run(sample_manifest())
    assert run.tasks()[-1] == ("Preparing deployment", "Preparing deployment", "failed")
    assert run.count(Lock) == 0
    assert run(sample_manifest()).plan.instances
    # Once read, the release version and the stemcell are the deployment's: deleting them
    # is refused from then on, not only at the deploy's end.
    with pytest.raises(ReleaseInUseError, match="still in use by: hello"):
        delete_release(
            run.director.database,
            run.director.blobstore,
            "hello",
            event_log=EventLog(Lines()),
            locks=run.director.locks,
            task_id=8,
        )
