from __future__ import annotations

import gzip
import logging
import re
import threading
from pathlib import Path

import pytest

from bosh_core.director.errors import UnauthorizedToAccessDeploymentError
from bosh_core.director.tasks import TaskOutput, read_output, redact, redact_text, stream_output
from bosh_core.director.tasks.output import UNSATISFIABLE, parse_range

# --- writing ---------------------------------------------------------------------------


def test_a_new_task_directory_has_empty_event_result_and_debug(tmp_path: Path) -> None:
    with TaskOutput(tmp_path / "7"):
        pass
    assert sorted(p.name for p in (tmp_path / "7").iterdir()) == ["debug", "event", "result"]
    assert all(p.stat().st_size == 0 for p in (tmp_path / "7").iterdir())


def test_result_and_cpi_logs_append(tmp_path: Path) -> None:
    with TaskOutput(tmp_path) as output:
        output.write_result('{"vm_cid":"a"}\n')
        output.write_result('{"vm_cid":"b"}\n')
        output.cpi_log("INFO -- [req_id 1]: request create_vm\n")
        output.cpi_log("connecting to https://admin:hunter2@cpi.example/\n")
    assert (tmp_path / "result").read_text() == '{"vm_cid":"a"}\n{"vm_cid":"b"}\n'
    assert (tmp_path / "cpi").read_text() == (
        "INFO -- [req_id 1]: request create_vm\n"
        "connecting to https://admin:<redacted>@cpi.example/\n"
    )


def test_event_lines_are_readable_while_the_task_runs(tmp_path: Path) -> None:
    output = TaskOutput(tmp_path)
    stage = output.event_log().stage("Preparing deployment", total=1)
    with stage.track("Preparing deployment"):
        status, _, body = read_output(tmp_path, "event", "bytes=0-")
        assert status == 206
        assert body.count(b"\n") == 1
        assert b'"state":"started"' in body
    output.close()


LINE = re.compile(
    r"^(?P<letter>[DIWEF]), \[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6} #\d+\] \[(?P<thread>[^\]]*)\] "
    r"(?P<level>[ A-Z]{5}) -- (?P<name>[\w.]+): (?P<message>.*)$"
)


def test_debug_log_lines_have_the_reference_layout_and_no_secrets(tmp_path: Path) -> None:
    logger = logging.getLogger("DirectorJobRunner")
    logger.setLevel(logging.DEBUG)
    output = TaskOutput(tmp_path)
    with output.capture_debug(logger):
        logger.info("Looking for task with task id %d", 7)
        logger.warning("settings %s", {"agent_id": "a1", "mbus": {"password": "s3cret"}})
        logger.debug("nats at nats://nats:natspw@10.0.0.6:4222")
        try:
            raise ValueError("client_secret=topsecret")
        except ValueError:
            logger.exception("failed")
    logger.info("after the block: not captured")
    output.close()

    text = (tmp_path / "debug").read_text()
    assert "s3cret" not in text
    assert "natspw" not in text
    assert "topsecret" not in text
    lines = text.splitlines()
    first, second, third, fourth = (LINE.match(line) for line in lines[:4])
    assert first and second and third and fourth
    assert (first["letter"], first["level"], first["name"]) == ("I", " INFO", "DirectorJobRunner")
    assert first["message"] == "Looking for task with task id 7"
    assert first["thread"] == threading.current_thread().name
    assert (second["letter"], second["level"]) == ("W", " WARN")
    assert second["message"] == "settings {'agent_id': 'a1', 'mbus': {'password': '<redacted>'}}"
    assert third["message"] == "nats at nats://nats:<redacted>@10.0.0.6:4222"
    assert (fourth["letter"], fourth["level"]) == ("E", "ERROR")
    assert "Traceback" in text
    assert "ValueError: client_secret=<redacted>" in text
    assert "not captured" not in text


# --- redaction -------------------------------------------------------------------------


