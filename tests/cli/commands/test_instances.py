"""bosh instances / bosh vms against a real director (embedded NATS, one worker) whose
``vms`` tasks ask agents that are not there: every VM is an unresponsive agent, every
instance without a VM is listed too. The vitals and processes columns are checked on
a state line as the task writes it."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import pytest

from bosh_cli.commands.instances import _instances_table, _Layout, _vms_table
from bosh_core.client.director import VMInfo
from bosh_core.director.api import DirectorConfig, LocalUser
from bosh_core.director.api.config import MbusConfig
from bosh_core.director.db import open_database
from tests.cli.commands.conftest import ADMIN, Env
from tests.cli.conftest import RunBosh
from tests.core.director.records import add_deployment, add_instance
from tests.core.director.served import free_port, serve_director

WEB_0 = "11111111-1111-4111-8111-111111111111"
WEB_1 = "22222222-2222-4222-8222-222222222222"
CREATED = dt.datetime(2024, 5, 1, 12, 30, 5, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """Deployments ``cf`` (web/0 on VM ``vm-new``, with an inactive ``vm-old``; web/1
    without a VM) and ``empty``; no agent answers."""
    root = tmp_path_factory.mktemp("instances")
    config = DirectorConfig(
        name="instances-director",
        data_dir=root / "director",
        bind="127.0.0.1",
        port=free_port(),
        users=(LocalUser(*ADMIN),),
        workers=1,
        mbus=MbusConfig(embedded=True, port=0),
    )
    database = open_database(f"sqlite:///{root / 'bosh.db'}")
    database.migrate()
    deployment = add_deployment(database, "cf")
    add_deployment(database, "empty")
    add_instance(
        database,
        deployment,
        "web",
        0,
        uuid=WEB_0,
        vms=[
            {"cid": "vm-old", "agent_id": "agent-old", "active": False, "created_at": CREATED},
            {"cid": "vm-new", "agent_id": "agent-new", "active": True, "created_at": CREATED},
        ],
        ips=[("default", "10.0.0.10", 1)],
    )
    add_instance(database, deployment, "web", 1, uuid=WEB_1, az=None, state="stopped")
    with serve_director(config, database, run_workers=True) as (url, ca):
        yield Env(url, ca)


def _cells(table: str) -> list[list[str]]:
    """A printed table's lines as their cells (columns are two or more spaces apart)."""
    return [re.split(r"\s{2,}", line.rstrip()) if line else [] for line in table.splitlines()]


def test_instances_of_every_deployment(bosh: RunBosh, env: Env) -> None:
    run = bosh("instances", *env.args())

    assert run.exit_code == 0, run.stderr
    tasks, tables = run.stdout.split("\nDeployment 'cf'\n\n")
    assert tasks.splitlines()[0] == f"Using environment '{env.url}' as client 'admin'"
    assert [line.endswith(". Done") for line in tasks.splitlines()[2:]] == [True, True]
    cf, empty = tables.split("\nDeployment 'empty'\n\n")
    assert _cells(cf) == [
        ["Instance", "Process State", "AZ", "IPs", "Deployment"],
        [f"web/{WEB_0}", "unresponsive agent", "z1", "10.0.0.10", "cf"],
        [f"web/{WEB_1}", "-", "-", "-", "cf"],
        [],
        ["2 instances"],
    ]
    header, first = cf.splitlines()[:2]
    assert header.index("Process State") == first.index("unresponsive agent")
    assert _cells(empty) == [
        ["Instance", "Process State", "AZ", "IPs", "Deployment"],
        [],
        ["0 instances"],
        [],
        ["Succeeded"],
    ]


def test_instance_details_failing_and_json(bosh: RunBosh, env: Env) -> None:
    run = bosh("-d", "cf", "is", "--details", "--failing", "--json", *env.args())

    assert run.exit_code == 0, run.stderr
    [table] = json.loads(run.stdout)["Tables"]
    assert table["Content"] == "instances"
    assert table["Header"] == {
        "instance": "Instance", "process_state": "Process State", "az": "AZ", "ips": "IPs",
        "deployment": "Deployment", "state": "State", "vm_cid": "VM CID", "vm_type": "VM Type",
        "disk_cids": "Disk CIDs", "agent_id": "Agent ID", "index": "Index",
        "bootstrap": "Bootstrap", "ignore": "Ignore",
    }  # fmt: skip
    assert [row["instance"] for row in table["Rows"]] == [f"web/{WEB_0}", f"web/{WEB_1}"]
    assert table["Rows"][0] | {"instance": ""} == {
        "instance": "", "process_state": "unresponsive agent", "az": "z1", "ips": "10.0.0.10",
        "deployment": "cf", "state": "started", "vm_cid": "vm-new", "vm_type": "",
        "disk_cids": "", "agent_id": "agent-new", "index": "0", "bootstrap": "false",
        "ignore": "false",
    }  # fmt: skip
    assert table["Rows"][1]["state"] == "stopped" and table["Rows"][1]["vm_cid"] == ""


def test_vms_are_every_vm_inactive_ones_too(bosh: RunBosh, env: Env) -> None:
    run = bosh("vms", "-d", "cf", *env.args())

    assert run.exit_code == 0, run.stderr
    assert _cells(run.stdout.split("\nDeployment 'cf'\n\n")[1]) == [
        ["Instance", "Process State", "AZ", "IPs", "VM CID", "VM Type", "Active", "Stemcell"],
        [f"web/{WEB_0}", "unresponsive agent", "z1", "-", "vm-old", "-", "false", "-"],
        ["~", "unresponsive agent", "z1", "10.0.0.10", "vm-new", "-", "true", "-"],
        [],
        ["2 vms"],
        [],
        ["Succeeded"],
    ]


