"""A blobstore served over HTTPS, as the reference's nginx with WebDAV on :25250.

    app = BlobstoreApp(root, authenticate=authenticator.authenticate, secret=secret)
    with serve_blobstore(app, host="0.0.0.0", port=25250, certificate=crt, private_key=key):
        ...                                  # agents' davcli-style clients use it meanwhile

What it answers follows the reference's site (jobs/blobstore/templates/blobstore.conf.erb):

- ``GET|HEAD|PUT|DELETE /<prefix>/<blob id>`` with basic auth. The reference's read and
  write user files list the same users (director and agent), so every known user may use
  every verb: agents PUT log bundles and compiled packages.
- ``GET|HEAD|PUT /signed/<prefix>/<blob id>?e=&st=&ts=`` without credentials: ``st``
  must be the HMAC-SHA256 (URL-safe base64) of ``<METHOD><prefix>/<id><ts><e>`` under
  the secret, and ``ts + e`` not past (``e=0`` never expires, as nginx's
  secure_link_hmac decides), else 403; other methods get 405. Without a secret the
  location does not exist (404), as when the reference disables signed URLs.
- 201 for a new blob, 204 for a replaced one and for a delete, 404 for a missing one
  (DELETE included: the dav client takes that as done), 401 with ``WWW-Authenticate``
  without good credentials; credentials are checked before the method, as nginx does.

A blob is the file ``<root>/<blob id>``: the layout of the ``local`` blobstore, so the
director reads and writes the same directory without HTTP. The URL's prefix must be the
one davcli computes (`blob_path`), so a blob has a single URL. Ids are plain names
(letters, digits, ``.``, ``-``, ``_``, starting with a letter or digit): no URL names a
file outside the root, nor an upload in progress (``.<id>.<random>.part``).

Bodies stream both ways in pieces of at most 1 MiB, so memory stays flat however large a
blob is; an upload is written to a staged file renamed into place once complete, so a
broken upload leaves nothing. Digests are not checked here: davcli sends none, and the
director verifies blobs against the sha1 it records. Query strings (signatures) are never
logged: uvicorn's access log is off.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import attrs

from bosh_core.blobstore import staged_destination
from bosh_core.blobstore.dav import blob_path
from bosh_core.errors import BlobstoreError

__all__ = ["DEFAULT_PORT", "Authenticate", "BlobstoreApp", "serve_blobstore"]

DEFAULT_PORT = 25250
"""The reference's ``blobstore.port``."""

Authenticate = Callable[[str | None], str | None]
"""Maps an ``Authorization`` header to the user's name, or None (as `BasicAuthenticator`)."""

_CHUNK = 1024 * 1024
_BLOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_DIGITS = re.compile(r"[0-9]+")
_VERBS = ("GET", "HEAD", "PUT", "DELETE")
_SIGNED_VERBS = ("GET", "HEAD", "PUT")
_STARTUP_TIMEOUT = 10.0
_SHUTDOWN_GRACE = 5

_log = logging.getLogger(__name__)

