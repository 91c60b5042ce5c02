"""The ``dav`` blobstore: BOSH's WebDAV blobstore, as its davcli client uses it.

A blob lives at ``<endpoint>/<prefix>/<blob id>``, where the prefix is the first byte of
the SHA-1 of the id in two hex digits, so the server's directories stay small. Requests
carry basic auth; a signed URL (``<endpoint>/signed/<prefix>/<id>?e=&st=&ts=``) lets a
holder without credentials GET or PUT one blob for a while. Bodies are streamed both
ways. The password and signing secret never appear in a message or a repr.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import attrs

from bosh_core.blobstore import Blobstore, staged_destination
from bosh_core.errors import BlobNotFoundError, BlobstoreError, ConfigError
from bosh_core.serialization import kind_of

__all__ = ["DavBlobstore", "DavConfig", "blob_path"]

_CHUNK = 1024 * 1024
_TIMEOUT = 60.0
_BODY_IN_ERRORS = 1024  # as davcli: the start of a failed reply's body explains it
_T = TypeVar("_T")


class _Retryable(Exception):
    """A failed attempt worth repeating (connection trouble, a 5xx reply)."""


def blob_path(blob_id: str) -> str:
    """``<prefix>/<blob id>``: where davcli puts a blob under the endpoint."""
    if not blob_id or blob_id in (".", "..") or "/" in blob_id or "\\" in blob_id:
        raise BlobstoreError(f"Invalid blob id '{blob_id}': expected a plain name such as a uuid")
    return f"{hashlib.sha1(blob_id.encode()).hexdigest()[:2]}/{blob_id}"


@attrs.frozen
class DavConfig:
    """Options of a dav blobstore (davcli's keys: endpoint, user, password, secret, tls)."""

    endpoint: str
    user: str = ""
    password: str = attrs.field(default="", repr=False)
    secret: str = attrs.field(default="", repr=False)
    ca_cert: str = ""  # PEM; from tls.cert.ca
    retry_attempts: int = 3

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, source: str) -> DavConfig:
        """Build from ``blobstore.options``; keys match in any case, as Go's JSON does."""
        lowered = {str(key).lower(): value for key, value in options.items()}
        fields: dict[str, Any] = {}
        for key, name in (
            ("endpoint", "endpoint"),
            ("user", "user"),
            ("password", "password"),
            ("secret", "secret"),
        ):
            if lowered.get(key) is not None:
                fields[name] = _typed(lowered[key], str, key, source)
        attempts = lowered.get("retryattempts", lowered.get("retry_attempts"))
        if attempts is not None:
            fields["retry_attempts"] = _typed(attempts, int, "retry_attempts", source)
        ca = ((lowered.get("tls") or {}).get("cert") or {}).get("ca")
        if ca is not None:
            fields["ca_cert"] = _typed(ca, str, "tls.cert.ca", source)
        endpoint = urllib.parse.urlsplit(fields.get("endpoint", ""))
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ConfigError(
                f"Invalid dav blobstore options in {source}: 'endpoint' must be an http(s) URL"
            )
        if fields.get("retry_attempts", 1) < 0:
            raise ConfigError(f"Invalid dav blobstore option 'retry_attempts' in {source}")
        return cls(**fields)


def _typed(value: Any, expected: type[_T], key: str, source: str) -> _T:
    if isinstance(value, expected) and not isinstance(value, bool):
        return value
    raise ConfigError(
        f"Invalid dav blobstore option '{key}' in {source}: expected"
        f" {'a string' if expected is str else 'an integer'}, found {kind_of(value)}"
    )


