"""Config routes over HTTP as the reference CLI uses them."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient

JSON = {"Content-Type": "application/json"}
YAML = {"Content-Type": "text/yaml"}


def post_config(client: TestClient, **body: Any) -> Any:  # type: ignore[type-arg]
    return client.post("/configs", content=json.dumps(body), headers=JSON)


def events(client: TestClient) -> list[tuple[Any, ...]]:  # type: ignore[type-arg]
    return [
        (e["action"], e["object_type"], e.get("object_name"), e.get("error"))
        for e in client.get("/events").json()
    ]


def test_create_show_list_and_412(admin: TestClient) -> None:  # type: ignore[type-arg]
    created = post_config(admin, type="cloud", name="default", content="azs: [{name: z1}]\n")
    assert created.status_code == 201
    body = created.json()
    assert list(body) == ["content", "id", "type", "name", "team", "created_at", "current"]
    assert (body["id"], body["team"], body["current"]) == ("1", None, True)
    assert body["created_at"].endswith(" UTC")
    again = post_config(admin, type="cloud", name="default", content="azs: [{name: z1}]\n")
    assert (again.status_code, again.json()["id"]) == (201, "1")
    stale = post_config(
        admin, type="cloud", name="default", content="azs: []\n", expected_latest_id=7
    )
    assert stale.status_code == 412
    assert stale.json() == {
        "latest_id": "1",
        "expected_latest_id": "7",
        "description": "Latest Id: '1' does not match expected latest id",
    }
    newer = post_config(
        admin, type="cloud", name="default", content="azs: []\n", expected_latest_id="1"
    )
    assert newer.json()["id"] == "2"
    assert [c["id"] for c in admin.get("/configs").json()] == ["2"]
    history = admin.get("/configs", params={"latest": "false"}).json()
    assert [(c["id"], c["current"]) for c in history] == [("2", True), ("1", False)]
    assert admin.get("/configs/1").json()["current"] is False
    assert events(admin) == [("create", "config/cloud", "default", None)] * 2


def test_request_errors_have_the_reference_codes(admin: TestClient) -> None:  # type: ignore[type-arg]
    bad_json = admin.post("/configs", content=b"{", headers=JSON)
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, 710001)
    no_name = post_config(admin, type="cloud", content="a: 1\n")
    assert no_name.json() == {"code": 440010, "description": "'name' is required"}
    bad_yaml = post_config(admin, type="cloud", name="x", content="a: [1\n")
    assert bad_yaml.json()["code"] == 440011
    assert "line 2" in bad_yaml.json()["description"]
    not_a_map = post_config(admin, type="cloud", name="x", content="- 1\n")
    assert not_a_map.json()["description"] == "YAML hash expected"
    assert admin.get("/configs", params={"limit": "0"}).json()["code"] == 440010
    missing = admin.get("/configs/42")
    assert (missing.status_code, missing.json()) == (
        404,
        {"code": 440012, "description": "Config 42 not found"},
    )
    wrong_type = admin.post("/configs", content=b"{}", headers=YAML)
    assert (wrong_type.status_code, wrong_type.text) == (404, "Endpoint '/configs' not found.")
    assert [event[1] for event in events(admin)] == ["config/cloud", "config/cloud",
                                                       "config/cloud", "config/"]  # fmt: skip


def test_diff_against_current_and_between_versions(admin: TestClient) -> None:  # type: ignore[type-arg]
    post_config(admin, type="runtime", name="dns", content="addons: [{name: a}]\n")
    diff = admin.post(
        "/configs/diff",
        content=json.dumps({"type": "runtime", "name": "dns", "content": "addons: [{name: b}]\n"}),
        headers=JSON,
    )
    assert diff.json() == {
        "from": {"id": "1"},
        "diff": [["addons:", None], ["- name: b", "added"], ["- name: a", "removed"]],
    }
    by_id = admin.post(
        "/configs/diff",
        content=json.dumps(
            {"from": {"id": "1", "content": ""}, "to": {"id": "", "content": "x: 1"}}
        ),
        headers=JSON,
    )
    assert by_id.json() == {
        "diff": [["addons:", "removed"], ["- name: a", "removed"], ["", None], ["x: 1", "added"]]
    }
    bad = admin.post("/configs/diff", content=json.dumps({"from": {}}), headers=JSON)
    assert bad.json()["code"] == 440010
    bad_content = admin.post(
        "/configs/diff",
        content=json.dumps({"type": "runtime", "name": "dns", "content": "- 1"}),
        headers=JSON,
    )
    assert bad_content.status_code == 400 and bad_content.json()["diff"] == []


def test_delete_by_id_and_by_type_and_name(admin: TestClient) -> None:  # type: ignore[type-arg]
    post_config(admin, type="cloud", name="a", content="x: 1\n")
    post_config(admin, type="cloud", name="a", content="x: 2\n")
    assert admin.delete("/configs/2").status_code == 204
    assert admin.get("/configs").json()[0]["id"] == "1"
    assert admin.delete("/configs/2").json()["code"] == 440012
    assert admin.delete("/configs", params={"type": "cloud", "name": "a"}).status_code == 204
    gone = admin.delete("/configs", params={"type": "cloud", "name": "a"})
    assert (gone.status_code, gone.text) == (404, "")
    assert admin.delete("/configs", params={"type": "cloud"}).json()["code"] == 440010


def test_per_type_routes(admin: TestClient) -> None:  # type: ignore[type-arg]
    assert admin.post("/cloud_configs", content=b"azs: []\n", headers=YAML).status_code == 201
    assert admin.post("/cloud_configs", content=b"azs: []\n", headers=YAML).status_code == 201
    listed = admin.get("/cloud_configs", params={"limit": "3"}).json()
    assert [item["properties"] for item in listed] == ["azs: []\n"]
    assert admin.get("/cloud_configs").text == "limit is required"
    diff = admin.post("/cloud_configs/diff", content=b"azs: [{name: z}]\n", headers=YAML)
    assert diff.json() == {"diff": [["azs:", None], ["- name: z", "added"]]}
    empty = admin.post("/runtime_configs", content=b"", headers=YAML)
    assert empty.json() == {"code": 440001, "description": "Manifest should not be empty"}
    admin.post("/runtime_configs?name=dns", content=b"releases: [{name: r, version: 2}]\n",
               headers=YAML)  # fmt: skip
    stored = admin.get("/runtime_configs", params={"limit": "1", "name": "dns"}).json()
    assert stored[0]["properties"] == "---\nreleases:\n- name: r\n  version: '2'\n"
    bad_cpi = admin.post("/cpi_configs", content=b"cpis: 3\n", headers=YAML)
    assert bad_cpi.status_code == 400 and "cpis" in bad_cpi.json()["description"]
    redacted = admin.post(
        "/cpi_configs/diff", content=b"cpis: [{name: c, type: t, properties: {k: s}}]\n",
        headers=YAML,
    ).json()["diff"]  # fmt: skip
    assert "s" not in [line.split(": ")[-1] for line, _ in redacted]
    assert events(admin) == [
        (
            "update",
            "cpi-config",
            None,
            "Invalid cpi config: $.cpis: expected a list, found a number",
        ),
        ("update", "runtime-config", "dns", None),
        ("update", "runtime-config", "default", "Manifest should not be empty"),
        ("update", "cloud-config", "default", None),
    ]
