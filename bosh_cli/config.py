"""The CLI's config file (``~/.bosh/config``): environments, their aliases, CA
certificates and log-in credentials, in the reference CLI's format so both CLIs can
share one file::

    environments:
    - url: https://10.0.0.6:25555
      ca_cert: |
        -----BEGIN CERTIFICATE-----
        ...
      alias: vbox
      username: admin
      password: ...

A :class:`CLIConfig` is an immutable snapshot: the ``with_*`` methods return a changed
copy and :meth:`CLIConfig.save` writes it (atomically, mode 0600, since it holds
passwords). Keys this CLI does not know are kept as they were, so a file written by a
newer CLI survives a log-in with this one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from bosh_core import go_yaml
from bosh_core.errors import BoshError, ManifestError, Problem
from bosh_core.yaml_loading import kind_of, load_yaml

__all__ = ["CLIConfig", "ConfigFileError", "Credentials", "EnvironmentEntry"]


class ConfigFileError(BoshError):
    """The config file cannot be read or written."""


@attrs.frozen
class Credentials:
    """How to authenticate: a basic-auth user (or UAA client) and its secret, or the UAA
    tokens a reference CLI stored after a UAA log-in (kept, though this CLI does not use
    them). Secrets stay out of ``repr`` so that no log or traceback shows them."""

    client: str = ""
    client_secret: str = attrs.field(default="", repr=False)
    access_token_type: str = ""
    access_token: str = attrs.field(default="", repr=False)
    refresh_token: str = attrs.field(default="", repr=False)

    @property
    def is_basic_complete(self) -> bool:
        """Both a name and a secret: nothing left to ask for at log-in."""
        return bool(self.client and self.client_secret)

    def description(self) -> str:
        """Who the commands act as, for ``Using environment '<url>' as <description>``."""
        return f"client '{self.client}'" if self.client else "anonymous user"


# Document keys of an environment in the reference's (Go struct) order.
_CREDENTIAL_KEYS: Final = {
    "username": "client",
    "password": "client_secret",
    "access_token_type": "access_token_type",
    "access_token": "access_token",
    "refresh_token": "refresh_token",
}
_ENVIRONMENT_KEYS: Final = ("url", "ca_cert", "alias", *_CREDENTIAL_KEYS)


@attrs.frozen
class EnvironmentEntry:
    """One item of ``environments``; `ca_cert` is the PEM text itself, not a path."""

    url: str
    ca_cert: str = ""
    alias: str = ""
    credentials: Credentials = Credentials()
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    """Keys this CLI does not know, written back unchanged."""

    def matches(self, url_or_alias: str) -> bool:
        return bool(url_or_alias) and url_or_alias in (self.url, self.alias)

    def to_document(self) -> dict[str, Any]:
        """As the reference writes it: ``url`` always, other keys only when set."""
        values = {
            "url": self.url,
            "ca_cert": self.ca_cert,
            "alias": self.alias,
            **{key: getattr(self.credentials, name) for key, name in _CREDENTIAL_KEYS.items()},
        }
        document = {key: value for key, value in values.items() if value or key == "url"}
        return {**document, **self.extra}


@attrs.frozen
class CLIConfig:
    """The config file at `path` (absolute), as read or as it will be written."""

    path: Path
    environments: tuple[EnvironmentEntry, ...] = ()
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CLIConfig:
        """Read the file at `path` (``~`` expanded); a missing file is an empty config."""
        absolute = Path(path).expanduser().absolute()
        try:
            text = absolute.read_bytes()
        except FileNotFoundError:
            return cls(absolute)
        except OSError as error:
            raise ConfigFileError(
                f"Reading config '{absolute}': {error.strerror or error}"
            ) from None
        source = f"CLI config '{absolute}'"
        document = load_yaml(text, source=source)
        return _from_document(absolute, {} if document is None else document, source)

    # -- lookups --------------------------------------------------------------------

    def find(self, url_or_alias: str) -> EnvironmentEntry | None:
        """The environment with this URL or alias, if the file has one."""
        index = self._index_of(url_or_alias)
        return None if index is None else self.environments[index]

    def resolve(self, url_or_alias: str) -> str:
        """The URL an alias stands for; a URL (or anything unknown) as given."""
        entry = self.find(url_or_alias)
        return entry.url if entry is not None else url_or_alias

    def credentials(self, url_or_alias: str) -> Credentials:
        entry = self.find(url_or_alias)
        return entry.credentials if entry is not None else Credentials()

    def ca_cert(self, url_or_alias: str) -> str:
        entry = self.find(url_or_alias)
        return entry.ca_cert if entry is not None else ""

    # -- changes (each returns a new config) -----------------------------------------

    def with_alias(self, *, url: str, alias: str, ca_cert: str) -> CLIConfig:
        """`alias` names `url` with `ca_cert`: the entry with that URL or alias is
        updated (its credentials kept), or a new one appended."""
        if not url:
            raise BoshError("Expected non-empty environment URL (give -e URL)")
        if not alias:
            raise BoshError("Expected non-empty environment alias")
        index = self._index_where(lambda entry: url == entry.url or alias == entry.alias)
        if index is None:
            return self._replacing(None, EnvironmentEntry(url, ca_cert=ca_cert, alias=alias))
        entry = attrs.evolve(self.environments[index], url=url, alias=alias, ca_cert=ca_cert)
        return self._replacing(index, entry)

    def without_alias(self, alias: str) -> CLIConfig:
        """The config without the environment aliased `alias` (its credentials go too)."""
        if not alias:
            raise BoshError("Expected non-empty environment alias")
        kept = tuple(entry for entry in self.environments if entry.alias != alias)
        if len(kept) == len(self.environments):
            raise BoshError(f"alias {alias} not found in '{self.path}' (see `bosh environments`)")
        return attrs.evolve(self, environments=kept)

    def with_credentials(self, url_or_alias: str, credentials: Credentials) -> CLIConfig:
        """`credentials` stored for the environment (a new entry for an unknown URL)."""
        index = self._index_of(url_or_alias)
        if index is None:
            return self._replacing(None, EnvironmentEntry(url_or_alias, credentials=credentials))
        entry = attrs.evolve(self.environments[index], credentials=credentials)
        return self._replacing(index, entry)

    def without_credentials(self, url_or_alias: str) -> CLIConfig:
        """The environment's credentials and tokens removed (unknown ones: unchanged)."""
        index = self._index_of(url_or_alias)
        if index is None:
            return self
        entry = attrs.evolve(self.environments[index], credentials=Credentials())
        return self._replacing(index, entry)

    def _index_of(self, url_or_alias: str) -> int | None:
        return self._index_where(lambda entry: entry.matches(url_or_alias))

    def _index_where(self, wanted: Callable[[EnvironmentEntry], bool]) -> int | None:
        return next((index for index, entry in enumerate(self.environments) if wanted(entry)), None)

    def _replacing(self, index: int | None, entry: EnvironmentEntry) -> CLIConfig:
        environments = list(self.environments)
        if index is None:
            environments.append(entry)
        else:
            environments[index] = entry
        return attrs.evolve(self, environments=tuple(environments))

    # -- writing ----------------------------------------------------------------------

    def to_document(self) -> dict[str, Any]:
        return {
            "environments": [entry.to_document() for entry in self.environments],
            **self.extra,
        }

    def save(self) -> None:
        """Write the file readable by its owner only (mkstemp's mode 0600, as the
        reference's chmod), replacing it in one step so that a crash or a concurrent
        reader never sees half a file.

        A symlinked config (dotfiles kept elsewhere) is written through the link.
        """
        target = Path(os.path.realpath(self.path))
        text = go_yaml.dump(self.to_document(), sort_keys=False)
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".config-")
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                    stream.write(text)
                    stream.flush()
                    os.fsync(stream.fileno())
                Path(temporary).replace(target)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(temporary).unlink()
                raise
        except OSError as error:
            raise ConfigFileError(
                f"Writing config '{self.path}': {error.strerror or error}"
            ) from None


