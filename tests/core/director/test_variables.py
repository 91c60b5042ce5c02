"""Config servers (built-in, encrypted; HTTP) and variable sets, on SQLite and PostgreSQL.

The HTTP config server is a small real server written here (threaded ``http.server``
over TLS, speaking config-server's ``/v1/data`` API with a bearer token).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography import x509
from sqlalchemy import select

from bosh_core.director.api.config import ConfigServerConfig, DirectorConfig
from bosh_core.director.db import Database
from bosh_core.director.db.models import ConfigServerValue, Deployment
from bosh_core.director.errors import (
    ConfigServerFetchError,
    ConfigServerGenerationError,
    ConfigServerIncorrectNameSyntax,
    ConfigServerMissingName,
)
from bosh_core.director.variables import (
    KEY_FILE_NAME,
    ConfigServer,
    DatabaseConfigServer,
    HTTPConfigServer,
    UpdateMode,
    VariableResolver,
    open_config_server,
)
from bosh_core.interpolate.generate import CertificateParams, generate_certificate
from bosh_core.interpolate.variables import VariableDefinition, generate_value

KEY = "a director encryption key"
SMALL_CA = {"is_ca": True, "common_name": "ca", "key_length": 2048}


@pytest.fixture
def store(database: Database) -> DatabaseConfigServer:
    return DatabaseConfigServer(database, key=KEY)


@pytest.fixture
def resolver(database: Database, store: DatabaseConfigServer) -> VariableResolver:
    with database.write() as session:
        session.add(Deployment(name="dep"))
    return VariableResolver(database, store, director_name="bosh")


# ------------------------------------------------------------------ built-in store


def test_values_are_encrypted_at_rest_and_read_back(
    database: Database, store: DatabaseConfigServer
) -> None:
    stored = store.set("/bosh/dep/secret", {"password": "hunter2-value"})
    assert store.get("/bosh/dep/secret") == stored
    assert store.get_by_id(stored.id).value == {"password": "hunter2-value"}
    with database.read() as session:
        raw = session.scalars(select(ConfigServerValue.value)).one()
    assert "hunter2" not in raw
    assert "hunter2" not in repr(stored)


def test_another_key_cannot_read_the_values(
    database: Database, store: DatabaseConfigServer
) -> None:
    stored = store.set("/x", "hunter2-value")
    with pytest.raises(ConfigServerFetchError, match="encryption_key") as caught:
        DatabaseConfigServer(database, key="another key, 16+ chars").get_by_id(stored.id)
    assert "hunter2" not in str(caught.value)


def test_unknown_names_and_ids_are_missing(store: DatabaseConfigServer) -> None:
    with pytest.raises(ConfigServerMissingName, match="'/nope'"):
        store.get("/nope")
    with pytest.raises(ConfigServerMissingName, match="'42'"):
        store.get_by_id("42")


def test_update_modes_keep_or_replace_the_latest_version(store: DatabaseConfigServer) -> None:
    first = store.generate("/p", "password", {}, mode=UpdateMode.NO_OVERWRITE)
    assert len(first.value) == 20
    assert store.generate("/p", "password", {"length": 5}, mode=UpdateMode.NO_OVERWRITE) == first
    overwritten = store.generate("/p", "password", {}, mode=UpdateMode.OVERWRITE)
    assert overwritten.id != first.id
    assert store.generate("/p", "password", {}, mode=UpdateMode.CONVERGE) == overwritten
    converged = store.generate("/p", "password", {"length": 8}, mode=UpdateMode.CONVERGE)
    assert converged.id != overwritten.id
    assert len(converged.value) == 8
    assert store.get("/p") == converged


def test_certificates_are_signed_by_their_ca_and_converge_when_it_changes(
    store: DatabaseConfigServer,
) -> None:
    ca = store.generate("/ca", "certificate", SMALL_CA, mode=UpdateMode.NO_OVERWRITE)
    options = {"ca": "/ca", "common_name": "web", "key_length": 2048}
    leaf = store.generate("/leaf", "certificate", options, mode=UpdateMode.CONVERGE)
    certificate = x509.load_pem_x509_certificate(leaf.value["certificate"].encode())
    authority = x509.load_pem_x509_certificate(ca.value["certificate"].encode())
    certificate.verify_directly_issued_by(authority)
    assert store.generate("/leaf", "certificate", options, mode=UpdateMode.CONVERGE) == leaf
    store.generate("/ca", "certificate", SMALL_CA, mode=UpdateMode.OVERWRITE)
    renewed = store.generate("/leaf", "certificate", options, mode=UpdateMode.CONVERGE)
    assert renewed.id != leaf.id


def test_generation_failures_say_what_and_why(store: DatabaseConfigServer) -> None:
    with pytest.raises(ConfigServerGenerationError, match=r"'/c' with type 'certificate'.*'/ca'"):
        store.generate("/c", "certificate", {"ca": "/ca"}, mode=UpdateMode.NO_OVERWRITE)
    with pytest.raises(ConfigServerGenerationError, match="Unsupported value type: nope"):
        store.generate("/c", "nope", {}, mode=UpdateMode.NO_OVERWRITE)
    with pytest.raises(ConfigServerIncorrectNameSyntax, match="forward slash"):
        store.set("/bad/", "x")


def test_without_a_key_the_built_in_store_keeps_one_in_the_data_dir(
    database: Database, tmp_path: Path
) -> None:
    config = DirectorConfig(data_dir=tmp_path / "data")
    stored = open_config_server(config, database).set("/x", "value")
    key_file = tmp_path / "data" / KEY_FILE_NAME
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert open_config_server(config, database).get_by_id(stored.id).value == "value"


# ---------------------------------------------------------------- variable sets


MANIFEST: dict[str, Any] = {
    "name": "dep",
    "properties": {"password": "((admin))", "url": "https://user:((admin))@host"},
    "other": "((/shared/token))",
    "variables": [{"name": "admin", "type": "password"}],
}


def test_a_deploy_generates_and_interpolates_with_full_names(
    resolver: VariableResolver, store: DatabaseConfigServer
) -> None:
    store.set("/shared/token", "t0k3n")
    set_id = resolver.add_variable_set("dep")
    ids = resolver.generate_values(MANIFEST["variables"], variable_set_id=set_id)
    assert list(ids) == ["/bosh/dep/admin"]
    result = resolver.interpolate(MANIFEST, variable_set_id=set_id)
    admin = store.get("/bosh/dep/admin").value
    assert result["properties"] == {"password": admin, "url": f"https://user:{admin}@host"}
    assert result["other"] == "t0k3n"
    assert result["variables"] == MANIFEST["variables"]
    assert resolver.variable_ids(set_id) == {
        "/bosh/dep/admin": ids["/bosh/dep/admin"],
        "/shared/token": store.get("/shared/token").id,
    }


def test_a_deployed_set_keeps_its_versions_until_the_next_deploy(
    resolver: VariableResolver, store: DatabaseConfigServer
) -> None:
    store.set("/shared/token", "old")
    deployed = resolver.add_variable_set("dep")
    resolver.generate_values(MANIFEST["variables"], variable_set_id=deployed)
    resolver.interpolate(MANIFEST, variable_set_id=deployed)
    resolver.mark_deployed(deployed)
    store.set("/shared/token", "new")
    # A restart (no deploy) still sees the deployed version...
    assert resolver.interpolate(MANIFEST, variable_set_id=deployed)["other"] == "old"
    # ...and a fresh resolver (no cache) too.
    fresh = VariableResolver(resolver.database, store, director_name="bosh")
    assert fresh.interpolate(MANIFEST, variable_set_id=deployed)["other"] == "old"
    next_deploy = resolver.add_variable_set("dep")
    resolver.generate_values(MANIFEST["variables"], variable_set_id=next_deploy)
    assert resolver.interpolate(MANIFEST, variable_set_id=next_deploy)["other"] == "new"


def test_on_stemcell_change_reuses_the_previous_version_unless_forced(
    resolver: VariableResolver, store: DatabaseConfigServer
) -> None:
    definitions: list[dict[str, Any]] = [
        {"name": "kept", "type": "password", "update": {"strategy": "on-stemcell-change"}},
        {"name": "each", "type": "password", "update_mode": "overwrite"},
    ]
    first = resolver.generate_values(definitions, variable_set_id=resolver.add_variable_set("dep"))
    second = resolver.generate_values(definitions, variable_set_id=resolver.add_variable_set("dep"))
    assert second["/bosh/dep/kept"] == first["/bosh/dep/kept"]
    assert second["/bosh/dep/each"] != first["/bosh/dep/each"]
    store.generate("/bosh/dep/kept", "password", {}, mode=UpdateMode.OVERWRITE)
    third = resolver.generate_values(definitions, variable_set_id=resolver.add_variable_set("dep"))
    assert third["/bosh/dep/kept"] == first["/bosh/dep/kept"]
    forced = resolver.generate_values(
        definitions, variable_set_id=resolver.add_variable_set("dep"), force_latest=True
    )
    assert forced["/bosh/dep/kept"] == store.get("/bosh/dep/kept").id != first["/bosh/dep/kept"]


def test_converge_variables_regenerates_when_options_change(resolver: VariableResolver) -> None:
    def deploy(length: int, *, converge: bool) -> str:
        definitions = [{"name": "p", "type": "password", "options": {"length": length}}]
        set_id = resolver.add_variable_set("dep")
        ids = resolver.generate_values(
            definitions, variable_set_id=set_id, converge_variables=converge
        )
        return ids["/bosh/dep/p"]

    first = deploy(10, converge=False)
    assert deploy(12, converge=False) == first  # no-overwrite by default
    assert deploy(12, converge=True) != first


def test_every_unresolved_variable_is_reported(
    resolver: VariableResolver, store: DatabaseConfigServer
) -> None:
    set_id = resolver.add_variable_set("dep")
    document = {"a": "((missing))", "b": "((/also/missing))", "c": "((bad//name))"}
    with pytest.raises(ConfigServerFetchError) as caught:
        resolver.interpolate(document, variable_set_id=set_id)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("- Failed to find variable '/bosh/dep/missing' from config server")
    assert lines[1].startswith("- Failed to find variable '/also/missing'")
    assert "two consecutive forward slashes" in lines[2]
    resolver.mark_deployed(set_id)
    store.set("/bosh/dep/missing", "now here")
    with pytest.raises(ConfigServerFetchError, match="to be already versioned in deployment 'dep'"):
        resolver.interpolate({"a": "((missing))"}, variable_set_id=set_id)


def test_generation_is_refused_outside_a_deploy(resolver: VariableResolver) -> None:
    set_id = resolver.add_variable_set("dep")
    resolver.mark_deployed(set_id)
    with pytest.raises(ConfigServerGenerationError, match="only during deploy action"):
        resolver.generate_values([{"name": "p", "type": "password"}], variable_set_id=set_id)


# ------------------------------------------------------------ HTTP config server


class _ConfigServerHandler(BaseHTTPRequestHandler):
    """config-server's /v1/data API over an in-memory list of versions."""

    server: _ConfigServerHTTP

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        versions = self.server.versions
        if url.path == "/v1/data":
            name = parse_qs(url.query)["name"][0]
            found = [item for item in reversed(versions) if item["name"] == name]
            if not found:
                self._reply(404, {"error": f"Name '{name}' not found"})
            else:
                self._reply(200, {"data": found[:1]})
        elif url.path.startswith("/v1/data/"):
            variable_id = url.path.removeprefix("/v1/data/")
            matches = [item for item in versions if item["id"] == variable_id]
            if matches:
                self._reply(200, matches[0])
            else:
                self._reply(404, {"error": "Name not found"})
        else:
            self._reply(404, {"error": "no route"})

    def do_PUT(self) -> None:
        body = self._body()
        self._reply(200, self._add(body["name"], body["value"]))

    def do_POST(self) -> None:
        body = self._body()
        existing = [item for item in self.server.versions if item["name"] == body["name"]]
        if existing and body["mode"] == "no-overwrite":
            self._reply(200, existing[-1])
            return
        definition = VariableDefinition(body["name"], body["type"], body["parameters"])
        try:
            value = generate_value(definition, load_ca=lambda _: pytest.fail("no CA expected"))
        except Exception as error:
            self._reply(400, {"error": str(error)})
            return
        self._reply(200, self._add(body["name"], value))

    def _add(self, name: str, value: Any) -> dict[str, Any]:
        item = {"id": str(len(self.server.versions) + 1), "name": name, "value": value}
        self.server.versions.append(item)
        return item

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def _reply(self, status: int, body: Any) -> None:
        if self.headers.get("Authorization") != "Bearer the-token":
            status, body = 401, {"error": "unauthorized"}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _ConfigServerHTTP(ThreadingHTTPServer):
    versions: list[dict[str, Any]]


