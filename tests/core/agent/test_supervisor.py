from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bosh_core.agent.monit import MonitFileError
from bosh_core.agent.supervisor import JobSupervisor, MonitAlert, SupervisorError

CTL = """#!/bin/sh
RUN={run}
case "$1" in
  start)
    mkdir -p "$RUN"
    echo "start {name}" >> "$RUN/events"
    {before_start}
    echo $$ > "$RUN/{name}.pid"
    exec sleep 1000
    ;;
  stop)
    echo "stop {name}" >> "$RUN/events"
    {stop}
    ;;
esac
"""
KILL = 'kill "$(cat "$RUN/{name}.pid")"'


def write_job(
    base: Path,
    job: str,
    name: str,
    *,
    extra: str = "",
    before_start: str = "",
    stop: str = KILL,
    start: str | None = None,
) -> Path:
    run = base / "run"
    ctl = base / "jobs" / job / "bin" / f"{name}_ctl"
    ctl.parent.mkdir(parents=True, exist_ok=True)
    ctl.write_text(
        CTL.format(run=run, name=name, before_start=before_start, stop=stop.format(name=name))
    )
    ctl.chmod(0o755)
    monit = base / "jobs" / job / "monit"
    with monit.open("a") as stream:
        stream.write(
            f"check process {name}\n  with pidfile {run}/{name}.pid\n"
            f'  start program "{start or f"{ctl} start"}"\n  stop program "{ctl} stop"\n'
            f"  group vcap\n{extra}\n"
        )
    return run / f"{name}.pid"


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def wait_for_state(supervisor: JobSupervisor, state: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (await supervisor.status())[0] != state:
        assert time.monotonic() < deadline, f"job state never became {state}"
        await asyncio.sleep(0.05)


def alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text())
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, ValueError):
        return False


@pytest.fixture
async def supervisor(tmp_path: Path) -> AsyncIterator[JobSupervisor]:
    alerts: list[MonitAlert] = []
    supervisor = JobSupervisor(tmp_path, poll_interval=0.1, on_alert=alerts.append)
    supervisor.alerts = alerts  # type: ignore[attr-defined]
    yield supervisor
    await supervisor.stop()
    await supervisor.close()


async def test_start_status_stop_with_dependencies_in_order(
    supervisor: JobSupervisor, tmp_path: Path
) -> None:
    db = write_job(tmp_path, "db", "db")
    web = write_job(tmp_path, "web", "web", extra="  depends on db")
    await supervisor.load(["web", "db", "no-monit-file"])
    state, processes = await supervisor.status()
    assert (state, [p["state"] for p in processes]) == ("failing", ["unknown", "unknown"])

    await supervisor.start()

    assert alive(db) and alive(web)
    state, processes = await supervisor.status()
    assert state == "running"
    assert [(p["name"], p["state"]) for p in processes] == [("web", "running"), ("db", "running")]
    assert processes[0]["mem"]["kb"] > 0 and processes[0]["uptime"]["secs"] >= 0
    assert set(processes[0]["cpu"]) == {"total"}
    await supervisor.stop()
    assert not alive(db) and not alive(web)
    assert (tmp_path / "run/events").read_text().split("\n")[:4] == [
        "start db",
        "start web",
        "stop web",
        "stop db",
    ]
    assert (await supervisor.status())[0] == "stopped"
    assert supervisor.stopped and (tmp_path / "monit/stopped").exists()
    assert "'web' started" in (tmp_path / "monit/monit.log").read_text()


async def test_a_crashed_process_is_restarted_and_counted(
    supervisor: JobSupervisor, tmp_path: Path
) -> None:
    pidfile = write_job(tmp_path, "web", "web")
    await supervisor.load(["web"])
    await supervisor.start()
    first = int(pidfile.read_text())

    os.kill(first, signal.SIGKILL)
    await wait_for(lambda: alive(pidfile) and int(pidfile.read_text()) != first)
    await wait_for(lambda: supervisor.restarts("web") == 1)
    await wait_for_state(supervisor, "running")
    alert = supervisor.alerts[0]  # type: ignore[attr-defined]
    assert (alert.service, alert.event, alert.action) == ("web", "does not exist", "restart")


async def test_a_process_that_keeps_dying_is_never_reported_running(tmp_path: Path) -> None:
    # Up for a moment after every start, like a server that cannot bind its address;
    # checked every second, it never lives from one check to the next.
    write_job(tmp_path, "web", "web", before_start='echo $$ > "$RUN/web.pid"; exec sleep 0.3')
    supervisor = JobSupervisor(tmp_path, poll_interval=1.0)
    await supervisor.load(["web"])
    await supervisor.start()
    await wait_for(lambda: supervisor.restarts("web") >= 1, timeout=20)
    states: list[str] = []

    async def sample() -> None:
        while True:
            states.append((await supervisor.status())[0])
            await asyncio.sleep(0.01)

    sampling = asyncio.create_task(sample())
    try:
        await wait_for(lambda: supervisor.restarts("web") >= 3, timeout=30)
    finally:
        sampling.cancel()
        await supervisor.stop()
        await supervisor.close()
    assert states and "running" not in states