def _from_document(path: Path, document: Any, source: str) -> CLIConfig:
    problems: list[Problem] = []
    if not isinstance(document, Mapping):
        raise ManifestError(source, [Problem("$", f"expected a map, found {kind_of(document)}")])
    items = document.get("environments") or []
    if not isinstance(items, list):
        problems.append(Problem("$.environments", f"expected a list, found {kind_of(items)}"))
        items = []
    environments = []
    for index, item in enumerate(items):
        where = f"$.environments[{index}]"
        if not isinstance(item, Mapping):
            problems.append(Problem(where, f"expected a map, found {kind_of(item)}"))
            continue
        values = {}
        for key in _ENVIRONMENT_KEYS:
            value = item.get(key)
            if value is None:
                values[key] = ""
            elif isinstance(value, Mapping | list):
                problems.append(
                    Problem(f"{where}.{key}", f"expected a string, found {kind_of(value)}")
                )
            else:
                # Go's yaml reads any scalar into a string field (`password: 1234`).
                values[key] = str(value).lower() if isinstance(value, bool) else str(value)
        environments.append(
            EnvironmentEntry(
                url=values.get("url", ""),
                ca_cert=values.get("ca_cert", ""),
                alias=values.get("alias", ""),
                credentials=Credentials(
                    **{name: values.get(key, "") for key, name in _CREDENTIAL_KEYS.items()}
                ),
                extra={key: value for key, value in item.items() if key not in _ENVIRONMENT_KEYS},
            )
        )
    if problems:
        raise ManifestError(source, problems)
    extra = {key: value for key, value in document.items() if key != "environments"}
    return CLIConfig(path, tuple(environments), extra)
