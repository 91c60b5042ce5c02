"""Small manifests and job specs for the properties, links and addons tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bosh_core import serialization
from bosh_core.models.manifest import Manifest, load_manifest
from bosh_core.models.release import JobSpec

__all__ = ["HELLO_SPEC", "group", "job", "manifest"]

_HELLO = Path(__file__).parents[3] / "examples" / "hello-release" / "jobs" / "hello" / "spec"
HELLO_SPEC = serialization.load_yaml_as(_HELLO.read_bytes(), JobSpec, source=str(_HELLO))


def job(name: str, release: str = "app", **fields: Any) -> dict[str, Any]:
    return {"name": name, "release": release, **fields}


def group(name: str, *jobs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "instances": 1,
        "azs": ["z1"],
        "vm_type": "default",
        "stemcell": "default",
        "networks": [{"name": "default"}],
        "jobs": list(jobs),
        **fields,
    }


def manifest(*groups: dict[str, Any], name: str = "dep", **fields: Any) -> Manifest:
    document = {
        "name": name,
        "releases": [{"name": "app", "version": "1"}, {"name": "hello", "version": "1"}],
        "stemcells": [{"alias": "default", "os": "ubuntu-jammy", "version": "1"}],
        "update": {
            "canaries": 1,
            "max_in_flight": 1,
            "canary_watch_time": 1000,
            "update_watch_time": 1000,
        },
        "instance_groups": list(groups),
        **fields,
    }
    return load_manifest(document)
