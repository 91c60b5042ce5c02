"""Runs ``bosh`` in-process, as a user would on the command line."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest


@attrs.frozen
class BoshRun:
    exit_code: int
    stdout: str
    stderr: str


RunBosh = Callable[..., BoshRun]


@pytest.fixture(autouse=True)
def _own_cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands read ``~/.bosh/config``: tests must not see (or write) the real one."""
    monkeypatch.setenv("BOSH_CONFIG", str(tmp_path / "bosh-config"))


@pytest.fixture
def bosh(capsys: pytest.CaptureFixture[str]) -> RunBosh:
    """``bosh(*args, cwd=path)``: exit code, stdout and stderr of one command."""

    from bosh_cli.main import main

    def run(*args: str | os.PathLike[str], cwd: Path | None = None) -> BoshRun:
        capsys.readouterr()
        with contextlib.chdir(cwd) if cwd else contextlib.nullcontext():
            try:
                main([str(arg) for arg in args])
                exit_code = 0
            except SystemExit as done:
                exit_code = done.code if isinstance(done.code, int) else 1
        captured = capsys.readouterr()
        return BoshRun(exit_code, captured.out, captured.err)

    return run
