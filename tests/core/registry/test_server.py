"""The registry over real HTTP: the legacy bosh-registry API, auth and the SQLite store."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bosh_core.registry import RegistryError, RegistryNotFoundError
from bosh_core.registry.client import RegistryClient
from bosh_core.registry.server import RegistryServer, SQLiteRegistryStore, settings_ips

SETTINGS = {
    "agent_id": "agent-1",
    "mbus": "nats://10.244.0.1:4222",
    "networks": {"default": {"type": "manual", "ip": "10.244.0.5"}},
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RegistryServer]:
    store = SQLiteRegistryStore(tmp_path / "registry.db")
    with RegistryServer(store, user="admin", password="s3cret", port=0) as running:
        yield running


@pytest.fixture
def writer(server: RegistryServer) -> RegistryClient:
    return RegistryClient(server.url, "admin", "s3cret")


def raw(
    server: RegistryServer,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_put_get_delete_round_trip(server: RegistryServer, writer: RegistryClient) -> None:
    writer.put("vm-1", SETTINGS)
    assert writer.get("vm-1") == SETTINGS
    writer.put("vm-1", {**SETTINGS, "agent_id": "agent-2"})
    assert writer.get("vm-1")["agent_id"] == "agent-2"
    writer.delete("vm-1")
    with pytest.raises(RegistryNotFoundError, match="vm-1"):
        writer.get("vm-1")
    writer.delete("vm-1")  # deleting again is fine, as in the real registry


def test_the_wire_shapes_are_the_real_registry_ones(
    server: RegistryServer, writer: RegistryClient
) -> None:
    writer.put("vm-1", SETTINGS)
    status, body = raw(server, "GET", "/instances/vm-1/settings")
    reply = json.loads(body)
    assert status == 200
    assert reply == {"settings": json.dumps(SETTINGS), "status": "ok"}
    assert raw(server, "GET", "/instances/nope/settings") == (404, b'{"status": "not_found"}')
    assert raw(server, "GET", "/elsewhere")[0] == 404


def test_writers_need_credentials(server: RegistryServer) -> None:
    for client in (RegistryClient(server.url), RegistryClient(server.url, "admin", "wrong")):
        with pytest.raises(RegistryError, match="credentials"):
            client.put("vm-1", SETTINGS)
        with pytest.raises(RegistryError, match="credentials"):
            client.delete("vm-1")
    status, _ = raw(server, "PUT", "/instances/vm-1/settings", "{}")
    assert status == 401
    assert raw(server, "GET", "/instances/vm-1/settings")[0] == 404


def test_credentials_in_the_url_work_and_stay_out_of_reprs(server: RegistryServer) -> None:
    client = RegistryClient(server.url.replace("http://", "http://admin:s3cret@"))
    client.put("vm-1", SETTINGS)
    assert "s3cret" not in repr(client)
    assert "s3cret" not in client.url


def test_an_anonymous_reader_must_come_from_the_instance_ip(
    server: RegistryServer, writer: RegistryClient, tmp_path: Path
) -> None:
    # 127.0.0.2 is loopback but not 127.0.0.1: the real registry's exemption is exact.
    writer.put("vm-1", {**SETTINGS, "networks": {"n": {"ip": "127.0.0.2"}}})
    writer.put("vm-2", SETTINGS)
    with RegistryServer(
        SQLiteRegistryStore(tmp_path / "registry.db"),  # the same file, another server
        user="admin",
        password="s3cret",
        host="0.0.0.0",
        port=0,
    ) as everywhere:

        def fetch(instance_id: str) -> int:
            connection = http.client.HTTPConnection(
                "127.0.0.1", everywhere.port, timeout=5, source_address=("127.0.0.2", 0)
            )
            connection.request("GET", f"/instances/{instance_id}/settings")
            status = connection.getresponse().status
            connection.close()
            return status

        assert fetch("vm-1") == 200
        assert fetch("vm-2") == 500  # 10.244.0.5's settings, asked from 127.0.0.2
        # The writer's credentials lift the IP check.
        assert RegistryClient(everywhere.url, "admin", "s3cret").get("vm-2") == SETTINGS


def test_settings_survive_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "registry.db"
    with RegistryServer(SQLiteRegistryStore(database), user="u", password="p", port=0) as one:
        RegistryClient(one.url, "u", "p").put("vm-1", SETTINGS)
    with RegistryServer(SQLiteRegistryStore(database), user="u", password="p", port=0) as two:
        assert RegistryClient(two.url).get("vm-1") == SETTINGS


def test_oversized_settings_are_refused_before_the_body_is_read(server: RegistryServer) -> None:
    # Only the headers are sent: the server must answer from Content-Length alone (a
    # client still sending a body the server refused would see a broken pipe).
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(
            b"PUT /instances/vm-1/settings HTTP/1.1\r\nHost: registry\r\n"
            b"Authorization: Basic YWRtaW46czNjcmV0\r\n"
            + f"Content-Length: {1024 * 1024 + 1}\r\n\r\n".encode()
        )
        status_line = connection.makefile("rb").readline()
    assert status_line.split()[1] == b"413"


def test_an_unreachable_registry_is_a_registry_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RegistryError, match="cannot reach"):
        RegistryClient(f"http://127.0.0.1:{port}", timeout=1).get("vm-1")


def test_settings_ips() -> None:
    assert settings_ips(json.dumps(SETTINGS)) == {"10.244.0.5"}
    assert settings_ips("not json") == frozenset()
    assert settings_ips('{"networks": [1]}') == frozenset()


def test_the_registry_needs_writer_credentials(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="user and a password"):
        RegistryServer(SQLiteRegistryStore(tmp_path / "r.db"), user="", password="", port=0)


def test_bosh_registry_daemon(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(
        f"http: {{port: {port}, user: admin}}\ndb: {{database: {tmp_path / 'r.db'}}}\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from bosh_core.registry.main import main; sys.exit(main())",
            "--config",
            str(config),
        ],
        env={"BOSH_REGISTRY_PASSWORD": "from-env", "PATH": "/usr/bin:/bin"},
        stderr=subprocess.PIPE,
    )
    try:
        client = RegistryClient(f"http://127.0.0.1:{port}", "admin", "from-env", timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.put("vm-1", SETTINGS)
                break
            except RegistryError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        assert client.get("vm-1") == SETTINGS
    finally:
        process.terminate()
        process.wait(5)
    assert (tmp_path / "r.db").is_file()


def test_bosh_registry_without_credentials_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bosh_core.registry.main import main; sys.exit(main())",
            "--db",
            str(tmp_path / "r.db"),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 1
    assert "needs --user and --password" in result.stderr
