"""bosh_core.client.Director against a real director API over TLS."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bosh_core.client import (
    ClientError,
    Director,
    DirectorResponseError,
    EventFilter,
    NotLoggedInError,
    TaskEvent,
    normalize_url,
)
from bosh_core.director.events import EventLog
from bosh_core.director.locks import Locks, deployment_lock
from tests.core.client.conftest import ADMIN, Served


@pytest.fixture
def director(served: Served) -> Iterator[Director]:
    with Director(
        served.url,
        ca_cert=str(served.ca),
        client=ADMIN[0],
        client_secret=ADMIN[1],
        poll_interval=0.05,
    ) as client:
        yield client


def test_normalize_url_adds_https_and_the_director_port() -> None:
    assert normalize_url("10.0.0.6") == "https://10.0.0.6:25555"
    assert normalize_url("https://d.example:443/") == "https://d.example:443"
    with pytest.raises(ClientError, match="https"):
        normalize_url("http://10.0.0.6")


def test_info_is_typed_and_shows_the_user(director: Director) -> None:
    info = director.info()
    assert info.name == "test-director"
    assert info.uuid == "6f2e3d4c-0000-4000-8000-000000000001"
    assert info.user == "admin"
    assert info.cpi == "local"
    assert info.auth_type == "basic"
    assert info.features == {"local_dns": False, "snapshots": False, "config_server": False}


def test_ca_given_as_pem_text_is_trusted(served: Served) -> None:
    with Director(served.url, ca_cert=served.ca.read_text()) as anonymous:
        assert anonymous.info().user is None


def test_an_untrusted_certificate_is_refused(served: Served) -> None:
    with Director(served.url) as director, pytest.raises(ClientError, match="CERTIFICATE"):
        director.info()


def test_wrong_credentials_say_to_log_in(served: Served) -> None:
    with (
        Director(served.url, ca_cert=str(served.ca), client="admin", client_secret="no") as bad,
        pytest.raises(NotLoggedInError, match="Not logged in") as caught,
    ):
        bad.tasks()
    assert caught.value.http_status == 401


def test_director_errors_keep_their_code(director: Director) -> None:
    with pytest.raises(DirectorResponseError, match="Task 999 not found") as caught:
        director.task(999)
    assert (caught.value.code, caught.value.http_status) == (10000, 404)


def test_tasks_filters_and_output_ranges(served: Served, director: Director) -> None:
    done, output = served.add_task(result="/deployments/cf")
    output.write_result('{"ok":true}\n')
    running, _ = served.add_task(state="processing", description="delete deployment cf")
    served.add_task(task_type="vms", description="retrieve vm-stats")
    assert [task.id for task in director.tasks()] == [running, done]
    assert len(director.tasks(all_types=True)) == 3
    assert [task.id for task in director.current_tasks()] == [running]
    assert [task.id for task in director.tasks(limit=1)] == [running]
    first = director.task(done)
    assert first.succeeded and first.result == "/deployments/cf" and first.finished_at
    assert director.task(running).finished_at is None
    whole = director.task_output(done, "result")
    assert whole.data == b'{"ok":true}\n'
    rest = director.task_output(done, "result", 6)
    assert rest.data == b"true}\n" and rest.next_offset == 12
    assert director.task_output(done, "result", 12).data == b""  # 416: nothing new


def test_follow_task_streams_events_until_the_task_ends(served: Served, director: Director) -> None:
    task_id, output = served.add_task(state="processing")
    log = output.event_log()
    stage = log.stage("Preparing deployment", total=1)

    def worker() -> None:
        with stage.track("Rendering templates"):
            time.sleep(0.2)
        time.sleep(0.1)
        log.warn("careful")
        served.set_state(task_id, "done")

    thread = threading.Thread(target=worker)
    thread.start()
    seen: list[TaskEvent] = []
    chunks: list[bytes] = []
    final = director.follow_task(task_id, seen.append, on_chunk=chunks.append)
    thread.join()
    assert final.state == "done"
    assert [(event.stage, event.state) for event in seen[:2]] == [
        ("Preparing deployment", "started"),
        ("Preparing deployment", "finished"),
    ]
    assert seen[-1].type == "warning" and seen[-1].message == "careful"
    assert b"".join(chunks) == output.path("event").read_bytes()
    assert len(chunks) >= 2  # read in pieces while the task ran


def test_cancel_task(served: Served, director: Director) -> None:
    task_id, _ = served.add_task(state="queued")
    director.cancel_task(task_id)
    assert director.task(task_id).state == "cancelling"
    with pytest.raises(DirectorResponseError, match="invalid state"):
        director.cancel_task(task_id)


def test_locks(served: Served, director: Director) -> None:
    assert director.locks() == []
    with Locks(served.database).acquire(deployment_lock("cf"), task_id="7"):
        [lock] = director.locks()
    assert (lock.type, lock.resource, lock.task_id) == ("deployment", ("cf",), "7")
    assert lock.expires_at is not None


def test_events_filters_and_one_event(served: Served, director: Director) -> None:
    log = EventLog(served.database)
    start = log.record(user="admin", action="update", object_type="deployment",
                       object_name="cf", task=4, deployment="cf")  # fmt: skip
    assert start is not None
    log.record(user="admin", action="update", object_type="deployment", object_name="cf",
               task=4, deployment="cf", parent_id=start.id, context={"a": 1})  # fmt: skip
    log.record(user="hm", action="create", object_type="alert", object_name="x")
    assert [event.action for event in director.events()] == ["create", "update", "update"]
    mine = director.events(EventFilter(deployment="cf", task="4"))
    assert [event.parent_id for event in mine] == [str(start.id), ""]
    assert mine[0].context == {"a": 1}
    assert [e.user for e in director.events(EventFilter(object_type="alert"))] == ["hm"]
    assert director.events(EventFilter(before_id=str(start.id))) == []
    one = director.event(start.id)
    assert (one.id, one.object_name, one.task) == (str(start.id), "cf", "4")
    with pytest.raises(DirectorResponseError) as caught:
        director.event(99999)
    assert caught.value.http_status == 404
    with pytest.raises(DirectorResponseError, match="Invalid before parameter"):
        director.events(EventFilter(before="not a time"))
