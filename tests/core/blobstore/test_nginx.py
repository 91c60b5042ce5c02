"""The dav client against a real nginx with WebDAV set up as the reference's blobstore job
(jobs/blobstore/templates/blobstore.conf.erb), and our server's answers compared with
nginx's. Signed URLs are left out here: they need nginx's third-party secure_link_hmac
module, which distribution packages lack (test_server.py covers them)."""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from bosh_core.blobstore.dav import DavBlobstore, DavConfig, blob_path
from bosh_core.errors import BlobNotFoundError, BlobstoreError
from tests.core.blobstore.conftest import AGENT, DIRECTOR, TLS, Served
from tests.core.director.served import free_port

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")

pytestmark = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (apt-get install -y nginx); the dav client is then"
    " tested against our own server only",
)

_SITE = """
daemon off;
worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {certificate};
    ssl_certificate_key {private_key};
    client_max_body_size 0;
    location ~* ^/(?<object_id>[a-fA-F0-9][a-fA-F0-9]\\/.+) {{
      root {store};
      dav_methods DELETE PUT;
      create_full_put_path on;
      auth_basic "Blobstore Read";
      auth_basic_user_file {dir}/users;
      limit_except GET {{
        auth_basic "Blobstore Write";
        auth_basic_user_file {dir}/users;
      }}
    }}
  }}
}}
"""


@attrs.frozen
class Nginx:
    endpoint: str
    store: Path


@pytest.fixture
def nginx(tmp_path: Path, tls: TLS) -> Iterator[Nginx]:
    assert NGINX is not None
    directory, store = tmp_path / "nginx", tmp_path / "nginx-store"
    directory.mkdir()
    store.mkdir()
    # The reference writes its users as {PLAIN} entries; the same users read and write.
    (directory / "users").write_text(
        "".join(f"{user.name}:{{PLAIN}}{user.password}\n" for user in (DIRECTOR, AGENT))
    )
    port = free_port()
    (directory / "nginx.conf").write_text(
        _SITE.format(
            user="user root;" if os.geteuid() == 0 else "",
            dir=directory,
            port=port,
            certificate=tls.certificate,
            private_key=tls.private_key,
            store=store,
        )
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    assert process.stderr is not None
                    pytest.fail(f"nginx did not start: {process.stderr.read().decode()}")
                time.sleep(0.02)
        yield Nginx(f"https://127.0.0.1:{port}", store)
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def _client(
    endpoint: str, ca: str, user: str = AGENT.name, password: str = AGENT.password
) -> DavBlobstore:
    return DavBlobstore(
        DavConfig(endpoint=endpoint, user=user, password=password, ca_cert=ca, retry_attempts=1)
    )


def test_the_dav_client_works_against_nginx_in_the_references_layout(
    nginx: Nginx, tls: TLS, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    store = _client(nginx.endpoint, tls.ca)

    blob_id = store.put(source)

    assert (nginx.store / blob_path(blob_id)).read_bytes() == source.read_bytes()
    assert store.exists(blob_id)
    store.get(blob_id, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()
    store.delete(blob_id)
    assert not store.exists(blob_id)
    store.delete(blob_id)  # nginx answers 404: done already
    with pytest.raises(BlobNotFoundError):
        store.get(blob_id, tmp_path / "again")
    wrong = _client(nginx.endpoint, tls.ca, password="wrong-pw")
    with pytest.raises(BlobstoreError, match="wrong response code 401"):
        wrong.put(source)


def _statuses(endpoint: str, ca: str) -> list[tuple[str, int]]:
    """The status of each request of a fixed sequence; same server state at the start."""
    path = f"/{blob_path('blob-1')}"
    agent, director = (AGENT.name, AGENT.password), (DIRECTOR.name, DIRECTOR.password)
    steps: list[tuple[str, str, tuple[str, str] | None, bytes | None]] = [
        ("GET", path, agent, None),
        ("HEAD", path, agent, None),
        ("PUT", path, agent, b"first"),
        ("PUT", path, director, b"second"),
        ("HEAD", path, director, None),
        ("GET", path, agent, None),
        ("GET", path, None, None),
        ("GET", path, (AGENT.name, "wrong-pw"), None),
        ("PUT", path, None, b"anonymous"),
        ("DELETE", path, ("nobody", "x"), None),
        ("POST", path, agent, b"x"),
        ("DELETE", path, agent, None),
        ("DELETE", path, director, None),
        ("GET", path, agent, None),
    ]
    host, port = endpoint.removeprefix("https://").split(":")
    context = ssl.create_default_context(cadata=ca)
    results = []
    for method, target, user, body in steps:
        headers = {}
        if user is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
        connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            results.append((f"{method} {user[0] if user else '-'}", response.status))
        finally:
            connection.close()
    return results


def test_our_server_answers_as_nginx_does(nginx: Nginx, served: Served, tls: TLS) -> None:
    expected = _statuses(nginx.endpoint, tls.ca)
    assert [status for _, status in expected] == [
        404, 404, 201, 204, 200, 200, 401, 401, 401, 401, 405, 204, 404, 404
    ]  # fmt: skip
    assert _statuses(served.endpoint, served.ca) == expected
