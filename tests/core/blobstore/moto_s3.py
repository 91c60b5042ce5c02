"""A real S3 API for tests: moto's server on loopback, reached over HTTP by boto3."""

from __future__ import annotations

import contextlib
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

# moto's server accepts any keys unless authentication is switched on (see moto_auth).
ACCESS_KEY_ID = "AKIAEXAMPLEKEYID0001"
SECRET_ACCESS_KEY = "test-secret-key-that-must-never-be-printed"


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """Start moto on 127.0.0.1 (a free port); yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def new_bucket(endpoint: str) -> str:
    """A fresh bucket (moto's state is shared by every server in the process)."""
    name = f"blobs-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def s3_options(endpoint: str, bucket: str, **extra: Any) -> dict[str, Any]:
    """Blobstore options as a release's final.yml + private.yml would give them."""
    host, _, port = endpoint.removeprefix("http://").partition(":")
    return {
        "bucket_name": bucket,
        "host": host,
        "port": int(port),
        "use_ssl": False,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        **extra,
    }


@contextlib.contextmanager
def moto_auth(endpoint: str) -> Iterator[None]:
    """Make moto check credentials (unknown keys are refused) for the block."""
    _set_auth_after(endpoint, b"0")
    try:
        yield
    finally:
        _set_auth_after(endpoint, b"inf")


def _set_auth_after(endpoint: str, requests_without_auth: bytes) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=requests_without_auth,
        method="POST",
        # A form content type would make the server parse the body away.
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()
