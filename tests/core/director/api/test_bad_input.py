"""Bad input at the API's edge: wrong Content-Types, malformed and huge bodies, wrong
passwords, unknown task ids and hostile uploads. Each is answered as the reference
director answers it (or as noted) and leaves nothing behind: no task, config or event
row, no staged file, no blob."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias, cast

import pytest
from litestar.testing import TestClient
from litestar.types import HTTPReceiveMessage, HTTPResponseStartEvent, HTTPScope, Message
from sqlalchemy import func, select

from bosh_core.director.api import DirectorConfig, create_app
from bosh_core.director.api.app import MAX_BODY_SIZE
from bosh_core.director.db import Database
from bosh_core.director.db.models import Config, Event, Task
from bosh_core.director.workers import WorkerPool
from tests.core.director.api.conftest import ADMIN, finished_task
from tests.core.director.api.test_deploy import MANIFEST
from tests.core.release.test_tarball import Entry, release_entries, tar_bytes

Client: TypeAlias = "TestClient[Any]"
Answer: TypeAlias = tuple[int, dict[str, str]]

JSON = "application/json"
YAML = "text/yaml"
TARBALL = "application/x-compressed"
MiB = 1 << 20

CLOUD = "azs: [{name: z1}]\n"
RUNTIME = "releases: []\n"
CPI = "cpis: [{name: c1, type: local}]\n"
CONFIG = json.dumps({"type": "cloud", "name": "default", "content": CLOUD})
EVENT = json.dumps({"action": "a", "object_type": "o", "object_name": "n"})
NOTHING = {"Task": 0, "Config": 0, "Event": 0}


@pytest.fixture
def api(config: DirectorConfig, database: Database) -> Iterator[Client]:
    """An admin client over SQLite and over PostgreSQL (no workers: tasks stay queued)."""
    with TestClient(create_app(config, database)) as client:
        client.auth = ADMIN
        yield client


def _rows(database: Database) -> dict[str, int]:
    with database.read() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Task, Config, Event)
        }


# -- 1. a Content-Type the route does not consume: an unknown route -----------------------

# (path, the Content-Type sent, a body the route would act on under its own type: were
# the guard gone, a task, config or event would be stored)
WRONG_TYPES = [
    ("/stemcells", "text/plain", "a tarball"),
    ("/releases", "text/plain", "a tarball"),
    ("/releases", None, "a tarball"),
    ("/configs", YAML, CONFIG),
    ("/configs", None, CONFIG),
    ("/configs/diff", YAML, CONFIG),
    ("/cloud_configs", JSON, CLOUD),
    ("/cloud_configs/diff", JSON, CLOUD),
    ("/runtime_configs", JSON, RUNTIME),
    ("/runtime_configs/diff", JSON, RUNTIME),
    ("/cpi_configs", JSON, CPI),
    ("/cpi_configs/diff", JSON, CPI),
    ("/packages/matches", JSON, "packages: []\n"),
    ("/packages/matches_compiled", JSON, "compiled_packages: []\n"),
    ("/events", YAML, EVENT),
    ("/tasks/cancel", YAML, "{}"),
    ("/deployments", JSON, MANIFEST),
    ("/deployments", "application/x-yaml", MANIFEST),
    ("/deployments/web/diff", JSON, MANIFEST),
]


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    WRONG_TYPES,
    ids=[f"{path} as {content_type}" for path, content_type, _ in WRONG_TYPES],
)
def test_a_wrong_content_type_is_an_unknown_route(
    api: Client,
    database: Database,
    config: DirectorConfig,
    path: str,
    content_type: str | None,
    body: str,
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = api.post(path, content=body, headers=headers, follow_redirects=False)
    assert (response.status_code, response.text) == (404, f"Endpoint '{path}' not found.")
    assert _rows(database) == NOTHING
    assert list(config.tmp_dir.glob("*")) == []


# -- 2. malformed bodies ------------------------------------------------------------------

BAD_YAML = "name: [unclosed\n"
BAD_JSON = '{"type": '
INCORRECT_YAML = "Incorrect YAML structure of the uploaded manifest: "
BAD_MANIFEST = {"code": 440001, "description": INCORRECT_YAML}
BAD_CONTENT = json.dumps({"type": "cloud", "name": "default", "content": BAD_YAML})
INVALID_JSON = {"code": 710001, "description": "Invalid JSON request body: "}
BAD_CONFIG = "Unable to diff config content: #<Bosh::Director::BadConfig: Config must be valid"

# (path, Content-Type, body, status, answer): a text answer is the whole body; in a JSON
# one, a string is the start of the value (the parsers' own words follow).
MALFORMED: list[tuple[str, str, str, int, str | dict[str, Any]]] = [
    *(
        (path, YAML, BAD_YAML, 400, BAD_MANIFEST)
        for kind in ("cloud", "runtime", "cpi")
        for path in (f"/{kind}_configs", f"/{kind}_configs/diff")
    ),
    ("/deployments", YAML, BAD_YAML, 400, BAD_MANIFEST),
    # The reference's error is `error.inspect` and a backtrace: only the start is shared.
    (
        "/deployments/web/diff",
        YAML,
        BAD_YAML,
        200,
        {"diff": [], "error": f"Unable to diff manifest: {INCORRECT_YAML}"},
    ),
    ("/configs", JSON, BAD_CONTENT, 400, {"code": 440011, "description": "Config must be valid"}),
    ("/configs/diff", JSON, BAD_CONTENT, 400, {"diff": [], "error": BAD_CONFIG}),
    ("/configs", JSON, BAD_JSON, 400, INVALID_JSON),
    ("/configs/diff", JSON, BAD_JSON, 400, INVALID_JSON),
    # The reference answers these four 500 with an empty body (JSON::ParserError is no
    # DirectorError); ours are 400s.
    ("/tasks/cancel", JSON, BAD_JSON, 400, "Invalid JSON body"),
    ("/events", JSON, BAD_JSON, 400, {"code": 40000, "description": "Invalid JSON body: "}),
    *(
        (path, JSON, BAD_JSON, 400, {"code": 40000, "description": "Request body is not valid"})
        for path in ("/stemcells", "/releases")
    ),
]


@pytest.mark.parametrize(
    ("path", "content_type", "body", "status", "answer"),
    MALFORMED,
    ids=[f"{path} {'yaml' if body == BAD_YAML else 'json'}" for path, _, body, *_ in MALFORMED],
)
def test_a_malformed_body_is_refused_and_nothing_is_stored(
    api: Client,
    database: Database,
    path: str,
    content_type: str,
    body: str,
    status: int,
    answer: str | dict[str, Any],
) -> None:
    response = api.post(
        path, content=body, headers={"Content-Type": content_type}, follow_redirects=False
    )
    assert response.status_code == status, response.text
    if isinstance(answer, str):
        assert response.text == answer
    else:
        found = response.json()
        assert found.keys() == answer.keys()
        for key, expected in answer.items():
            if isinstance(expected, str):
                assert found[key].startswith(expected), found[key]
            else:
                assert found[key] == expected
    assert api.get("/configs", params={"latest": "false"}).json() == []
    assert _rows(database)["Task"] == 0
    # Config changes that failed are recorded as failures, as the reference does.
    assert all(event.get("error") for event in api.get("/events").json())


# -- 3. huge bodies on the YAML routes ----------------------------------------------------

# Every route but the uploads reads at most MAX_BODY_SIZE (the reference's nginx takes up
# to director.max_upload_size, 10000m, anywhere; we keep whole-read bodies smaller).
BODY_LIMIT = MAX_BODY_SIZE
HUGE_ROUTES = [
    ("/deployments", MANIFEST),
    ("/deployments/web/diff", MANIFEST),
    ("/cloud_configs", CLOUD),
    ("/runtime_configs", RUNTIME),
    ("/cpi_configs", CPI),
    ("/packages/matches", "packages: []\n"),
]


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("path", "body"), HUGE_ROUTES, ids=[path for path, _ in HUGE_ROUTES])
def test_a_huge_body_is_refused_before_anything_is_stored(
    api: Client, database: Database, path: str, body: str, announced: bool
) -> None:
    # Padded with a YAML comment: a valid document the route would act on.
    padded = f"{body}#{'x' * BODY_LIMIT}\n".encode()
    chunks = (padded[start : start + MiB] for start in range(0, len(padded), MiB))
    response = api.post(
        path,
        content=padded if announced else chunks,
        headers={"Content-Type": YAML},
        follow_redirects=False,
    )
    assert (response.status_code, response.text) == (413, "Request Entity Too Large")
    assert _rows(database) == NOTHING


# -- 4. wrong passwords -------------------------------------------------------------------

TRIED = "tried-Pa55word-7431"


def _basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def test_wrong_passwords_are_never_logged_nor_recorded(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    user, password = ADMIN
    tries = [
        ("GET", "/deployments", f"{user}:{TRIED}", None, None),
        ("POST", "/cloud_configs", f"{user}:{TRIED}", YAML, CLOUD),
        ("POST", "/configs", f"nobody:{TRIED}", JSON, CONFIG),
        ("GET", "/no/such/route", f"{user}:{TRIED}", None, None),
        ("DELETE", "/task/1", TRIED, None, None),  # no colon: not even a user name
    ]
    for method, path, credentials, content_type, body in tries:
        headers = {"Authorization": _basic(credentials)}
        if content_type:
            headers["Content-Type"] = content_type
        response = client.request(method, path, content=body, headers=headers)
        assert (response.status_code, response.text) == (401, f"Not authorized: '{path}'\n")
        assert response.headers["www-authenticate"] == 'Basic realm="BOSH Director"'

    # The capture works: an admin's failed request is logged at DEBUG.
    assert client.get("/tasks/999", auth=ADMIN).status_code == 404
    assert "Task 999 not found" in caplog.text
    events = client.get("/events", auth=ADMIN).text
    secrets = [TRIED, password, *(_basic(c).split()[1] for _, _, c, _, _ in tries)]
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in events


# -- 5. unknown task ids ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "task_id"),
    [
        ("GET", "/tasks/999/output?type=event", "999"),
        ("GET", "/tasks/abc/output?type=event", "abc"),
        ("DELETE", "/task/abc", "abc"),
        ("DELETE", "/task/999", "999"),
        ("DELETE", "/task/99999999999", "99999999999"),  # beyond PostgreSQL's integer
    ],
)
def test_an_unknown_task_is_the_reference_task_not_found(
    api: Client, method: str, path: str, task_id: str
) -> None:
    response = api.request(method, path)
    assert response.status_code == 404
    assert response.json() == {"code": 10000, "description": f"Task {task_id} not found"}


# -- 6. uploads ---------------------------------------------------------------------------

UPLOAD_SIZE = 64 * MiB


def _garbage(digest: Any) -> Iterator[bytes]:
    """`UPLOAD_SIZE` bytes that are no tarball, made 1 MiB at a time (each chunk freed
    once sent), fed to `digest`."""
    for index in range(UPLOAD_SIZE // MiB):
        chunk = (f"garbage {index:02} ".encode() * (MiB // 11 + 1))[:MiB]
        digest.update(chunk)
        yield chunk


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def _post_streamed(client: Client, path: str, chunks: Iterator[bytes], size: int) -> Answer:
    """POST `chunks` to the app as an ASGI server does, one ``http.request`` message per
    chunk (the TestClient cannot: its transport reads the whole body into memory first,
    ``request.read()`` in litestar/testing/transport.py); the status and headers."""
    headers = {
        "authorization": _basic(":".join(ADMIN)),
        "content-type": TARBALL,
        "content-length": str(size),
    }
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
        "extensions": {},
    }
    sent: list[Message] = []
    ended = False

    async def receive() -> HTTPReceiveMessage:
        nonlocal ended
        chunk = next(chunks, None)
        if chunk is not None:
            return {"type": "http.request", "body": chunk, "more_body": True}
        if ended:
            return {"type": "http.disconnect"}
        ended = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    client.blocking_portal.call(client.app, cast(HTTPScope, scope), receive, send)
    start = cast(HTTPResponseStartEvent, sent[0])
    assert start["type"] == "http.response.start"
    return start["status"], {name.decode(): value.decode() for name, value in start["headers"]}


def _failed_task(client: Client, location: str) -> tuple[dict[str, Any], str]:
    """The task at `location` once a worker has run it, and its event output."""
    pool = WorkerPool(client.app.state.director, 1, poll_timeout=0.1)
    pool.start()
    try:
        task = finished_task(client, location)
    finally:
        pool.stop()
    assert task["state"] == "error", task
    return task, client.get(f"{location}/output", params={"type": "event"}).text


def test_a_64_mib_upload_is_streamed_to_disk_in_flat_memory(
    admin: Client, config: DirectorConfig
) -> None:
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        status, headers = _post_streamed(admin, "/releases", _garbage(digest), UPLOAD_SIZE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 302
    assert peak < 32 * MiB, f"{peak / MiB:.1f} MiB traced while uploading"

    [staged] = config.tmp_dir.iterdir()
    assert staged.name.startswith("release-upload-")
    assert staged.stat().st_size == UPLOAD_SIZE
    assert _sha256(staged) == digest.hexdigest()

    task, events = _failed_task(admin, headers["location"])
    assert task["description"] == "create release"
    assert task["result"].startswith("Extracting release archive failed: Release tarball")
    assert '"code":30002' in events  # ReleaseInvalidArchive
    assert f"'{staged}' is not gzip-compressed" in events
    assert list(config.tmp_dir.iterdir()) == []


def test_a_release_with_a_climbing_member_fails_and_writes_nothing(
    admin: Client, config: DirectorConfig, tmp_path: Path
) -> None:
    tarball = tar_bytes([*release_entries(), Entry("../evil", b"owned")])
    response = admin.post(
        "/releases", content=tarball, headers={"Content-Type": TARBALL}, follow_redirects=False
    )
    assert response.status_code == 302, response.text
    task, events = _failed_task(admin, response.headers["location"])
    assert task["result"].startswith("Extracting release archive failed: Release tarball")
    assert "has member '../evil' that climbs out of the archive" in events
    assert list(tmp_path.rglob("evil")) == []
    assert not (tmp_path.parent / "evil").exists()
    assert list(config.tmp_dir.iterdir()) == []
    assert not any(path.is_file() for path in config.blobstore_dir.rglob("*"))
    assert admin.get("/releases").json() == []
