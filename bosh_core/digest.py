"""BOSH digest strings, as written in release.MF, indexes and blobs.yml.

A digest string is one or more ``algo:hex`` entries joined by ``;``; a sha1 is written
bare (no ``sha1:`` prefix), as the reference does. Verification uses the strongest
algorithm present.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

import attrs

from bosh_core.errors import DigestMismatchError, ReleaseError

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "Digest",
    "MultipleDigest",
    "file_digest",
    "stream_digest",
]

ALGORITHMS = ("sha512", "sha256", "sha1")  # strongest first
DEFAULT_ALGORITHM = "sha256"
_HEX_LENGTH = {"sha1": 40, "sha256": 64, "sha512": 128}


@attrs.frozen
class Digest:
    algorithm: str
    hexdigest: str

    def __str__(self) -> str:
        if self.algorithm == "sha1":
            return self.hexdigest
        return f"{self.algorithm}:{self.hexdigest}"

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


@attrs.frozen
class MultipleDigest:
    digests: tuple[Digest, ...]

    def __str__(self) -> str:
        return ";".join(str(d) for d in self.digests)

    @classmethod
    def parse(cls, text: str) -> MultipleDigest:
        """Parse ``sha256:ab..;<sha1 hex>``; raises ReleaseError naming the bad part."""
        digests: list[Digest] = []
        for piece in text.strip().split(";"):
            if not piece:
                continue
            algorithm, sep, value = piece.partition(":")
            if not sep:
                algorithm, value = "sha1", piece
            if algorithm not in _HEX_LENGTH:
                raise ReleaseError(
                    f"Unknown digest algorithm '{algorithm}' in '{text}'."
                    " Supported algorithms: sha1, sha256, sha512"
                )
            if len(value) != _HEX_LENGTH[algorithm] or not _is_hex(value):
                raise ReleaseError(f"Malformed {algorithm} digest '{value}' in '{text}'")
            if any(d.algorithm == algorithm for d in digests):
                raise ReleaseError(
                    f"Multiple digests of the same algorithm '{algorithm}'"
                    f" found in digests '{text}'"
                )
            digests.append(Digest(algorithm, value.lower()))
        if not digests:
            raise ReleaseError(
                f"No digest algorithm found in '{text}'. Supported algorithms: sha1, sha256, sha512"
            )
        return cls(tuple(digests))

    @property
    def strongest(self) -> Digest:
        return min(self.digests, key=lambda d: ALGORITHMS.index(d.algorithm))

    def verify(self, actual: Digest, *, what: str) -> None:
        """Check `actual` (of the strongest algorithm) against this digest."""
        expected = self.strongest
        if actual != expected:
            raise DigestMismatchError(
                f"Expected {what} to have digest '{expected}' but was '{actual}'"
            )

    def verify_file(self, path: Path, *, what: str | None = None) -> None:
        self.verify(file_digest(path, self.strongest.algorithm), what=what or f"'{path}'")


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in value)


def file_digest(path: Path, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
    with path.open("rb") as stream:
        return stream_digest(stream, algorithm)


def stream_digest(stream: IO[bytes], algorithm: str = DEFAULT_ALGORITHM) -> Digest:
    hasher = hashlib.new(algorithm)
    while chunk := stream.read(1 << 20):
        hasher.update(chunk)
    return Digest(algorithm, hasher.hexdigest())