async def test_a_start_program_that_fails_makes_the_job_failing(
    supervisor: JobSupervisor, tmp_path: Path
) -> None:
    write_job(tmp_path, "web", "web", before_start="exit 3")
    await supervisor.load(["web"])
    await supervisor.start()
    state, processes = await supervisor.status()
    assert (state, processes[0]["state"]) == ("failing", "failing")
    assert "start program exited with status 3" in supervisor.alerts[0].description  # type: ignore[attr-defined]


async def test_start_times_out_and_kills_the_start_program(
    supervisor: JobSupervisor, tmp_path: Path
) -> None:
    write_job(tmp_path, "web", "web", before_start="exec sleep 1000")
    monit = tmp_path / "jobs/web/monit"
    monit.write_text(monit.read_text().replace('start"\n', 'start" with timeout 1 seconds\n'))
    await supervisor.load(["web"])
    started = time.monotonic()
    await supervisor.start()
    assert 1 <= time.monotonic() - started < 3
    assert (await supervisor.status())[0] == "failing"
    assert "not running 1 seconds after its start program" in (
        supervisor.alerts[0].description  # type: ignore[attr-defined]
    )


async def test_failing_after_several_failed_starts(tmp_path: Path) -> None:
    write_job(tmp_path, "web", "web", before_start="exit 1")
    async with JobSupervisor(tmp_path, poll_interval=0.1, failing_after=3) as supervisor:
        await supervisor.load(["web"])
        await supervisor.start()
        assert (await supervisor.status())[0] == "starting"
        await wait_for_state(supervisor, "failing")
        await supervisor.stop()


async def test_stop_kills_a_process_that_outlives_its_stop_timeout(
    supervisor: JobSupervisor, tmp_path: Path
) -> None:
    pidfile = write_job(tmp_path, "web", "web", stop="true")
    monit = tmp_path / "jobs/web/monit"
    monit.write_text(monit.read_text().replace('stop"\n', 'stop" with timeout 1 seconds\n'))
    await supervisor.load(["web"])
    await supervisor.start()
    assert alive(pidfile)
    await supervisor.stop()
    assert not alive(pidfile)


async def test_unmonitored_processes_are_not_restarted_until_monitored(
    supervisor: JobSupervisor, tmp_path: Path
) -> None:
    pidfile = write_job(tmp_path, "web", "web")
    await supervisor.load(["web"])
    await supervisor.start()
    await supervisor.unmonitor()
    state, processes = await supervisor.status()
    assert (state, processes[0]["state"]) == ("failing", "unknown")  # as the reference

    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    await asyncio.sleep(0.5)
    assert not alive(pidfile)
    await supervisor.monitor()
    await wait_for(lambda: alive(pidfile))
    await wait_for(lambda: supervisor.restarts("web") == 1)


async def test_programs_run_with_monits_environment(
    supervisor: JobSupervisor, tmp_path: Path
) -> None:
    env_file = tmp_path / "env"
    write_job(tmp_path, "web", "web", before_start=f"env > {env_file}; pwd >> {env_file}")
    await supervisor.load(["web"])
    await supervisor.start()
    lines = set(env_file.read_text().splitlines())
    assert {"PATH=/bin:/usr/bin:/sbin:/usr/sbin", "MONIT_SERVICE=web", "/"} <= lines
    assert not any(line.startswith("HOME=") for line in lines)


async def test_load_rejects_bad_dependencies_and_duplicate_names(tmp_path: Path) -> None:
    supervisor = JobSupervisor(tmp_path)
    write_job(tmp_path, "a", "a", extra="  depends on nowhere")
    with pytest.raises(SupervisorError, match="'a' of job 'a' depends on unknown service"):
        await supervisor.load(["a"])
    (tmp_path / "jobs/a/monit").unlink()
    write_job(tmp_path, "a", "a", extra="  depends on b")
    write_job(tmp_path, "b", "b", extra="  depends on a")
    with pytest.raises(SupervisorError, match="in a cycle: a, b"):
        await supervisor.load(["a", "b"])
    write_job(tmp_path, "c", "b")
    with pytest.raises(SupervisorError, match="'b' is declared by both job 'b' and job 'c'"):
        await supervisor.load(["b", "c"])
    (tmp_path / "jobs/c/monit").write_text("check process")
    with pytest.raises(MonitFileError, match=r"jobs/c/monit"):
        await supervisor.load(["c"])