def test_an_unknown_deployment_fails_as_the_reference_says(bosh: RunBosh, env: Env) -> None:
    run = bosh("instances", "-d", "nope", *env.args())

    assert run.exit_code == 1
    assert "Listing deployment 'nope' instances infos: " in run.stderr
    assert "'Deployment 'nope' doesn't exist'" in run.stderr


def test_the_sdk_returns_typed_infos(env: Env) -> None:
    with env.director() as director:
        infos = director.instance_infos("cf")
        vms = director.vm_infos("cf")

    assert [(info.id, info.vm_cid, info.active) for info in infos] == [
        (WEB_0, "vm-new", True),
        (WEB_1, None, None),
    ]
    assert infos[0].job_state == "unresponsive agent" and infos[0].vm_created_at == CREATED
    assert infos[0].deployment == "cf" and infos[0].ips == ("10.0.0.10",)
    assert sorted((vm.vm_cid, vm.active) for vm in vms) == [("vm-new", True), ("vm-old", False)]


# --- processes and vitals, on a line as the task writes it ----------------------------------

LINE = {
    "vm_cid": "vm-1", "active": True, "vm_created_at": "2024-05-01T12:30:05Z",
    "cloud_properties": {"cpu": 2, "disk": 1024}, "disk_cid": "disk-1",
    "disk_cids": ["disk-1", "disk-2"], "ips": ["10.0.0.10", "10.0.1.10"], "agent_id": "agent-1",
    "job_name": "web", "index": 0, "job_state": "failing", "state": "started",
    "vm_type": "small",
    "vitals": {
        "cpu": {"sys": "1.5", "user": "2.0", "wait": "0.1"},
        "disk": {"system": {"percent": "41", "inode_percent": "12"}, "ephemeral": {"percent": "3"}},
        "load": ["0.10", "0.20", "0.30"],
        "mem": {"kb": "2048000", "percent": "25"},
        "swap": {"kb": "0", "percent": "0"},
        "uptime": {"secs": 90061},
    },
    "processes": [
        {"name": "nginx", "state": "running", "uptime": {"secs": 3725},
         "mem": {"kb": 51200, "percent": 1.25}, "cpu": {"total": 0.5}},
        {"name": "worker", "state": "failing", "uptime": {"secs": 0},
         "mem": {"kb": 0, "percent": 0.0}, "cpu": {"total": 0.0}},
    ],
    "az": "z1", "id": "uuid-1", "bootstrap": True, "ignore": False,
    "stemcell": {"name": "bosh-local-ubuntu", "version": "1", "api_version": 2},
}  # fmt: skip


def test_processes_and_vitals_columns() -> None:
    info = VMInfo.from_api(LINE, deployment="cf")
    layout = _Layout(processes=True, deployment=True, vitals=True)

    table = _instances_table("cf", [info], layout, failing=False, as_json=False)

    assert table.notes == ["1 instances"] and table.content == ""
    rows = [dict(zip(table.header, row, strict=True)) for row in table.sorted_rows()]
    assert [(row["Instance"], row["Process"], row["Process State"]) for row in rows] == [
        ("web/uuid-1", "", "failing"),
        ("web/uuid-1", "nginx", "running"),
        ("web/uuid-1", "worker", "failing"),
    ]
    vm, nginx, _ = rows
    assert {key: vm[key] for key in table.header[6:]} == {
        "VM Created At": "Wed May  1 12:30:05 UTC 2024",
        "Uptime": "1d 1h 1m 1s",
        "Load\n(1m, 5m, 15m)": "0.10, 0.20, 0.30",
        "CPU\nTotal": "",
        "CPU\nUser": "2.0%",
        "CPU\nSys": "1.5%",
        "CPU\nWait": "0.1%",
        "Memory\nUsage": "25% (2.0 GB)",
        "Swap\nUsage": "0% (0 B)",
        "System\nDisk Usage": "41% (12i%)",
        "Ephemeral\nDisk Usage": "",
        "Persistent\nDisk Usage": "",
    }
    assert (nginx["Uptime"], nginx["Memory\nUsage"], nginx["CPU\nTotal"]) == (
        "0d 1h 2m 5s", "1.2% (51 MB)", "0.5%",
    )  # fmt: skip

    failing_only = _instances_table("cf", [info], layout, failing=True, as_json=True)
    assert [row[1] for row in failing_only.rows] == ["", "worker"]
    assert failing_only.content == "instances"


def test_vms_cloud_properties_and_stemcell_columns() -> None:
    info = VMInfo.from_api(LINE, deployment="cf")

    table = _vms_table("cf", [info], _Layout(vm_details=True, stemcell=True, cloud_properties=True))

    assert table.header[-2:] == ["Stemcell", "Cloud Properties"]
    assert table.rows[0][-2:] == ["bosh-local-ubuntu/1", "cpu: 2\ndisk: 1024"]
    assert table.rows[0][3] == ["10.0.0.10", "10.0.1.10"]


def test_a_running_vm_without_processes_says_nothing_and_is_not_running() -> None:
    info = VMInfo.from_api({**LINE, "job_state": "running", "processes": []}, deployment="cf")

    assert info.process_state == "" and not info.is_running


def test_the_managed_disk_stands_for_missing_disk_cids() -> None:
    info = VMInfo.from_api({**LINE, "disk_cids": None}, deployment="cf")

    assert info.disk_cids == ("disk-1",)
