"""Helpers for the CPI framework tests: the memory CPI as an executable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def write_executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def memory_cpi_executable(tmp_path: Path) -> Path:
    """A CPI executable, as a release's ``bin/cpi``: serves MemoryCPI with a config file."""
    config = tmp_path / "cpi.json"
    config.write_text(json.dumps({"state_file": str(tmp_path / "cloud.json")}))
    return write_executable(
        tmp_path / "cpi",
        f"#!/bin/sh\ncd {REPO_ROOT}\n"
        f"exec {sys.executable} -m tests.core.cpi.memory_cpi -configFile {config}\n",
    )
