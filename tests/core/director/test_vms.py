"""The VM factory on real pieces: a director with its embedded NATS, the local CPI (chosen
through a cpi-config and the instance's AZ) making a VM in which the real bosh-agent boots,
reads the settings the CPI wrote and connects with the credentials the director issued."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bosh_core.agent.errors import AgentTimeoutError
from bosh_core.bus import BusConnectionError
from bosh_core.bus.certs import MbusCert
from bosh_core.bus.nats import NatsBus
from bosh_core.cpi.errors import VMCreationFailedError
from bosh_core.cpi.local import LocalCPI
from bosh_core.cpi.types import VMCID
from bosh_core.director.api import Director
from bosh_core.director.cloud import Clouds
from bosh_core.director.db.models import VM, Instance
from bosh_core.director.errors import InstanceNotFoundError
from bosh_core.director.tasks.events import EventLog as TaskEventLog
from bosh_core.director.vms import CREATE_MISSING_VMS_STAGE, VMFactory
from bosh_core.models.cpi_config import load_cpi_configs
from bosh_core.planning.plan import InstancePlan
from tests.core.director.agent_world import (
    AZS,
    CPI_NAME,
    agent_world,
    needs_root,
    planned_instance,
)

pytestmark = needs_root

DEPLOYMENT = "vms-test"
NETWORK_PREFIX = "127.244.31"  # loopback mode: VMs share the host's network stack


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with agent_world(
        tmp_path_factory.mktemp("vms"), deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX
    ) as made:
        yield {
            "director": made.director,
            "cpi": made.cpi,
            "stemcell": made.stemcell,
            "clouds": made.clouds,
        }


def _cloud_vms(cpi: LocalCPI) -> list[str]:
    vms = cpi.config.dir / "vms"
    return sorted(path.name for path in vms.iterdir()) if vms.is_dir() else []


def _authorized_agents(director: Director) -> set[str]:
    return set(json.loads((director.config.nats_dir / "agents.json").read_text()))


def _instance(director: Director, *, index: int, env: dict[str, Any]) -> InstancePlan:
    return planned_instance(
        director, deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX, index=index, env=env
    )


def _vm_events(
    director: Director, instance: InstancePlan
) -> list[tuple[str, str | None, bool, bool]]:
    """(action, object_name, is an end, has an error) of the instance's vm events, oldest first."""
    events = reversed(director.events.list(instance=instance.name, object_type="vm"))
    return [(e.action, e.object_name, e.parent_id is not None, e.error is not None) for e in events]


def test_a_vm_is_created_with_a_connected_agent_and_deleted(world: dict[str, Any]) -> None:
    director: Director = world["director"]
    cpi: LocalCPI = world["cpi"]
    lines: list[str] = []
    factory = VMFactory(
        director, clouds=world["clouds"], azs=AZS, task_id=7, user="ops", agent_wait_timeout=30
    )
    instance = _instance(director, index=0, env={"bosh": {"remove_dev_tools": True}})
    stage = TaskEventLog(lines.append).stage(CREATE_MISSING_VMS_STAGE, total=1)

    vm = factory.create(
        instance, deployment=DEPLOYMENT, stemcell_cid=world["stemcell"], event_log_stage=stage
    )

    assert vm.cid is not None and vm.agent_id is not None
    assert (vm.cpi, vm.active, vm.stemcell_api_version) == (CPI_NAME, True, 2)
    assert vm.env == {"bosh": {"remove_dev_tools": True}}  # the credentials stay out of the DB
    assert (
        vm.network_spec is not None and vm.network_spec["default"]["ip"] == f"{NETWORK_PREFIX}.10"
    )
    client = director.agents.blocking_client(vm.agent_id)
    assert client.send("ping") == "pong"
    assert client.run("get_state")["agent_id"] == vm.agent_id

    vm_dir = cpi.config.dir / "vms" / vm.cid
    settings = json.loads((vm_dir / "settings.json").read_text())
    bosh_env = settings["env"]["bosh"]
    assert bosh_env["remove_dev_tools"] is True
    assert bosh_env["group"] == "test-director-vms-test-web"
    assert bosh_env["groups"] == [
        "test-director", "vms-test", "web", "test-director-vms-test", "vms-test-web",
        "test-director-vms-test-web",
    ]  # fmt: skip
    assert bosh_env["tags"] == {"team": "blue"}
    metadata = json.loads((vm_dir / "state.json").read_text())["metadata"]
    assert {key: value for key, value in metadata.items() if key != "created_at"} == {
        "team": "blue", "director": "test-director", "deployment": DEPLOYMENT,
        "id": instance.uuid, "job": "web", "instance_group": "web", "index": "0",
        "name": instance.name,
    }  # fmt: skip
    with director.database.read() as session:
        row = session.scalar(select(Instance).where(Instance.uuid == instance.uuid))
        assert row is not None and [v.cid for v in row.vms] == [vm.cid]
    task = f"web/{instance.uuid} (0)"
    assert [(json.loads(line)["task"], json.loads(line)["state"]) for line in lines] == [
        (task, "started"),
        (task, "finished"),
    ]
    assert json.loads(lines[0])["stage"] == "Creating missing vms"

    cert = MbusCert(**bosh_env["mbus"]["cert"])
    factory.delete(vm)

    assert not cpi.has_vm(VMCID(vm.cid)) and vm.cid not in _cloud_vms(cpi)
    assert vm.agent_id not in _authorized_agents(director)
    with pytest.raises(BusConnectionError, match="Authorization Violation"):
        asyncio.run(NatsBus.connect(director.agents.agent_url, tls=cert, max_reconnect_attempts=0))
    with director.database.read() as session:
        assert session.get(VM, vm.id) is None
    assert _vm_events(director, instance) == [
        ("create", None, False, False),
        ("create", vm.cid, True, False),
        ("delete", vm.cid, False, False),
        ("delete", vm.cid, True, False),
    ]
    created_end = director.events.list(instance=instance.name, action="create")[0]
    assert created_end.task == "7" and created_end.user == "ops"
    # Deleting again: the cloud no longer has it, which is fine.
    factory.delete(vm)


