from __future__ import annotations

from pathlib import Path

import pytest

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.blobstore.s3 import S3Blobstore
from bosh_core.errors import BoshError, ConfigError
from bosh_core.release.config import (
    ReleaseDirConfig,
    load_release_config,
    open_release_blobstore,
    save_release_name,
)


@pytest.fixture
def release_dir(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    return tmp_path


def write(release_dir: Path, name: str, text: str) -> Path:
    path = release_dir / "config" / name
    path.write_text(text)
    return path


def final_yml(release_dir: Path) -> Path:
    return release_dir / "config" / "final.yml"


def test_name_from_name(release_dir: Path) -> None:
    write(release_dir, "final.yml", "---\nname: cf\n")
    assert load_release_config(release_dir).release_name() == "cf"


def test_name_from_final_name(release_dir: Path) -> None:
    write(release_dir, "final.yml", "final_name: legacy\n")
    assert load_release_config(release_dir).release_name() == "legacy"


def test_missing_name_is_the_reference_error(release_dir: Path) -> None:
    write(release_dir, "final.yml", "")
    with pytest.raises(ConfigError) as raised:
        load_release_config(release_dir).release_name()
    assert str(raised.value) == f"Expected non-empty 'name' in config '{final_yml(release_dir)}'"


def test_name_and_final_name_together_is_the_reference_error(release_dir: Path) -> None:
    write(release_dir, "final.yml", "final_name: a\nname: b\n")
    with pytest.raises(ConfigError) as raised:
        load_release_config(release_dir).release_name()
    assert str(raised.value) == (
        f"Expected 'name' or 'final_name' but not both in config '{final_yml(release_dir)}'"
    )


def test_missing_files_give_an_empty_config(release_dir: Path) -> None:
    config = load_release_config(release_dir)
    assert config == ReleaseDirConfig(
        final_yml(release_dir), release_dir / "config" / "private.yml"
    )
    assert config.blobstore_options == {}


def test_private_options_override_public_ones_key_by_key(release_dir: Path) -> None:
    write(
        release_dir,
        "final.yml",
        "name: r\nno_compression: true\nblobstore:\n  provider: s3\n"
        "  options: {bucket_name: pub, region: eu-west-1}\n",
    )
    write(
        release_dir,
        "private.yml",
        "blobstore:\n  provider: ignored\n  options: {region: us-east-2, secret_access_key: s}\n",
    )
    config = load_release_config(release_dir)
    assert config.blobstore_provider == "s3"  # only final.yml names the provider
    assert config.blobstore_options == {
        "bucket_name": "pub",
        "region": "us-east-2",
        "secret_access_key": "s",
    }
    assert config.no_compression is True
    assert "secret_access_key" not in repr(config)


def test_empty_sections_read_as_absent(release_dir: Path) -> None:
    write(release_dir, "final.yml", "name: r\nblobstore:\n")
    write(release_dir, "private.yml", "blobstore:\n  options:\n")
    config = load_release_config(release_dir)
    assert config.blobstore_provider is None
    assert config.blobstore_options == {}


def test_yaml_errors_name_the_file_and_line(release_dir: Path) -> None:
    private = write(release_dir, "private.yml", "blobstore: [\n")
    with pytest.raises(BoshError) as raised:
        load_release_config(release_dir)
    assert f"config '{private}'" in str(raised.value)
    assert "line " in str(raised.value)


def test_wrong_types_name_the_file_and_key(release_dir: Path) -> None:
    public = write(release_dir, "final.yml", "name: r\nno_compression: 'yes'\n")
    with pytest.raises(BoshError) as raised:
        load_release_config(release_dir)
    assert f"config '{public}'" in str(raised.value)
    assert "no_compression" in str(raised.value)


def test_save_release_name_writes_a_new_file_as_the_reference(release_dir: Path) -> None:
    save_release_name(release_dir, "new-name")
    assert final_yml(release_dir).read_text() == "name: new-name\n"


def test_save_release_name_migrates_final_name(release_dir: Path) -> None:
    write(release_dir, "final.yml", "final_name: old")
    save_release_name(release_dir, "new-name")
    assert final_yml(release_dir).read_text() == "name: new-name\n"


def test_save_release_name_keeps_known_keys_in_the_reference_order_and_style(
    release_dir: Path,
) -> None:
    write(
        release_dir,
        "final.yml",
        "no_compression: true\nunknown: dropped\n"
        "blobstore:\n  options: {z: 1, a10: x, a2: y, nested: {b: 1, a: 2}}\n  provider: s3\n"
        "name: old\n",
    )
    save_release_name(release_dir, "new-name")
    assert final_yml(release_dir).read_text() == (
        "name: new-name\n"
        "blobstore:\n"
        "  provider: s3\n"
        "  options:\n"
        '    a2: "y"\n'  # Go quotes a string that reads back as a boolean
        "    a10: x\n"
        "    nested:\n"
        "      a: 2\n"
        "      b: 1\n"
        "    z: 1\n"
        "no_compression: true\n"
    )


def test_save_release_name_does_not_copy_private_options(release_dir: Path) -> None:
    write(release_dir, "final.yml", "blobstore: {provider: s3}")
    write(release_dir, "private.yml", "blobstore: {options: {secret_access_key: s}}")
    save_release_name(release_dir, "n")
    assert final_yml(release_dir).read_text() == 'name: "n"\nblobstore:\n  provider: s3\n'


def test_save_release_name_refuses_a_broken_private_yml(release_dir: Path) -> None:
    write(release_dir, "private.yml", "-\n  - [")
    with pytest.raises(BoshError, match=r"private\.yml"):
        save_release_name(release_dir, "n")
    assert not final_yml(release_dir).exists()


# --- opening the blobstore -----------------------------------------------------------


def test_missing_provider_is_the_reference_error(release_dir: Path) -> None:
    write(release_dir, "final.yml", "name: r\n")
    with pytest.raises(ConfigError) as raised:
        open_release_blobstore(release_dir, load_release_config(release_dir))
    assert str(raised.value) == (
        f"Expected non-empty 'blobstore.provider' in config '{final_yml(release_dir)}'"
    )


def test_unknown_provider_is_the_reference_error(release_dir: Path) -> None:
    write(release_dir, "final.yml", "blobstore: {provider: dav}\n")
    with pytest.raises(ConfigError) as raised:
        open_release_blobstore(release_dir, load_release_config(release_dir))
    assert str(raised.value).startswith("Expected release blobstore to be configured")
    assert "'dav'" in str(raised.value)


def test_gcs_says_it_is_not_supported(release_dir: Path) -> None:
    write(release_dir, "final.yml", "blobstore: {provider: gcs}\n")
    with pytest.raises(ConfigError, match=r"'gcs'.*not supported.*local, s3"):
        open_release_blobstore(release_dir, load_release_config(release_dir))


def test_relative_local_path_is_under_the_release_dir(release_dir: Path) -> None:
    write(release_dir, "final.yml", "blobstore: {provider: local, options: {blobstore_path: bs}}")
    store = open_release_blobstore(release_dir, load_release_config(release_dir))
    assert isinstance(store, LocalBlobstore)
    assert store.path == release_dir / "bs"


def test_absolute_local_path_stays(release_dir: Path, tmp_path: Path) -> None:
    write(
        release_dir,
        "final.yml",
        f"blobstore: {{provider: local, options: {{blobstore_path: {tmp_path / 'abs'}}}}}",
    )
    store = open_release_blobstore(release_dir, load_release_config(release_dir))
    assert isinstance(store, LocalBlobstore)
    assert store.path == tmp_path / "abs"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ("{}", "missing blobstore_path"),
        ("{blobstore_path: [a]}", "blobstore_path must be a string"),
    ],
)
def test_local_without_a_path_string_is_an_error(
    release_dir: Path, options: str, problem: str
) -> None:
    write(release_dir, "final.yml", f"blobstore: {{provider: local, options: {options}}}")
    with pytest.raises(ConfigError) as raised:
        open_release_blobstore(release_dir, load_release_config(release_dir))
    assert str(raised.value) == (
        f"Invalid local blobstore options in config '{final_yml(release_dir)}': {problem}"
    )


def test_s3_takes_credentials_from_private_yml(release_dir: Path) -> None:
    write(release_dir, "final.yml", "blobstore: {provider: s3, options: {bucket_name: b}}")
    write(
        release_dir,
        "private.yml",
        "blobstore: {options: {access_key_id: id, secret_access_key: secret}}",
    )
    store = open_release_blobstore(release_dir, load_release_config(release_dir))
    assert isinstance(store, S3Blobstore)
    assert store.config.credentials_source == "static"
    assert store.config.bucket_name == "b"


def test_s3_option_errors_name_both_files(release_dir: Path) -> None:
    write(release_dir, "final.yml", "blobstore: {provider: s3}")
    write(release_dir, "private.yml", "blobstore: {options: {access_key_id: id}}")
    with pytest.raises(ConfigError) as raised:
        open_release_blobstore(release_dir, load_release_config(release_dir))
    private = release_dir / "config" / "private.yml"
    assert str(raised.value) == (
        f"Invalid S3 blobstore options in config '{final_yml(release_dir)}' and '{private}':"
        " bucket_name must be set"
    )
