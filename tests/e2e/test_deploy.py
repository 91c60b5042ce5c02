"""`bosh deploy` end to end on `bosh local up`: the seed's eight steps of creating a VM,
asserted one by one, then the deploys an operator runs next.

Real pieces only: the CLI in a subprocess, the director and its workers in their own
process (SQLite with the database queue, and PostgreSQL with the Redis queue), the
embedded TLS NATS, the local CPI making VMs in namespaces on a bridge, the real agent in
each, ruby rendering the templates, the sample release compiled on compilation VMs and
served by its job on each VM's address. The tests of a module share one environment and
run in file order, as an operator would: deploy, change a property, change the VM type,
break a job, dry-run, scale down.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from bosh_core.client import Director
from bosh_core.client.director import InstanceRecord, Task, VMInfo
from bosh_core.cpi.local import LocalCPI
from bosh_core.cpi.types import VMCID, CPIContext
from bosh_core.local import LocalEnvironment
from tests.core.director.backends import redis_queue, throwaway_database
from tests.core.director.conftest import ADMIN_URL, postgres_admin
from tests.core.local.support import run_bosh

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="VMs with their own network need root"),
    pytest.mark.skipif(shutil.which("ruby") is None, reason="job templates are rendered by ruby"),
]

__all__ = ["postgres_admin"]  # the fixture, for the PostgreSQL world

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "hello"
#: A Redis db of this module's own: the queue's keys have a fixed prefix.
REDIS_URL = "redis://127.0.0.1:6379/5"


@attrs.frozen
class World:
    local: LocalEnvironment

    def bosh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = run_bosh(self.local, "-n", *args, timeout=600)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def director(self) -> Director:
        return self.local.env().director()

    def cpi(self) -> LocalCPI:
        return LocalCPI({"dir": str(self.local.cpi_dir)}, context=CPIContext())

    def deploy(self, manifest: Mapping[str, Any], *args: str, check: bool = True) -> str:
        path = self.local.directory / "manifest.yml"
        path.write_text(yaml.safe_dump(dict(manifest)))
        return self.bosh("-d", DEPLOYMENT, "deploy", str(path), *args, check=check).stdout


@contextlib.contextmanager
def backends(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, str | None]]:
    """`LocalEnvironment`'s database and queue: none (SQLite, the database queue), or a
    throwaway PostgreSQL database and a Redis db of this module's own."""
    if request.param == "sqlite":
        yield None, None
        return
    admin = request.getfixturevalue("postgres_admin")
    with (
        throwaway_database(admin, ADMIN_URL, prefix="bosh_e2e") as (_, database),
        redis_queue(REDIS_URL),
    ):
        yield database, REDIS_URL


