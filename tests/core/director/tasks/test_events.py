from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from bosh_core.director.errors import DirectorError, UnauthorizedToAccessDeploymentError
from bosh_core.director.tasks import EventLog, TaskOutput

NOW = 1700000000.75


def collect() -> tuple[EventLog, list[str]]:
    lines: list[str] = []
    return EventLog(lines.append, clock=lambda: NOW), lines


def test_tracked_task_lines_match_the_reference_format() -> None:
    log, lines = collect()
    stage = log.stage("Updating instance", total=3, tags=["web"])
    with stage.track("web/6b1c (0) (canary)") as task:
        task.advance(10, {"status": "installing packages"})
    assert lines == [
        '{"time":1700000000,"stage":"Updating instance","tags":["web"],"total":3,'
        '"task":"web/6b1c (0) (canary)","index":1,"state":"started","progress":0}\n',
        '{"time":1700000000,"stage":"Updating instance","tags":["web"],"total":3,'
        '"task":"web/6b1c (0) (canary)","index":1,"state":"in_progress","progress":10,'
        '"data":{"status":"installing packages"}}\n',
        '{"time":1700000000,"stage":"Updating instance","tags":["web"],"total":3,'
        '"task":"web/6b1c (0) (canary)","index":1,"state":"finished","progress":100}\n',
    ]


def test_a_failing_block_logs_failed_and_reraises() -> None:
    log, lines = collect()
    stage = log.stage("Compiling packages")
    with pytest.raises(RuntimeError, match="boom"), stage.track("ruby/2.7"):
        raise RuntimeError("boom")
    assert [json.loads(line) for line in lines] == [
        {
            "time": 1700000000,
            "stage": "Compiling packages",
            "tags": [],
            "total": None,
            "task": "ruby/2.7",
            "index": 1,
            "state": "started",
            "progress": 0,
        },
        {
            "time": 1700000000,
            "stage": "Compiling packages",
            "tags": [],
            "total": None,
            "task": "ruby/2.7",
            "index": 1,
            "state": "failed",
            "progress": 100,
            "data": {"error": "boom"},
        },
    ]


def test_indexes_count_per_stage_and_progress_is_capped() -> None:
    log, lines = collect()
    first, second = log.stage("a", total=2), log.stage("b", total=1)
    with first.track("one"):
        pass
    with second.track("x") as task:
        task.advance(0.5)
        task.advance(0.5)
        task.advance(250)
    with first.track("two"):
        pass
    entries = [json.loads(line) for line in lines]
    assert [
        (e["stage"], e["index"], e["state"]) for e in entries if e["state"] != "in_progress"
    ] == [
        ("a", 1, "started"),
        ("a", 1, "finished"),
        ("b", 1, "started"),
        ("b", 1, "finished"),
        ("a", 2, "started"),
        ("a", 2, "finished"),
    ]
    progress = [e["progress"] for e in entries if e["state"] == "in_progress"]
    assert progress == [0, 1, 100]
    assert all("data" not in e for e in entries)


def test_error_and_warning_lines() -> None:
    log, lines = collect()
    log.log_error(UnauthorizedToAccessDeploymentError("nope"))
    log.log_error(ValueError("plain failure"))
    log.log_error(DirectorError("généric"))
    log.warn("careful")
    log.warn_deprecated("old")
    assert lines == [
        '{"time":1700000000,"error":{"code":600000,"message":"nope"}}\n',
        '{"time":1700000000,"error":{"code":100,"message":"plain failure"}}\n',
        '{"time":1700000000,"error":{"code":100,"message":"généric"}}\n',
        '{"time":1700000000,"type":"warning","message":"careful"}\n',
        '{"time":1700000000,"type":"deprecation","message":"old"}\n',
    ]


def test_concurrent_tracking_writes_whole_lines_with_distinct_indexes(tmp_path) -> None:
    output = TaskOutput(tmp_path / "tasks" / "1")
    stage = output.event_log().stage("Creating missing vms", total=1600, tags=["web"])
    # a long task name makes each line larger than a small write buffer would hold
    name = "web/" + "x" * 3000

    def work(worker: int) -> None:
        for i in range(200):
            with stage.track(f"{name}/{worker}/{i}") as task:
                task.advance(50, {"status": "half"})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    output.close()

    raw = (tmp_path / "tasks" / "1" / "event").read_bytes()
    assert raw.endswith(b"\n")
    entries = [json.loads(line) for line in raw.decode().splitlines()]
    assert len(entries) == 8 * 200 * 3
    states = Counter((e["index"], e["state"]) for e in entries)
    assert {index for index, _ in states} == set(range(1, 1601))
    assert set(states.values()) == {1}
    by_index = {e["index"]: e["task"] for e in entries}
    assert len(set(by_index.values())) == 1600
