"""A release directory's configuration: config/final.yml merged with config/private.yml.

final.yml is committed (release name, blobstore provider and public options);
private.yml is not (credentials). Only private.yml's ``blobstore.options`` count, and
they override final.yml's key by key, as in the reference CLI.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from bosh_core import serialization
from bosh_core.blobstore import Blobstore
from bosh_core.errors import ConfigError
from bosh_core.release.files import write_atomically

__all__ = [
    "BLOBSTORE_PROVIDERS",
    "ReleaseDirConfig",
    "go_yaml_key_order",
    "go_yaml_sorted",
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
            section["options"] = go_yaml_sorted(public.blobstore.options)
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


def go_yaml_sorted(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    """`mapping` (and the maps in it) with keys in the order Go's yaml.v2 writes them.

    yaml.v2 sorts map keys "naturally": numbers before strings, and inside strings a run
    of digits compares by its value (``a2`` before ``a10``). Writing the same order as the
    reference keeps files such as blobs.yml identical whichever tool wrote them.
    """
    return {key: _go_sorted_value(mapping[key]) for key in go_yaml_key_order(mapping)}


def _go_sorted_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return go_yaml_sorted(value)
    if isinstance(value, list):
        return [_go_sorted_value(item) for item in value]
    return value


def go_yaml_key_order(keys: Iterable[Any]) -> list[Any]:
    """`keys` sorted as Go's yaml.v2 sorts map keys (see go_yaml_sorted)."""
    return sorted(keys, key=functools.cmp_to_key(_go_compare))


def _go_compare(a: Any, b: Any) -> int:
    a_number, b_number = isinstance(a, int | float), isinstance(b, int | float)
    if a_number and b_number:
        return int(a > b) - int(a < b)
    if a_number != b_number or not (isinstance(a, str) and isinstance(b, str)):
        # yaml.v2 orders other kinds by Go's reflect.Kind, where numbers come before strings.
        return -1 if a_number else 1 if b_number else 0
    return -1 if _go_string_less(a, b) else 1 if _go_string_less(b, a) else 0


def _is_digit(char: str) -> bool:
    return unicodedata.category(char) == "Nd"


def _go_string_less(a: str, b: str) -> bool:
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            continue
        a_letter, b_letter = a[i].isalpha(), b[i].isalpha()
        if a_letter and b_letter:
            return a[i] < b[i]
        if a_letter or b_letter:
            return b_letter
        a_value = b_value = 0
        if a[i] == "0" or b[i] == "0":
            # A zero that continues a number is not a leading zero: seed both as nonzero.
            j = i - 1
            while j >= 0 and _is_digit(a[j]):
                if a[j] != "0":
                    a_value = b_value = 1
                    break
                j -= 1
        a_end, b_end = i, i
        while a_end < len(a) and _is_digit(a[a_end]):
            a_value = a_value * 10 + ord(a[a_end]) - ord("0")
            a_end += 1
        while b_end < len(b) and _is_digit(b[b_end]):
            b_value = b_value * 10 + ord(b[b_end]) - ord("0")
            b_end += 1
        if a_value != b_value:
            return a_value < b_value
        if a_end != b_end:
            return a_end < b_end
        return a[i] < b[i]
    return len(a) < len(b)
