"""POST /deployments/:d/diff and POST /deployments over HTTP, as the reference CLI
calls them: the diff's shapes and redaction, and the queued update_deployment task."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import pytest
from litestar.testing import TestClient

from bosh_core.director.api import DirectorConfig
from bosh_core.director.db import Database
from bosh_core.director.db.models import Config, Deployment, Stemcell, Task
from bosh_core.director.queue import open_queue

YAML = {"Content-Type": "text/yaml"}

MANIFEST = """\
name: web
releases:
- name: app
  version: "1"
stemcells:
- alias: default
  os: ubuntu-jammy
  version: "1.5"
update:
  canaries: 1
  max_in_flight: 2
  canary_watch_time: 1000
  update_watch_time: 1000
instance_groups:
- name: web
  instances: 1
  azs: [z1]
  vm_type: small
  stemcell: default
  networks: [{name: default}]
  jobs:
  - name: server
    release: app
    properties:
      password: hunter2
"""

Client: TypeAlias = "TestClient[Any]"


def _store_deployment(database: Database, name: str, manifest_text: str | None) -> None:
    with database.write() as session:
        session.add(Deployment(name=name, manifest_text=manifest_text))


def _post_config(client: Client, type_: str, name: str, content: str) -> int:
    body = {"type": type_, "name": name, "content": content}
    created = client.post("/configs", content=json.dumps(body), headers={
        "Content-Type": "application/json"})  # fmt: skip
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _diff(client: Client, deployment: str, body: str, **params: str) -> Any:
    response = client.post(
        f"/deployments/{deployment}/diff", content=body, headers=YAML, params=params
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_new_deployment_diffs_against_nothing_with_the_latest_configs(admin: Client) -> None:
    cloud_ids = [_post_config(admin, "cloud", name, "azs: []\n") for name in ("default", "x")]
    runtime_id = _post_config(admin, "runtime", "dns", "addons: []\n")
    answer = _diff(admin, "web", MANIFEST)
    assert answer["context"] == {
        "cloud_config_ids": cloud_ids,
        "runtime_config_ids": [runtime_id],
    }
    # Sections in the reference's order; `name: web` is no section header there either.
    # The cloud configs' (empty) lists are part of what is deployed.
    assert [line for line, _ in answer["diff"] if line and not line.startswith((" ", "-"))] == [
        "stemcells:", "releases:", "update:", "name: web", "instance_groups:", "azs: []",
        "vm_types: []", "disk_types: []", "networks: []", "vm_extensions: []"]  # fmt: skip
    assert all(status == "added" for line, status in answer["diff"] if line)
    assert ['      password: "<redacted>"', "added"] in answer["diff"]
    assert not any("hunter2" in line for line, _ in answer["diff"])


def test_the_diff_shows_changes_to_the_stored_manifest_and_unredacts_on_request(
    admin: Client, sqlite_database: Database
) -> None:
    _store_deployment(sqlite_database, "web", MANIFEST)
    assert _diff(admin, "web", MANIFEST) == {
        "context": {"cloud_config_ids": [], "runtime_config_ids": []},
        "diff": [],
    }
    changed = MANIFEST.replace("instances: 1", "instances: 3").replace("hunter2", "swordfish")
    redacted = _diff(admin, "web", changed)["diff"]
    assert redacted == [
        ["instance_groups:", None],
        ["- name: web", None],
        ["  instances: 1", "removed"],
        ["  instances: 3", "added"],
        ["  jobs:", None],
        ["  - name: server", None],
        ["    properties:", None],
        ['      password: "<redacted>"', "removed"],
        ['      password: "<redacted>"', "added"],
    ]
    shown = _diff(admin, "web", changed, redact="false")["diff"]
    assert ["      password: hunter2", "removed"] in shown
    assert ["      password: swordfish", "added"] in shown


CLOUD = "vm_types:\n- name: small\n  cloud_properties: {cpu: 1}\n"
RUNTIME = """\
releases:
- {name: dns, version: "2"}
- {name: unused, version: "1"}
addons:
- name: dns
  jobs: [{name: dns, release: dns}]
- name: elsewhere
  include: {deployments: [other]}
  jobs: [{name: agent, release: unused}]
