"""How options, environment variables and the config file combine into a session."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bosh_cli.config import CLIConfig, Credentials
from bosh_cli.context import CLIContext, GlobalOptions
from bosh_cli.session import Session, ca_cert_content, open_director
from bosh_cli.ui import UI
from bosh_core.errors import BoshError
from tests.core.client.conftest import ADMIN, Served, served  # noqa: F401 (fixture)

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def saved_config(tmp_path: Path) -> CLIConfig:
    config = (
        CLIConfig(tmp_path / "config")
        .with_alias(url="https://10.0.0.6:25555", alias="vbox", ca_cert=PEM)
        .with_credentials("vbox", Credentials(client="admin", client_secret="stored-pw"))
    )
    config.save()
    return config


def test_an_alias_brings_its_url_ca_and_credentials(tmp_path: Path) -> None:
    saved_config(tmp_path)
    options = GlobalOptions(environment="vbox", config=str(tmp_path / "config"))
    session = Session.resolve(options)
    assert session.environment == "https://10.0.0.6:25555"
    assert session.ca_cert == PEM
    assert session.credentials == Credentials(client="admin", client_secret="stored-pw")
    assert session.using_line() == ("Using environment 'https://10.0.0.6:25555' as client 'admin'")


def test_the_url_itself_finds_the_entry_too(tmp_path: Path) -> None:
    config = saved_config(tmp_path)
    session = Session.resolve(GlobalOptions(environment="https://10.0.0.6:25555"), config)
    assert session.credentials.client == "admin"


def test_client_option_replaces_stored_credentials_whole(tmp_path: Path) -> None:
    config = saved_config(tmp_path)
    session = Session.resolve(GlobalOptions(environment="vbox", client="ops"), config)
    # The stored password belongs to the stored user: never sent for another one.
    assert session.credentials == Credentials(client="ops", client_secret="")
    assert "stored-pw" not in repr(session)


def test_ca_cert_option_overrides_the_stored_one(tmp_path: Path) -> None:
    config = saved_config(tmp_path)
    other = PEM.replace("MIIB", "OTHER")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(other)
    by_path = Session.resolve(GlobalOptions(environment="vbox", ca_cert=str(ca_file)), config)
    assert by_path.ca_cert == other
    by_value = Session.resolve(GlobalOptions(environment="vbox", ca_cert=other), config)
    assert by_value.ca_cert == other


def test_an_unknown_environment_is_used_as_given(tmp_path: Path) -> None:
    session = Session.resolve(GlobalOptions(environment="10.1.1.1"), saved_config(tmp_path))
    assert session.environment == "10.1.1.1"
    assert session.ca_cert is None
    assert session.using_line() == "Using environment '10.1.1.1' as anonymous user"


def test_no_environment_says_how_to_give_one(tmp_path: Path) -> None:
    session = Session.resolve(GlobalOptions(), saved_config(tmp_path))
    with pytest.raises(BoshError, match=r"Expected non-empty Director URL.*BOSH_ENVIRONMENT"):
        session.director()


def test_ca_cert_content_errors(tmp_path: Path) -> None:
    with pytest.raises(BoshError, match="non-empty"):
        ca_cert_content("")
    with pytest.raises(BoshError, match=f"Reading CA certificate '{tmp_path / 'nope.pem'}'"):
        ca_cert_content(str(tmp_path / "nope.pem"))


def test_open_director_prints_the_line_and_authenticates(
    tmp_path: Path,
    served: Served,  # noqa: F811
) -> None:
    CLIConfig(tmp_path / "config").with_alias(
        url=served.url, alias="local", ca_cert=served.ca.read_text()
    ).with_credentials("local", Credentials(*ADMIN)).save()
    out = io.StringIO()
    cli = CLIContext(
        ui=UI(out=out, tty=True),
        options=GlobalOptions(environment="local", config=str(tmp_path / "config")),
    )
    with open_director(cli) as director:
        assert director.info().user == ADMIN[0]
    assert out.getvalue() == f"Using environment '{served.url}' as client 'admin'\n"