ASGIMessage = dict[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


class _ClientGone(Exception):
    """The client went away before its upload was complete."""


class BlobstoreApp:
    """The ASGI application; `clock` (seconds since the epoch) decides what has expired."""

    def __init__(
        self,
        root: Path,
        *,
        authenticate: Authenticate,
        secret: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self._authenticate = authenticate
        self._secret = secret.encode()
        self._clock = clock

    def __repr__(self) -> str:
        return f"BlobstoreApp({str(self.root)!r}, signed_urls={bool(self._secret)})"

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan events to handle, no websockets to accept
        found = self._route(scope)
        if isinstance(found, _Refusal):
            await _reply(send, found.status, allow=found.allow, authenticate=found.authenticate)
        else:
            await self._serve(scope["method"], found, receive, _TrackedSend(send))

    def _route(self, scope: dict[str, Any]) -> Path | _Refusal:
        """The blob file the request may act on, or why it may not."""
        method: str = scope["method"]
        segments = scope["path"].split("/")  # percent-decoded by the server already
        if len(segments) == 4 and segments[:2] == ["", "signed"] and self._secret:
            if method not in _SIGNED_VERBS:
                return _Refusal(405, allow=_SIGNED_VERBS)
            _, _, prefix, blob_id = segments
            query = scope.get("query_string", b"").decode("latin-1")
            if not self._signature_holds(method, f"{prefix}/{blob_id}", query):
                return _Refusal(403)
        elif len(segments) == 3 and segments[0] == "":
            _, prefix, blob_id = segments
            headers = dict(scope["headers"])
            authorization = headers.get(b"authorization", b"").decode("latin-1") or None
            if self._authenticate(authorization) is None:
                realm = "Blobstore Read" if method in ("GET", "HEAD") else "Blobstore Write"
                return _Refusal(401, authenticate=f'Basic realm="{realm}"')
            if method not in _VERBS:
                return _Refusal(405, allow=_VERBS)
        else:
            return _Refusal(404)
        return self._blob_file(prefix, blob_id) or _Refusal(404)

    def _blob_file(self, prefix: str, blob_id: str) -> Path | None:
        if not _BLOB_ID.fullmatch(blob_id) or blob_path(blob_id) != f"{prefix.lower()}/{blob_id}":
            return None
        return self.root / blob_id

    def _signature_holds(self, method: str, object_id: str, query: str) -> bool:
        # nginx takes the first value of each argument and fails on anything but digits.
        arguments = urllib.parse.parse_qs(query, keep_blank_values=True)
        signature, timestamp, expiry = (arguments.get(key, [""])[0] for key in ("st", "ts", "e"))
        if not (_DIGITS.fullmatch(timestamp) and _DIGITS.fullmatch(expiry)) or not int(timestamp):
            return False
        try:
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        except (binascii.Error, ValueError):
            return False
        message = f"{method}{object_id}{timestamp}{expiry}".encode()
        wanted = hmac.new(self._secret, message, hashlib.sha256).digest()
        if not hmac.compare_digest(given, wanted):
            return False
        return not int(expiry) or int(timestamp) + int(expiry) >= self._clock()

    async def _serve(self, method: str, blob: Path, receive: Receive, send: _TrackedSend) -> None:
        try:
            if method == "PUT":
                await _put(blob, receive, send)
            elif method == "DELETE":
                await _delete(blob, send)
            else:
                await _get(blob, send, with_body=method == "GET")
        except _ClientGone:
            _log.info("Upload of blob '%s' broken off by the client; nothing stored", blob.name)
        except OSError as exc:
            _log.error("Blobstore %s of blob '%s' failed: %s", method, blob.name, exc.strerror)
            if send.started:
                raise  # uvicorn closes the connection: the client sees a short body
            await _reply(send, 500, body=f"{exc.strerror}\n")


async def _put(blob: Path, receive: Receive, send: Send) -> None:
    existed = blob.is_file()
    with staged_destination(blob) as staged, staged.open("wb") as out:
        await _receive_body(receive, out)
    await _reply(send, 204 if existed else 201)


async def _receive_body(receive: Receive, out: BinaryIO) -> None:
    # Writes happen in a thread, a piece at a time; uvicorn stops reading the socket
    # while its buffer is full, so an upload never piles up in memory.
    pending = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        pending += message.get("body", b"")
        more = bool(message.get("more_body"))
        if len(pending) >= _CHUNK or (pending and not more):
            await asyncio.to_thread(out.write, pending)
            pending = bytearray()


async def _get(blob: Path, send: Send, *, with_body: bool) -> None:
    try:
        stream = await asyncio.to_thread(blob.open, "rb")
    except (FileNotFoundError, IsADirectoryError):
        await _reply(send, 404)
        return
    with stream:
        # The open file stays whole even if a new upload replaces the blob meanwhile.
        size = os.fstat(stream.fileno()).st_size
        headers = [
            (b"content-length", str(size).encode()),
            (b"content-type", b"application/octet-stream"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        while with_body and (chunk := await asyncio.to_thread(stream.read, _CHUNK)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _delete(blob: Path, send: Send) -> None:
    try:
        await asyncio.to_thread(blob.unlink)
    except FileNotFoundError:
        await _reply(send, 404)
        return
    await _reply(send, 204)


@attrs.frozen
class _Refusal:
    status: int
    allow: tuple[str, ...] = ()
    authenticate: str = ""


class _TrackedSend:
    """`send`, remembering whether the response has begun (then no error reply fits)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: ASGIMessage) -> None:
        self.started = True
        await self._send(message)


_REASONS = {
    201: "Created",
    204: "No Content",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Not Allowed",
    500: "Internal Server Error",
}


async def _reply(
    send: Send,
    status: int,
    *,
    body: str | None = None,
    allow: tuple[str, ...] = (),
    authenticate: str = "",
) -> None:
    """A reply without a blob in it; error bodies are one line of text, as nginx's say
    no more than the status."""
    text = b"" if status in (201, 204) else (body or f"{status} {_REASONS[status]}\n").encode()
    headers = [(b"content-length", str(len(text)).encode())]
    if text:
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    if allow:
        headers.append((b"allow", ", ".join(allow).encode()))
    if authenticate:
        headers.append((b"www-authenticate", authenticate.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


@contextlib.contextmanager
def serve_blobstore(
    app: ASGIApp, *, host: str, port: int, certificate: Path, private_key: Path
) -> Iterator[int]:
    """Serve `app` over HTTPS on `host`:`port` in a thread until the block ends; yields the
    port (0 picks a free one). The socket is bound before the block starts, so a busy port
    or a bad certificate fails here, as a BlobstoreError."""
    import uvicorn

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family)
    except OSError as exc:
        raise BlobstoreError(
            f"Cannot serve the blobstore on {host}:{port}: {exc.strerror}; choose a free port"
        ) from None
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            ssl_certfile=str(certificate),
            ssl_keyfile=str(private_key),
            lifespan="off",
            log_config=None,  # the frontend configures logging
            access_log=False,  # signed URLs' query strings are credentials for a while
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=_SHUTDOWN_GRACE,
        )
    )
    failures: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[listener])
        except BaseException as exc:  # reported by the starting thread
            failures.append(exc)

    thread = threading.Thread(target=run, name=f"blobstore-server-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                reason = f": {failures[0]}" if failures else ""
                raise BlobstoreError(f"The blobstore server on {host}:{port} did not start{reason}")
            time.sleep(0.01)
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join()
        listener.close()
