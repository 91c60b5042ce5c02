from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bosh_core.blobstore.dav import DavBlobstore, DavConfig, blob_path
from bosh_core.errors import BlobNotFoundError, BlobstoreError, ConfigError

USER, PASSWORD, SECRET = "agent", "s3cret-pw", "signing-secret"


class DavHandler(http.server.BaseHTTPRequestHandler):
    """A small real WebDAV-ish server: basic auth, and nginx secure_link-style signed URLs."""

    root: Path
    fail_next: list[int]
    largest_read: list[int]

    def log_message(self, *args: object) -> None:
        pass

    def _file(self) -> Path | None:
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")  # blobs/<prefix>/<id> or blobs/signed/...
        if parts[1] == "signed":
            parts = parts[1:]
            query = urllib.parse.parse_qs(url.query)
            ts, expires, given = int(query["ts"][0]), int(query["e"][0]), query["st"][0]
            message = f"{self.command}{parts[1]}/{parts[2]}{ts}{expires}".encode()
            digest = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
            wanted = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not hmac.compare_digest(wanted, given) or time.time() > ts + expires:
                self._reply(403)
                return None
            parts = ["blobs", *parts[1:]]
        else:
            expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._reply(401, b"unauthorized")
                return None
        if self.fail_next:
            self._reply(self.fail_next.pop(), b"try again")
            return None
        return self.root.joinpath(*parts)

    def _reply(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_PUT(self) -> None:
        if (target := self._file()) is None:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        remaining = int(self.headers["Content-Length"])
        with target.open("wb") as out:
            while remaining:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                self.largest_read.append(len(chunk))
                out.write(chunk)
                remaining -= len(chunk)
        self._reply(201)

    def do_GET(self) -> None:
        if (target := self._file()) is None:
            return
        if not target.is_file():
            self._reply(404, b"no such blob")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(target.stat().st_size))
        self.end_headers()
        with target.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                self.wfile.write(chunk)

    def do_HEAD(self) -> None:
        if (target := self._file()) is not None:
            self._reply(200 if target.is_file() else 404)

    def do_DELETE(self) -> None:
        if (target := self._file()) is None:
            return
        if not target.is_file():
            self._reply(404)
            return
        target.unlink()
        self._reply(204)


class Server:
    def __init__(self, root: Path, tls: ssl.SSLContext | None = None) -> None:
        handler = type(
            "Handler", (DavHandler,), {"root": root, "fail_next": [], "largest_read": []}
        )
        self.handler = handler
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.endpoint = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/blobs"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "server")
    yield running
    running.close()


@pytest.fixture
def store(server: Server) -> DavBlobstore:
    options = {"endpoint": server.endpoint, "user": USER, "password": PASSWORD, "secret": SECRET}
    return DavBlobstore.from_options(options, source="test")


def test_blob_path_prefixes_the_first_byte_of_the_ids_sha1() -> None:
    assert blob_path("abc") == f"{hashlib.sha1(b'abc').hexdigest()[:2]}/abc" == "a9/abc"
    with pytest.raises(BlobstoreError, match="Invalid blob id"):
        blob_path("../etc")


def test_put_get_exists_delete_round_trip_in_davclis_layout(
    store: DavBlobstore, server: Server, tmp_path: Path
) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"\x00payload\xff" * 100_000)

    blob_id = store.put(source)

    stored = tmp_path / "server" / "blobs" / blob_path(blob_id)
    assert stored.read_bytes() == source.read_bytes()
    assert store.exists(blob_id)
    destination = tmp_path / "out" / "copy.bin"
    store.get(blob_id, destination)
    assert destination.read_bytes() == source.read_bytes()
    store.delete(blob_id)
    assert not stored.exists()
    assert not store.exists(blob_id)
    store.delete(blob_id)  # deleting again is not an error


def test_get_of_missing_blob_raises_not_found_and_leaves_no_file(
    store: DavBlobstore, tmp_path: Path
) -> None:
    destination = tmp_path / "out" / "file"
    destination.parent.mkdir()
    with pytest.raises(BlobNotFoundError, match="Blob 'nope' not found in dav blobstore"):
        store.get("nope", destination)
    assert list(destination.parent.iterdir()) == []


