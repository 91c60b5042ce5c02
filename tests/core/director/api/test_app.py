"""The API over HTTP as the reference CLI sees it: /info, auth, errors, tasks."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from bosh_core.director.api import DirectorConfig, create_app
from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import Task
from bosh_core.director.tasks import TaskOutput

from .conftest import ADMIN

TASK_KEYS = [
    "id",
    "state",
    "description",
    "timestamp",
    "started_at",
    "result",
    "user",
    "deployment",
    "context_id",
]


def add_task(database: Database, **values: Any) -> int:
    values.setdefault("type", "update_deployment")
    values.setdefault("description", "create deployment")
    with database.write() as session:
        task = Task(**values)
        session.add(task)
        session.flush()
        return task.id


# --- /info ---------------------------------------------------------------------------


def test_info_is_public_and_has_the_reference_shape(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/info")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == [
        "name",
        "uuid",
        "version",
        "user",
        "cpi",
        "stemcell_os",
        "stemcell_version",
        "user_authentication",
        "features",
    ]
    assert body["name"] == "test-director"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["uuid"])
    assert re.fullmatch(r"\S+ \(\S+\)", body["version"])
    assert body["user"] is None
    assert body["cpi"] == "local"
    assert body["user_authentication"] == {"type": "basic", "options": {}}
    assert body["features"] == {
        "local_dns": {"status": False, "extras": {"domain_name": "bosh"}},
        "snapshots": {"status": False},
        "config_server": {"status": False, "extras": {"urls": []}},
    }


def test_info_names_the_user_and_keeps_its_uuid(
    config: DirectorConfig,
    client: TestClient,  # type: ignore[type-arg]
    sqlite_database: Database,
) -> None:
    first = client.get("/info", auth=ADMIN).json()
    assert first["user"] == "admin"
    assert client.get("/info", auth=("admin", "wrong")).json()["user"] is None
    # A new app (a restarted director) reads the same uuid from the database.
    with TestClient(create_app(config, sqlite_database)) as again:
        assert again.get("/info").json()["uuid"] == first["uuid"]


# --- authentication and errors --------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, ("admin", "wrong"), ("nobody", "s3cret-admin-pw"), ("admin", "")],
)
def test_unauthenticated_calls_get_the_reference_401(
    client: TestClient,  # type: ignore[type-arg]
    auth: tuple[str, str] | None,
) -> None:
    for path in ("/tasks", "/tasks/1/output", "/no/such/route"):
        response = client.get(path, auth=auth)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Basic realm="BOSH Director"'
        assert response.text == f"Not authorized: '{path}'\n"


def test_malformed_authorization_headers_are_401(client: TestClient) -> None:  # type: ignore[type-arg]
    for header in ("Basic !!!", "Basic YWRtaW4=", "Bearer abc", "Basic"):
        response = client.get("/tasks", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_unknown_routes_and_methods_are_404_endpoint_not_found(admin: TestClient) -> None:  # type: ignore[type-arg]
    response = admin.get("/no/such/route")
    assert (response.status_code, response.text) == (404, "Endpoint '/no/such/route' not found.")
    response = admin.put("/info")
    assert (response.status_code, response.text) == (404, "Endpoint '/info' not found.")


def test_a_wrong_content_type_is_an_unknown_endpoint(admin: TestClient) -> None:  # type: ignore[type-arg]
    response = admin.post("/tasks/cancel", content=b"{}", headers={"Content-Type": "text/yaml"})
    assert (response.status_code, response.text) == (404, "Endpoint '/tasks/cancel' not found.")


def test_director_errors_are_code_and_description(admin: TestClient) -> None:  # type: ignore[type-arg]
    for task_id in ("999", "abc", "99999999999999999999"):
        response = admin.get(f"/tasks/{task_id}")
        assert response.status_code == 404
        assert response.json() == {"code": 10000, "description": f"Task {task_id} not found"}


def test_a_long_context_id_is_refused(admin: TestClient) -> None:  # type: ignore[type-arg]
    response = admin.get("/tasks", headers={"X-Bosh-Context-Id": "x" * 65})
    assert response.status_code == 400
    assert response.json()["code"] == 70010
    assert admin.get("/tasks", headers={"X-Bosh-Context-Id": "x" * 64}).status_code == 200


def test_the_openapi_document_is_published(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/info", "/tasks", "/tasks/{task_id}", "/tasks/{task_id}/output"} <= set(paths)


# --- tasks ---------------------------------------------------------------------------


def test_task_json_has_the_reference_keys_and_times(
    admin: TestClient,  # type: ignore[type-arg]
    sqlite_database: Database,
) -> None:
    started = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    running = add_task(
        sqlite_database, state="processing", started_at=started, deployment_name="cf"
    )
    done = add_task(
        sqlite_database,
        state="done",
        started_at=started,
        timestamp=started + dt.timedelta(seconds=90),
        result="/deployments/cf",
        username="ops",
        context_id="ctx-1",
    )
    body = admin.get(f"/tasks/{running}").json()
    assert list(body) == TASK_KEYS
    assert body == {
        "id": running,
        "state": "processing",
        "description": "create deployment",
        "timestamp": None,
        "started_at": int(started.timestamp()),
        "result": None,
        "user": "admin",
        "deployment": "cf",
        "context_id": "",
    }
    body = admin.get(f"/tasks/{done}").json()
    assert body["timestamp"] == int(started.timestamp()) + 90
    assert (body["user"], body["result"], body["context_id"]) == ("ops", "/deployments/cf", "ctx-1")


def test_task_list_filters(admin: TestClient, sqlite_database: Database) -> None:  # type: ignore[type-arg]
    a = add_task(sqlite_database, state="done", deployment_name="cf")
    b = add_task(sqlite_database, state="processing", deployment_name="cf")
    c = add_task(sqlite_database, state="queued", deployment_name="redis", context_id="ctx")
    d = add_task(sqlite_database, state="done", type="scheduled_orphaned_disk_cleanup")

    def ids(**params: str) -> list[int]:
        response = admin.get("/tasks", params=params)
        assert response.status_code == 200
        return [task["id"] for task in response.json()]

    assert ids() == [c, b, a]  # newest first; verbose=1 hides director bookkeeping
    assert ids(verbose="2") == [d, c, b, a]
    assert ids(state="queued,processing") == [c, b]
    assert ids(deployment="cf") == [b, a]
    assert ids(limit="2") == [c, b]
    assert ids(limit="0") == [c]  # as the reference: at least one
    assert ids(limit="junk") == [c]
    assert ids(verbose="2", type="scheduled_orphaned_disk_cleanup") == [d]
    assert ids(context_id="ctx") == [c]
    assert all(list(task) == TASK_KEYS for task in admin.get("/tasks").json())


def test_tasks_are_listed_newest_first_by_their_timestamp(
    admin: TestClient,  # type: ignore[type-arg]
    sqlite_database: Database,
) -> None:
    # As the reference orders them: a task that ended later comes first, whatever its id.
    start = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    long_one = add_task(sqlite_database, state="done", timestamp=start + dt.timedelta(minutes=9))
    short_one = add_task(sqlite_database, state="done", timestamp=start + dt.timedelta(minutes=2))
    assert [task["id"] for task in admin.get("/tasks").json()] == [long_one, short_one]


def test_reading_tasks_times_out_those_whose_worker_stopped_checkpointing(
    admin: TestClient,  # type: ignore[type-arg]
    sqlite_database: Database,
) -> None:
    # No worker runs here: the reads themselves end the tasks, as the reference's do.
    now = dt.datetime.now(dt.UTC)
    silent = now - dt.timedelta(seconds=6 * 30 + 5)
    listed = add_task(sqlite_database, state="processing", checkpoint_time=silent)
    shown = add_task(sqlite_database, state="cancelling", checkpoint_time=silent)
    alive = add_task(sqlite_database, state="processing", checkpoint_time=now)
    assert admin.get(f"/tasks/{shown}").json()["state"] == "timeout"
    assert admin.get(f"/tasks/{alive}").json()["state"] == "processing"
    states = {task["id"]: task["state"] for task in admin.get("/tasks").json()}
    assert (states[listed], states[alive]) == ("timeout", "processing")


def test_task_list_on_postgres_and_sqlite(config: DirectorConfig, database: Database) -> None:
    first = add_task(database, state="done")
    second = add_task(database, state="queued")
    with TestClient(create_app(config, database)) as client:
        response = client.get("/tasks", params={"limit": "5"}, auth=ADMIN)
        assert [task["id"] for task in response.json()] == [second, first]
        assert client.delete(f"/task/{second}", auth=ADMIN).status_code == 204
        assert client.get(f"/tasks/{second}", auth=ADMIN).json()["state"] == "cancelling"


def test_task_output_with_ranges(
    admin: TestClient,  # type: ignore[type-arg]
    sqlite_database: Database,
    tmp_path: Path,
) -> None:
    directory = tmp_path / "tasks" / "1"
    with TaskOutput(directory) as output:
        with output.event_log().stage("Preparing deployment", total=1).track("Binding"):
            pass
        output.write_result("/deployments/cf\n")
    task_id = add_task(sqlite_database, state="done", output=str(directory))
    events = (directory / "event").read_bytes()

    response = admin.get(f"/tasks/{task_id}/output", params={"type": "event"})
    assert (response.status_code, response.content) == (200, events)
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["state"] for line in lines] == ["started", "finished"]

    response = admin.get(
        f"/tasks/{task_id}/output", params={"type": "event"}, headers={"Range": "bytes=10-"}
    )
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 10-{len(events) - 1}/{len(events)}"
    assert response.content == events[10:]

    response = admin.get(
        f"/tasks/{task_id}/output",
        params={"type": "event"},
        headers={"Range": f"bytes={len(events)}-"},
    )
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(events)}"

    response = admin.get(f"/tasks/{task_id}/output", params={"type": "result"})
    assert response.text == "/deployments/cf\n"
    assert admin.get(f"/tasks/{task_id}/output", params={"type": "cpi"}).status_code == 204
    assert admin.get(f"/tasks/{task_id}/output", params={"type": "none"}).status_code == 204
    response = admin.get(f"/tasks/{task_id}/output", params={"type": "bogus"})
    assert response.status_code == 401
    assert response.json() == {"code": 600000, "description": "Unknown type bogus"}
    assert admin.get("/tasks/999/output", params={"type": "event"}).status_code == 404


def test_task_output_falls_back_to_the_row(
    admin: TestClient,  # type: ignore[type-arg]
    sqlite_database: Database,
    tmp_path: Path,
) -> None:
    no_output = add_task(sqlite_database, state="queued")
    assert admin.get(f"/tasks/{no_output}/output", params={"type": "event"}).status_code == 204
    old = add_task(
        sqlite_database, state="done", output=str(tmp_path / "gone"), result_output="abcdef"
    )
    response = admin.get(f"/tasks/{old}/output", params={"type": "result"})
    assert (response.status_code, response.text) == (200, "abcdef")
    response = admin.get(
        f"/tasks/{old}/output", params={"type": "result"}, headers={"Range": "bytes=2-"}
    )
    assert (response.status_code, response.text) == (206, "cdef")
    assert response.headers["content-range"] == "bytes 2-5/6"
    response = admin.get(
        f"/tasks/{old}/output", params={"type": "result"}, headers={"Range": "bytes=6-"}
    )
    assert response.status_code == 416


def test_cancel_one_task(admin: TestClient, sqlite_database: Database) -> None:  # type: ignore[type-arg]
    queued = add_task(sqlite_database, state="queued")
    done = add_task(sqlite_database, state="done")
    assert admin.delete(f"/task/{queued}").status_code == 204
    assert admin.get(f"/tasks/{queued}").json()["state"] == "cancelling"
    response = admin.delete(f"/task/{done}")
    assert (response.status_code, response.text) == (
        400,
        f"Cannot cancel task {done}: invalid state (done)",
    )
    assert admin.delete("/task/999").json()["code"] == 10000
    # Only the reference's singular route: a client that repeats DELETE on a task's
    # redirect (as httpx and `curl -L -X DELETE` do) must not cancel the task.
    assert admin.delete(f"/tasks/{queued}").status_code == 404


def test_cancel_tasks_by_selector(admin: TestClient, sqlite_database: Database) -> None:  # type: ignore[type-arg]
    queued = add_task(sqlite_database, state="queued", deployment_name="cf")
    other = add_task(sqlite_database, state="queued", deployment_name="redis")
    running = add_task(sqlite_database, state="processing", deployment_name="cf")
    response = admin.post("/tasks/cancel", json={"deployment": "cf"})
    assert response.status_code == 204
    states = {t["id"]: t["state"] for t in admin.get("/tasks").json()}
    assert states == {queued: "cancelling", other: "queued", running: "processing"}
    response = admin.post("/tasks/cancel", json={"states": ["done"]})
    assert (response.status_code, response.text) == (
        400,
        "done is not one of the cancellable states: queued, processing",
    )
    response = admin.post("/tasks/cancel", json={"states": ["processing"], "types": ["x"]})
    assert response.status_code == 204
    assert admin.get(f"/tasks/{running}").json()["state"] == "processing"


def test_unexpected_errors_are_500_with_an_empty_body(
    config: DirectorConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unmigrated = open_database(tmp_path / "empty.db")  # no tables: every query fails
    try:
        with TestClient(create_app(config, unmigrated)) as client:
            response = client.get("/tasks", auth=ADMIN)
    finally:
        unmigrated.dispose()
    assert (response.status_code, response.content) == (500, b"")
    assert "no such table" in caplog.text
    assert ADMIN[1] not in caplog.text


@pytest.mark.parametrize("path", ["/configs", "/events", "/tasks/cancel", "/stemcell_uploads"])
def test_huge_json_bodies_are_refused_before_they_are_read(
    admin: TestClient,  # type: ignore[type-arg]
    path: str,
) -> None:
    body = b'{"a":"' + b"x" * (11 << 20) + b'"}'
    response = admin.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert admin.get("/tasks", params={"verbose": "2"}).json() == []


def test_certificate_expiry_lists_the_directors_certificates(
    admin: TestClient,  # type: ignore[type-arg]
) -> None:
    found = {
        item["certificate_path"]: item for item in admin.get("/director/certificate_expiry").json()
    }
    assert sorted(found) == ["tls.ca", "tls.cert"]
    for item in found.values():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["expiry"])
        assert item["days_left"] > 300
    assert admin.get("/director/certificate_expiry", auth=None).status_code == 401