@pytest.fixture(scope="module")
def config_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A TLS config server on a free port: its URL and the CA that signed it."""
    folder = tmp_path_factory.mktemp("config-server")
    ca = generate_certificate(CertificateParams(**SMALL_CA), load_ca=pytest.fail)  # type: ignore[arg-type]
    from bosh_core.interpolate.generate import parse_certificate_authority

    authority = parse_certificate_authority(ca["certificate"], ca["private_key"])
    leaf = generate_certificate(
        CertificateParams(
            common_name="127.0.0.1", alternative_names=("127.0.0.1",), ca="ca", key_length=2048
        ),
        load_ca=lambda _: authority,
    )
    (folder / "ca.crt").write_text(ca["certificate"])
    (folder / "server.crt").write_text(leaf["certificate"])
    (folder / "server.key").write_text(leaf["private_key"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.crt", folder / "server.key")
    server = _ConfigServerHTTP(("127.0.0.1", 0), _ConfigServerHandler)
    server.versions = []
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", folder / "ca.crt"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def http_server(config_server: tuple[str, Path]) -> Iterator[HTTPConfigServer]:
    url, ca = config_server
    with HTTPConfigServer(ConfigServerConfig(url=url, ca_cert=ca, token="the-token")) as client:
        yield client


def test_the_http_client_speaks_the_config_server_api(http_server: HTTPConfigServer) -> None:
    stored = http_server.set("/http/value", {"nested": [1, 2]})
    assert http_server.get("/http/value") == stored
    assert http_server.get_by_id(stored.id).value == {"nested": [1, 2]}
    generated = http_server.generate("/http/p", "password", {}, mode=UpdateMode.NO_OVERWRITE)
    assert (
        http_server.generate("/http/p", "password", {}, mode=UpdateMode.NO_OVERWRITE) == generated
    )
    with pytest.raises(ConfigServerMissingName, match="HTTP Code '404', Error: 'Name '/no' not"):
        http_server.get("/no")
    with pytest.raises(ConfigServerGenerationError, match=r"HTTP Code '400'.*Unsupported value"):
        http_server.generate("/http/x", "nope", {}, mode=UpdateMode.NO_OVERWRITE)


def test_the_http_client_checks_the_servers_certificate_and_sends_its_token(
    config_server: tuple[str, Path],
) -> None:
    url, ca = config_server
    with (
        HTTPConfigServer(ConfigServerConfig(url=url)) as untrusting,
        pytest.raises(ConfigServerFetchError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        untrusting.get("/x")
    with (
        HTTPConfigServer(ConfigServerConfig(url=url, ca_cert=ca, token="wrong")) as stranger,
        pytest.raises(ConfigServerFetchError, match="HTTP Code '401', Error: 'unauthorized'"),
    ):
        stranger.get("/x")


def test_variable_sets_work_over_http(
    database: Database, http_server: HTTPConfigServer, config_server: tuple[str, Path]
) -> None:
    with database.write() as session:
        session.add(Deployment(name="web"))
    server: ConfigServer = http_server
    resolver = VariableResolver(database, server, director_name="bosh")
    set_id = resolver.add_variable_set("web")
    resolver.generate_values([{"name": "pw", "type": "password"}], variable_set_id=set_id)
    result = resolver.interpolate({"p": "((pw))"}, variable_set_id=set_id)
    assert result == {"p": http_server.get("/bosh/web/pw").value}
