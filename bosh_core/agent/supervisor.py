"""The job supervisor: what monit does on a BOSH VM, in the agent's event loop.

It reads each job's ``monit`` file, runs start and stop programs as monit runs them (no
shell, ``PATH=/bin:/usr/bin:/sbin:/usr/sbin``, cwd ``/``, umask 022, their own session,
output discarded: ctl scripts log for themselves), finds each process through its pid
file, restarts a monitored process that is no longer running, and reports ``job_state``
and per-process vitals as the reference agent reports what monit tells it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import shlex
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

import attrs

from bosh_core.agent.errors import AgentError
from bosh_core.agent.monit import MonitProcess, read_monit

__all__ = ["JobSupervisor", "MonitAlert", "SupervisorError", "system_uptime"]

log = logging.getLogger(__name__)

# The environment monit gives the programs it runs.
_PROGRAM_ENV: Mapping[str, str] = {"PATH": "/bin:/usr/bin:/sbin:/usr/sbin"}
# How often a start or stop in progress looks at the process again.
_WAIT_STEP = 0.05
# After SIGKILL a process is gone at once, unless it is stuck in the kernel.
_KILL_GRACE = 5.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


class SupervisorError(AgentError):
    """The jobs' monit files cannot be supervised together (names, dependencies)."""


@attrs.frozen
class MonitAlert:
    """An event about a process, with the fields of the reference agent's monit alerts."""

    id: str
    service: str
    event: str
    action: str
    date: str  # RFC 1123 with a numeric zone
    description: str


@attrs.define
class _Supervised:
    spec: MonitProcess
    job: str
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)
    monitored: bool = False
    # starting | restarted (back after it died, until a check sees it stay) | running |
    # failing | stopped
    phase: str = "stopped"
    restarts: int = 0
    failed_starts: int = 0
    # (pid, monotonic time, cpu ticks of its tree) at the last status().
    cpu_sample: tuple[int, float, int] | None = None


