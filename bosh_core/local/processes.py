"""Daemons of the local environment: started detached, found again, stopped for good.

Each daemon is started through a short-lived ``sh`` with ``setsid``, so it leads its own
session and process group (a Ctrl-C in the terminal that ran ``bosh local up`` does not
reach it) and it is not a child of the starting process (which may exit at once).
Stopping signals the whole process group - the director's nats-server goes with its
parent - SIGTERM first, then SIGKILL, and
checks that no member of the group is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bosh_core.errors import BoshError
from bosh_core.local.state import ProcessRecord

__all__ = [
    "ProcessError",
    "group_members",
    "has_exited",
    "is_running",
    "start_daemon",
    "stop_daemon",
]

_LAUNCH = 'log=$1; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!'
_POLL_S = 0.05


class ProcessError(BoshError):
    """A daemon of the local environment could not be started or stopped."""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of `pid`, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[2])


def _command_line_has(pid: int, marker: str) -> bool:
    try:
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def is_running(record: ProcessRecord) -> bool:
    """The recorded daemon still runs: alive, leader of its group, started by us."""
    stat = _stat(record.pid)
    if stat is None or stat[0] in ("Z", "X") or stat[1] != record.pid:
        return False
    return _command_line_has(record.pid, record.marker)


def has_exited(record: ProcessRecord) -> bool:
    """The daemon's process is gone (or a zombie). Unlike `is_running`, it does not read
    the command line, which is briefly empty while a starting daemon execs."""
    stat = _stat(record.pid)
    return stat is None or stat[0] in ("Z", "X")


def group_members(group: int) -> list[int]:
    """Live processes of process group `group` (zombies excluded)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == group and stat[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def start_daemon(command: Sequence[str], *, log: Path, marker: str, cwd: Path) -> ProcessRecord:
    """Start `command` detached, its output appended to `log`; `marker` must be part of
    its command line (the environment's directory)."""
    if not any(marker in argument for argument in command):
        raise ValueError(f"the command line must contain the marker {marker!r}")
    log.parent.mkdir(parents=True, exist_ok=True)
    launched = subprocess.run(
        ["sh", "-c", _LAUNCH, "launch", str(log), *command],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
    pid_text = launched.stdout.strip()
    if launched.returncode != 0 or not pid_text.isdigit():
        raise ProcessError(f"Cannot start {command[0]}: {launched.stderr.strip()}")
    pid = int(pid_text)
    # setsid runs in the background job itself: the group is ours once it has run.
    deadline = time.monotonic() + 5
    while (stat := _stat(pid)) is not None and stat[1] != pid and time.monotonic() < deadline:
        time.sleep(0.005)
    return ProcessRecord(pid=pid, marker=marker, log=str(log))


def stop_daemon(record: ProcessRecord, *, grace: float = 10.0) -> None:
    """Stop the daemon's whole process group: SIGTERM, then SIGKILL after `grace`
    seconds; raise ProcessError when something of it survives even SIGKILL.

    While the leader runs the group is certainly ours and goes as a whole. Once the
    leader is gone its group id may be reused, so only leftovers whose command line
    holds the marker (the nats-server of a killed director) are stopped then.
    """
    whole_group = is_running(record)

    def members() -> list[int]:
        found = group_members(record.pid)
        if whole_group:
            return found
        return [pid for pid in found if _command_line_has(pid, record.marker)]

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        targets = members()
        if not targets:
            return
        for pid in [record.pid] if whole_group else targets:
            with contextlib.suppress(ProcessLookupError):
                (os.killpg if whole_group else os.kill)(pid, sig)
        deadline = time.monotonic() + wait
        while members() and time.monotonic() < deadline:
            time.sleep(_POLL_S)
    survivors = members()
    if survivors:
        raise ProcessError(
            f"Processes {', '.join(map(str, survivors))} of process group {record.pid}"
            " survived SIGKILL; stop them by hand before bringing the environment up again"
        )