@pytest.fixture(scope="module", params=["sqlite", "postgresql+redis"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with backends(request) as (database, queue):
        directory = tmp_path_factory.mktemp("e2e") / "local"
        local = LocalEnvironment(directory, database=database, queue=queue)
        try:
            local.up()
            yield World(local)
        finally:
            local.delete()


def sample_manifest(**group: Any) -> dict[str, Any]:
    """The sample manifest with 3 instances (`bosh local up` deployed 2), short watch
    times, and `group`'s keys over the instance group's."""
    manifest: dict[str, Any] = yaml.safe_load(
        (ROOT / "examples" / "hello-deployment.yml").read_text()
    )
    manifest["update"] = {
        **manifest["update"],
        "canary_watch_time": "1000-20000",
        "update_watch_time": "1000-20000",
    }
    manifest["instance_groups"][0].update({"instances": 3, **group})
    return manifest


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def vms(world: World) -> list[InstanceRecord]:
    with world.director() as director:
        return director.vms_db(DEPLOYMENT)


def instances(world: World) -> list[VMInfo]:
    with world.director() as director:
        return director.instance_infos(DEPLOYMENT)


def last_deploy(world: World) -> Task:
    with world.director() as director:
        return next(t for t in director.tasks(limit=20) if "deployment" in t.description)


def task_events(world: World) -> list[dict[str, Any]]:
    """The event lines of the newest deploy task."""
    with world.director() as director:
        output = director.task_output(last_deploy(world).id, "event")
    return [json.loads(line) for line in output.data.decode().splitlines() if line.strip()]


def assert_in_no_task_output_or_event(world: World, secret: str) -> None:
    """`secret` is in no task's result nor in any of its outputs (``event``, ``result``,
    ``debug``, ``cpi``), and in no audit event (every page of ``GET /events``, as sent)."""
    with world.director() as director:
        tasks = director.tasks(limit=1000, all_types=True)
        deploys = [task for task in tasks if "deployment" in task.description]
        assert len(deploys) >= 2  # `bosh local up`'s and this test's
        for task in tasks:
            assert secret not in (task.result or ""), f"task {task.id}'s result"
            for output_type in ("event", "result", "debug", "cpi"):
                data = director.task_output(task.id, output_type).data
                assert secret.encode() not in data, f"task {task.id}'s {output_type} output"
        # Not vacuous: the newest deploy logged its steps and its CPI calls.
        for output_type in ("event", "debug", "cpi"):
            assert director.task_output(deploys[0].id, output_type).data, output_type
        before_id, seen = "", 0
        while True:
            response = director.curl(
                "GET", "/events" + (f"?before_id={before_id}" if before_id else "")
            )
            assert response.status_code == 200
            assert secret.encode() not in response.body, f"events before '{before_id}'"
            page = json.loads(response.body)
            seen += len(page)
            if len(page) < 200:  # the director's page size
                break
            before_id = str(page[-1]["id"])
        assert seen > 0


def test_deploy_creates_vms_whose_agents_configure_them_and_run_the_job(world: World) -> None:
    # `bosh local up` deployed the sample with 2 instances; the CLI scales it to 3.
    assert len(vms(world)) == 2
    output = world.deploy(sample_manifest())

    # 1. CLI -> director: the deploy is a task the CLI followed to its end.
    assert "Creating missing vms: hello/" in output
    assert "Updating instance hello: hello/" in output
    task = last_deploy(world)
    assert (task.state, task.description, task.result) == (
        "done",
        "create deployment",
        f"/deployments/{DEPLOYMENT}",
    )
    recorded = vms(world)
    assert len(recorded) == 3
    cpi = world.cpi()
    for vm in recorded:
        assert vm.vm_cid is not None and vm.agent_id is not None
        # 2. director -> CPI: the cloud has the VM the director recorded.
        assert cpi.has_vm(VMCID(vm.vm_cid))
        vm_dir = world.local.cpi_dir / "vms" / vm.vm_cid
        state = json.loads((vm_dir / "state.json").read_text())
        # 3. the VM's settings were written for its agent, with its address.
        settings = json.loads((vm_dir / "settings.json").read_text())
        assert settings["agent_id"] == vm.agent_id == state["agent_id"]
        [network] = settings["networks"].values()
        assert [network["ip"]] == list(vm.ips)
        # 4. the agent fetched them: it answers the director under that agent id.
        # 5. and configured the VM: its interface has the address, its job is installed.
        addresses = subprocess.run(
            ["ip", "-n", state["netns"], "-4", "-o", "addr"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"inet {network['ip']}/" in addresses
        assert (vm_dir / "vcap" / "jobs" / "hello" / "config" / "hello.json").is_file()
    listed = instances(world)
    assert {item.agent_id for item in listed} == {vm.agent_id for vm in recorded}
    passwords = set()
    for item in listed:
        # 6. the job runs, 7. and answers on the VM's own address.
        assert item.job_state == "running"
        assert http_get(f"http://{item.ips[0]}:8080/") == "Hello from BOSH!\n"
        # Its visits are counted on its persistent disk, shown with the generated password.
        [disk] = item.disk_cids
        assert (world.local.cpi_dir / "disks" / disk / "hello" / "visits").read_text() == "1\n"
        config = json.loads(
            (world.local.cpi_dir / "vms" / str(item.vm_cid) / "vcap" / "jobs" / "hello"
             / "config" / "hello.json").read_text()
        )  # fmt: skip
        assert len(config["password"]) == 20
        passwords.add(config["password"])
        visits = urllib.request.Request(f"http://{item.ips[0]}:8080/visits")
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(visits, timeout=5)
        token = base64.b64encode(f"admin:{config['password']}".encode()).decode()
        visits.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(visits, timeout=5) as response:
            assert json.loads(response.read()) == {"visits": 1}
    # The generated ((hello_password)) reached the jobs, and nothing an operator reads.
    [password] = passwords
    assert_in_no_task_output_or_event(world, password)


def test_a_second_deploy_without_changes_does_nothing(world: World) -> None:
    before = {vm.vm_cid for vm in vms(world)}
    output = world.deploy(sample_manifest())

    assert "Updating instance" not in output and "Creating missing vms" not in output
    assert {vm.vm_cid for vm in vms(world)} == before


def test_a_changed_property_restarts_the_instances_canary_first(world: World) -> None:
    before = {vm.vm_cid for vm in vms(world)}
    jobs = [{"name": "hello", "release": "hello", "properties": {"message": "Changed!"}}]
    world.deploy(sample_manifest(jobs=jobs))

    updates = [
        event["task"]
        for event in task_events(world)
        if event.get("stage") == "Updating instance" and event.get("state") == "started"
    ]
    assert len(updates) == 3 and updates[0].endswith("(canary)")
    assert not any(update.endswith("(canary)") for update in updates[1:])
    # Restarted on the same VMs, serving the new message.
    assert {vm.vm_cid for vm in vms(world)} == before
    for item in instances(world):
        assert http_get(f"http://{item.ips[0]}:8080/") == "Changed!\n"


def test_a_changed_vm_type_recreates_the_vms_keeping_their_addresses(world: World) -> None:
    with world.director() as director:
        current = director.latest_config("cloud", "default")
    assert current is not None
    cloud = yaml.safe_load(current.content)
    cloud["vm_types"].append({"name": "bigger", "cloud_properties": {"size": "bigger"}})
    path = world.local.directory / "cloud.yml"
    path.write_text(yaml.safe_dump(cloud))
    world.bosh("update-cloud-config", str(path))
    before = {vm.vm_cid: vm.ips for vm in vms(world)}

    world.deploy(sample_manifest(vm_type="bigger"))

    after = {vm.vm_cid: vm.ips for vm in vms(world)}
    assert not set(after) & set(before)
    assert sorted(after.values()) == sorted(before.values())
    assert all(not world.cpi().has_vm(VMCID(str(cid))) for cid in before)
    assert all(item.job_state == "running" for item in instances(world))


def test_a_failing_job_fails_the_deploy_with_the_reference_message(world: World) -> None:
    # An address no VM has: the server dies at start, again and again.
    jobs = [{"name": "hello", "release": "hello", "properties": {"listen_address": "10.9.9.9"}}]
    result = world.deploy(sample_manifest(vm_type="bigger", jobs=jobs), check=False)

    assert "is not running after update. Review logs for failed jobs: hello" in result
    assert last_deploy(world).state == "error"
    # Fixed again, the next deploy brings every instance back.
    world.deploy(sample_manifest(vm_type="bigger"))
    assert all(item.job_state == "running" for item in instances(world))


def test_a_dry_run_changes_nothing(world: World) -> None:
    before = [(vm.vm_cid, vm.ips) for vm in vms(world)]
    output = world.deploy(sample_manifest(vm_type="default", instances=5), "--dry-run")

    assert "Updating instance" not in output and "Creating missing vms" not in output
    assert [(vm.vm_cid, vm.ips) for vm in vms(world)] == before


def test_scaling_down_deletes_the_highest_indexes(world: World) -> None:
    by_index = {vm.index: vm for vm in vms(world)}
    assert sorted(by_index) == [0, 1, 2]

    world.deploy(sample_manifest(vm_type="bigger", instances=1))

    assert [vm.index for vm in vms(world)] == [0]
    assert not world.cpi().has_vm(VMCID(str(by_index[1].vm_cid)))
    assert not world.cpi().has_vm(VMCID(str(by_index[2].vm_cid)))
    assert world.cpi().has_vm(VMCID(str(by_index[0].vm_cid)))
