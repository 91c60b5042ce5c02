"""A real director API served by uvicorn over TLS in a thread of the test process, for
the SDK and CLI tests that talk to it over HTTPS."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from bosh_core.director.api import DirectorConfig, create_app, ensure_tls
from bosh_core.director.db import Database

__all__ = ["free_port", "serve_director"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_director(
    config: DirectorConfig, database: Database, *, run_workers: bool = False
) -> Iterator[tuple[str, Path]]:
    """Serve `config` on 127.0.0.1 at its port over `database` until the block ends;
    yields the director's URL and the CA to trust. `database` is disposed after."""
    tls = ensure_tls(config)
    assert tls.ca is not None
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, database, run_workers=run_workers),
            host="127.0.0.1",
            port=config.port,
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
        yield f"https://127.0.0.1:{config.port}", tls.ca
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()
