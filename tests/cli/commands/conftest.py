"""A real director for CLI command tests: served by uvicorn over TLS in a thread, with
one in-process worker and the local CPI (`env`), and release tarballs of the fixture
release whose archives sit in ``~/.bosh/cache`` of a test home (`tarballs`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from bosh_core.client import Director
from bosh_core.director.api import DirectorConfig, LocalUser
from bosh_core.director.db import open_database
from bosh_core.models.cpi_config import Cpi
from tests.core.director.jobs.local_cloud import local_properties
from tests.core.director.release_tarballs import Tarballs, build_tarballs
from tests.core.director.served import free_port, serve_director

ADMIN = ("admin", "upload-admin-pw")
STEMCELL = "bosh-local-ubuntu-jammy-go_agent"


@attrs.frozen
class Env:
    url: str
    ca: Path

    def args(self) -> list[str]:
        return ["-e", self.url, "--ca-cert", str(self.ca), "--client", ADMIN[0],
                "--client-secret", ADMIN[1], "--tty"]  # fmt: skip

    def director(self) -> Director:
        return Director(self.url, ca_cert=str(self.ca), client=ADMIN[0], client_secret=ADMIN[1])


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """A director with one worker and the local CPI, served by uvicorn in a thread."""
    port = free_port()
    config = DirectorConfig(
        name="upload-director",
        data_dir=tmp_path / "director",
        bind="127.0.0.1",
        port=port,
        users=(LocalUser(*ADMIN),),
        workers=1,
        cpi="local",
        default_cpi=Cpi(
            name="local", type="local", properties=local_properties(tmp_path / "cloud")
        ),
    )
    database = open_database(f"sqlite:///{tmp_path / 'bosh.db'}")
    database.migrate()
    with serve_director(config, database, run_workers=True) as (url, ca):
        yield Env(url, ca)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose ``~/.bosh`` holds the fixture release directory (dev releases
    0+dev.1 and 0+dev.2) with its archives in ``~/.bosh/cache``, where the CLI looks."""
    home = tmp_path_factory.mktemp("home")
    build_tarballs(home / ".bosh")
    return home


@pytest.fixture
def tarballs(home: Path, monkeypatch: pytest.MonkeyPatch) -> Tarballs:
    monkeypatch.setenv("HOME", str(home))
    root = home / ".bosh"
    return Tarballs(
        v1=root / "v1.tgz",
        v2=root / "v2.tgz",
        renamed=root / "other.tgz",
        compiled=root / "compiled.tgz",
        tampered=root / "tampered.tgz",
    )