def test_wrong_password_is_an_error_that_does_not_show_the_password(
    server: Server, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.write_text("x")
    wrong = DavBlobstore(DavConfig(endpoint=server.endpoint, user=USER, password="wrong-pw"))
    with pytest.raises(BlobstoreError, match="wrong response code 401") as caught:
        wrong.put(source)
    assert "wrong-pw" not in str(caught.value)
    assert "wrong-pw" not in repr(wrong) and "wrong-pw" not in repr(wrong.config)


def test_server_errors_are_retried_then_reported(
    store: DavBlobstore, server: Server, tmp_path: Path
) -> None:
    server.handler.fail_next.extend([503, 500])
    assert store.exists("missing") is False  # third attempt got through
    server.handler.fail_next.extend([500, 500, 500])
    with pytest.raises(BlobstoreError, match="wrong response code 500; body: try again"):
        store.get("missing", tmp_path / "out")
    assert server.handler.fail_next == []


def test_unreachable_server_is_a_blobstore_error(tmp_path: Path) -> None:
    store = DavBlobstore(DavConfig(endpoint="http://127.0.0.1:9/blobs", retry_attempts=1))
    with pytest.raises(BlobstoreError, match="Checking if dav blob 'x' exists"):
        store.exists("x")


def test_upload_streams_in_chunks(store: DavBlobstore, server: Server, tmp_path: Path) -> None:
    source = tmp_path / "big"
    with source.open("wb") as out:
        out.truncate(8 * 1024 * 1024)
    store.put(source)
    assert sum(server.handler.largest_read) == 8 * 1024 * 1024


def test_signed_urls_follow_davclis_scheme_and_the_server_accepts_them(
    store: DavBlobstore, server: Server, tmp_path: Path
) -> None:
    url = store.sign("some-blob", "put", 60, now=1_700_000_000)
    parsed = urllib.parse.urlsplit(url)
    assert parsed.path == f"/blobs/signed/{blob_path('some-blob')}"
    query = urllib.parse.parse_qs(parsed.query)
    assert (query["ts"], query["e"]) == (["1700000000"], ["60"])
    message = f"PUT{blob_path('some-blob')}170000000060".encode()
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    assert query["st"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]
    assert parsed.query.startswith("e=")  # Go's url.Values.Encode sorts the keys

    put = urllib.request.Request(store.sign("blob-1", "PUT", 60), data=b"signed!", method="PUT")
    with urllib.request.urlopen(put) as reply:
        assert reply.status == 201
    with urllib.request.urlopen(store.sign("blob-1", "GET", 60)) as reply:
        assert reply.read() == b"signed!"
    expired = store.sign("blob-1", "GET", 10, now=time.time() - 60)
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(expired)
    with pytest.raises(BlobstoreError, match="only GET and PUT"):
        store.sign("blob-1", "DELETE", 60)


def test_sign_without_secret_says_so(server: Server) -> None:
    store = DavBlobstore(DavConfig(endpoint=server.endpoint))
    with pytest.raises(BlobstoreError, match="has no 'secret'"):
        store.sign("x", "GET", 60)


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="'endpoint' must be an http"):
        DavConfig.from_options({"endpoint": "ftp://x"}, source="settings")
    with pytest.raises(ConfigError, match="'user' in settings: expected a string, found"):
        DavConfig.from_options({"endpoint": "http://x", "user": 5}, source="settings")
    config = DavConfig.from_options(
        {"Endpoint": "https://x/b", "RetryAttempts": 5, "tls": {"cert": {"ca": "PEM"}}},
        source="settings",
    )
    assert (config.endpoint, config.retry_attempts, config.ca_cert) == ("https://x/b", 5, "PEM")


def _tls_material(tmp_path: Path) -> tuple[str, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (tmp_path / "cert.pem").write_text(pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return pem, context


def test_https_endpoint_trusts_the_configured_ca_only(tmp_path: Path) -> None:
    ca, context = _tls_material(tmp_path)
    server = Server(tmp_path / "server", tls=context)
    try:
        options = {"endpoint": server.endpoint, "user": USER, "password": PASSWORD}
        trusting = DavBlobstore.from_options({**options, "tls": {"cert": {"ca": ca}}}, source="t")
        assert trusting.exists("nothing") is False
        untrusting = DavBlobstore.from_options({**options, "retry_attempts": 1}, source="t")
        with pytest.raises(BlobstoreError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusting.exists("nothing")
    finally:
        server.close()
