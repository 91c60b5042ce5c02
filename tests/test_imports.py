"""`import bosh_core` stays light; public names are honest."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import bosh_cli
import bosh_core

HEAVY = ("click", "boto3", "botocore", "openstack", "pyVmomi", "nats")


def test_importing_bosh_core_pulls_no_heavy_module() -> None:
    code = (
        "import sys, bosh_core, bosh_core.serialization, bosh_core.release.releasedir,"
        " bosh_core.release.tarball, bosh_core.blobstore\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _modules() -> list[str]:
    names = []
    for package in (bosh_core, bosh_cli):
        prefix = f"{package.__name__}."
        names += [info.name for info in pkgutil.walk_packages(package.__path__, prefix=prefix)]
    return [name for name in names if not name.endswith("__main__")]


def test_every_subpackage_is_walked() -> None:
    # A folder without __init__.py would be skipped silently by walk_packages.
    assert {"bosh_core.release.tarball", "bosh_cli.commands.release"} <= set(_modules())


@pytest.mark.parametrize("name", _modules())
def test_all_lists_existing_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    for public in exported:
        assert hasattr(module, public), f"{name}.__all__ names missing {public!r}"
    defined_here = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", None) == name
        and (isinstance(value, type) or callable(value))
    }
    assert defined_here <= set(exported), (
        f"{name} defines public {defined_here - set(exported)} not in __all__"
    )
