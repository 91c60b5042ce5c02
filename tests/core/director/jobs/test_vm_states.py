"""The ``vms`` task on real agents: VMs made by the VM factory in the local CPI, one of
them running a job; a VM whose agent is gone; an instance without a VM; an inactive VM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import select

from bosh_core.cpi.types import VMCID
from bosh_core.director.api import Director
from bosh_core.director.db.models import VM, Instance, PersistentDisk
from bosh_core.director.jobs.registry import job_functions
from bosh_core.director.jobs.vm_states import vm_states
from bosh_core.director.tasks.output import TaskOutput
from bosh_core.director.tasks.runner import JobContext
from bosh_core.director.vms import VMFactory
from tests.core.director.agent_world import (
    AZS,
    STEMCELL_NAME,
    AgentWorld,
    agent_world,
    needs_root,
    planned_instance,
    start_tiny_job,
)

pytestmark = needs_root

DEPLOYMENT = "states"
NETWORK_PREFIX = "127.244.34"  # loopback mode: VMs share the host's network stack
KEYS = [
    "vm_cid", "active", "vm_created_at", "cloud_properties", "disk_cid", "disk_cids", "ips",
    "agent_id", "job_name", "index", "job_state", "state", "vm_type", "vitals", "processes",
    "az", "id", "bootstrap", "ignore", "stemcell",
]  # fmt: skip


@attrs.frozen
class Deployed:
    world: AgentWorld
    running: str  # web/0's uuid: a VM whose agent runs job 'tiny'
    without_vm: str  # web/1's uuid
    gone: str  # web/2's uuid: its VM's row stays, the VM and its agent are gone
    only_inactive: str  # web/3's uuid: only an inactive VM (its agent never existed)


def _record(director: Director, uuid: str, **columns: Any) -> None:
    with director.database.write() as session:
        instance = session.scalar(select(Instance).where(Instance.uuid == uuid))
        assert instance is not None
        for name, value in columns.items():
            setattr(instance, name, value)


def _add_vm(director: Director, uuid: str, *, cid: str, agent_id: str, active: bool) -> None:
    with director.database.write() as session:
        instance = session.scalar(select(Instance).where(Instance.uuid == uuid))
        assert instance is not None
        session.add(VM(instance=instance, cid=cid, agent_id=agent_id, active=active))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("vm-states")
    with agent_world(root, deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX) as world:
        director = world.director
        factory = VMFactory(director, clouds=world.clouds, azs=AZS, agent_wait_timeout=30)
        instances = [
            planned_instance(
                director, deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX, index=i, env={}
            )
            for i in range(4)
        ]
        running, gone = (
            factory.create(instances[i], deployment=DEPLOYMENT, stemcell_cid=world.stemcell)
            for i in (0, 2)
        )
        assert running.agent_id is not None and gone.cid is not None
        start_tiny_job(director, running.agent_id, root, deployment=DEPLOYMENT)
        world.cpi.delete_vm(VMCID(gone.cid))  # behind the director's back
        spec = {
            "vm_type": {"name": "small", "cloud_properties": {"cpu": 2}},
            "stemcell": {"name": STEMCELL_NAME, "version": "1"},
        }
        _record(director, instances[0].uuid, spec=spec, bootstrap=True)
        _record(director, instances[1].uuid, spec=spec, state="stopped", ignore=True)
        with director.database.write() as session:
            session.add_all(
                PersistentDisk(instance_id=instance_id, disk_cid=cid, name=name, size=1, active=a)
                for instance_id, cid, name, a in [
                    (running.instance_id, "disk-managed", "", True),
                    (running.instance_id, "disk-named", "data", True),
                    (running.instance_id, "disk-old", "", False),
                ]
            )
        _add_vm(director, instances[0].uuid, cid="vm-next", agent_id="agent-next", active=False)
        _add_vm(director, instances[3].uuid, cid="vm-lone", agent_id="agent-lone", active=False)
        yield Deployed(
            world=world,
            running=instances[0].uuid,
            without_vm=instances[1].uuid,
            gone=instances[2].uuid,
            only_inactive=instances[3].uuid,
        )


def _lines(deployed: Deployed, *, every_instance: bool) -> dict[tuple[str, str | None], Any]:
    """The task's lines by (instance uuid, VM cid), each checked to have the reference's
    keys in its order."""
    written: list[str] = []
    director = deployed.world.director
    result = vm_states(
        director.database,
        director.agents,
        DEPLOYMENT,
        every_instance=every_instance,
        write=written.append,
    )
    assert result == ""
    lines = [json.loads(text) for text in written]
    assert all(text.endswith("\n") for text in written)
    assert all(list(line) == KEYS for line in lines)
    return {(line["id"], line["vm_cid"]): line for line in lines}


def test_instances_are_every_instance_with_its_agents_state(deployed: Deployed) -> None:
    lines = _lines(deployed, every_instance=True)

    running_key = next(key for key in lines if key[0] == deployed.running)
    assert set(lines) == {
        running_key,
        (deployed.without_vm, None),
        (deployed.gone, next(key[1] for key in lines if key[0] == deployed.gone)),
        (deployed.only_inactive, None),
    }
    running = lines[running_key]
    assert running["job_state"] == "running"
    assert set(running["vitals"]) == {"cpu", "disk", "load", "mem", "swap", "uptime"}
    assert [(p["name"], p["state"]) for p in running["processes"]] == [("tiny", "running")]
    assert set(running["processes"][0]) == {"name", "state", "uptime", "mem", "cpu"}
    assert {key: running[key] for key in KEYS if key not in ("vitals", "processes")} == {
        "vm_cid": running_key[1],
        "active": True,
        "vm_created_at": running["vm_created_at"],
        "cloud_properties": {"cpu": 2},
        "disk_cid": "disk-managed",
        "disk_cids": ["disk-managed", "disk-named"],
        "ips": [f"{NETWORK_PREFIX}.10"],
        "agent_id": running["agent_id"],
        "job_name": "web",
        "index": 0,
        "job_state": "running",
        "state": "started",
        "vm_type": "small",
        "az": "z1",
        "id": deployed.running,
        "bootstrap": True,
        "ignore": False,
        "stemcell": {"name": STEMCELL_NAME, "version": "1", "api_version": 2},
    }
    assert running["vm_created_at"].endswith("Z") and running["agent_id"]

    without_vm = lines[(deployed.without_vm, None)]
    assert {key: without_vm[key] for key in KEYS} == {
        "vm_cid": None, "active": None, "vm_created_at": None, "cloud_properties": {"cpu": 2},
        "disk_cid": None, "disk_cids": [], "ips": [], "agent_id": None, "job_name": "web",
        "index": 1, "job_state": None, "state": "stopped", "vm_type": "small", "vitals": None,
        "processes": [], "az": "z1", "id": deployed.without_vm, "bootstrap": False,
        "ignore": True, "stemcell": {"name": None, "version": None, "api_version": None},
    }  # fmt: skip

    gone = next(line for (uuid, _), line in lines.items() if uuid == deployed.gone)
    assert (gone["job_state"], gone["vitals"], gone["processes"]) == (
        "unresponsive agent", None, [],
    )  # fmt: skip
    assert gone["active"] is True and gone["ips"] == [f"{NETWORK_PREFIX}.12"]


def test_vms_are_every_vm_of_instances_with_an_active_one(deployed: Deployed) -> None:
    lines = _lines(deployed, every_instance=False)

    by_instance = sorted((uuid, cid) for uuid, cid in lines)
    assert [uuid for uuid, _ in by_instance].count(deployed.running) == 2
    assert {uuid for uuid, _ in by_instance} == {deployed.running, deployed.gone}
    inactive = lines[(deployed.running, "vm-next")]
    assert (inactive["active"], inactive["job_state"], inactive["agent_id"]) == (
        False, "unresponsive agent", "agent-next",
    )  # fmt: skip
    active = next(
        line for key, line in lines.items() if key[0] == deployed.running and line["active"]
    )
    assert active["job_state"] == "running" and active["processes"][0]["name"] == "tiny"


def test_the_registered_task_writes_its_result(deployed: Deployed, tmp_path: Path) -> None:
    director = deployed.world.director
    output = TaskOutput(tmp_path / "task")
    context = JobContext(
        task_id=1, user="admin", deployment=DEPLOYMENT, output=output, checkpoint=lambda: None
    )

    result = job_functions(director)["vms"](
        context, {"deployment": DEPLOYMENT, "every_instance": True}
    )
    output.close()

    assert result == ""
    written = output.path("result").read_text().splitlines()
    assert sorted(json.loads(line)["index"] for line in written) == [0, 1, 2, 3]
