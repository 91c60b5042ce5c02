"""The one error tree of bosh_core.

Protocol identities (director error codes, CPI wire types, CLI exit codes) are class
attributes, translated only at the edges: the CLI prints ``str(error)`` on one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

__all__ = [
    "BlobNotFoundError",
    "BlobstoreError",
    "BoshError",
    "ConfigError",
    "DigestMismatchError",
    "ManifestError",
    "Problem",
    "ReleaseError",
    "ReleaseTarballError",
    "YAMLError",
]


class BoshError(Exception):
    """Root of every error bosh_core raises on purpose.

    A BoshError is a user-facing condition: its message says what is wrong, where, and
    what to do. The CLI prints it without a traceback.
    """

    exit_code: ClassVar[int] = 1


class Problem(tuple[str, str]):
    """One validation problem: a path (``$.jobs[0].name``) and what is wrong there."""

    __slots__ = ()

    def __new__(cls, path: str, message: str) -> Problem:
        return super().__new__(cls, (path, message))

    @property
    def path(self) -> str:
        return self[0]

    @property
    def message(self) -> str:
        return self[1]

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ManifestError(BoshError, ValueError):
    """A document (manifest, spec, config) is invalid; ``problems`` lists every issue."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems: Sequence[Problem] = tuple(problems)
        if len(self.problems) == 1:
            super().__init__(f"Invalid {source}: {self.problems[0]}")
        else:
            lines = "".join(f"\n  - {problem}" for problem in self.problems)
            super().__init__(f"Invalid {source}:{lines}")


class YAMLError(ManifestError):
    """A YAML document could not be parsed safely (syntax, duplicate keys, limits)."""


class ConfigError(BoshError):
    """A configuration file or option is missing or wrong."""


class ReleaseError(BoshError):
    """A release directory or release artifact cannot be used."""


class ReleaseTarballError(ReleaseError):
    """A release (or job/package) tarball is malformed or unsafe; names the member."""


class DigestMismatchError(ReleaseError):
    """Bytes do not match the digest recorded for them."""


class BlobstoreError(BoshError):
    """A blobstore operation failed."""


class BlobNotFoundError(BlobstoreError):
    """The blobstore has no object with the requested id."""
