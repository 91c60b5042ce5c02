from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bosh_core.blobstore.dav import DavBlobstore, DavConfig, blob_path
from bosh_core.errors import BlobNotFoundError, BlobstoreError, ConfigError
from tests.core.blobstore.conftest import AGENT, SECRET, Served

# The server is ours (bosh_core.blobstore.server); tests/core/blobstore/test_nginx.py runs
# the client against the reference's kind of server, nginx with WebDAV.


@pytest.fixture
def store(served: Served) -> DavBlobstore:
    return served.store()


def test_blob_path_prefixes_the_first_byte_of_the_ids_sha1() -> None:
    assert blob_path("abc") == f"{hashlib.sha1(b'abc').hexdigest()[:2]}/abc" == "a9/abc"
    with pytest.raises(BlobstoreError, match="Invalid blob id"):
        blob_path("../etc")


def test_put_get_exists_delete_round_trip(
    store: DavBlobstore, served: Served, tmp_path: Path
) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"\x00payload\xff" * 100_000)

    blob_id = store.put(source)

    stored = served.root / blob_id  # the server keeps the local blobstore's layout
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
    served: Served, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.write_text("x")
    wrong = DavBlobstore(
        DavConfig(endpoint=served.endpoint, user=AGENT.name, password="wrong-pw", ca_cert=served.ca)
    )
    with pytest.raises(BlobstoreError, match="wrong response code 401") as caught:
        wrong.put(source)
    assert "wrong-pw" not in str(caught.value)
    assert "wrong-pw" not in repr(wrong) and "wrong-pw" not in repr(wrong.config)


def test_server_errors_are_retried_then_reported(
    store: DavBlobstore, served: Served, tmp_path: Path
) -> None:
    served.faults.fail_next.extend([503, 500])
    assert store.exists("missing") is False  # third attempt got through
    served.faults.fail_next.extend([500, 500, 500])
    with pytest.raises(BlobstoreError, match="wrong response code 500; body: try again"):
        store.get("missing", tmp_path / "out")
    assert served.faults.fail_next == []


def test_unreachable_server_is_a_blobstore_error(tmp_path: Path) -> None:
    store = DavBlobstore(DavConfig(endpoint="http://127.0.0.1:9/blobs", retry_attempts=1))
    with pytest.raises(BlobstoreError, match="Checking if dav blob 'x' exists"):
        store.exists("x")


def test_signed_urls_follow_davclis_scheme(store: DavBlobstore) -> None:
    signer = DavBlobstore(DavConfig(endpoint="https://blobstore:25250/blobs", secret=SECRET))
    url = signer.sign("some-blob", "put", 60, now=1_700_000_000)
    parsed = urllib.parse.urlsplit(url)
    assert parsed.path == f"/blobs/signed/{blob_path('some-blob')}"
    query = urllib.parse.parse_qs(parsed.query)
    assert (query["ts"], query["e"]) == (["1700000000"], ["60"])
    message = f"PUT{blob_path('some-blob')}170000000060".encode()
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    assert query["st"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]
    assert parsed.query.startswith("e=")  # Go's url.Values.Encode sorts the keys
    with pytest.raises(BlobstoreError, match="only GET and PUT"):
        store.sign("blob-1", "DELETE", 60)


def test_the_server_accepts_signed_urls_until_they_expire(
    store: DavBlobstore, served: Served
) -> None:
    trusting = ssl.create_default_context(cadata=served.ca)
    put = urllib.request.Request(store.sign("blob-1", "PUT", 60), data=b"signed!", method="PUT")
    with urllib.request.urlopen(put, context=trusting) as reply:
        assert reply.status == 201
    with urllib.request.urlopen(store.sign("blob-1", "GET", 60), context=trusting) as reply:
        assert reply.read() == b"signed!"
    expired = store.sign("blob-1", "GET", 10, now=time.time() - 60)
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(expired, context=trusting)


def test_sign_without_secret_says_so(served: Served) -> None:
    store = DavBlobstore(DavConfig(endpoint=served.endpoint))
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


def test_https_endpoint_trusts_the_configured_ca_only(served: Served) -> None:
    assert served.store().exists("nothing") is False
    untrusting = DavBlobstore(DavConfig(endpoint=served.endpoint, retry_attempts=1))
    with pytest.raises(BlobstoreError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusting.exists("nothing")
