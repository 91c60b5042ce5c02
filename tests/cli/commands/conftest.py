"""A real director for CLI command tests: served by uvicorn over TLS in a thread, with
one in-process worker and the local CPI (`env`), and release tarballs of the fixture
release whose archives sit in ``~/.bosh/cache`` of a test home (`tarballs`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import uvicorn

from bosh_core.client import Director
from bosh_core.director.api import DirectorConfig, LocalUser, create_app, ensure_tls
from bosh_core.director.db import open_database
from bosh_core.models.cpi_config import Cpi
from tests.core.director.jobs.local_cloud import local_properties
from tests.core.director.release_tarballs import Tarballs, build_tarballs

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """A director with one worker and the local CPI, served by uvicorn in a thread."""
    port = _free_port()
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
    tls = ensure_tls(config)
    assert tls.ca is not None
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, database, run_workers=True),
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(tls.certificate),
            ssl_keyfile=str(tls.private_key),
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Env(f"https://127.0.0.1:{port}", tls.ca)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()


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
