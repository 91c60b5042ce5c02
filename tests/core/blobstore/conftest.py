"""Our blobstore server (bosh_core.blobstore.server) over real HTTPS in a thread, for the
dav client's tests and the server's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from bosh_core.blobstore.dav import DavBlobstore
from bosh_core.blobstore.server import BlobstoreApp, Receive, Send, serve_blobstore
from bosh_core.bus.certs import CertificateAuthority
from bosh_core.director.api.auth import BasicAuthenticator
from bosh_core.director.api.config import LocalUser

DIRECTOR = LocalUser("director", "director-pw")
AGENT = LocalUser("agent", "s3cret-pw")
SECRET = "signing-secret"


@attrs.frozen
class TLS:
    ca: str  # PEM
    certificate: Path
    private_key: Path


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLS:
    directory = tmp_path_factory.mktemp("blobstore-tls")
    authority = CertificateAuthority.generate("blobstore-test-ca")
    issued = authority.issue_server(["127.0.0.1", "localhost"])
    (directory / "server.crt").write_text(issued.certificate)
    (directory / "server.key").write_text(issued.private_key)
    return TLS(authority.certificate_pem, directory / "server.crt", directory / "server.key")


class Faults:
    """Wraps the app: answers the next requests with queued statuses (a failing server)
    and records the size of every piece of request body the app receives."""

    def __init__(self, app: BlobstoreApp) -> None:
        self.app = app
        self.fail_next: list[int] = []
        self.received: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if self.fail_next:
            status = self.fail_next.pop(0)
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b"try again"})
            return

        async def recording() -> dict[str, Any]:
            message = await receive()
            self.received.append(len(message.get("body", b"")))
            return message

        await self.app(scope, recording, send)


@attrs.frozen
class Served:
    endpoint: str
    root: Path
    ca: str
    faults: Faults

    def store(self, user: LocalUser | None = AGENT, **options: Any) -> DavBlobstore:
        """The dav client for this server, as `user` (None: no credentials)."""
        settings: dict[str, Any] = {
            "endpoint": self.endpoint,
            "secret": SECRET,
            "tls": {"cert": {"ca": self.ca}},
            **options,
        }
        if user is not None:
            settings.update(user=user.name, password=user.password)
        return DavBlobstore.from_options(settings, source="test")


@pytest.fixture
def served(tmp_path: Path, tls: TLS) -> Iterator[Served]:
    root = tmp_path / "store"
    app = BlobstoreApp(
        root, authenticate=BasicAuthenticator([DIRECTOR, AGENT]).authenticate, secret=SECRET
    )
    faults = Faults(app)
    with serve_blobstore(
        faults, host="127.0.0.1", port=0, certificate=tls.certificate, private_key=tls.private_key
    ) as port:
        yield Served(f"https://127.0.0.1:{port}", root, tls.ca, faults)
