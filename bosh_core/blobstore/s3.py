"""The ``s3`` release blobstore (AWS S3 and S3-compatible stores), through boto3.

The options are the reference CLI's (its s3 client's configuration keys), read from
``blobstore.options`` of config/final.yml merged with config/private.yml. boto3 is
imported only when a blobstore is built, so importing this module stays light.

Credentials are never put in a message, a repr or a log line: errors name the option
that holds them instead, and any text that comes back from the service is scrubbed.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import attrs

from bosh_core.blobstore import Blobstore, staged_destination
from bosh_core.errors import BlobNotFoundError, BlobstoreError, ConfigError
from bosh_core.serialization import kind_of

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError
    from mypy_boto3_s3 import S3Client

__all__ = ["CREDENTIALS_SOURCES", "S3Blobstore", "S3Config"]

CREDENTIALS_SOURCES = ("static", "env_or_profile", "none")

_DEFAULT_REGION = "us-east-1"
_DEFAULT_CONCURRENCY = 5
_DEFAULT_PART_SIZE = 5 * 1024 * 1024
# With multipart uploads switched off, a part this large means "one request" (as the reference).
_ONE_TERABYTE = 1000 * 1024 * 1024 * 1024

# Hosts of the providers the reference tunes its client for (an empty host means AWS).
_AWS_HOST = re.compile(r"(^$|s3[-.]?(.*)\.amazonaws\.com(\.cn)?$)")
_ALICLOUD_HOST = re.compile(r"^oss-([a-z]+-[a-z]+(-[1-9])?)(-internal)?\.aliyuncs\.com$")
_GOOGLE_HOST = re.compile(r"^storage\.googleapis\.com$")
_GDCH_HOST = re.compile(r"objectstorage\..*")

_AUTH_ERROR_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "Forbidden",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
    }
)
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@attrs.frozen
class S3Config:
    """Validated options of an S3 blobstore; `credentials_source` is always resolved."""

    bucket_name: str
    credentials_source: str = "none"
    access_key_id: str = attrs.field(default="", repr=False)
    secret_access_key: str = attrs.field(default="", repr=False)
    region: str = ""
    host: str = ""
    port: int = 0  # 0: the scheme's port
    use_ssl: bool = True
    ssl_verify_peer: bool = True
    folder_name: str = ""
    assume_role_arn: str = ""
    server_side_encryption: str = ""
    sse_kms_key_id: str = ""
    multipart_upload: bool = True
    host_style: bool = False
    # Not among the reference's current keys; older final.yml files carry it ("2" or "4").
    signature_version: str = ""
    request_checksum_calculation_enabled: bool = True
    response_checksum_calculation_enabled: bool = True
    uploader_request_checksum_calculation_enabled: bool = True
    download_concurrency: int = 0
    download_part_size: int = 0
    upload_concurrency: int = 0
    upload_part_size: int = 0

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, source: str) -> S3Config:
        """Build from ``blobstore.options``; `source` names the config files for errors.

        Keys the reference does not know are ignored, as it ignores them.
        """
        read = _OptionReader(options, source=source)
        fields = {
            field.name: read(field.name, field.type)
            for field in attrs.fields(cls)
            if field.name in options and options[field.name] is not None
        }
        try:
            _check(fields)
            fields["credentials_source"] = _credentials_source(fields)
        except ValueError as exc:
            raise ConfigError(f"Invalid S3 blobstore options in {source}: {exc}") from None
        return cls(**_tuned_for_provider(fields))

    @property
    def endpoint_url(self) -> str | None:
        if not self.host:
            return None
        endpoint = self.host
        if self.port and self.port != (443 if self.use_ssl else 80):
            endpoint = f"{endpoint}:{self.port}"
        if not endpoint.startswith(("http://", "https://")):
            endpoint = f"{'https' if self.use_ssl else 'http'}://{endpoint}"
        return endpoint


class _OptionReader:
    """Type checks one option as Go's JSON decoding would, with our wording."""

    _KINDS: Mapping[str, tuple[type, str]] = {
        "str": (str, "a string"),
        "int": (int, "an integer"),
        "bool": (bool, "true or false"),
    }

    def __init__(self, options: Mapping[str, Any], *, source: str) -> None:
        self._options = options
        self._source = source

    def __call__(self, key: str, annotation: Any) -> Any:
        expected, described = self._KINDS[str(annotation)]
        value = self._options[key]
        # bool is an int in Python, but `port: true` is as wrong as `port: "80"`.
        if isinstance(value, expected) and (expected is bool or not isinstance(value, bool)):
            return value
        raise ConfigError(
            f"Invalid S3 blobstore option '{key}' in {self._source}:"
            f" expected {described}, found {kind_of(value)}"
        )


