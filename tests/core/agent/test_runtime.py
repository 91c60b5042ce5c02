"""The agent over a real TLS nats-server: envelope, tasks, heartbeats, apply, compile."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import tarfile
from pathlib import Path

import nats

from bosh_core.bus.certs import client_ssl_context
from bosh_core.bus.embedded import EmbeddedNats
from bosh_core.digest import file_digest
from bosh_core.models.version import Version
from bosh_core.release.index import QuietReporter
from bosh_core.release.releasedir import ReleaseDir
from tests.core.agent.conftest import RunningAgent

HELLO_RELEASE = Path(__file__).parents[3] / "examples" / "hello-release"


def tgz(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return path


def put(agent: RunningAgent, archive: Path) -> dict[str, str]:
    return {
        "blobstore_id": agent.blobstore.put(archive),
        "sha1": str(file_digest(archive, "sha256")),
    }


async def test_ping_info_and_bad_input_keep_the_agent_running(agent: RunningAgent) -> None:
    director = agent.director
    assert await director.call("ping") == {"value": "pong"}
    assert await director.call("info") == {"value": {"api_version": 1}}
    assert await director.call("no_such_action") == {
        "exception": {"message": "unknown message no_such_action"}
    }
    malformed = await director.send(b'{"method": 7, "arguments": [], "reply_to": "REPLY"}')
    assert "'method' must be a non-empty string" in malformed["exception"]["message"]
    wrong = await director.call("ping", "extra")
    assert "wrong arguments" in wrong["exception"]["message"]
    unknown_task = await director.call("get_task", "nope")
    assert unknown_task == {"exception": {"message": "Task with id nope could not be found"}}
    assert await director.call("ping") == {"value": "pong"}


async def test_heartbeats_carry_job_state_and_vitals(
    agent: RunningAgent, nats_server: EmbeddedNats
) -> None:
    nc = await nats.connect(
        nats_server.url, tls=client_ssl_context(nats_server.health_monitor_cert())
    )
    try:
        sub = await nc.subscribe(f"hm.agent.heartbeat.{agent.settings.agent_id}")
        beat = json.loads((await sub.next_msg(timeout=5)).data)
    finally:
        await nc.close()
    assert beat["job_state"] == "running"
    vitals = beat["vitals"]
    assert len(vitals["load"]) == 3
    assert all(isinstance(v, str) for v in (*vitals["cpu"].values(), vitals["mem"]["kb"]))
    assert vitals["disk"]["system"]["percent"].isdigit()
    assert vitals["disk"]["system"]["inode_percent"].isdigit()
    # A number, as bosh-agent sends it: the reference CLI reads it into a uint64.
    assert isinstance(vitals["uptime"]["secs"], int)


def tiny_job(base_dir: Path, workdir: Path) -> dict[str, str]:
    """A rendered templates archive for job 'tiny': a sleeper, a drain, a failing pre-start."""
    pidfile = base_dir / "sys" / "run" / "tiny" / "tiny.pid"
    ctl = (
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  start) sleep 300 & echo $! > {pidfile} ;;\n"
        f"  stop) kill $(cat {pidfile}) ;;\n"
        "esac\n"
    )
    monit = (
        "check process tiny\n"
        f"  with pidfile {pidfile}\n"
        f'  start program "{base_dir}/jobs/tiny/bin/ctl start"\n'
        f'  stop program "{base_dir}/jobs/tiny/bin/ctl stop"\n'
        "  group vcap\n"
    )
    drain = (
        "#!/bin/sh\n"
        'echo "$@" > "$(dirname "$0")/../drain-args"\n'
        'echo "$BOSH_JOB_NEXT_STATE" > "$(dirname "$0")/../drain-next"\n'
        '[ "$1" = job_check_status ] && echo 0 || echo -3\n'
    )
    pre_start = "#!/bin/sh\necho preparing; exit 4\n"
    errand = "#!/bin/sh\necho out; echo err >&2; exit 3\n"
    return {
        "tiny/monit": monit,
        "tiny/bin/ctl": ctl,
        "tiny/bin/drain": drain,
        "tiny/bin/pre-start": pre_start,
        "tiny/bin/run": errand,
    }


async def test_apply_start_drain_scripts_and_stop(agent: RunningAgent, tmp_path: Path) -> None:
    director, base = agent.director, agent.base_dir
    rendered = put(agent, tgz(tmp_path / "rendered.tgz", tiny_job(base, tmp_path)))
    package = put(agent, tgz(tmp_path / "pkg.tgz", {"./bin/tool": "#!/bin/sh\necho tool\n"}))
    spec = {
        "deployment": "d",
        "name": "tiny",
        "index": 0,
        "id": "uuid-1",
        "job": {
            "name": "tiny",
            "templates": [{"name": "tiny", "version": "v1", "sha1": "x", "blobstore_id": "x"}],
        },
        "packages": {"tool": {"name": "tool", "version": "p1", **package}},
        "rendered_templates_archive": rendered,
        "configuration_hash": "h1",
        "networks": {},
    }
    assert await director.run_task("apply", spec) == {"value": "applied"}
    assert (base / "packages" / "tool" / "bin" / "tool").read_text().endswith("echo tool\n")
    assert (base / "packages" / "tool").resolve() == base / "data" / "packages" / "tool" / "p1"
    assert (base / "jobs" / "tiny" / "monit").is_file()

    assert await director.call("start") == {"value": "started"}
    state = (await director.call("get_state", "full"))["value"]
    assert (state["job_state"], state["deployment"], state["id"]) == ("running", "d", "uuid-1")
    assert [p["name"] for p in state["processes"]] == ["tiny"]
    assert "uptime" in state["vitals"]

    next_spec = {**spec, "configuration_hash": "h2"}
    assert await director.run_task("drain", "update", next_spec) == {"value": -3}
    assert (base / "jobs" / "tiny" / "drain-args").read_text().split() == [
        "job_unchanged",
        "hash_changed",
    ]
    assert (
        json.loads((base / "jobs" / "tiny" / "drain-next").read_text())["configuration_hash"]
        == "h2"
    )
    assert await director.run_task("drain", "status") == {"value": 0}

    failed = await director.run_task("run_script", "pre-start", {"env": {"A": "1"}})
    assert failed["exception"]["message"] == ("1 of 1 pre-start scripts failed. Failed Jobs: tiny.")
    assert (base / "sys" / "log" / "tiny" / "pre-start.stdout.log").read_text() == "preparing\n"
    assert await director.run_task("run_script", "post-start", {}) == {"value": {}}
    assert await director.run_task("run_errand") == {
        "value": {"stdout": "out\n", "stderr": "err\n", "exit_code": 3}
    }

    logs = (await director.run_task("fetch_logs", "job", ["**/*.log"]))["value"]
    fetched = tmp_path / "logs.tgz"
    agent.blobstore.get(logs["blobstore_id"], fetched)
    with tarfile.open(fetched) as tar:
        assert "./tiny/pre-start.stdout.log" in tar.getnames()

    assert await director.run_task("stop") == {"value": "stopped"}
    assert (await director.call("get_state"))["value"]["job_state"] == "stopped"


async def test_a_blob_with_the_wrong_digest_fails_the_task_only(
    agent: RunningAgent, tmp_path: Path
) -> None:
    package = put(agent, tgz(tmp_path / "pkg.tgz", {"f": "x"}))
    package["sha1"] = "sha256:" + "0" * 64
    spec = {"packages": {"p": {"name": "p", "version": "1", **package}}}
    reply = await agent.director.run_task("apply", spec)
    assert "Expected package 'p'" in reply["exception"]["message"]
    assert "to have digest 'sha256:000" in reply["exception"]["message"]
    assert await agent.director.call("ping") == {"value": "pong"}


async def test_a_cancelled_task_says_so(agent: RunningAgent, tmp_path: Path) -> None:
    script = "#!/bin/sh\nsleep 30\n"
    rendered = put(agent, tgz(tmp_path / "r.tgz", {"slow/bin/run": script}))
    spec = {
        "job": {"name": "slow", "templates": [{"name": "slow", "version": "1"}]},
        "rendered_templates_archive": rendered,
    }
    assert await agent.director.run_task("apply", spec) == {"value": "applied"}
    started = await agent.director.call("run_errand")
    task_id = started["value"]["agent_task_id"]
    assert await agent.director.call("cancel_task", task_id) == {"value": "canceled"}
    await asyncio.sleep(0.1)
    assert await agent.director.call("get_task", task_id) == {
        "exception": {"message": f"Task {task_id} was canceled"}
    }


async def test_compile_packages_of_the_sample_release(agent: RunningAgent, tmp_path: Path) -> None:
    release_path = tmp_path / "hello-release"
    shutil.copytree(HELLO_RELEASE, release_path)
    release_dir = ReleaseDir(release_path, cache_dir=tmp_path / "cache", reporter=QuietReporter())
    release = release_dir.build_release(name="hello", version=Version.parse("0+dev.1"), force=True)
    refs = {ref.name: ref for ref in release.manifest.packages}

    compiled: dict[str, dict[str, str]] = {}
    for name in ("python-runtime", "hello-app"):
        ref = refs[name]
        blob_id = agent.blobstore.put(release.packages[name])
        deps = {
            dep: {"name": dep, "version": refs[dep].version, **compiled[dep]}
            for dep in ref.dependencies
        }
        reply = await agent.director.run_task(
            "compile_package", blob_id, ref.sha1, name, ref.version, deps
        )
        result = reply["value"]["result"]
        archive = tmp_path / f"{name}-compiled.tgz"
        agent.blobstore.get(result["blobstore_id"], archive)
        assert str(file_digest(archive, "sha256")) == result["sha1"]
        compiled[name] = result
        with tarfile.open(archive) as tar:
            names = tar.getnames()
        expected = "./bin/python" if name == "python-runtime" else "./hello_app.py"
        assert expected in names
    assert not (agent.base_dir / "data" / "compile" / "hello-app").exists()


async def test_persistent_disk_is_mounted_on_the_store(agent: RunningAgent, tmp_path: Path) -> None:
    disk = tmp_path / "disk-1"
    disk.mkdir()
    (disk / "kept").write_text("data")
    director = agent.director
    assert await director.run_task("add_persistent_disk", "disk-1", {"path": str(disk)}) == {
        "value": {}
    }
    assert await director.run_task("mount_disk", "disk-1") == {"value": {}}
    try:
        assert (agent.base_dir / "store" / "kept").read_text() == "data"
        assert await director.run_task("list_disk") == {"value": ["disk-1"]}
        (agent.base_dir / "store" / "new").write_text("written on the VM")
    finally:
        assert await director.run_task("unmount_disk", "disk-1") == {"value": {}}
    assert not (agent.base_dir / "store" / "kept").exists()
    assert (disk / "new").read_text() == "written on the VM"
    assert await director.run_task("list_disk") == {"value": []}
    missing = await director.run_task("mount_disk", "disk-2")
    assert missing["exception"]["message"] == "Persistent disk 'disk-2' is not attached to this VM"
