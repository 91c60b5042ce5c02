"""What the CPI-using job tests share: local CPIs, a cpi-config in the database, and the
event-log lines a job writes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from bosh_core.cpi.local import LocalCPI
from bosh_core.cpi.local.stemcell import write_image
from bosh_core.cpi.types import CPIContext
from bosh_core.director.cloud import Clouds
from bosh_core.director.db import Database
from bosh_core.director.db.models import Config
from bosh_core.models.cpi_config import Cpi

DIRECTOR_UUID = "director-uuid-1"
NEEDS_ROOT = "local CPI VMs need root (namespaces)"
IS_ROOT = os.geteuid() == 0


def local_properties(directory: Path) -> dict[str, Any]:
    """A local CPI whose VMs run ``sleep`` (no agent) on the loopback network."""
    return {
        "dir": str(directory),
        "network_mode": "loopback",
        "agent_command": ["sleep", "600"],
        "agent": {"mbus": "nats://user:nats-secret@127.0.0.1:4222"},
    }


def local_cpi(directory: Path) -> LocalCPI:
    """A LocalCPI over `directory`, to look at (or set up) what a job did in that cloud."""
    return LocalCPI(local_properties(directory), context=CPIContext())


def stemcell_image(path: Path) -> Path:
    """A local-CPI stemcell image (what a stemcell tarball's ``image`` holds) at `path`."""
    path.write_bytes(write_image(version="1", operating_system="ubuntu-jammy"))
    return path


def default_clouds(directory: Path, **options: Any) -> Clouds:
    """Clouds without a cpi-config: the director's own local CPI over `directory`."""
    default = Cpi(name="local", type="local", properties=local_properties(directory))
    return Clouds(director_uuid=DIRECTOR_UUID, default=default, **options)


def store_cpi_config(database: Database, cpis: dict[str, Path], *, name: str = "default") -> None:
    """A cpi-config with one local CPI per entry of `cpis` (name -> its directory)."""
    content = yaml.safe_dump(
        {
            "cpis": [
                {"name": cpi, "type": "local", "properties": local_properties(directory)}
                for cpi, directory in cpis.items()
            ]
        }
    )
    with database.write() as session:
        session.add(Config(type="cpi", name=name, content=content))


class Lines:
    """Collects a job's event-log lines (the EventLog's `write_line`)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def finished(self) -> list[tuple[str, str]]:
        """``(stage, task)`` of every task that finished, in order."""
        return [
            (entry["stage"], entry["task"])
            for entry in self.entries()
            if entry.get("state") == "finished"
        ]

    def warnings(self) -> list[str]:
        return [entry["message"] for entry in self.entries() if entry.get("type") == "warning"]