def _check(fields: Mapping[str, Any]) -> None:
    if not fields.get("bucket_name"):
        raise ValueError("bucket_name must be set")
    sizes = ("download_concurrency", "upload_concurrency", "download_part_size", "upload_part_size")
    if any(fields.get(name, 0) < 0 for name in sizes):
        raise ValueError("download/upload concurrency and part sizes must be non-negative")
    if fields.get("port", 0) < 0:
        raise ValueError("port must not be negative")
    if fields.get("signature_version", "4") not in ("2", "4"):
        raise ValueError(
            f"signature_version must be '2' or '4', not '{fields['signature_version']}'"
        )


def _credentials_source(fields: Mapping[str, Any]) -> str:
    """The reference's rules: explicit keys mean static, none at all means anonymous."""
    source = str(fields.get("credentials_source", ""))
    has_key, has_secret = bool(fields.get("access_key_id")), bool(fields.get("secret_access_key"))
    if source == "static" or (not source and (has_key or has_secret)):
        if not (has_key and has_secret):
            raise ValueError(
                "access_key_id and secret_access_key must be provided"
                " (keep them in config/private.yml)"
            )
        return "static"
    if source in ("env_or_profile", "none"):
        if has_key or has_secret:
            raise ValueError(
                f"can't use access_key_id and secret_access_key with {source} credentials_source"
            )
        return source
    if not source:
        return "none"
    raise ValueError(
        f"invalid credentials_source: {source} (expected one of {', '.join(CREDENTIALS_SOURCES)})"
    )


def _tuned_for_provider(fields: dict[str, Any]) -> dict[str, Any]:
    """Apply the reference's per-provider defaults, recognised from the host name."""
    host = fields.get("host", "")
    if aws := _AWS_HOST.search(host):
        fields["multipart_upload"] = True
        region = aws.group(2)
        if not fields.get("region"):
            fields["region"] = region if region and region != "external-1" else _DEFAULT_REGION
    elif alicloud := _ALICLOUD_HOST.search(host):
        fields["multipart_upload"] = True
        fields["host_style"] = True
        fields["host"] = host.split(":")[0]
        if not fields.get("region"):
            fields["region"] = alicloud.group(1)
        fields["request_checksum_calculation_enabled"] = False
        fields["uploader_request_checksum_calculation_enabled"] = False
    elif _GOOGLE_HOST.search(host):
        fields["multipart_upload"] = False
        fields["request_checksum_calculation_enabled"] = False
    elif _GDCH_HOST.search(host):
        fields["request_checksum_calculation_enabled"] = False
        fields["response_checksum_calculation_enabled"] = False
        fields["uploader_request_checksum_calculation_enabled"] = False
    if not fields.get("region"):
        # SigV4 signs with a region; S3-compatible stores accept the AWS default.
        fields["region"] = _DEFAULT_REGION
    return fields


