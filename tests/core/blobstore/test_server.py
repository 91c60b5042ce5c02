"""Our blobstore server over real HTTPS: the dav client against it, and raw requests for
what the client never sends (traversal, tampered signatures, broken uploads)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
import ssl
import time
import tracemalloc
import urllib.parse
from pathlib import Path

import pytest

from bosh_core.blobstore.dav import DavBlobstore, blob_path
from bosh_core.blobstore.server import BlobstoreApp, serve_blobstore
from bosh_core.errors import BlobstoreError
from tests.core.blobstore.conftest import AGENT, DIRECTOR, TLS, Served


def _request(
    served: Served,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    user: tuple[str, str] | None = (AGENT.name, AGENT.password),
) -> tuple[int, dict[str, str], bytes]:
    """One raw request: http.client sends `path` exactly as given (no normalising)."""
    host, port = urllib.parse.urlsplit(served.endpoint).netloc.split(":")
    connection = http.client.HTTPSConnection(
        host, int(port), context=ssl.create_default_context(cadata=served.ca), timeout=10
    )
    headers = {}
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_both_users_may_put_get_and_delete_and_statuses_are_nginx_davs(
    served: Served, tmp_path: Path
) -> None:
    path = f"/{blob_path('blob-1')}"
    for user in (DIRECTOR, AGENT):
        auth = (user.name, user.password)
        assert _request(served, "PUT", path, body=b"one", user=auth)[0] == 201
        assert _request(served, "PUT", path, body=b"two!", user=auth)[0] == 204  # replaced
        status, headers, body = _request(served, "GET", path, user=auth)
        assert (status, headers["content-length"], body) == (200, "4", b"two!")
        status, headers, body = _request(served, "HEAD", path, user=auth)
        assert (status, headers["content-length"], body) == (200, "4", b"")
        assert _request(served, "DELETE", path, user=auth)[0] == 204
        assert _request(served, "DELETE", path, user=auth)[0] == 404
        assert _request(served, "GET", path, user=auth)[0] == 404
    assert _request(served, "MKCOL", path)[0] == 405
    assert list(served.root.iterdir()) == []


def test_the_dav_client_round_trips_and_blobs_are_files_in_the_root(
    served: Served, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    store = served.store(DIRECTOR)
    blob_id = store.put(source)
    assert (served.root / blob_id).read_bytes() == source.read_bytes()
    store.get(blob_id, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()
    store.delete(blob_id)
    assert not store.exists(blob_id)


@pytest.mark.parametrize(
    "user", [None, (AGENT.name, "wrong-pw"), ("nobody", AGENT.password)], ids=str
)
def test_without_good_credentials_nothing_is_allowed(
    served: Served, user: tuple[str, str] | None
) -> None:
    (served.root).mkdir()
    (served.root / "blob-1").write_bytes(b"secret data")
    path = f"/{blob_path('blob-1')}"
    status, headers, body = _request(served, "GET", path, user=user)
    assert (status, headers["www-authenticate"]) == (401, 'Basic realm="Blobstore Read"')
    assert b"secret data" not in body
    status, headers, _ = _request(served, "PUT", path, body=b"x", user=user)
    assert (status, headers["www-authenticate"]) == (401, 'Basic realm="Blobstore Write"')
    assert _request(served, "DELETE", path, user=user)[0] == 401
    assert (served.root / "blob-1").read_bytes() == b"secret data"


@pytest.mark.parametrize(
    "path",
    [
        "/../outside",
        "/aa/../../outside",
        f"/{blob_path('x')[:2]}/..%2Foutside",
        "/%2e%2e/outside",
        f"/{blob_path('outside')[:2]}/%2E%2E",
        "/signed/../outside",
        "/outside",
        f"/{blob_path('blob-1')}/extra",
        "/zz/blob-1",  # not the prefix davcli computes for this id
        f"/{blob_path('.hidden')}",  # ids start with a letter or digit: no staged uploads
        f"/{blob_path('a b')[:2]}/a%20b",
    ],
)
def test_paths_that_are_not_a_blob_url_are_refused(
    served: Served, tmp_path: Path, path: str
) -> None:
    outside = tmp_path / "outside"
    outside.write_text("keep me")
    for method in ("GET", "PUT", "DELETE"):
        status, _, _ = _request(
            served, method, path, body=b"overwrite" if method == "PUT" else None
        )
        expected = 404
        if path.startswith("/signed/"):  # no valid signature is possible; DELETE never is
            expected = 405 if method == "DELETE" else 403
        assert status == expected, (method, path)
    assert outside.read_text() == "keep me"
    assert not served.root.exists() or list(served.root.iterdir()) == []


def test_signed_urls_allow_their_verb_on_their_blob_until_they_expire(served: Served) -> None:
    store = served.store(user=None)  # no credentials: what an agent with signed URLs has
    trusting = ssl.create_default_context(cadata=served.ca)

    def status(url: str, method: str, body: bytes | None = None) -> int:
        parsed = urllib.parse.urlsplit(url)
        connection = http.client.HTTPSConnection(parsed.netloc, context=trusting, timeout=10)
        try:
            connection.request(method, f"{parsed.path}?{parsed.query}", body=body)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    assert status(store.sign("blob-1", "PUT", 60), "PUT", b"signed!") == 201
    assert (served.root / "blob-1").read_bytes() == b"signed!"
    assert status(store.sign("blob-1", "GET", 60), "GET") == 200
    # Signed for another verb, another blob, or since expired: forbidden.
    assert status(store.sign("blob-1", "GET", 60), "PUT", b"evil") == 403
    assert status(store.sign("blob-2", "GET", 60).replace("blob-2", "blob-1"), "GET") == 403
    assert status(store.sign("blob-1", "GET", 10, now=time.time() - 11), "GET") == 403
    assert status(store.sign("blob-1", "GET", 100, now=time.time() - 11), "GET") == 200
    # As nginx's secure_link_hmac: an expiry of 0 seconds never ends.
    assert status(store.sign("blob-1", "GET", 0, now=1_000_000_000), "GET") == 200
    # Tampered: another signature, timestamp or expiry; missing or malformed arguments.
    url = store.sign("blob-1", "GET", 60)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    signature, timestamp = query["st"][0], query["ts"][0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for tampered in (
        url.replace(signature, flipped),
        url.replace(f"ts={timestamp}", f"ts={int(timestamp) + 1}"),
        url.replace("e=60", "e=6000"),
        url.replace("e=60", "e=-60"),
        url.replace(f"&st={signature}", ""),
        url.replace(signature, "not*base64"),
    ):
        assert status(tampered, "GET") == 403, tampered
    assert status(url, "DELETE") == 405
    assert (served.root / "blob-1").read_bytes() == b"signed!"


def test_without_a_secret_there_are_no_signed_urls(tls: TLS, tmp_path: Path) -> None:
    app = BlobstoreApp(tmp_path / "store", authenticate=lambda header: None)
    with serve_blobstore(
        app, host="127.0.0.1", port=0, certificate=tls.certificate, private_key=tls.private_key
    ) as port:
        served = Served(f"https://127.0.0.1:{port}", tmp_path / "store", tls.ca, None)  # type: ignore[arg-type]
        signer = DavBlobstore.from_options(
            {"endpoint": served.endpoint, "secret": "guessed"}, source="test"
        )
        url = urllib.parse.urlsplit(signer.sign("blob-1", "GET", 60))
        assert _request(served, "GET", f"{url.path}?{url.query}", user=None)[0] == 404
    assert "guessed" not in repr(app)


def test_a_broken_upload_leaves_nothing(served: Served) -> None:
    host, port = urllib.parse.urlsplit(served.endpoint).netloc.split(":")
    context = ssl.create_default_context(cadata=served.ca)
    auth = base64.b64encode(f"{AGENT.name}:{AGENT.password}".encode()).decode()
    head = (
        f"PUT /{blob_path('blob-1')} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Basic {auth}\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n"
    )
    with (
        socket.create_connection((host, int(port))) as raw,
        context.wrap_socket(raw, server_hostname=host) as connection,
    ):
        connection.sendall(head.encode())
        connection.sendall(b"x" * 2 * 1024 * 1024)
        deadline = time.monotonic() + 10
        while sum(served.faults.received) < 1024 * 1024:  # the server is writing it
            assert time.monotonic() < deadline
            time.sleep(0.01)
    deadline = time.monotonic() + 10
    while list(served.root.iterdir()):  # the staged file goes once the server sees the end
        assert time.monotonic() < deadline, list(served.root.iterdir())
        time.sleep(0.02)
    assert not served.store().exists("blob-1")


def test_a_large_blob_streams_through_in_pieces_with_flat_memory(
    served: Served, tmp_path: Path
) -> None:
    size = 64 * 1024 * 1024
    source = tmp_path / "large"
    digest = hashlib.sha1()
    with source.open("wb") as out:
        for _ in range(size // (4 * 1024 * 1024)):
            piece = os.urandom(4 * 1024 * 1024)
            digest.update(piece)
            out.write(piece)
    store = served.store()
    tracemalloc.start()
    try:
        blob_id = store.put(source)
        store.get(blob_id, tmp_path / "copy")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Client and server together (both in this process) hold a few pieces at a time.
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte blob"
    assert max(served.faults.received) <= 1024 * 1024
    copy = hashlib.sha1()
    with (tmp_path / "copy").open("rb") as stream:
        while piece := stream.read(1024 * 1024):
            copy.update(piece)
    assert copy.hexdigest() == digest.hexdigest()


def test_a_busy_port_is_a_blobstore_error(tls: TLS, tmp_path: Path) -> None:
    app = BlobstoreApp(tmp_path, authenticate=lambda header: None)
    with (
        socket.create_server(("127.0.0.1", 0)) as busy,
        pytest.raises(BlobstoreError, match=r"Cannot serve the blobstore on 127\.0\.0\.1"),
        serve_blobstore(
            app,
            host="127.0.0.1",
            port=busy.getsockname()[1],
            certificate=tls.certificate,
            private_key=tls.private_key,
        ),
    ):
        pass


def test_a_bad_certificate_stops_the_start(tls: TLS, tmp_path: Path) -> None:
    app = BlobstoreApp(tmp_path, authenticate=lambda header: None)
    (tmp_path / "empty.crt").write_text("")
    with (
        pytest.raises(BlobstoreError, match="did not start"),
        serve_blobstore(
            app,
            host="127.0.0.1",
            port=0,
            certificate=tmp_path / "empty.crt",
            private_key=tls.private_key,
        ),
    ):
        pass