class DavBlobstore(Blobstore):
    def __init__(self, config: DavConfig) -> None:
        self.config = config
        self._url = urllib.parse.urlsplit(config.endpoint)
        self._tls: ssl.SSLContext | None = None
        if self._url.scheme == "https":
            self._tls = ssl.create_default_context(cadata=config.ca_cert or None)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, source: str) -> DavBlobstore:
        return cls(DavConfig.from_options(options, source=source))

    def __repr__(self) -> str:
        return f"DavBlobstore(endpoint={self.config.endpoint!r})"

    def put(self, source: Path) -> str:
        blob_id = str(uuid.uuid4())
        self.put_as(blob_id, source)
        return blob_id

    def put_as(self, blob_id: str, source: Path) -> None:
        """Store the file at `source` under a blob id the caller chose (davcli's put)."""

        def attempt() -> None:
            with source.open("rb") as body:
                status, reply = self._request("PUT", blob_id, body, source.stat().st_size)
            if status not in (201, 204):
                raise self._failure("Putting", blob_id, status, reply)

        self._retrying(attempt, f"Putting dav blob '{blob_id}'")

    def get(self, blob_id: str, destination: Path) -> None:
        def attempt() -> None:
            connection, response = self._open("GET", blob_id)
            try:
                if response.status == 404:
                    raise BlobNotFoundError(f"Blob '{blob_id}' not found in {self._where()}")
                if response.status != 200:
                    body = response.read(_BODY_IN_ERRORS)
                    raise self._failure("Getting", blob_id, response.status, body)
                with staged_destination(destination) as staged, staged.open("wb") as out:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
            finally:
                connection.close()

        self._retrying(attempt, f"Getting dav blob '{blob_id}'")

    def delete(self, blob_id: str) -> None:
        def attempt() -> None:
            status, reply = self._request("DELETE", blob_id)
            if status != 404 and not 200 <= status < 300:
                raise self._failure("Deleting", blob_id, status, reply)

        self._retrying(attempt, f"Deleting dav blob '{blob_id}'")

    def exists(self, blob_id: str) -> bool:
        def attempt() -> bool:
            status, reply = self._request("HEAD", blob_id)
            if status == 404:
                return False
            if status != 200:
                raise self._failure("Checking if", blob_id, status, reply)
            return True

        return self._retrying(attempt, f"Checking if dav blob '{blob_id}' exists")

    def sign(self, blob_id: str, verb: str, expiry: float, *, now: float | None = None) -> str:
        """A URL that allows `verb` (GET or PUT) on the blob for `expiry` seconds.

        As davcli: HMAC-SHA256 with the configured secret over
        ``<VERB><prefix>/<id><timestamp><expiry seconds>``, URL-safe base64 without padding.
        """
        verb = verb.upper()
        if verb not in ("GET", "PUT"):
            raise BlobstoreError(
                f"Cannot sign '{verb}' for blob '{blob_id}': only GET and PUT can be signed"
            )
        if not self.config.secret:
            raise BlobstoreError(
                f"Cannot sign a URL for blob '{blob_id}': the dav blobstore has no 'secret'"
            )
        prefixed = blob_path(blob_id)
        timestamp = int(time.time() if now is None else now)
        seconds = int(expiry)
        message = f"{verb}{prefixed}{timestamp}{seconds}".encode()
        digest = hmac.new(self.config.secret.encode(), message, hashlib.sha256).digest()
        signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        query = urllib.parse.urlencode({"e": seconds, "st": signature, "ts": timestamp})
        path = f"{self._url.path.rstrip('/')}/signed/{prefixed}"
        return urllib.parse.urlunsplit((self._url.scheme, self._url.netloc, path, query, ""))

    def _where(self) -> str:
        return f"dav blobstore {self.config.endpoint}"

    def _failure(self, doing: str, blob_id: str, status: int, body: bytes) -> Exception:
        text = body[:_BODY_IN_ERRORS].decode(errors="replace").strip()
        error = BlobstoreError(
            f"{doing} dav blob '{blob_id}' at {self.config.endpoint} failed: wrong response"
            f" code {status}{'; body: ' + text if text else ''}"
        )
        return _Retryable(error) if status >= 500 else error

    def _retrying(self, attempt: Callable[[], _T], doing: str) -> _T:
        attempts = max(self.config.retry_attempts, 1)
        for number in range(1, attempts + 1):
            try:
                return attempt()
            except _Retryable as exc:
                if number == attempts:
                    raise exc.args[0] from None
            except (http.client.HTTPException, ConnectionError, TimeoutError, ssl.SSLError) as exc:
                if number == attempts:
                    raise BlobstoreError(f"{doing} at {self.config.endpoint}: {exc}") from None
            except OSError as exc:
                if exc.filename is not None:  # a local file's trouble: no retry
                    raise BlobstoreError(f"{doing}: '{exc.filename}': {exc.strerror}") from None
                if number == attempts:
                    reason = exc.strerror or str(exc)
                    raise BlobstoreError(f"{doing} at {self.config.endpoint}: {reason}") from None
        raise AssertionError("unreachable")

    def _request(
        self, method: str, blob_id: str, body: BinaryIO | None = None, length: int = 0
    ) -> tuple[int, bytes]:
        connection, response = self._open(method, blob_id, body, length)
        try:
            return response.status, response.read(_BODY_IN_ERRORS)
        finally:
            connection.close()

    def _open(
        self, method: str, blob_id: str, body: BinaryIO | None = None, length: int = 0
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        path = f"{self._url.path.rstrip('/')}/{urllib.parse.quote(blob_path(blob_id))}"
        headers = {"Content-Length": str(length)} if method == "PUT" else {}
        if self.config.user:
            credentials = f"{self.config.user}:{self.config.password}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
        connection: http.client.HTTPConnection
        host, port = self._url.hostname or "", self._url.port
        if self._tls is not None:
            connection = http.client.HTTPSConnection(
                host, port, timeout=_TIMEOUT, context=self._tls, blocksize=_CHUNK
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=_TIMEOUT, blocksize=_CHUNK)
        try:
            connection.request(method, path, body=body, headers=headers)
            return connection, connection.getresponse()
        except BaseException:
            connection.close()
            raise
