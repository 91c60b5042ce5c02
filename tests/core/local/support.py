"""What the tests of `bosh local` share: the CLI, progress lines, the daemons' pids."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bosh_core.local import LocalEnvironment
from bosh_core.local.state import load_state

BOSH = str(Path(sys.executable).with_name("bosh"))


class Recorder:
    """A progress callback that keeps the lines until taken."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines


def pids(local: LocalEnvironment) -> dict[str, int]:
    """Each daemon's recorded pid."""
    state = load_state(local.directory)
    assert state is not None
    return {name: record.pid for name, record in state.processes.items()}


def run_bosh(
    local: LocalEnvironment, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The CLI, targeting the environment through what ``bosh local env`` exports."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("BOSH_")}
    return subprocess.run(
        [BOSH, *args],
        capture_output=True,
        text=True,
        env={**clean, **local.env().variables()},
        timeout=timeout,
        check=False,
    )