class JobSupervisor:
    """Supervise the processes of the jobs under ``<base_dir>/jobs``.

    `poll_interval` is monit's cycle: how often monitored processes are checked and
    restarted. A process reports ``failing`` after `failing_after` consecutive failed
    starts, and ``starting`` while it is below that and being retried. `on_alert` is
    called (in the event loop) for each crash and each failed start. The supervisor's
    own event log is ``<log_dir>/monit.log`` (default ``<base_dir>/monit``).
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        log_dir: Path | None = None,
        poll_interval: float = 1.0,
        failing_after: int = 1,
        on_alert: Callable[[MonitAlert], None] | None = None,
    ) -> None:
        if poll_interval <= 0 or failing_after < 1:
            raise ValueError("poll_interval must be positive and failing_after at least 1")
        self.base_dir = base_dir
        self.log_dir = log_dir if log_dir is not None else base_dir / "monit"
        self.poll_interval = poll_interval
        self.failing_after = failing_after
        self._on_alert = on_alert
        self._processes: dict[str, _Supervised] = {}
        self._waves: list[list[_Supervised]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"JobSupervisor({str(self.base_dir)!r}, processes={list(self._processes)!r})"

    @property
    def stopped(self) -> bool:
        """Whether the jobs were last stopped (kept on disk, as the reference keeps it)."""
        return self._stopped_file.exists()

    @property
    def process_names(self) -> list[str]:
        return list(self._processes)

    def restarts(self, name: str) -> int:
        """How many times process `name` was restarted after it stopped running."""
        return self._processes[name].restarts

    async def load(self, job_names: Iterable[str]) -> None:
        """Read ``<base_dir>/jobs/<job>/monit`` for each job; a job without one has none.

        Processes that stay keep their state; the caller stops jobs before replacing
        them, as the agent stops before apply. Raises MonitFileError or SupervisorError.
        """
        specs: list[tuple[str, MonitProcess]] = []
        others: set[str] = set()
        for job in job_names:
            path = self.base_dir / "jobs" / job / "monit"
            if not path.exists():
                continue
            parsed = await asyncio.to_thread(read_monit, path)
            specs.extend((job, process) for process in parsed.processes)
            others.update(parsed.other_services)
        processes: dict[str, _Supervised] = {}
        for job, spec in specs:
            if spec.name in processes:
                raise SupervisorError(
                    f"Process '{spec.name}' is declared by both job '{processes[spec.name].job}'"
                    f" and job '{job}'"
                )
            old = self._processes.get(spec.name)
            processes[spec.name] = (
                attrs.evolve(old, spec=spec, job=job) if old else _Supervised(spec, job)
            )
        self._waves = _dependency_waves(processes, others)
        self._processes = processes

    async def start(self) -> None:
        """Start every process, dependencies first; return when each runs or failed.

        A process that fails to start is reported ``failing`` and retried every cycle,
        as monit retries; start() itself does not raise for it.
        """
        self._stopped_file.unlink(missing_ok=True)
        for wave in self._waves:
            for process in wave:
                process.monitored = True
            await asyncio.gather(*(self._start_locked(process) for process in wave))
        self._ensure_monitoring()

    async def stop(self) -> None:
        """Stop every process, dependents first, killing what outlives its stop timeout."""
        for process in self._processes.values():
            process.monitored = False
        for wave in reversed(self._waves):
            await asyncio.gather(*(self._stop(process) for process in wave))
        self._stopped_file.parent.mkdir(parents=True, exist_ok=True)
        self._stopped_file.touch()

    async def unmonitor(self) -> None:
        """Stop watching: processes keep running but are no longer restarted."""
        for process in self._processes.values():
            process.monitored = False

    async def monitor(self) -> None:
        """Watch again: a process not running is started on the next cycle."""
        for process in self._processes.values():
            process.monitored = True
        self._ensure_monitoring()

    async def status(self) -> tuple[str, list[dict[str, Any]]]:
        """``(job_state, processes)`` as the reference agent reports them.

        job_state: ``stopped`` after stop(), else ``starting`` if any process is
        starting, ``failing`` if any is not running or not monitored, else ``running``.
        A process's state is ``running``, ``starting``, ``failing``, or ``unknown`` when
        it is not monitored (monit's words).
        """
        table = _process_table()
        memory_total_kb = _memory_total_kb()
        cpus = os.cpu_count() or 1
        uptime = system_uptime()
        processes: list[dict[str, Any]] = []
        states: list[str] = []
        for process in self._processes.values():
            pid = _find_pid(process.spec, table)
            state = self._state(process, pid)
            states.append(state)
            processes.append(
                {
                    "name": process.spec.name,
                    "state": state,
                    **_vitals(process, pid, table, memory_total_kb, cpus, uptime),
                }
            )
        if self.stopped:
            return "stopped", processes
        if "starting" in states:
            return "starting", processes
        if any(state != "running" for state in states):
            return "failing", processes
        return "running", processes

    async def close(self) -> None:
        """Stop watching and wait for programs in flight; processes keep running."""
        tasks = [self._loop_task] if self._loop_task else []
        self._loop_task = None
        for task in [*tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*tasks, *self._background, return_exceptions=True)

    async def __aenter__(self) -> JobSupervisor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def _stopped_file(self) -> Path:
        return self.base_dir / "monit" / "stopped"

    def _state(self, process: _Supervised, pid: int | None) -> str:
        if not process.monitored:
            return "unknown"
        if process.phase in ("starting", "restarted"):
            return "starting"
        return "running" if pid is not None and process.phase == "running" else "failing"

    def _ensure_monitoring(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._monitor_loop(), name="job-supervisor")

    async def _monitor_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            for process in list(self._processes.values()):
                if process.monitored and not process.lock.locked():
                    self._check(process)

    def _check(self, process: _Supervised) -> None:
        if _find_pid(process.spec, None) is not None:
            process.phase = "running"
            return
        was_up = process.phase in ("running", "restarted")
        if was_up:
            self._event(process, "does not exist", "restart", "process is not running")
        if process.spec.mode == "passive":
            process.phase = "failing"  # passive: monit only reports
            return
        if was_up:
            process.restarts += 1
        self._spawn_background(self._start_locked(process, restarting=True))

    async def _start_locked(self, process: _Supervised, *, restarting: bool = False) -> None:
        async with process.lock:
            if process.monitored:
                await self._start(process, restarting=restarting)

    async def _start(self, process: _Supervised, *, restarting: bool = False) -> None:
        """Run the start program until the process appears. A process restarted after it
        died is ``restarted`` (reported ``starting``) until it is still there at the next
        check: one that dies at once again is never reported ``running`` in between."""
        spec = process.spec
        if _find_pid(spec, None) is not None:
            process.phase, process.failed_starts = "running", 0
            return
        process.phase = "starting"
        self._log(f"'{spec.name}' start: {spec.start or '(no start program)'}")
        program = await self._run_program(spec, spec.start, spec.start_uid, spec.start_gid)
        deadline = time.monotonic() + spec.start_timeout
        failure = "no start program" if spec.start is None else ""
        while program is not None and not failure:
            if _find_pid(spec, None) is not None:
                process.phase = "restarted" if restarting else "running"
                process.failed_starts = 0
                self._log(f"'{spec.name}' started")
                return
            if program.returncode not in (None, 0):
                failure = f"start program exited with status {program.returncode}"
            elif time.monotonic() > deadline:
                failure = f"not running {spec.start_timeout:g} seconds after its start program"
                _kill_group(program.pid)  # leave no half-started copy behind for the retry
            else:
                await asyncio.sleep(_WAIT_STEP)
        failure = failure or "start program could not be run"
        process.failed_starts += 1
        process.phase = "failing" if process.failed_starts >= self.failing_after else "starting"
        self._event(process, "failed to start", "alert", f"'{spec.name}' {failure}")

    async def _stop(self, process: _Supervised) -> None:
        spec = process.spec
        async with process.lock:
            pid = _find_pid(spec, None)
            if pid is not None:
                self._log(f"'{spec.name}' stop: {spec.stop or '(no stop program: TERM)'}")
                if spec.stop is None:
                    _signal(pid, signal.SIGTERM)
                program = await self._run_program(spec, spec.stop, spec.stop_uid, spec.stop_gid)
                if not await _wait_gone(pid, spec.stop_timeout):
                    self._log(f"'{spec.name}' still running after {spec.stop_timeout:g}s: KILL")
                    _kill_group(pid)
                    await _wait_gone(pid, _KILL_GRACE)
                if program is not None and program.returncode is None:
                    _kill_group(program.pid)
            process.phase = "stopped"
            process.failed_starts = 0

    async def _run_program(
        self, spec: MonitProcess, command: str | None, uid: str | None, gid: str | None
    ) -> asyncio.subprocess.Process | None:
        if command is None:
            return None
        try:
            program = await asyncio.create_subprocess_exec(
                *shlex.split(command),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                cwd="/",
                env={**_PROGRAM_ENV, "MONIT_SERVICE": spec.name},
                start_new_session=True,
                umask=0o022,
                user=uid,
                group=gid,
            )
        except (OSError, ValueError, KeyError) as exc:
            self._log(f"'{spec.name}' cannot run '{command}': {exc}")
            return None
        # Reap it whenever it ends; a ctl script that execs its server ends with it.
        self._spawn_background(program.wait())
        return program

    def _spawn_background(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _event(self, process: _Supervised, event: str, action: str, description: str) -> None:
        self._log(f"'{process.spec.name}' {event}: {description}")
        if self._on_alert is not None:
            self._on_alert(
                MonitAlert(
                    id=f"{uuid.uuid4()}@localhost",
                    service=process.spec.name,
                    event=event,
                    action=action,
                    date=formatdate(localtime=True),
                    description=description,
                )
            )

    def _log(self, message: str) -> None:
        log.info("%s", message)
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with (self.log_dir / "monit.log").open("a", encoding="utf-8") as stream:
                stream.write(f"[{time.strftime('%Y-%m-%dT%H:%M:%S%z')}] {message}\n")
        except OSError as exc:
            log.warning("cannot write the supervisor log in %s: %s", self.log_dir, exc.strerror)


def _dependency_waves(
    processes: Mapping[str, _Supervised], others: set[str]
) -> list[list[_Supervised]]:
    """Processes grouped so that each group depends only on earlier groups."""
    needs: dict[str, set[str]] = {}
    for name, process in processes.items():
        unknown = [d for d in process.spec.depends_on if d not in processes and d not in others]
        if unknown:
            raise SupervisorError(
                f"Process '{name}' of job '{process.job}' depends on unknown service '{unknown[0]}'"
            )
        needs[name] = {d for d in process.spec.depends_on if d in processes}
    waves: list[list[_Supervised]] = []
    done: set[str] = set()
    while len(done) < len(needs):
        ready = [name for name, deps in needs.items() if name not in done and deps <= done]
        if not ready:
            cycle = sorted(name for name in needs if name not in done)
            raise SupervisorError(f"Processes depend on each other in a cycle: {', '.join(cycle)}")
        waves.append([processes[name] for name in ready])
        done.update(ready)
    return waves


# --- /proc --------------------------------------------------------------------------


@attrs.frozen
class _Stat:
    state: str
    ppid: int
    cpu_ticks: int
    start_ticks: int


def _read_stat(pid: int) -> _Stat | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields follow the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    return _Stat(
        state=fields[0].decode(),
        ppid=int(fields[1]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        start_ticks=int(fields[19]),
    )


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _process_table() -> dict[int, _Stat]:
    table: dict[int, _Stat] = {}
    for pid in _pids():
        if (stat := _read_stat(pid)) is not None:
            table[pid] = stat
    return table


def _alive(pid: int, table: Mapping[int, _Stat] | None) -> bool:
    stat = table.get(pid) if table is not None else _read_stat(pid)
    return stat is not None and stat.state not in ("Z", "X")  # a zombie has exited


def _find_pid(spec: MonitProcess, table: Mapping[int, _Stat] | None) -> int | None:
    """The live pid of a process, from its pid file or its `matching` pattern."""
    if spec.pidfile is not None:
        try:
            pid = int(Path(spec.pidfile).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid > 0 and _alive(pid, table) else None
    assert spec.matching is not None
    pattern = re.compile(spec.matching)
    for pid in sorted(table if table is not None else _pids()):
        if pid == os.getpid():
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if pattern.search(command.decode(errors="replace").strip()) and _alive(pid, table):
            return pid
    return None


def _vitals(
    process: _Supervised,
    pid: int | None,
    table: Mapping[int, _Stat],
    memory_total_kb: int,
    cpus: int,
    system_uptime: float,
) -> dict[str, Any]:
    """Uptime, memory and CPU of a process and its descendants (monit's totals)."""
    if pid is None:
        process.cpu_sample = None
        return {"uptime": {"secs": 0}, "mem": {"kb": 0, "percent": 0.0}, "cpu": {"total": 0.0}}
    tree = _descendants(pid, table)
    kb = sum(_rss_kb(member) for member in tree)
    ticks = sum(table[member].cpu_ticks for member in tree if member in table)
    now = time.monotonic()
    cpu = 0.0
    if process.cpu_sample is not None and process.cpu_sample[0] == pid:
        _, then, before = process.cpu_sample
        if now > then:
            cpu = (ticks - before) / _CLOCK_TICKS / (now - then) / cpus * 100
    process.cpu_sample = (pid, now, ticks)
    started = table[pid].start_ticks / _CLOCK_TICKS if pid in table else system_uptime
    return {
        "uptime": {"secs": max(0, int(system_uptime - started))},
        "mem": {"kb": kb, "percent": round(kb * 100 / memory_total_kb, 1)},
        "cpu": {"total": round(max(cpu, 0.0), 1)},
    }


def _descendants(pid: int, table: Mapping[int, _Stat]) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, stat in table.items():
        children.setdefault(stat.ppid, []).append(child)
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = list(itertools.chain.from_iterable(children.get(p, ()) for p in frontier))
        tree.extend(frontier)
    return tree


def _rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _memory_total_kb() -> int:
    with Path("/proc/meminfo").open() as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 1


def system_uptime() -> float:
    """Seconds since the machine booted (0 where ``/proc/uptime`` cannot be read)."""
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


async def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid, None):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(_WAIT_STEP)
    return True


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _kill_group(pid: int) -> None:
    """KILL `pid`, and its whole process group when it leads one (a session we began)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