def test_redact_replaces_secret_values_at_any_depth() -> None:
    value = {
        "name": "web",
        "password": "p",
        "env": {"bosh": {"Password": "hash", "keep": 1}},
        "certs": [{"private_key": "-----BEGIN...", "certificate": "c"}],
        "client_secret": "cs",
        "access_token": "t",
        "blobstore": "https://u:pw@blobs.example/x",
        "nothing": None,
        "token_count": None,
        "tuple": ("a", {"secret": "s"}),
    }
    assert redact(value) == {
        "name": "web",
        "password": "<redacted>",
        "env": {"bosh": {"Password": "<redacted>", "keep": 1}},
        "certs": [{"private_key": "<redacted>", "certificate": "c"}],
        "client_secret": "<redacted>",
        "access_token": "<redacted>",
        "blobstore": "https://u:<redacted>@blobs.example/x",
        "nothing": None,
        "token_count": None,
        "tuple": ("a", {"secret": "<redacted>"}),
    }
    assert value["password"] == "p"  # a copy, the original is untouched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://admin:pa:ss@10.0.0.6:25555/info", "https://admin:<redacted>@10.0.0.6:25555/info"),
        (
            "nats://nats:pw@host:4222 and dav://u:p@d/",
            "nats://nats:<redacted>@host:4222 and dav://u:<redacted>@d/",
        ),
        (
            '{"user":"admin","password":"x\\"y","port":1}',
            '{"user":"admin","password":"<redacted>","port":1}',
        ),
        ("password: hunter2\nname: web", "password: <redacted>\nname: web"),
        ("?client_secret=abc&scope=x", "?client_secret=<redacted>&scope=x"),
        ("{'token': 'abc'}", "{'token': '<redacted>'}"),
        ("BOSH_CLIENT_SECRET=abc", "BOSH_CLIENT_SECRET=<redacted>"),
        (
            "key: -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n",
            "key: <redacted>\n",
        ),
        ("https://10.0.0.6:25555/info user=admin", "https://10.0.0.6:25555/info user=admin"),
        ("password: <redacted>", "password: <redacted>"),
        ("Looking for task with task id 7", "Looking for task with task id 7"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


# --- reading ---------------------------------------------------------------------------


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    (tmp_path / "event").write_bytes(b"0123456789")
    (tmp_path / "result").write_bytes(b"")
    return tmp_path


# Expectations checked against nginx 1.22 serving the same bytes.
@pytest.mark.parametrize(
    ("header", "status", "content_range", "body"),
    [
        (None, 200, None, b"0123456789"),
        ("bytes=0-", 206, "bytes 0-9/10", b"0123456789"),
        ("bytes=4-", 206, "bytes 4-9/10", b"456789"),
        ("bytes=9-", 206, "bytes 9-9/10", b"9"),
        ("bytes=2-4", 206, "bytes 2-4/10", b"234"),
        ("bytes=2-400", 206, "bytes 2-9/10", b"23456789"),
        ("bytes=-3", 206, "bytes 7-9/10", b"789"),
        ("bytes=-30", 206, "bytes 0-9/10", b"0123456789"),
        ("BYTES= 3 - 4", 206, "bytes 3-4/10", b"34"),
        # the CLI's offset reached the end: 416, which it reads as "nothing new"
        ("bytes=10-", 416, "bytes */10", None),
        ("bytes=25-", 416, "bytes */10", None),
        ("bytes=5-3", 416, "bytes */10", None),
        ("bytes=-0", 416, "bytes */10", None),
        ("bytes=x-", 416, "bytes */10", None),
        ("bytes=3-4x", 416, "bytes */10", None),
        ("bytes=99999999999999999999-", 416, "bytes */10", None),
        # not a bytes range: ignored
        ("items=0-3", 200, None, b"0123456789"),
        ("bytes", 200, None, b"0123456789"),
        # overlapping ranges longer than the body: the whole body
        ("bytes=0-,0-", 200, None, b"0123456789"),
    ],
)
def test_ranges_are_answered_as_nginx_does(
    task_dir: Path, header: str | None, status: int, content_range: str | None, body: bytes | None
) -> None:
    got_status, headers, got_body = read_output(task_dir, "event", header)
    assert got_status == status
    assert headers.get("Content-Range") == content_range
    assert headers["Content-Length"] == str(len(got_body))
    if body is not None:
        assert got_body == body
        assert headers["Content-Type"] == "text/plain"


def test_several_ranges_get_a_multipart_body_as_from_nginx(task_dir: Path) -> None:
    status, headers, body = read_output(task_dir, "event", "bytes=0-1,4-")
    boundary = headers["Content-Type"].removeprefix("multipart/byteranges; boundary=")
    assert re.fullmatch(r"\d{20}", boundary)
    assert status == 206
    assert (
        body
        == (
            f"\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n"
            f"01\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 4-9/10\r\n\r\n"
            f"456789\r\n--{boundary}--\r\n"
        ).encode()
    )
    assert headers["Content-Length"] == str(len(body))


def test_an_empty_file_answers_200_to_the_first_poll_and_416_after(task_dir: Path) -> None:
    assert read_output(task_dir, "result", "bytes=0-")[:2] == (
        200,
        {"Content-Type": "text/plain", "Content-Length": "0", "Accept-Ranges": "bytes"},
    )
    assert read_output(task_dir, "result", None)[0] == 200
    status, headers, _ = read_output(task_dir, "result", "bytes=1-")
    assert (status, headers["Content-Range"]) == (416, "bytes */0")


def test_a_cli_polling_from_its_offset_sees_every_byte_once(tmp_path: Path) -> None:
    output = TaskOutput(tmp_path)
    log = output.event_log()
    seen = b""
    for n in range(5):
        with log.stage(f"stage {n}", total=1).track("step"):
            pass
        for _ in range(2):  # a second poll finds nothing new
            status, _, body = read_output(tmp_path, "event", f"bytes={len(seen)}-")
            assert status in (206, 416)
            if status == 206:
                seen += body
    output.close()
    assert seen == (tmp_path / "event").read_bytes()
    assert seen.count(b"\n") == 10


def test_missing_outputs_answer_204(tmp_path: Path) -> None:
    assert read_output(tmp_path, "cpi", None) == (204, {}, b"")
    assert read_output(tmp_path, "debug", "bytes=0-") == (204, {}, b"")
    assert read_output(None, "event", None) == (204, {}, b"")
    (tmp_path / "event").write_text("x\n")
    assert read_output(tmp_path, "none", None) == (204, {}, b"")


def test_the_default_type_is_debug(tmp_path: Path) -> None:
    (tmp_path / "debug").write_text("I, debug line\n")
    assert read_output(tmp_path, None, None)[2] == b"I, debug line\n"


def test_an_unknown_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnauthorizedToAccessDeploymentError, match=r"Unknown type \.\./etc") as info:
        read_output(tmp_path, "../etc", None)
    assert (info.value.error_code, info.value.http_status) == (600000, 401)


