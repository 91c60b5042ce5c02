"""hello-app: a tiny HTTP server for the hello job (standard library only).

``GET /`` answers with the job's ``message`` property and adds one to a visit counter kept
in ``<store_dir>/visits`` (on the persistent disk, so it outlives restarts and VM
recreation); ``GET /visits`` answers the count as JSON, behind HTTP basic auth for user
``admin`` when a ``password`` is configured; ``GET /info`` answers with this instance's
identity and its peers' URLs as JSON. The config file is the JSON the job's
``config/hello.json`` template renders. Runs on the stemcell's python3 (3.8 or newer).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import os
import signal
import socketserver
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

USER = "admin"


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path` and rename it over `path`, creating
    the directory if missing: a crash or a full disk leaves the old content whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink()
        raise


class VisitCounter:
    """The number of ``GET /`` answered, saved after each one in ``<store_dir>/visits``.

    Without a store_dir the count lives in memory only. A store_dir that cannot be read or
    written does not stop the server: it keeps counting in memory, says so once on stderr,
    and tries the disk again on the next visit (a disk may be mounted late).
    """

    def __init__(self, store_dir: Path | None) -> None:
        self._file = None if store_dir is None else store_dir / "visits"
        self._lock = threading.Lock()
        self._warned = False
        self._count = self._load()

    def count(self) -> int:
        with self._lock:
            return self._count

    def add_one(self) -> None:
        with self._lock:
            self._count += 1
            self._save()

    def _load(self) -> int:
        if self._file is None:
            return 0
        try:
            return int(self._file.read_text())
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as error:
            self._warn(error)
            return 0

    def _save(self) -> None:
        if self._file is None:
            return
        try:
            write_atomically(self._file, f"{self._count}\n")
        except OSError as error:
            self._warn(error)

    def _warn(self, error: Exception) -> None:
        if self._warned:
            return
        self._warned = True
        sys.stderr.write(
            f"hello-app: cannot keep the visit count in {self._file}: {error}; counting in"
            " memory only until it works (mount the persistent disk or set store_dir to a"
            " writable directory)\n"
        )
        sys.stderr.flush()


def basic_auth_matches(header: str | None, password: str) -> bool:
    """Whether an Authorization header carries HTTP basic credentials admin:`password`."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        credentials = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(credentials, f"{USER}:{password}".encode())


def make_handler(config: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    """A request handler class that serves `config`."""
    message = (str(config["message"]) + "\n").encode()
    info = (
        json.dumps({"instance": config.get("instance", {}), "peers": config.get("peers", [])})
        + "\n"
    ).encode()
    store_dir = config.get("store_dir")
    visits = VisitCounter(None if store_dir is None else Path(store_dir))
    password = config.get("password")

    class HelloHandler(BaseHTTPRequestHandler):
        server_version = "hello-app"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                visits.add_one()
                self.answer(200, "text/plain; charset=utf-8", message)
            elif path == "/info":
                self.answer(200, "application/json", info)
            elif path == "/visits":
                self.answer_visits()
            else:
                self.send_error(404, "Only /, /info and /visits are served")

        def answer_visits(self) -> None:
            if password is not None and not basic_auth_matches(
                self.headers.get("Authorization"), str(password)
            ):
                body = f"/visits needs user {USER} and the job's password\n".encode()
                self.answer(
                    401,
                    "text/plain; charset=utf-8",
                    body,
                    {"WWW-Authenticate": 'Basic realm="hello"'},
                )
                return
            body = (json.dumps({"visits": visits.count()}) + "\n").encode()
            self.answer(200, "application/json", body)

        def answer(
            self,
            status: int,
            content_type: str,
            body: bytes,
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # One line per request on stdout, which ctl sends to the job's log directory
            # (the request line only: credentials are in headers, never logged).
            sys.stdout.write(f"{self.address_string()} {format % args}\n")
            sys.stdout.flush()

    return HelloHandler


class HelloServer(ThreadingHTTPServer):
    def server_bind(self) -> None:
        # HTTPServer looks its host name up in DNS here, which hangs on a VM whose DNS
        # server is out of reach; the name is only used in CGI variables.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


def make_server(config: dict[str, Any]) -> ThreadingHTTPServer:
    """A server bound to the configured address (default: every one) and port (0 picks
    a free one)."""
    address = str(config.get("listen_address", "0.0.0.0"))
    return HelloServer((address, int(config["port"])), make_handler(config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="the rendered hello.json")
    arguments = parser.parse_args(argv)
    config = json.loads(arguments.config.read_text())
    server = make_server(config)
    # monit stops the job with TERM: leave serve_forever and close the socket cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"hello-app listening on port {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
