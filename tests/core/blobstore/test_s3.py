"""The S3 blobstore against a real S3 API (moto's server on loopback)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bosh_core.blobstore.s3 import S3Blobstore, S3Config
from bosh_core.errors import BlobNotFoundError, BlobstoreError, ConfigError
from tests.core.blobstore.moto_s3 import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    moto_auth,
    moto_s3_server,
    new_bucket,
    s3_client,
    s3_options,
)

SOURCE = "config 'final.yml'"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


@pytest.fixture
def bucket(endpoint: str) -> str:
    return new_bucket(endpoint)


def blobstore(endpoint: str, bucket: str, **extra: Any) -> S3Blobstore:
    return S3Blobstore.from_options(s3_options(endpoint, bucket, **extra), source=SOURCE)


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    source = tmp_path / "payload.bin"
    source.write_bytes(uuid.uuid4().bytes * 4096)
    return source


# --- options, as the reference's s3 client reads them -----------------------------------


def test_static_credentials_are_inferred_from_keys_and_kept_out_of_repr() -> None:
    config = S3Config.from_options(
        {"bucket_name": "b", "access_key_id": ACCESS_KEY_ID, "secret_access_key": "s3cr3t"},
        source=SOURCE,
    )
    assert config.credentials_source == "static"
    assert config.region == "us-east-1"  # AWS (no host): the reference's default region
    assert config.use_ssl and config.ssl_verify_peer and config.multipart_upload
    assert "s3cr3t" not in repr(config)
    assert ACCESS_KEY_ID not in repr(config)


def test_no_keys_means_anonymous_read_only() -> None:
    assert S3Config.from_options({"bucket_name": "b"}, source=SOURCE).credentials_source == "none"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "bucket_name must be set"),
        ({"bucket_name": ""}, "bucket_name must be set"),
        (
            {"bucket_name": "b", "access_key_id": "k"},
            "access_key_id and secret_access_key must be provided",
        ),
        (
            {"bucket_name": "b", "credentials_source": "static"},
            "access_key_id and secret_access_key must be provided",
        ),
        (
            {"bucket_name": "b", "credentials_source": "env_or_profile", "access_key_id": "k"},
            "can't use access_key_id and secret_access_key with env_or_profile credentials_source",
        ),
        (
            {"bucket_name": "b", "credentials_source": "none", "secret_access_key": "s"},
            "can't use access_key_id and secret_access_key with none credentials_source",
        ),
        ({"bucket_name": "b", "credentials_source": "iam"}, "invalid credentials_source: iam"),
        (
            {"bucket_name": "b", "upload_part_size": -1},
            "download/upload concurrency and part sizes must be non-negative",
        ),
    ],
)
def test_invalid_options_are_config_errors_naming_the_file(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        S3Config.from_options(options, source=SOURCE)
    assert str(raised.value).startswith(f"Invalid S3 blobstore options in {SOURCE}: {message}")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("port", "9000", "expected an integer, found a string"),
        ("port", True, "expected an integer, found a boolean"),
        ("use_ssl", "false", "expected true or false, found a string"),
        ("bucket_name", ["b"], "expected a string, found a list"),
    ],
)
def test_wrongly_typed_options_name_the_option(key: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        S3Config.from_options({"bucket_name": "b", key: value}, source=SOURCE)
    assert str(raised.value) == f"Invalid S3 blobstore option '{key}' in {SOURCE}: {expected}"


def test_unknown_and_null_options_are_ignored_as_the_reference_does() -> None:
    config = S3Config.from_options(
        {"bucket_name": "b", "something_else": 1, "region": None}, source=SOURCE
    )
    assert config.region == "us-east-1"


@pytest.mark.parametrize(
    ("options", "endpoint_url"),
    [
        ({}, None),
        ({"host": "minio.local"}, "https://minio.local"),
        ({"host": "minio.local", "port": 443}, "https://minio.local"),
        ({"host": "minio.local", "port": 80, "use_ssl": False}, "http://minio.local"),
        ({"host": "minio.local", "port": 9000, "use_ssl": False}, "http://minio.local:9000"),
        ({"host": "https://minio.local", "port": 9000}, "https://minio.local:9000"),
    ],
)
def test_endpoint_url(options: dict[str, Any], endpoint_url: str | None) -> None:
    config = S3Config.from_options({"bucket_name": "b", **options}, source=SOURCE)
    assert config.endpoint_url == endpoint_url


@pytest.mark.parametrize(
    ("host", "region", "tuned"),
    [
        ("s3.eu-west-1.amazonaws.com", "eu-west-1", {"multipart_upload": True}),
        ("s3-external-1.amazonaws.com", "us-east-1", {}),
        (
            "oss-cn-hangzhou.aliyuncs.com",
            "cn-hangzhou",
            {"host_style": True, "request_checksum_calculation_enabled": False},
        ),
        ("storage.googleapis.com", "us-east-1", {"multipart_upload": False}),
        (
            "objectstorage.example.internal",
            "us-east-1",
            {"response_checksum_calculation_enabled": False},
        ),
    ],
)
def test_provider_defaults_follow_the_host(host: str, region: str, tuned: dict[str, Any]) -> None:
    config = S3Config.from_options({"bucket_name": "b", "host": host}, source=SOURCE)
    assert config.region == region
    for name, value in tuned.items():
        assert getattr(config, name) == value


def test_an_explicit_region_wins_over_the_host() -> None:
    config = S3Config.from_options(
        {"bucket_name": "b", "host": "s3.eu-west-1.amazonaws.com", "region": "eu-central-1"},
        source=SOURCE,
    )
    assert config.region == "eu-central-1"


# --- against the S3 API ------------------------------------------------------------------


def test_put_get_exists_delete_round_trip(
    endpoint: str, bucket: str, payload: Path, tmp_path: Path
) -> None:
    store = blobstore(endpoint, bucket)
    blob_id = store.put(payload)

    assert uuid.UUID(blob_id).version == 4
    assert store.exists(blob_id)
    destination = tmp_path / "downloads" / "blob"
    store.get(blob_id, destination)
    assert destination.read_bytes() == payload.read_bytes()
    assert sorted(p.name for p in destination.parent.iterdir()) == ["blob"]  # no temporaries

    store.delete(blob_id)
    assert not store.exists(blob_id)
    store.delete(blob_id)  # deleting again is not an error


def test_folder_name_prefixes_the_object_key(endpoint: str, bucket: str, payload: Path) -> None:
    blob_id = blobstore(endpoint, bucket, folder_name="release-blobs").put(payload)
    listed = s3_client(endpoint).list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in listed] == [f"release-blobs/{blob_id}"]


def test_multipart_upload_and_ranged_download_with_small_parts(
    endpoint: str, bucket: str, tmp_path: Path
) -> None:
    big = tmp_path / "big"
    with big.open("wb") as stream:
        for _ in range(11):
            stream.write(uuid.uuid4().bytes * 65536)  # 11 MiB: three 5 MiB parts
    store = blobstore(
        endpoint, bucket, upload_part_size=5 * 1024 * 1024, download_part_size=5 * 1024 * 1024
    )
    blob_id = store.put(big)
    head = s3_client(endpoint).head_object(Bucket=bucket, Key=blob_id)
    assert head["ETag"].endswith('-3"')  # a multipart object's ETag counts its parts
    store.get(blob_id, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == big.read_bytes()


def test_server_side_encryption_is_requested(endpoint: str, bucket: str, payload: Path) -> None:
    blob_id = blobstore(endpoint, bucket, server_side_encryption="AES256").put(payload)
    head = s3_client(endpoint).head_object(Bucket=bucket, Key=blob_id)
    assert head["ServerSideEncryption"] == "AES256"


def test_get_of_missing_object_is_blob_not_found(
    endpoint: str, bucket: str, tmp_path: Path
) -> None:
    destination = tmp_path / "out" / "blob"
    with pytest.raises(
        BlobNotFoundError, match=f"Blob 'missing-id' not found in S3 bucket '{bucket}'"
    ):
        blobstore(endpoint, bucket).get("missing-id", destination)
    assert list(destination.parent.iterdir()) == []


def test_missing_bucket_is_a_clear_error_without_credentials(
    endpoint: str, payload: Path, tmp_path: Path
) -> None:
    store = blobstore(endpoint, "no-such-bucket")
    for action in (
        lambda: store.put(payload),
        lambda: store.get("some-id", tmp_path / "x"),
        lambda: store.exists("some-id"),
    ):
        with pytest.raises(BlobstoreError) as raised:
            action()
        message = str(raised.value)
        assert not isinstance(raised.value, BlobNotFoundError)
        assert "S3 bucket 'no-such-bucket'" in message
        assert "does not exist" in message
        assert "bucket_name" in message
        assert SECRET_ACCESS_KEY not in message
        assert ACCESS_KEY_ID not in message


def test_unreachable_endpoint_is_a_clear_error(payload: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = blobstore(f"http://127.0.0.1:{port}", "bucket")
    with pytest.raises(BlobstoreError) as raised:
        store.put(payload)
    assert f"cannot reach http://127.0.0.1:{port}" in str(raised.value)
    assert SECRET_ACCESS_KEY not in str(raised.value)


def test_refused_credentials_are_a_clear_error_that_never_shows_them(
    endpoint: str, bucket: str, payload: Path
) -> None:
    store = blobstore(endpoint, bucket)
    with moto_auth(endpoint), pytest.raises(BlobstoreError) as raised:
        store.put(payload)
    message = str(raised.value)
    assert "refused the request (InvalidAccessKeyId)" in message
    assert "config/private.yml" in message
    assert SECRET_ACCESS_KEY not in message
    assert ACCESS_KEY_ID not in message


def test_anonymous_store_reads_but_refuses_to_write(
    endpoint: str, bucket: str, payload: Path, tmp_path: Path
) -> None:
    blob_id = blobstore(endpoint, bucket).put(payload)
    # Public releases publish their blobs; an anonymous client can read only those.
    s3_client(endpoint).put_object_acl(Bucket=bucket, Key=blob_id, ACL="public-read")
    options = s3_options(endpoint, bucket)
    del options["access_key_id"], options["secret_access_key"]
    anonymous = S3Blobstore.from_options(options, source=SOURCE)

    anonymous.get(blob_id, tmp_path / "public")
    assert (tmp_path / "public").read_bytes() == payload.read_bytes()
    with pytest.raises(BlobstoreError, match="read only with credentials_source 'none'"):
        anonymous.put(payload)
    with pytest.raises(BlobstoreError, match="read only"):
        anonymous.delete(blob_id)


def test_env_or_profile_takes_credentials_from_the_environment(
    endpoint: str, bucket: str, payload: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    options = s3_options(endpoint, bucket, credentials_source="env_or_profile")
    del options["access_key_id"], options["secret_access_key"]
    store = S3Blobstore.from_options(options, source=SOURCE)
    assert store.exists(store.put(payload))


def test_env_or_profile_without_credentials_says_where_they_are_looked_for(
    endpoint: str, bucket: str, payload: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    options = s3_options(endpoint, bucket, credentials_source="env_or_profile")
    del options["access_key_id"], options["secret_access_key"]
    store = S3Blobstore.from_options(options, source=SOURCE)
    with pytest.raises(BlobstoreError, match="no AWS credentials found"):
        store.put(payload)


def test_assume_role_uses_the_role_credentials(endpoint: str, bucket: str, payload: Path) -> None:
    store = blobstore(
        endpoint, bucket, assume_role_arn="arn:aws:iam::123456789012:role/release-blobs"
    )
    assert store.exists(store.put(payload))


def test_assume_role_failure_names_the_role_not_the_keys(endpoint: str, bucket: str) -> None:
    role = "arn:aws:iam::123456789012:role/release-blobs"
    with moto_auth(endpoint), pytest.raises(BlobstoreError) as raised:
        blobstore(endpoint, bucket, assume_role_arn=role)
    message = str(raised.value)
    assert message.startswith(f"Cannot assume role '{role}' for the S3 blobstore: ")
    assert SECRET_ACCESS_KEY not in message
    assert ACCESS_KEY_ID not in message