def test_a_failed_create_vm_leaves_nothing_behind(world: dict[str, Any]) -> None:
    director: Director = world["director"]
    cpi: LocalCPI = world["cpi"]
    factory = VMFactory(director, clouds=world["clouds"], azs=AZS, agent_wait_timeout=30)
    instance = _instance(director, index=1, env={})
    agents_before = _authorized_agents(director)
    vms_before = _cloud_vms(cpi)

    with pytest.raises(
        VMCreationFailedError, match="Stemcell 'sc-00000000-0000-0000-0000-000000000000' not found"
    ):
        factory.create(
            instance, deployment=DEPLOYMENT, stemcell_cid="sc-00000000-0000-0000-0000-000000000000"
        )

    assert _cloud_vms(cpi) == vms_before
    assert _authorized_agents(director) == agents_before
    with director.database.read() as session:
        assert (
            session.scalars(select(VM).join(Instance).where(Instance.uuid == instance.uuid)).all()
            == []
        )
    assert _vm_events(director, instance) == [
        ("create", None, False, False),
        ("create", None, True, True),
    ]


def test_an_agent_that_never_answers_gets_its_vm_deleted(
    world: dict[str, Any], tmp_path: Path
) -> None:
    director: Director = world["director"]
    cpi: LocalCPI = world["cpi"]
    # The VM boots, but its agent dials a bus nobody serves.
    properties = {**cpi.properties, "agent": {"mbus": "nats://127.0.0.1:9"}}
    clouds = Clouds(
        director_uuid=director.uuid,
        default=None,
        cpi_config=load_cpi_configs(
            {"local": {"cpis": [{"name": CPI_NAME, "type": "local", "properties": properties}]}}
        ),
    )
    factory = VMFactory(director, clouds=clouds, azs=AZS, agent_wait_timeout=2)
    instance = _instance(director, index=2, env={})
    agents_before = _authorized_agents(director)
    vms_before = _cloud_vms(cpi)

    with pytest.raises(AgentTimeoutError, match="Timed out pinging"):
        factory.create(instance, deployment=DEPLOYMENT, stemcell_cid=world["stemcell"])

    assert _cloud_vms(cpi) == vms_before
    assert _authorized_agents(director) == agents_before
    events = _vm_events(director, instance)
    assert [(action, end, error) for action, _, end, error in events] == [
        ("create", False, False),
        ("create", True, False),
        ("delete", False, False),
        ("delete", True, False),
    ]
    with director.database.read() as session:
        assert (
            session.scalars(select(VM).join(Instance).where(Instance.uuid == instance.uuid)).all()
            == []
        )


def test_an_instance_the_director_has_not_recorded_gets_no_vm(world: dict[str, Any]) -> None:
    director: Director = world["director"]
    factory = VMFactory(director, clouds=world["clouds"], azs=AZS)
    instance = _instance(director, index=3, env={})
    with director.database.write() as session:
        row = session.scalar(select(Instance).where(Instance.uuid == instance.uuid))
        session.delete(row)
    with pytest.raises(InstanceNotFoundError, match=f"Instance '{instance.name}' of deployment"):
        factory.create(instance, deployment=DEPLOYMENT, stemcell_cid=world["stemcell"])
