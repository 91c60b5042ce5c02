"""Deployment read routes: the list (with exclude_*, cloud config state, locks), the
manifest, instances and VMs from the database, variables and deployment configs."""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from bosh_core.director import views
from bosh_core.director.db import Database
from bosh_core.director.db.models import Variable, VariableSet
from bosh_core.director.locks import Locks, deployment_lock
from bosh_core.director.queue.database import DatabaseTaskQueue
from tests.core.director.records import (
    add_cloud_config,
    add_deployment,
    add_instance,
    add_stemcell,
)

Client: TypeAlias = TestClient[Litestar]

MANIFEST = "# the operator's comments stay\nname: cf\ninstance_groups: []\n"


def test_deployments_list_by_name_with_stemcells_teams_and_cloud_config_state(
    admin: Client, sqlite_database: Database
) -> None:
    add_stemcell(sqlite_database, "jammy", "1.18")
    add_stemcell(sqlite_database, "jammy", "1.2")
    old = add_cloud_config(sqlite_database)
    current = add_cloud_config(sqlite_database)
    add_deployment(sqlite_database, "zookeeper", config_ids=[old], teams=["ops", "dev"])
    add_deployment(
        sqlite_database,
        "cf",
        stemcells=[("jammy", "1.2"), ("jammy", "1.18")],
        config_ids=[current],
    )
    add_deployment(sqlite_database, "empty")

    response = admin.get("/deployments")

    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "cf",
            "teams": [],
            "cloud_config": "latest",
            "stemcells": [
                {"name": "jammy", "version": "1.18"},
                {"name": "jammy", "version": "1.2"},
            ],
            "releases": [],
            "locked": False,
        },
        {
            "name": "empty",
            "teams": [],
            "cloud_config": "none",
            "stemcells": [],
            "releases": [],
            "locked": False,
        },
        {
            "name": "zookeeper",
            "teams": ["dev", "ops"],
            "cloud_config": "outdated",
            "stemcells": [],
            "releases": [],
            "locked": False,
        },
    ]


def test_a_deleted_newest_cloud_config_makes_the_deployment_outdated(
    sqlite_database: Database,
) -> None:
    used = add_cloud_config(sqlite_database, "net")
    add_cloud_config(sqlite_database, "net", deleted=True)
    add_deployment(sqlite_database, "cf", config_ids=[used])
    with sqlite_database.read() as session:
        assert views.deployments(session)[0]["cloud_config"] == "outdated"


def test_locked_is_true_while_a_task_holds_the_deployment_lock(
    admin: Client, sqlite_database: Database
) -> None:
    add_deployment(sqlite_database, "cf")
    add_deployment(sqlite_database, "cf2")
    with Locks(sqlite_database).acquire(deployment_lock("cf"), timeout=1, task_id="7"):
        locked = {entry["name"]: entry["locked"] for entry in admin.get("/deployments").json()}
    assert locked == {"cf": True, "cf2": False}
    assert admin.get("/deployments").json()[0]["locked"] is False


def test_excludes_leave_out_their_keys(admin: Client, sqlite_database: Database) -> None:
    add_deployment(sqlite_database, "cf")
    query = "exclude_configs=true&exclude_releases=true&exclude_stemcells=true&exclude_lock=true"
    assert admin.get(f"/deployments?{query}").json() == [{"name": "cf", "teams": []}]
    assert "cloud_config" in admin.get("/deployments?exclude_configs=false").json()[0]


def test_manifest_is_the_uploaded_text_and_unknown_deployment_is_70000(
    admin: Client, sqlite_database: Database
) -> None:
    add_deployment(sqlite_database, "cf", manifest=MANIFEST)
    assert admin.get("/deployments/cf").json() == {"manifest": MANIFEST}

    missing = admin.get("/deployments/nope")
    assert missing.status_code == 404
    assert missing.json() == {"code": 70000, "description": "Deployment 'nope' doesn't exist"}
    assert admin.get("/deployments/nope/instances").json()["code"] == 70000


def _instances_fixture(database: Database) -> dt.datetime:
    created = dt.datetime(2024, 5, 1, 12, 30, 5, tzinfo=dt.UTC)
    deployment = add_deployment(database, "cf")
    add_instance(
        database,
        deployment,
        "web",
        0,
        uuid="11111111-1111-4111-8111-111111111111",
        vms=[
            {"cid": "vm-old", "agent_id": "agent-old", "active": False, "created_at": created},
            {
                "cid": "vm-new",
                "agent_id": "agent-new",
                "active": True,
                "created_at": created,
                "network_spec": {
                    "default": {"ip": "10.0.0.10", "type": "manual"},
                    "dyn": {"ip": "192.168.1.5", "prefix": "32", "type": "dynamic"},
                    "v6": {"ip": "fd00::9", "prefix": "64"},
                },
            },
        ],
        ips=[("default", "10.0.0.10", 1), ("default", "10.0.0.2", 1), ("spare", "10.0.0.3", None)],
    )
    add_instance(
        database,
        deployment,
        "smoke-tests",
        0,
        uuid="22222222-2222-4222-8222-222222222222",
        az=None,
        lifecycle="errand",
    )
    add_instance(
        database,
        deployment,
        "web",
        1,
        uuid="33333333-3333-4333-8333-333333333333",
        state="detached",
    )
    return created


