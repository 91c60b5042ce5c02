"""Shared fixtures: every test gets its own HOME (the reference keeps caches in ~/.bosh)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO_ROOT.parent / "shared" / "conformance"


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for variable in (
        "BOSH_ENVIRONMENT",
        "BOSH_CLIENT",
        "BOSH_CLIENT_SECRET",
        "BOSH_CA_CERT",
        "BOSH_DEPLOYMENT",
        "BOSH_NON_INTERACTIVE",
        "BOSH_LOG_LEVEL",
        "BOSH_TTY",
        "BOSH_SHA2",
        "BOSH_CONFIG",
    ):
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture
def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.fail(f"conformance vectors not found at {CONFORMANCE}")
    return CONFORMANCE


@pytest.fixture
def fixture_release(tmp_path: Path, conformance_dir: Path) -> Path:
    """A writable copy of the conformance fixture release (modes kept, run bits matter)."""
    target = tmp_path / "fixture-release"
    shutil.copytree(conformance_dir / "release-fingerprints" / "fixture-release", target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    return target
