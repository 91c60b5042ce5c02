"""The real ``bosh-director`` process: migrates, makes its CA, serves HTTPS."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bosh_core.director.api import DirectorConfig, ensure_tls

PASSWORD = "pw-that-must-not-be-logged"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def director_command() -> list[str]:
    script = Path(sys.executable).with_name("bosh-director")
    if script.exists():
        return [str(script)]
    found = shutil.which("bosh-director")
    if found is None:
        pytest.skip("the bosh-director console script is not installed (pip install -e .)")
    return [found]


def test_bosh_director_serves_https_with_its_generated_ca(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "director.yml"
    config.write_text(
        f"name: e2e\nport: {port}\nbind: 127.0.0.1\ndata_dir: store\n"
        f"users: [{{name: admin, password: {PASSWORD}}}]\n"
    )
    log = tmp_path / "director.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*director_command(), "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    ca = tmp_path / "store" / "tls" / "ca.crt"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, log.read_text()
            try:
                trusted = ssl.create_default_context(cafile=ca)  # written when serving starts
                response = httpx.get(f"https://127.0.0.1:{port}/info", verify=trusted, timeout=2)
                break
            except (httpx.ConnectError, FileNotFoundError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["name"] == "e2e"
        assert response.json()["user"] is None
        with httpx.Client(base_url=f"https://localhost:{port}", verify=trusted) as client:
            assert client.get("/tasks", auth=("admin", PASSWORD)).json() == []
            denied = client.get("/tasks", auth=("admin", "nope"))
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"] == 'Basic realm="BOSH Director"'
            assert client.get("/info", auth=("admin", PASSWORD)).json()["user"] == "admin"
            # The director and its task workers record their start, as the reference's.
            info = client.get("/info").json()
            started = client.get("/events", auth=("admin", PASSWORD)).json()
            assert {(e["user"], e["action"], e["object_type"]) for e in started} == {
                ("_director", "start", "director"),
                ("_director", "start", "worker"),
            }
            director_event = next(e for e in started if e["object_type"] == "director")
            assert director_event["object_name"] == info["uuid"]
            # The version without the revision /info adds, as the reference records it.
            assert director_event["context"] == {"version": info["version"].split(" ")[0]}
        # Plain HTTP is not served, and a client that does not trust the CA refuses it.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/info", timeout=2)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    output = log.read_text()
    assert f"Director CA certificate: {ca}" in output
    assert PASSWORD not in output


def test_generated_tls_material_is_kept_across_starts(tmp_path: Path) -> None:
    config = DirectorConfig(data_dir=tmp_path, tls_alternative_names=("director.example",))
    first = ensure_tls(config)
    assert first.ca is not None
    assert oct(first.private_key.stat().st_mode & 0o777) == "0o600"
    certificate = first.certificate.read_bytes()
    again = ensure_tls(config)
    assert again == first and again.certificate.read_bytes() == certificate
    from cryptography import x509

    names = (
        x509.load_pem_x509_certificate(certificate)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert "director.example" in names.get_values_for_type(x509.DNSName)