def test_instances_from_the_database(admin: Client, sqlite_database: Database) -> None:
    _instances_fixture(sqlite_database)

    response = admin.get("/deployments/cf/instances")

    assert response.status_code == 200
    assert response.json() == [
        {
            "agent_id": "agent-new",
            "cid": "vm-new",
            "job": "web",
            "index": 0,
            "id": "11111111-1111-4111-8111-111111111111",
            "az": "z1",
            "ips": ["10.0.0.2", "10.0.0.10", "192.168.1.5", "fd00::9/64"],
            "vm_created_at": "2024-05-01T12:30:05Z",
            "expects_vm": True,
        },
        {
            "agent_id": None,
            "cid": None,
            "job": "smoke-tests",
            "index": 0,
            "id": "22222222-2222-4222-8222-222222222222",
            "az": None,
            "ips": [],
            "vm_created_at": None,
            "expects_vm": False,
        },
        {
            "agent_id": None,
            "cid": None,
            "job": "web",
            "index": 1,
            "id": "33333333-3333-4333-8333-333333333333",
            "az": "z1",
            "ips": [],
            "vm_created_at": None,
            "expects_vm": False,
        },
    ]


def test_vms_lists_every_vm_inactive_ones_too(admin: Client, sqlite_database: Database) -> None:
    _instances_fixture(sqlite_database)

    vms = admin.get("/deployments/cf/vms").json()

    assert [(vm["cid"], vm["active"], vm["ips"]) for vm in vms] == [
        ("vm-old", False, []),
        ("vm-new", True, ["10.0.0.2", "10.0.0.10", "192.168.1.5", "fd00::9/64"]),
    ]
    assert set(vms[0]) == {
        "agent_id", "cid", "job", "index", "id", "az", "ips", "vm_created_at",
        "active", "permanent_nats_credentials",
    }  # fmt: skip


@pytest.mark.parametrize(("path", "every_instance"), [("instances", True), ("vms", False)])
def test_format_full_queues_an_urgent_vms_task(
    admin: Client, sqlite_database: Database, path: str, every_instance: bool
) -> None:
    add_deployment(sqlite_database, "cf")

    response = admin.get(f"/deployments/cf/{path}?format=full", follow_redirects=False)

    assert response.status_code == 302
    task_id = int(response.headers["location"].removeprefix("/tasks/"))
    task = admin.get(f"/tasks/{task_id}").json()
    assert (task["description"], task["deployment"], task["state"], task["user"]) == (
        "retrieve vm-stats", "cf", "queued", "admin",
    )  # fmt: skip
    reserved = DatabaseTaskQueue(sqlite_database).reserve(["urgent"], worker_id="w", timeout=0)
    assert reserved is not None
    assert (reserved.job.task_id, reserved.job.job_type, dict(reserved.job.payload)) == (
        task_id, "vms", {"deployment": "cf", "every_instance": every_instance},
    )  # fmt: skip


@pytest.mark.parametrize("path", ["instances", "vms"])
def test_format_full_of_an_unknown_deployment_is_404_without_a_task(
    admin: Client, path: str
) -> None:
    response = admin.get(f"/deployments/nope/{path}?format=full", follow_redirects=False)

    assert response.status_code == 404
    assert response.json()["code"] == 70000
    assert admin.get("/tasks", params={"verbose": "2"}).json() == []


def test_variables_are_unique_over_the_variable_sets(
    admin: Client, sqlite_database: Database
) -> None:
    deployment_id = add_deployment(sqlite_database, "cf")
    with sqlite_database.write() as session:
        for variable_ids in (["id-1", "id-2"], ["id-1", "id-3"]):
            variable_set = VariableSet(deployment_id=deployment_id)
            names = {"id-1": "/admin_pw", "id-2": "/ca", "id-3": "/ca"}
            variable_set.variables = [
                Variable(variable_id=variable_id, variable_name=names[variable_id])
                for variable_id in variable_ids
            ]
            session.add(variable_set)
    assert admin.get("/deployments/cf/variables").json() == [
        {"id": "id-1", "name": "/admin_pw"},
        {"id": "id-2", "name": "/ca"},
        {"id": "id-3", "name": "/ca"},
    ]


def test_deployment_configs_for_the_named_deployments(
    admin: Client, sqlite_database: Database
) -> None:
    config_id = add_cloud_config(sqlite_database)
    cf = add_deployment(sqlite_database, "cf", config_ids=[config_id])
    add_deployment(sqlite_database, "other", config_ids=[config_id])
    expected = [
        {
            "id": cf,
            "deployment": "cf",
            "config": {"id": config_id, "type": "cloud", "name": "default"},
        }
    ]
    assert admin.get("/deployment_configs?deployment[]=cf").json() == expected
    assert admin.get("/deployment_configs?deployment=cf").json() == expected
    assert len(admin.get("/deployment_configs?deployment[]=cf&deployment[]=other").json()) == 2
    assert admin.get("/deployment_configs").json() == []


def test_deployments_view_on_every_database(database: Database) -> None:
    add_stemcell(database, "jammy", "1.18")
    config_id = add_cloud_config(database)
    add_deployment(
        database, "cf", stemcells=[("jammy", "1.18")], teams=["ops"], config_ids=[config_id]
    )
    with database.read() as session:
        assert views.deployments(session, with_releases=False) == [
            {
                "name": "cf",
                "teams": ["ops"],
                "cloud_config": "latest",
                "stemcells": [{"name": "jammy", "version": "1.18"}],
                "locked": False,
            }
        ]


def test_reads_need_credentials(client: Client) -> None:
    assert client.get("/deployments").status_code == 401