class S3Blobstore(Blobstore):
    def __init__(self, config: S3Config) -> None:
        self.config = config
        self._client = _make_client(config)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, source: str) -> S3Blobstore:
        return cls(S3Config.from_options(options, source=source))

    def __repr__(self) -> str:
        return f"S3Blobstore(bucket={self.config.bucket_name!r}, endpoint={self._where()!r})"

    def put(self, source: Path) -> str:
        from boto3.exceptions import S3UploadFailedError

        if self.config.credentials_source == "none":
            raise BlobstoreError(
                f"Cannot upload '{source}' to S3 bucket '{self.config.bucket_name}': the"
                " blobstore is read only with credentials_source 'none'; set access_key_id and"
                " secret_access_key in config/private.yml"
            )
        blob_id = str(uuid.uuid4())
        extra: dict[str, str] = {}
        if self.config.server_side_encryption:
            extra["ServerSideEncryption"] = self.config.server_side_encryption
        if self.config.sse_kms_key_id:
            extra["SSEKMSKeyId"] = self.config.sse_kms_key_id
        with self._translated_errors(f"uploading '{source}'", blob_id=None):
            try:
                self._client.upload_file(
                    str(source),
                    self.config.bucket_name,
                    self._key(blob_id),
                    ExtraArgs=extra or None,
                    Config=self._transfer_config(upload=True),
                )
            except S3UploadFailedError as exc:
                # boto3 wraps the service's answer in text; the error itself is the context.
                if exc.__context__ is not None:
                    raise exc.__context__ from None
                raise BlobstoreError(
                    self._scrubbed(f"Failed uploading '{source}' to {self._where()}: {exc}")
                ) from None
        return blob_id

    def get(self, blob_id: str, destination: Path) -> None:
        from boto3.exceptions import RetriesExceededError

        with (
            self._translated_errors(f"downloading blob '{blob_id}'", blob_id=blob_id),
            staged_destination(destination) as staged,
        ):
            try:
                self._client.download_file(
                    self.config.bucket_name,
                    self._key(blob_id),
                    str(staged),
                    Config=self._transfer_config(upload=False),
                )
            except RetriesExceededError as exc:
                raise getattr(exc, "last_exception", None) or exc from None

    def delete(self, blob_id: str) -> None:
        if self.config.credentials_source == "none":
            raise BlobstoreError(
                f"Cannot delete blob '{blob_id}' from S3 bucket '{self.config.bucket_name}':"
                " the blobstore is read only with credentials_source 'none'"
            )
        with self._translated_errors(f"deleting blob '{blob_id}'", blob_id=None):
            self._client.delete_object(Bucket=self.config.bucket_name, Key=self._key(blob_id))

    def exists(self, blob_id: str) -> bool:
        from botocore.exceptions import ClientError

        with self._translated_errors(f"looking up blob '{blob_id}'", blob_id=None):
            try:
                self._client.head_object(Bucket=self.config.bucket_name, Key=self._key(blob_id))
            except ClientError as exc:
                if _error_code(exc) in _NOT_FOUND_CODES and self._bucket_exists():
                    return False
                raise
        return True

    def _key(self, blob_id: str) -> str:
        folder = self.config.folder_name
        return f"{folder}/{blob_id}" if folder else blob_id

    def _transfer_config(self, *, upload: bool) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig

        config = self.config
        concurrency = config.upload_concurrency if upload else config.download_concurrency
        part_size = config.upload_part_size if upload else config.download_part_size
        if upload and not config.multipart_upload:
            part_size = _ONE_TERABYTE
        part_size = part_size or _DEFAULT_PART_SIZE
        return TransferConfig(
            multipart_threshold=part_size,
            multipart_chunksize=part_size,
            max_concurrency=concurrency or _DEFAULT_CONCURRENCY,
            preferred_transfer_client="classic",
        )

    def _where(self) -> str:
        return self.config.endpoint_url or f"AWS S3 in {self.config.region}"

    def _bucket_exists(self) -> bool:
        """False only when the store says the bucket is missing (asked to explain a 404)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_bucket(Bucket=self.config.bucket_name)
        except ClientError as exc:
            return _error_code(exc) not in _NOT_FOUND_CODES | {"NoSuchBucket"}
        except BotoCoreError:
            return True
        return True

    @contextlib.contextmanager
    def _translated_errors(self, action: str, *, blob_id: str | None) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            self._raise_for(exc, action, blob_id=blob_id)

    def _raise_for(
        self, exc: BotoCoreError | ClientError, action: str, *, blob_id: str | None
    ) -> NoReturn:
        """Turn a boto3/botocore failure into a BlobstoreError that says what to do."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            SSLError,
        )

        bucket = self.config.bucket_name
        where = f"S3 bucket '{bucket}' at {self._where()}"
        if isinstance(exc, ClientError):
            code = _error_code(exc)
            if code == "NoSuchBucket" or (code in _NOT_FOUND_CODES and not self._bucket_exists()):
                raise BlobstoreError(
                    f"Failed {action}: {where} does not exist;"
                    " check 'blobstore.options.bucket_name' in config/final.yml"
                ) from None
            if code in _NOT_FOUND_CODES and blob_id is not None:
                raise BlobNotFoundError(f"Blob '{blob_id}' not found in {where}") from None
            if code in _AUTH_ERROR_CODES:
                raise BlobstoreError(
                    f"Failed {action}: {where} refused the request ({code}); check the"
                    f" credentials (credentials_source '{self.config.credentials_source}'; static"
                    " keys belong in config/private.yml) and the bucket's permissions"
                ) from None
            message = exc.response.get("Error", {}).get("Message", "")
            raise BlobstoreError(
                self._scrubbed(f"Failed {action}: {where} answered {code}: {message}")
            ) from None
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
            raise BlobstoreError(
                f"Failed {action}: cannot reach {self._where()}; check 'blobstore.options.host'"
                " and 'port' in config/final.yml and the network"
            ) from None
        if isinstance(exc, SSLError):
            raise BlobstoreError(
                self._scrubbed(f"Failed {action}: TLS error talking to {self._where()}: {exc}")
            ) from None
        if isinstance(exc, NoCredentialsError):
            raise BlobstoreError(
                f"Failed {action}: no AWS credentials found for {where} (credentials_source"
                " 'env_or_profile' reads the environment and ~/.aws); or set access_key_id and"
                " secret_access_key in config/private.yml"
            ) from None
        raise BlobstoreError(self._scrubbed(f"Failed {action}: {where}: {exc}")) from None

    def _scrubbed(self, text: str) -> str:
        return _scrubbed(text, self.config)


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _make_client(config: S3Config) -> S3Client:
    try:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
    except ImportError:
        raise ConfigError(
            "The S3 release blobstore needs boto3: install it with pip install 'bosh-py[s3]'"
        ) from None

    if config.credentials_source == "static":
        session = boto3.session.Session(
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
            region_name=config.region,
        )
    else:
        session = boto3.session.Session(region_name=config.region)
    if config.assume_role_arn:
        session = _assumed_role_session(session, config)

    when: dict[bool, Literal["when_supported", "when_required"]] = {
        True: "when_supported",
        False: "when_required",
    }
    signature: Any = None
    if config.credentials_source == "none":
        signature = UNSIGNED
    elif config.signature_version:
        signature = {"2": "s3", "4": "s3v4"}[config.signature_version]
    client_config = Config(
        signature_version=signature,
        s3={"addressing_style": "virtual" if config.host_style else "path"},
        # Only uploads have bodies to checksum, so the uploader's switch and the client's
        # switch govern the same requests here.
        request_checksum_calculation=when[
            config.request_checksum_calculation_enabled
            and config.uploader_request_checksum_calculation_enabled
        ],
        response_checksum_validation=when[config.response_checksum_calculation_enabled],
        retries={"mode": "standard", "max_attempts": 3},
    )
    return session.client(
        "s3",
        endpoint_url=config.endpoint_url,
        use_ssl=config.use_ssl,
        verify=config.ssl_verify_peer,
        config=client_config,
    )


