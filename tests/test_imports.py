"""`import bosh_core` stays light; public names are honest."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import bosh_core

HEAVY = ("click", "boto3", "botocore", "openstack", "pyVmomi", "nats")


def test_importing_bosh_core_pulls_no_heavy_module() -> None:
    code = (
        "import sys, bosh_core, bosh_core.release.releasedir, bosh_core.serialization\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(bosh_core.__path__, prefix="bosh_core.")
        if not info.name.startswith("bosh_core.testing")
    ]


@pytest.mark.parametrize("name", _modules())
def test_all_lists_existing_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        return
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