def test_a_rotated_log_is_decompressed(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "debug.gz", "wb") as rotated:
        rotated.write(b"old debug\n" * 1000)
    status, headers, body = read_output(tmp_path, "debug", "bytes=9990-")
    assert (status, body) == (206, b"old debug\n")
    assert headers["Content-Range"] == "bytes 9990-9999/10000"
    assert (tmp_path / "debug").read_bytes() == b"old debug\n" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["debug", "debug.gz"]


def test_streaming_reads_in_chunks_and_stops_at_the_answered_length(tmp_path: Path) -> None:
    (tmp_path / "debug").write_bytes(b"a" * 1000)
    status, headers, chunks = stream_output(tmp_path, "debug", "bytes=100-", chunk_size=256)
    with (tmp_path / "debug").open("ab") as still_running:
        still_running.write(b"b" * 500)
    parts = list(chunks)
    assert status == 206
    assert [len(p) for p in parts] == [256, 256, 256, 132]
    assert headers["Content-Length"] == "900" == str(sum(map(len, parts)))


# Expectations checked against nginx 1.22 serving the same bytes.
@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-", 0, None),
        ("bytes=0-5", 0, None),
        ("bytes=-5", 0, None),
        ("bytes=1-", 0, UNSATISFIABLE),
        ("bytes=0-0", 5, [(0, 1)]),
        ("bytes=1-2,3-", 5, [(1, 3), (3, 5)]),
        ("bytes=1-2,9-", 5, [(1, 3)]),
        ("bytes=1-2,", 5, UNSATISFIABLE),
    ],
)
def test_parse_range_edges(header: str, size: int, expected: object) -> None:
    assert parse_range(header, size) == expected
