"""The registry HTTP service (stdlib ``ThreadingHTTPServer``) over a SQLite file."""

from __future__ import annotations

import base64
import binascii
import hmac
import http
import http.server
import json
import logging
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["RegistryServer", "SQLiteRegistryStore", "settings_ips"]

logger = logging.getLogger(__name__)

# Settings are a few KiB (certificates included); anything far larger is a mistake.
MAX_SETTINGS_BYTES = 1024 * 1024
_LOOPBACK = frozenset({"127.0.0.1", "::1"})


class SQLiteRegistryStore:
    """Instance settings in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS registry_instances ("
                " instance_id TEXT PRIMARY KEY, settings TEXT NOT NULL)"
            )

    def __repr__(self) -> str:
        return f"SQLiteRegistryStore({str(self.path)!r})"

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per operation: sqlite3 connections are not shared
        # across the server's threads, and opening one is cheap.
        with closing(sqlite3.connect(self.path, timeout=30)) as connection, connection:
            yield connection

    def get(self, instance_id: str) -> str | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT settings FROM registry_instances WHERE instance_id = ?", (instance_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def put(self, instance_id: str, settings: str) -> None:
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO registry_instances (instance_id, settings) VALUES (?, ?)"
                " ON CONFLICT (instance_id) DO UPDATE SET settings = excluded.settings",
                (instance_id, settings),
            )

    def delete(self, instance_id: str) -> bool:
        with self._connection() as connection:
            cursor = connection.execute(
                "DELETE FROM registry_instances WHERE instance_id = ?", (instance_id,)
            )
        return cursor.rowcount > 0


def settings_ips(settings: str) -> frozenset[str]:
    """The IP addresses an instance's settings give it (``networks.*.ip``)."""
    try:
        networks = json.loads(settings).get("networks") or {}
    except (ValueError, AttributeError):
        return frozenset()
    if not isinstance(networks, dict):
        return frozenset()
    return frozenset(
        str(network["ip"])
        for network in networks.values()
        if isinstance(network, dict) and network.get("ip")
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)

    def _instance_id(self) -> str | None:
        parts = urllib.parse.urlsplit(self.path).path.split("/")
        # ["", "instances", "<id>", "settings"]
        if len(parts) == 4 and parts[1] == "instances" and parts[2] and parts[3] == "settings":
            return urllib.parse.unquote(parts[2])
        return None

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected_user, expected_password = self.server.credentials
        # Both compared, always: timing must not tell which one was wrong.
        user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
        password_ok = hmac.compare_digest(password.encode(), expected_password.encode())
        return user_ok and password_ok

    def _reply(self, status: int, body: dict[str, Any] | str) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "text/plain" if isinstance(body, str) else "application/json"
        )
        self.send_header("Content-Length", str(len(data)))
        if status == http.HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Basic realm="BOSH Registry"')
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> str | None:
        instance_id = self._instance_id()
        if instance_id is None:
            self._reply(http.HTTPStatus.NOT_FOUND, {"status": "not_found"})
        return instance_id

    def _require_writer(self) -> bool:
        if self._authorized():
            return True
        self._reply(http.HTTPStatus.UNAUTHORIZED, "Not authorized\n")
        return False

    def do_GET(self) -> None:
        instance_id = self._route()
        if instance_id is None:
            return
        settings = self.server.store.get(instance_id)
        if settings is None:
            self._reply(http.HTTPStatus.NOT_FOUND, {"status": "not_found"})
            return
        caller = self.client_address[0]
        if not self._authorized() and caller not in _LOOPBACK:
            allowed = settings_ips(settings)
            if caller not in allowed:
                logger.warning(
                    "refused settings of %s to %s (instance IPs: %s)",
                    instance_id,
                    caller,
                    ", ".join(sorted(allowed)) or "none",
                )
                # The real registry answers an IP mismatch as a server error.
                self._reply(http.HTTPStatus.INTERNAL_SERVER_ERROR, {"status": "error"})
                return
        self._reply(http.HTTPStatus.OK, {"settings": settings, "status": "ok"})

    def do_PUT(self) -> None:
        instance_id = self._route()
        if instance_id is None or not self._require_writer():
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(http.HTTPStatus.LENGTH_REQUIRED, {"status": "error"})
            return
        if not 0 <= length <= MAX_SETTINGS_BYTES:
            self._reply(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"status": "error"})
            self.close_connection = True
            return
        try:
            settings = self.rfile.read(length).decode()
        except UnicodeDecodeError:
            self._reply(http.HTTPStatus.BAD_REQUEST, {"status": "error"})
            return
        self.server.store.put(instance_id, settings)
        self._reply(http.HTTPStatus.OK, {"status": "ok"})

    def do_DELETE(self) -> None:
        instance_id = self._route()
        if instance_id is None or not self._require_writer():
            return
        self.server.store.delete(instance_id)
        self._reply(http.HTTPStatus.OK, {"status": "ok"})

    def do_POST(self) -> None:
        self._reply(http.HTTPStatus.METHOD_NOT_ALLOWED, {"status": "error"})


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        store: SQLiteRegistryStore,
        credentials: tuple[str, str],
    ) -> None:
        self.store = store
        self.credentials = credentials
        super().__init__(address, _Handler)


class RegistryServer:
    """The registry on `host`:`port` (0 = a free port); writers use `user`/`password`.

    ``start()`` serves on a background thread (``stop()`` ends it); ``serve_forever()``
    serves on the calling thread, for the ``bosh-registry`` daemon.
    """

    def __init__(
        self,
        store: SQLiteRegistryStore,
        *,
        user: str,
        password: str,
        host: str = "127.0.0.1",
        port: int = 25777,
    ) -> None:
        if not user or not password:
            raise ValueError("the registry needs a user and a password for writers")
        self._http = _HTTPServer((host, port), store=store, credentials=(user, password))
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"RegistryServer({self.url!r})"

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._http.server_address[0])
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        self._http.serve_forever()

    def start(self) -> RegistryServer:
        # A short poll interval lets stop() return at once instead of after 0.5 s.
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="bosh-registry",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        self._http.server_close()

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
