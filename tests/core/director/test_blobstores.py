"""The director's blobstore config: what it opens, what agents get, signed URLs, and the
local store served to agents (a real agent-side client over HTTPS)."""

from __future__ import annotations

import ssl
import urllib.request
from pathlib import Path

import attrs
import pytest

from bosh_core.agent.actions import blobstore_from_settings
from bosh_core.blobstore.dav import DavBlobstore
from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.blobstore.s3 import S3Blobstore
from bosh_core.director.api import DirectorConfig, ensure_tls, load_config
from bosh_core.director.api.config import BlobstoreConfig, LocalUser
from bosh_core.director.blobstores import (
    agent_blobstore_settings,
    open_blobstore,
    serve_local_blobstore,
    sign_url,
)
from bosh_core.errors import BlobNotFoundError, BlobstoreError, ConfigError
from tests.core.director.served import free_port

SECTION = """
blobstore:
  provider: local
  port: 25251
  address: 10.0.0.6
  director: {user: director, password: director-pw}
  agent: {user: agent, password: agent-pw}
  secret: signing-secret
"""


def _load(tmp_path: Path, text: str) -> DirectorConfig:
    path = tmp_path / "director.yml"
    path.write_text(f"data_dir: store\ntls: {{alternative_names: [10.0.0.6]}}\n{text}")
    return load_config(path)


def test_the_blobstore_section_is_read_and_its_secrets_stay_out_of_reprs(
    tmp_path: Path,
) -> None:
    config = _load(tmp_path, SECTION)
    blobstore = config.blobstore
    assert (blobstore.provider, blobstore.port, blobstore.address) == ("local", 25251, "10.0.0.6")
    assert blobstore.director == LocalUser("director", "director-pw")
    assert blobstore.agent == LocalUser("agent", "agent-pw")
    assert blobstore.secret == "signing-secret"
    for secret in ("director-pw", "agent-pw", "signing-secret"):
        assert secret not in repr(config)
    assert _load(tmp_path, "").blobstore == BlobstoreConfig()  # local on 25250 by default


def test_every_problem_of_the_section_is_reported_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "blobstore: {provider: ftp, port: 0, agent: {user: a, password: ''}}")
    message = str(caught.value)
    assert "provider 'ftp' is not one of local, dav, s3" in message
    assert "blobstore: port 0 is not between 1 and 65535" in message
    assert "blobstore: agent needs a user and a password" in message
    with pytest.raises(ConfigError, match="'endpoint' must be an http"):
        _load(tmp_path, "blobstore: {provider: dav, options: {endpoint: ftp://x}}")
    with pytest.raises(
        ConfigError, match=r"address .10\.9\.9\.9. must also be in tls\.alternative_names"
    ):
        _load(tmp_path, "blobstore: {address: 10.9.9.9}")


def test_open_blobstore_follows_the_provider(tmp_path: Path) -> None:
    local = _load(tmp_path, SECTION)
    opened = open_blobstore(local)
    assert isinstance(opened, LocalBlobstore) and opened.path == local.blobstore_dir
    dav = attrs.evolve(
        local,
        blobstore=attrs.evolve(
            local.blobstore, provider="dav", options={"endpoint": "https://10.0.0.7:25250"}
        ),
    )
    client = open_blobstore(dav)
    assert isinstance(client, DavBlobstore)
    assert (client.config.user, client.config.password) == ("director", "director-pw")
    assert client.config.secret == "signing-secret"
    s3 = attrs.evolve(
        local,
        blobstore=BlobstoreConfig(provider="s3", options={"bucket_name": "blobs", "region": "x"}),
    )
    assert isinstance(open_blobstore(s3), S3Blobstore)


def test_agents_get_the_agent_user_and_never_the_secret(tmp_path: Path) -> None:
    config = _load(tmp_path, SECTION)
    settings = agent_blobstore_settings(config, ca_certificate="CA PEM")
    assert settings.provider == "dav"
    assert settings.options == {
        "endpoint": "https://10.0.0.6:25251",
        "user": "agent",
        "password": "agent-pw",
        "tls": {"cert": {"ca": "CA PEM"}},
    }
    assert "agent-pw" not in repr(settings)
    dav = attrs.evolve(
        config,
        blobstore=attrs.evolve(
            config.blobstore,
            provider="dav",
            options={"endpoint": "https://dav:25250", "tls": {"cert": {"ca": "DAV CA"}}},
        ),
    )
    assert agent_blobstore_settings(dav).options == {
        "endpoint": "https://dav:25250",
        "user": "agent",
        "password": "agent-pw",
        "tls": {"cert": {"ca": "DAV CA"}},
    }
    with pytest.raises(ConfigError, match="need the director's CA certificate"):
        agent_blobstore_settings(config)
    closed = attrs.evolve(config, blobstore=BlobstoreConfig())
    with pytest.raises(ConfigError, match=r"set blobstore\.agent"):
        agent_blobstore_settings(closed, ca_certificate="CA PEM")


def test_agents_reach_the_directors_local_blobstore_over_https(tmp_path: Path) -> None:
    loaded = _load(tmp_path, SECTION)
    config = attrs.evolve(
        loaded,
        bind="127.0.0.1",
        blobstore=attrs.evolve(loaded.blobstore, address=None, port=free_port()),
    )
    tls = ensure_tls(config)
    assert tls.ca is not None
    ca = tls.ca.read_text()
    director_store = open_blobstore(config)
    package = tmp_path / "package.tgz"
    package.write_bytes(b"compiled package" * 1000)
    blob_id = director_store.put(package)

    with serve_local_blobstore(config, tls) as endpoint:
        assert endpoint == f"https://127.0.0.1:{config.blobstore.port}"
        settings = agent_blobstore_settings(config, ca_certificate=ca)
        agent_store = blobstore_from_settings(settings, base_dir=tmp_path / "vm")
        agent_store.get(blob_id, tmp_path / "vm" / "package.tgz")
        assert (tmp_path / "vm" / "package.tgz").read_bytes() == package.read_bytes()
        logs = tmp_path / "logs.tgz"
        logs.write_bytes(b"agent logs")
        uploaded = agent_store.put(logs)  # agents upload logs and compiled packages
        assert director_store.exists(uploaded)

        context = ssl.create_default_context(cadata=ca)
        with urllib.request.urlopen(sign_url(config, blob_id, "GET"), context=context) as reply:
            assert reply.read() == package.read_bytes()

        agent_store.delete(uploaded)
        with pytest.raises(BlobNotFoundError):
            director_store.get(uploaded, tmp_path / "gone")


def test_other_providers_are_not_served_and_s3_does_not_sign(tmp_path: Path) -> None:
    config = _load(tmp_path, "blobstore: {provider: s3, options: {bucket_name: b}}")
    tls = ensure_tls(config)
    with serve_local_blobstore(config, tls) as endpoint:
        assert endpoint is None
    with pytest.raises(BlobstoreError, match="does not sign URLs"):
        sign_url(config, "blob-1", "GET")
