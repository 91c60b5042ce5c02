"""The config file: the reference's format, unknown keys kept, safe writes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bosh_cli.config import CLIConfig, ConfigFileError, Credentials, EnvironmentEntry
from bosh_core.errors import BoshError, ManifestError

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_a_missing_file_is_an_empty_config_at_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = CLIConfig.load("~/.bosh/config")
    assert config.path == tmp_path / ".bosh" / "config"
    assert config.environments == ()
    assert config.resolve("vbox") == "vbox"


def test_saved_as_the_reference_writes_it_private_and_in_a_new_directory(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".bosh" / "config"
    config = CLIConfig(path).with_alias(url="https://10.0.0.6:25555", alias="vbox", ca_cert=PEM)
    config.with_credentials("vbox", Credentials(client="admin", client_secret="pw")).save()
    assert path.read_text() == (
        "environments:\n"
        "- url: https://10.0.0.6:25555\n"
        "  ca_cert: |\n"
        "    -----BEGIN CERTIFICATE-----\n"
        "    MIIB\n"
        "    -----END CERTIFICATE-----\n"
        "  alias: vbox\n"
        "  username: admin\n"
        "  password: pw\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config"]  # no temporary left


def test_unknown_keys_survive_a_log_in(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        "environments:\n"
        "- url: https://a:25555\n"
        "  alias: a\n"
        "  future_key: {nested: [1, 2]}\n"
        "  refresh_token: tok\n"
        "other_section: kept\n"
    )
    path.chmod(0o644)
    config = CLIConfig.load(path)
    config.with_credentials("a", Credentials(client="admin", client_secret="pw")).save()
    reread = CLIConfig.load(path)
    assert reread.extra == {"other_section": "kept"}
    entry = reread.environments[0]
    assert entry.extra == {"future_key": {"nested": [1, 2]}}
    assert entry.credentials == Credentials(client="admin", client_secret="pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_go_yaml_scalars_read_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("environments:\n- url: 10.0.0.6\n  username: admin\n  password: 1234\n")
    entry = CLIConfig.load(path).environments[0]
    assert entry.credentials.client_secret == "1234"


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("environments:\n- url: [\n")
    with pytest.raises(ManifestError, match=f"CLI config '{path}'"):
        CLIConfig.load(path)


def test_wrong_shapes_are_all_reported_with_their_paths(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("environments:\n- url: {a: 1}\n- just-a-string\n- url: x\n  alias: [a]\n")
    with pytest.raises(ManifestError) as caught:
        CLIConfig.load(path)
    assert [problem.path for problem in caught.value.problems] == [
        "$.environments[0].url",
        "$.environments[1]",
        "$.environments[2].alias",
    ]
    assert f"CLI config '{path}'" in str(caught.value)


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=f"Reading config '{tmp_path}'"):
        CLIConfig.load(tmp_path)  # a directory


def test_a_symlinked_config_is_written_through_the_link(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "bosh-config"
    target.parent.mkdir()
    target.write_text("environments: []\n")
    link = tmp_path / "config"
    link.symlink_to(target)
    CLIConfig.load(link).with_alias(url="https://a:25555", alias="a", ca_cert="").save()
    assert link.is_symlink()
    assert "alias: a" in target.read_text()


def test_alias_updates_the_entry_with_that_url_or_alias(tmp_path: Path) -> None:
    admin = Credentials(client="admin", client_secret="pw")
    config = (
        CLIConfig(tmp_path / "config")
        .with_alias(url="https://a:25555", alias="a", ca_cert=PEM)
        .with_credentials("a", admin)
        .with_alias(url="https://b:25555", alias="b", ca_cert="")
    )
    moved = config.with_alias(url="https://a2:25555", alias="a", ca_cert="")
    assert [entry.url for entry in moved.environments] == ["https://a2:25555", "https://b:25555"]
    assert moved.environments[0].credentials == admin
    assert moved.environments[0].ca_cert == ""
    renamed = moved.with_alias(url="https://b:25555", alias="bee", ca_cert="")
    assert renamed.resolve("bee") == "https://b:25555"
    assert renamed.find("b") is None
    with pytest.raises(BoshError, match="non-empty environment URL"):
        config.with_alias(url="", alias="c", ca_cert="")
    with pytest.raises(BoshError, match="non-empty environment alias"):
        config.with_alias(url="https://c", alias="", ca_cert="")


def test_unalias_and_credentials(tmp_path: Path) -> None:
    config = CLIConfig(tmp_path / "config").with_alias(url="https://a:25555", alias="a", ca_cert="")
    assert config.without_alias("a").environments == ()
    with pytest.raises(BoshError, match="alias nope not found in"):
        config.without_alias("nope")
    # Credentials for a URL without an entry make one, as the reference's log-in does.
    logged = config.with_credentials("https://z:25555", Credentials(client="u", client_secret="p"))
    assert logged.environments[-1] == EnvironmentEntry(
        "https://z:25555", credentials=Credentials(client="u", client_secret="p")
    )
    assert logged.without_credentials("https://z:25555").credentials("https://z:25555") == (
        Credentials()
    )
    assert config.without_credentials("unknown") == config


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    config = CLIConfig(tmp_path / "config").with_credentials(
        "a",
        Credentials(client="admin", client_secret="s3cret", access_token="t0ken"),
    )
    assert "s3cret" not in repr(config)
    assert "t0ken" not in repr(config)
    assert "admin" in repr(config)


def test_a_failed_write_is_a_clear_error_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "config"
    (path / "in-the-way").mkdir(parents=True)  # the config path is a directory
    with pytest.raises(ConfigFileError, match=f"Writing config '{path}'"):
        CLIConfig(path).with_alias(url="https://a", alias="a", ca_cert="").save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]
