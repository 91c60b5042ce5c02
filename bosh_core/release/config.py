"""A release directory's configuration: config/final.yml merged with config/private.yml.

final.yml is committed (release name, blobstore provider and public options);
private.yml is not (credentials). Only private.yml's ``blobstore.options`` count, and
they override final.yml's key by key, as in the reference CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bosh_core import go_yaml, serialization
from bosh_core.blobstore import Blobstore
from bosh_core.errors import ConfigError
from bosh_core.release.files import write_atomically

__all__ = [
    "BLOBSTORE_PROVIDERS",
    "ReleaseDirConfig",
    "load_release_config",
    "open_release_blobstore",
    "save_release_name",
]

BLOBSTORE_PROVIDERS = ("local", "s3")


@attrs.frozen
class _BlobstoreSection:
    provider: str = ""
    options: dict[str, Any] = attrs.field(factory=dict, repr=False)  # may hold keys


@attrs.frozen
class _PublicFile:
    name: str = ""
    final_name: str = ""
    blobstore: _BlobstoreSection = attrs.field(factory=_BlobstoreSection)
    no_compression: bool = False


@attrs.frozen
class _PrivateFile:
    blobstore: _BlobstoreSection = attrs.field(factory=_BlobstoreSection)


@attrs.frozen
class ReleaseDirConfig:
    """What config/final.yml and config/private.yml say; absent values are None."""

    public_path: Path
    private_path: Path
    name: str | None = None
    final_name: str | None = None
    blobstore_provider: str | None = None
    blobstore_options: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    no_compression: bool = False

    def release_name(self) -> str:
        """The release's name: ``name``, or the older ``final_name``, never both."""
        if not self.name:
            if not self.final_name:
                raise ConfigError(f"Expected non-empty 'name' in config '{self.public_path}'")
            return self.final_name
        if self.final_name:
            raise ConfigError(
                f"Expected 'name' or 'final_name' but not both in config '{self.public_path}'"
            )
        return self.name

    @property
    def source(self) -> str:
        """The files the blobstore options came from, for messages."""
        if self.private_path.exists():
            return f"config '{self.public_path}' and '{self.private_path}'"
        return f"config '{self.public_path}'"


def _config_paths(release_dir: Path) -> tuple[Path, Path]:
    return release_dir / "config" / "final.yml", release_dir / "config" / "private.yml"


def _read(path: Path, schema: type[Any]) -> Any:
    if not path.exists():
        return schema()
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read config '{path}': {exc.strerror}") from None
    document = serialization.load_yaml(text, source=f"config '{path}'")
    return serialization.structure(
        _without_nulls({} if document is None else document), schema, source=f"config '{path}'"
    )


def _without_nulls(document: Any) -> Any:
    """Drop ``key: ~`` entries (``blobstore:`` left empty), which Go reads as absent."""
    if not isinstance(document, Mapping):
        return document
    return {key: _without_nulls(value) for key, value in document.items() if value is not None}


def load_release_config(release_dir: Path) -> ReleaseDirConfig:
    """Read both files; either may be missing. Syntax and type errors name the file."""
    public_path, private_path = _config_paths(release_dir)
    public: _PublicFile = _read(public_path, _PublicFile)
    private: _PrivateFile = _read(private_path, _PrivateFile)
    return ReleaseDirConfig(
        public_path,
        private_path,
        name=public.name or None,
        final_name=public.final_name or None,
        blobstore_provider=public.blobstore.provider or None,
        blobstore_options={**public.blobstore.options, **private.blobstore.options},
        no_compression=public.no_compression,
    )


def save_release_name(release_dir: Path, name: str) -> None:
    """Write ``name`` into config/final.yml (replacing ``final_name``), as init-release does.

    The file is rewritten from the keys this tool knows, in the reference's order and
    style, so both tools produce the same file.
    """
    load_release_config(release_dir)  # refuse to rewrite around a broken private.yml too
    public_path, _ = _config_paths(release_dir)
    public: _PublicFile = _read(public_path, _PublicFile)
    document: dict[str, Any] = {"name": name}
    if public.blobstore != _BlobstoreSection():
        section: dict[str, Any] = {"provider": public.blobstore.provider}
        if public.blobstore.options:
            section["options"] = go_yaml.sorted_maps(public.blobstore.options)
        document["blobstore"] = section
    if public.no_compression:
        document["no_compression"] = True
    try:
        with write_atomically(public_path) as stream:
            stream.write(serialization.dump_yaml(document).encode())
    except OSError as exc:
        raise ConfigError(f"Cannot write config '{public_path}': {exc.strerror}") from None


def open_release_blobstore(release_dir: Path, config: ReleaseDirConfig) -> Blobstore:
    """The blobstore config/final.yml names; a relative local path is the release dir's."""
    provider = config.blobstore_provider
    options = config.blobstore_options
    if not provider:
        raise ConfigError(
            f"Expected non-empty 'blobstore.provider' in config '{config.public_path}'"
        )
    if provider == "local":
        from bosh_core.blobstore.local import LocalBlobstore

        path = options.get("blobstore_path")
        if path is None or not isinstance(path, str):
            problem = (
                "missing blobstore_path" if path is None else "blobstore_path must be a string"
            )
            raise ConfigError(f"Invalid local blobstore options in {config.source}: {problem}")
        return LocalBlobstore(release_dir / path)  # an absolute path stays as it is
    if provider == "s3":
        from bosh_core.blobstore.s3 import S3Blobstore

        return S3Blobstore.from_options(options, source=config.source)
    if provider == "gcs":
        raise ConfigError(
            f"Release blobstore provider 'gcs' (config '{config.public_path}') is not supported"
            f" by this bosh; supported providers: {', '.join(BLOBSTORE_PROVIDERS)}"
        )
    raise ConfigError(
        f"Expected release blobstore to be configured: unknown 'blobstore.provider' '{provider}'"
        f" in config '{config.public_path}' (supported: {', '.join(BLOBSTORE_PROVIDERS)})"
    )
