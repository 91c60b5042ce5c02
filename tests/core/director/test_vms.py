"""The VM factory on real pieces: a director with its embedded NATS, the local CPI (chosen
through a cpi-config and the instance's AZ) making a VM in which the real bosh-agent boots,
reads the settings the CPI wrote and connects with the credentials the director issued."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import select, update

from bosh_core.agent.errors import AgentTimeoutError
from bosh_core.bus import BusConnectionError
from bosh_core.bus.certs import MbusCert
from bosh_core.bus.nats import NatsBus
from bosh_core.cpi.errors import VMCreationFailedError
from bosh_core.cpi.local import LocalCPI
from bosh_core.cpi.types import VMCID, CPIContext
from bosh_core.director.api import Director
from bosh_core.director.cloud import Clouds
from bosh_core.director.db.models import VM, Instance
from bosh_core.director.errors import InstanceNotFoundError, StemcellNotFoundError
from bosh_core.director.tasks.events import EventLog as TaskEventLog
from bosh_core.director.vms import CREATE_MISSING_VMS_STAGE, VMFactory
from bosh_core.models.cloud_config import AvailabilityZone
from bosh_core.models.cpi_config import load_cpi_configs
from bosh_core.planning.plan import InstancePlan, StemcellData
from tests.core.director.agent_world import (
    AZS,
    CPI_NAME,
    agent_world,
    needs_root,
    planned_instance,
)
from tests.core.director.jobs.local_cloud import stemcell_image

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


def _vm_state(cpi: LocalCPI, vm_cid: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((cpi.config.dir / "vms" / vm_cid / "state.json").read_text())
    return state


def test_with_a_cpi_per_az_each_vm_is_made_by_its_azs_cpi_from_that_cpis_stemcell(
    world: dict[str, Any], tmp_path: Path
) -> None:
    director: Director = world["director"]
    cpi_a: LocalCPI = world["cpi"]
    # A second local CPI, with its own state directory and its own upload of the stemcell.
    properties_b = {**cpi_a.properties, "dir": str(tmp_path / "cpi-b")}
    cpi_b = LocalCPI(properties_b, context=CPIContext())
    stemcell_a = world["stemcell"]
    stemcell_b = cpi_b.create_stemcell(str(stemcell_image(tmp_path / "image")), {})
    assert stemcell_b != stemcell_a
    clouds = Clouds(
        director_uuid=director.uuid,
        default=None,
        cpi_config=load_cpi_configs(
            {
                "two": {
                    "cpis": [
                        {"name": CPI_NAME, "type": "local", "properties": cpi_a.properties},
                        {"name": "local-z2", "type": "local", "properties": properties_b},
                    ]
                }
            }
        ),
    )
    azs = (
        AvailabilityZone(name="z1", cpi=CPI_NAME),
        AvailabilityZone(name="z2", cpi="local-z2"),
    )
    factory = VMFactory(director, clouds=clouds, azs=azs, agent_wait_timeout=30)

    # The deploy and compilation pick each AZ's CPI's own upload of the plan's stemcell.
    bound = StemcellData(name="s", operating_system="jammy", version="1", cid=stemcell_a)
    uploaded = [
        attrs.evolve(bound, cpi=CPI_NAME),
        attrs.evolve(bound, cpi="local-z2", cid=stemcell_b),
        attrs.evolve(bound, version="2", cpi="local-z2", cid="other-version"),
    ]
    assert factory.stemcell_for(uploaded, bound, "z1").cid == stemcell_a
    assert factory.stemcell_for(uploaded, bound, "z2").cid == stemcell_b
    with pytest.raises(
        StemcellNotFoundError,
        match=re.escape(
            'Required stemcell {"name"=>"s", "version"=>"1"} not found for cpi local-z2,'
            " please upload again"
        ),
    ):
        factory.stemcell_for(uploaded[:1], bound, "z2")
    # Named by OS in the manifest, each IaaS's upload may have a name of its own.
    other_name = attrs.evolve(bound, name="s-for-b", cpi="local-z2", cid=stemcell_b)
    assert factory.stemcell_for([uploaded[0], other_name], bound, "z2", by_os=True) == other_name
    with pytest.raises(StemcellNotFoundError):
        factory.stemcell_for([uploaded[0], other_name], bound, "z2")

    def in_z2(instance: InstancePlan) -> InstancePlan:
        with director.database.write() as session:
            session.execute(update(Instance).where(Instance.uuid == instance.uuid).values(az="z2"))
        # The plan binds the first matching stemcell row (CPI a's) to every instance;
        # the deploy hands the factory the cid of the AZ's CPI's upload.
        return attrs.evolve(instance, az="z2")

    z1 = _instance(director, index=4, env={})
    z2 = in_z2(_instance(director, index=5, env={}))
    vms_a_before, vms_b_before = _cloud_vms(cpi_a), _cloud_vms(cpi_b)
    made: list[VM] = []
    try:
        made.append(factory.create(z1, deployment=DEPLOYMENT, stemcell_cid=stemcell_a))
        made.append(factory.create(z2, deployment=DEPLOYMENT, stemcell_cid=stemcell_b))
        vm_a, vm_b = made

        assert (vm_a.cpi, vm_b.cpi) == (CPI_NAME, "local-z2")
        assert vm_a.cid is not None and vm_b.cid is not None
        assert _cloud_vms(cpi_a) == sorted([*vms_a_before, vm_a.cid])
        assert _cloud_vms(cpi_b) == sorted([*vms_b_before, vm_b.cid])
        assert _vm_state(cpi_a, vm_a.cid)["stemcell_cid"] == stemcell_a
        assert _vm_state(cpi_b, vm_b.cid)["stemcell_cid"] == stemcell_b
        assert _vm_state(cpi_b, vm_b.cid)["metadata"]["id"] == z2.uuid
        for vm in made:
            assert vm.agent_id is not None
            assert director.agents.blocking_client(vm.agent_id).send("ping") == "pong"
        with director.database.read() as session:
            rows = session.execute(
                select(Instance.uuid, VM.cid, VM.cpi)
                .join(VM, VM.instance_id == Instance.id)
                .where(Instance.uuid.in_([z1.uuid, z2.uuid]))
            )
            assert {tuple(row) for row in rows} == {
                (z1.uuid, vm_a.cid, CPI_NAME),
                (z2.uuid, vm_b.cid, "local-z2"),
            }

        # Each VM is deleted from the CPI its row names.
        factory.delete(vm_b)
        made.remove(vm_b)
        assert _cloud_vms(cpi_b) == vms_b_before
        assert vm_a.cid in _cloud_vms(cpi_a)
    finally:
        for vm in made:
            factory.delete(vm)
    assert _cloud_vms(cpi_a) == vms_a_before

    # z2 goes to CPI b, which has no VM to make from CPI a's stemcell cid.
    stray = in_z2(_instance(director, index=6, env={}))
    with pytest.raises(VMCreationFailedError, match=f"Stemcell '{stemcell_a}' not found"):
        factory.create(stray, deployment=DEPLOYMENT, stemcell_cid=stemcell_a)
    assert (_cloud_vms(cpi_a), _cloud_vms(cpi_b)) == (vms_a_before, vms_b_before)
