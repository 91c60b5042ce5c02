"""Task-creating routes, run by an in-process worker: release and stemcell uploads (the
tarball streamed as the body, or fetched from a URL) and release, stemcell and deployment
deletion; each answers 302 to its task, and a failure ends the task with a clear error
and leaves no upload behind."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from bosh_core.cpi.local.stemcell import make_stemcell
from bosh_core.director.api import DirectorConfig, create_app, load_config
from bosh_core.director.db import Database
from tests.core.director.api.conftest import ADMIN, finished_task
from tests.core.director.release_tarballs import Tarballs, sha256_digest

TARBALL = {"Content-Type": "application/x-compressed"}


@pytest.fixture
def director_config(tmp_path: Path) -> DirectorConfig:
    path = tmp_path / "director.yml"
    user, password = ADMIN
    path.write_text(
        "data_dir: director\nworkers: 1\ncpi: local\n"
        f"users: [{{name: {user}, password: {password}}}]\n"
    )
    return load_config(path)


@pytest.fixture
def client(director_config: DirectorConfig, sqlite_database: Database) -> Iterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(director_config, sqlite_database, run_workers=True)
    with TestClient(app) as test_client:
        test_client.auth = ADMIN
        yield test_client


@pytest.fixture
def web_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "web"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def served_release(web_root: tuple[Path, str], tarballs: Tarballs) -> str:
    """The URL of the fixture release (v1), served over HTTP."""
    root, url = web_root
    (root / "fixture.tgz").write_bytes(tarballs.v1.read_bytes())
    return f"{url}/fixture.tgz"


def _upload(client: TestClient, path: Path, query: str = "") -> str:  # type: ignore[type-arg]
    response = client.post(
        f"/releases{query}", content=path.read_bytes(), headers=TARBALL, follow_redirects=False
    )
    assert response.status_code == 302, response.text
    location: str = response.headers["location"]
    assert location.startswith("/tasks/")
    return location


def test_an_uploaded_tarball_is_imported_by_a_worker(
    client: TestClient,  # type: ignore[type-arg]
    tarballs: Tarballs,
    director_config: DirectorConfig,
) -> None:
    location = _upload(client, tarballs.v1)
    task = finished_task(client, location)
    assert task["state"] == "done", task
    assert task["description"] == "create release"
    assert task["result"] == "Created release 'fixture/0+dev.1'"
    assert task["user"] == ADMIN[0]
    events = client.get(f"{location}/output", params={"type": "event"}).text
    assert '"stage":"Extracting release"' in events
    assert '"stage":"Release has been created"' in events
    assert list(director_config.tmp_dir.iterdir()) == []


def test_a_tampered_tarball_fails_its_task_and_leaves_nothing(
    client: TestClient,  # type: ignore[type-arg]
    tarballs: Tarballs,
    director_config: DirectorConfig,
) -> None:
    task = finished_task(client, _upload(client, tarballs.tampered))
    assert task["state"] == "error"
    assert "runtime" in task["result"]
    assert list(director_config.tmp_dir.iterdir()) == []
    assert not any(path.is_file() for path in director_config.blobstore_dir.rglob("*"))


def test_a_release_named_by_url_is_downloaded_and_its_digest_checked(
    client: TestClient,  # type: ignore[type-arg]
    tarballs: Tarballs,
    served_release: str,
) -> None:
    body = {"location": served_release, "sha1": sha256_digest(tarballs.v1)}
    response = client.post("/releases", json=body, follow_redirects=False)
    assert response.status_code == 302
    task = finished_task(client, response.headers["location"])
    assert task["state"] == "done", task
    events = client.get(f"{response.headers['location']}/output", params={"type": "event"})
    assert '"stage":"Downloading remote release"' in events.text
    assert '"stage":"Verifying remote release"' in events.text


def test_a_digest_mismatch_and_a_missing_url_fail_with_the_reference_errors(
    client: TestClient,  # type: ignore[type-arg]
    served_release: str,
) -> None:
    wrong = {"location": served_release, "sha1": "0" * 40}
    task = finished_task(
        client, client.post("/releases", json=wrong, follow_redirects=False).headers["location"]
    )
    assert task["state"] == "error"
    assert "digest" in task["result"]
    events = client.get(f"/tasks/{task['id']}/output", params={"type": "event"}).text
    assert '"code":30015' in events

    nothing = served_release.replace("fixture.tgz", "nothing.tgz")
    missing = client.post("/releases", json={"location": nothing}, follow_redirects=False)
    task = finished_task(client, missing.headers["location"])
    assert task["state"] == "error"
    assert task["result"] == f"No release found at '{nothing}'."


def test_a_urls_digest_may_be_a_query_parameter_but_not_in_both_places(
    client: TestClient,  # type: ignore[type-arg]
    served_release: str,
) -> None:
    location = {"location": served_release}
    query = {"sha1": "0" * 40}
    wrong = client.post("/releases", json=location, params=query, follow_redirects=False)
    task = finished_task(client, wrong.headers["location"])
    assert (task["state"], "digest" in task["result"]) == ("error", True)

    both = client.post(
        "/releases", json={**location, "sha1": "0" * 40}, params=query, follow_redirects=False
    )
    assert (both.status_code, both.text) == (400, "Sha1 provided in multiple places")


def test_a_rebased_upload_becomes_the_next_dev_version(
    client: TestClient,  # type: ignore[type-arg]
    tarballs: Tarballs,
) -> None:
    assert finished_task(client, _upload(client, tarballs.v2))["state"] == "done"
    task = finished_task(client, _upload(client, tarballs.v1, "?rebase=true"))
    assert task["result"] == "Created release 'fixture/0+dev.3'", task


def test_bad_requests_are_refused_before_any_task(client: TestClient) -> None:  # type: ignore[type-arg]
    wrong_type = client.post("/releases", content=b"x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 404
    assert wrong_type.text == "Endpoint '/releases' not found."
    no_location = client.post("/releases", json={"sha1": "abc"})
    assert no_location.status_code == 400
    assert no_location.json()["code"] == 40000
    not_json = client.post("/releases", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert client.get("/tasks", params={"verbose": "2"}).json() == []


def test_a_stemcell_is_uploaded_to_the_local_cpi_listed_and_deleted(
    client: TestClient,  # type: ignore[type-arg]
    tmp_path: Path,
    director_config: DirectorConfig,
) -> None:
    tarball = make_stemcell(tmp_path / "stemcell.tgz", version="7")
    response = client.post(
        "/stemcells", content=tarball.read_bytes(), headers=TARBALL, follow_redirects=False
    )
    task = finished_task(client, response.headers["location"])
    assert task["state"] == "done", task["result"]
    assert task["description"] == "create stemcell"
    assert task["result"] == "/stemcells/bosh-local-ubuntu-jammy-go_agent/7"
    [stemcell] = client.get("/stemcells").json()
    assert (stemcell["name"], stemcell["version"]) == ("bosh-local-ubuntu-jammy-go_agent", "7")
    assert list(director_config.tmp_dir.iterdir()) == []

    deleted = client.delete("/stemcells/bosh-local-ubuntu-jammy-go_agent/7", follow_redirects=False)
    assert deleted.status_code == 302
    task = finished_task(client, deleted.headers["location"])
    assert (task["state"], task["description"]) == (
        "done",
        "delete stemcell: bosh-local-ubuntu-jammy-go_agent/7",
    )
    assert client.get("/stemcells").json() == []


def test_a_release_is_deleted_by_a_task(
    client: TestClient,  # type: ignore[type-arg]
    tarballs: Tarballs,
) -> None:
    assert finished_task(client, _upload(client, tarballs.v1))["state"] == "done"
    deleted = client.delete("/releases/fixture", follow_redirects=False)
    task = finished_task(client, deleted.headers["location"])
    assert (task["state"], task["description"]) == ("done", "delete release: fixture")
    assert client.get("/releases").json() == []


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/releases/nothing", 30005, "Release 'nothing' doesn't exist"),
        ("/stemcells/nothing/1", 50003, "Stemcell 'nothing/1' doesn't exist"),
        ("/deployments/nothing", 70000, "Deployment 'nothing' doesn't exist"),
    ],
)
def test_deleting_what_does_not_exist_is_a_404_and_no_task(
    client: TestClient,  # type: ignore[type-arg]
    path: str,
    code: int,
    message: str,
) -> None:
    response = client.delete(path, follow_redirects=False)
    assert response.status_code == 404
    assert response.json() == {"code": code, "description": message}
    assert client.get("/tasks", params={"verbose": "2"}).json() == []
