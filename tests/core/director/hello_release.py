"""The sample release (examples/hello-release) uploaded to a director database, with the
local stemcell row and the local cloud config: what a deploy of
examples/hello-deployment.yml finds on a fresh ``bosh local up``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from bosh_core.blobstore import Blobstore
from bosh_core.director.configs import ConfigStore
from bosh_core.director.db import Database
from bosh_core.local.provisioning import STEMCELL_NAME, cloud_config
from bosh_core.release.index import QuietReporter
from bosh_core.release.releasedir import ReleaseDir, write_release_tarball
from tests.core.director.records import add_stemcell, import_release

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_MANIFEST = ROOT / "examples" / "hello-deployment.yml"
STEMCELL_VERSION = "1.0"


def build_hello_tarball(directory: Path) -> Path:
    """examples/hello-release built as a dev release (hello/0+dev.1) into `directory`."""
    source = directory / "hello-release"
    shutil.copytree(ROOT / "examples" / "hello-release", source)
    release_dir = ReleaseDir(source, cache_dir=directory / "cache", reporter=QuietReporter())
    release = release_dir.build_release(
        name="hello", version=release_dir.next_dev_version("hello"), force=True
    )
    tarball = directory / "hello.tgz"
    write_release_tarball(release, tarball)
    return tarball


def install_hello(database: Database, blobstore: Blobstore, tarball: Path, scratch: Path) -> None:
    """The release uploaded, the local stemcell and the local cloud config stored."""
    import_release(database, blobstore, tarball, scratch=scratch)
    add_stemcell(database, STEMCELL_NAME, STEMCELL_VERSION, os="ubuntu-jammy")
    ConfigStore(database).create_if_changed(
        "cloud", "default", cloud_config(cidr="10.244.0.0/24", gateway="10.244.0.1")
    )


def sample_manifest() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SAMPLE_MANIFEST.read_text())
    return document