def _assumed_role_session(session: Any, config: S3Config) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    sts = session.client("sts", endpoint_url=_sts_endpoint(config), verify=config.ssl_verify_peer)
    try:
        answer = sts.assume_role(RoleArn=config.assume_role_arn, RoleSessionName="bosh-cli")
    except ClientError as exc:
        raise BlobstoreError(
            f"Cannot assume role '{config.assume_role_arn}' for the S3 blobstore:"
            f" {_error_code(exc)}; check 'assume_role_arn' and the credentials it starts from"
        ) from None
    except BotoCoreError as exc:
        raise BlobstoreError(
            _scrubbed(f"Cannot assume role '{config.assume_role_arn}': {exc}", config)
        ) from None
    credentials = answer["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=config.region,
    )


def _sts_endpoint(config: S3Config) -> str | None:
    # A custom S3 host is an S3-compatible store (or a test server) that also answers STS;
    # against AWS, botocore's own STS endpoint is right.
    return None if _AWS_HOST.search(config.host) else config.endpoint_url


def _scrubbed(text: str, config: S3Config) -> str:
    """`text` without the configured keys (service messages may echo the key id)."""
    for secret in (config.secret_access_key, config.access_key_id):
        if secret:
            text = text.replace(secret, "<redacted>")
    return text