tags: {team: ops, owner: config}
"""


def test_the_diff_shows_what_the_configs_change_too(
    admin: Client, sqlite_database: Database
) -> None:
    # Each side is the manifest merged with its configs, as the reference diffs it: a
    # cloud config updated since the last deploy shows although the manifest is the same.
    cloud_id = _post_config(admin, "cloud", "default", CLOUD)
    _store_deployment(sqlite_database, "web", MANIFEST + "tags: {owner: web}\n")
    with sqlite_database.write() as session:
        row = session.query(Deployment).one()
        row.configs = [session.get_one(Config, cloud_id)]
    assert _diff(admin, "web", MANIFEST + "tags: {owner: web}\n")["diff"] == []

    _post_config(admin, "cloud", "default", CLOUD.replace("cpu: 1", "cpu: 4"))
    _post_config(admin, "runtime", "dns", RUNTIME)
    diff = _diff(admin, "web", MANIFEST + "tags: {owner: web}\n")["diff"]
    # Only the addon that applies to this deployment, with the release it uses; the
    # manifest's tags win over the config's.
    assert diff == [
        ["vm_types:", None],
        ["- name: small", None],
        ["  cloud_properties:", None],
        ["    cpu: 1", "removed"],
        ["    cpu: 4", "added"],
        ["", None],
        ["releases:", None],
        ["- name: dns", "added"],
        ["  version: '2'", "added"],
        ["", None],
        ["addons:", "added"],
        ["- name: dns", "added"],
        ["  jobs:", "added"],
        ["  - name: dns", "added"],
        ["    release: dns", "added"],
        ["", None],
        ["tags:", None],
        ["  team: ops", "added"],
    ]


def test_the_diff_of_an_existing_deployment_takes_its_name_from_the_url(
    admin: Client, sqlite_database: Database
) -> None:
    _store_deployment(sqlite_database, "other", MANIFEST.replace("name: web\n", "name: other\n", 1))
    assert _diff(admin, "other", MANIFEST)["diff"] == []


def test_latest_versions_are_diffed_as_the_versions_they_stand_for(
    admin: Client, sqlite_database: Database
) -> None:
    with sqlite_database.write() as session:
        session.add(Stemcell(name="s", version="1.5", operating_system="ubuntu-jammy", cid="c"))
    _store_deployment(sqlite_database, "web", MANIFEST)
    assert _diff(admin, "web", MANIFEST.replace('version: "1.5"', "version: latest"))["diff"] == []


def test_a_diff_that_cannot_be_made_answers_200_with_the_error(admin: Client) -> None:
    unknown = _diff(admin, "web", MANIFEST.replace('version: "1.5"', "version: latest"))
    assert unknown == {
        "diff": [],
        "error": "Unable to diff manifest: Stemcell version 'latest' for OS 'ubuntu-jammy'"
        " doesn't exist",
    }
    bad_yaml = _diff(admin, "web", "name: [web\n")
    assert bad_yaml["diff"] == [] and "line 2" in bad_yaml["error"]


def test_routes_need_a_yaml_body(admin: Client) -> None:
    for path in ("/deployments", "/deployments/web/diff"):
        wrong = admin.post(path, content=MANIFEST, headers={"Content-Type": "application/json"})
        assert (wrong.status_code, wrong.text) == (404, f"Endpoint '{path}' not found.")


def _queued(config: DirectorConfig, database: Database) -> tuple[Task, dict[str, Any]]:
    queue = open_queue(None, database, lease_seconds=60)
    reserved = queue.reserve(["normal"], worker_id="test", timeout=0)
    assert reserved is not None
    with database.read() as session:
        task = session.get(Task, reserved.job.task_id)
        assert task is not None
        session.expunge(task)
    assert reserved.job.job_type == "update_deployment"
    return task, dict(reserved.job.payload)


def _deploy(client: Client, body: str = MANIFEST, **params: str) -> Any:
    return client.post(
        "/deployments", content=body, headers=YAML, params=params, follow_redirects=False
    )


def test_a_deploy_queues_the_task_with_the_options_and_latest_configs(
    admin: Client, config: DirectorConfig, sqlite_database: Database
) -> None:
    cloud_id = _post_config(admin, "cloud", "default", "azs: []\n")
    response = _deploy(admin)
    assert response.status_code == 302
    task, payload = _queued(config, sqlite_database)
    assert response.headers["location"] == f"/tasks/{task.id}"
    assert (task.description, task.deployment_name, task.username, task.state) == (
        "create deployment", "web", "admin", "queued")  # fmt: skip
    assert payload == {
        "manifest_text": MANIFEST,
        "dry_run": False,
        "recreate": False,
        "recreate_persistent_disks": False,
        "fix": False,
        "force_latest_variables": False,
        "skip_drain": None,
        "canaries": None,
        "max_in_flight": None,
        "recreate_vms_created_before": None,
        "context": {"cloud_config_ids": [cloud_id], "runtime_config_ids": []},
    }


def test_a_dry_run_with_flags_and_the_diffs_context(
    admin: Client, config: DirectorConfig, sqlite_database: Database
) -> None:
    first = _post_config(admin, "cloud", "default", "azs: []\n")
    _post_config(admin, "cloud", "default", "azs: [{name: z1}]\n")
    context = json.dumps({"cloud_config_ids": [first], "runtime_config_ids": []})
    response = _deploy(
        admin,
        dry_run="true",
        recreate="true",
        recreate_vms_created_before="2024-01-02T03:04:05Z",
        fix="true",
        skip_drain="web,db/0",
        canaries="10%",
        max_in_flight="3",
        force_latest_variables="true",
        context=context,
    )
    assert response.status_code == 302, response.text
    task, payload = _queued(config, sqlite_database)
    assert task.description == "create deployment (dry run)"
    assert payload["context"] == {"cloud_config_ids": [first], "runtime_config_ids": []}
    assert {key: payload[key] for key in ("dry_run", "recreate", "fix", "force_latest_variables",
            "recreate_persistent_disks")} == {"dry_run": True, "recreate": True, "fix": True,
            "force_latest_variables": True, "recreate_persistent_disks": False}  # fmt: skip
    assert (payload["skip_drain"], payload["canaries"], payload["max_in_flight"]) == (
        "web,db/0", "10%", "3")  # fmt: skip
    assert payload["recreate_vms_created_before"] == "2024-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("body", "params", "status", "code", "message"),
    [
        ("", {}, 400, 440001, "Manifest should not be empty"),
        ("name: [web\n", {}, 400, 440001, "line 2"),
        ("- web\n", {}, 400, 440001, "Manifest should be a hash"),
        ("releases: []\n", {}, 400, 40001, "Deployment manifest must have a 'name' key"),
        (MANIFEST.replace("instances: 1", "instances: many"), {}, 400, 440001,
         "$.instance_groups[0].instances: expected an integer"),
        (MANIFEST, {"context": '{"cloud_config_ids": [99]}'}, 400, 190025,
         "Context includes invalid config ID"),
        (MANIFEST, {"context": "{"}, 400, 40000, "'context' is not valid JSON"),
        (MANIFEST, {"recreate_vms_created_before": "2024-01-02T03:04:05Z"}, 400, 40005,
         "Must pass recreate=true when specifying recreate_vms_created_before"),
        (MANIFEST, {"recreate": "true", "recreate_vms_created_before": "yesterday"}, 400,
         40005, "Invalid RFC 3339 timestamp for recreate_vms_created_before: yesterday"),
    ],
)  # fmt: skip
def test_a_bad_deploy_request_queues_nothing(
    admin: Client,
    sqlite_database: Database,
    body: str,
    params: dict[str, str],
    status: int,
    code: int,
    message: str,
) -> None:
    response = _deploy(admin, body, **params)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert message in response.json()["description"]
    with sqlite_database.read() as session:
        assert session.query(Task).count() == 0


def test_a_manifest_with_variables_is_left_to_the_task_to_type(
    admin: Client, config: DirectorConfig, sqlite_database: Database
) -> None:
    manifest = MANIFEST.replace("instances: 1", "instances: ((count))")
    assert _deploy(admin, manifest).status_code == 302
    assert _queued(config, sqlite_database)[1]["manifest_text"] == manifest
