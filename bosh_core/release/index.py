"""The indexes of a release directory and the local archive cache.

- Artifact indexes (``.dev_builds/{jobs,packages}/<name>/index.yml``,
  ``.dev_builds/license/index.yml`` and the same under ``.final_builds``) map a
  fingerprint to the archive digest (and, for final builds, the blobstore id).
- The archives themselves live in the cache (``~/.bosh/cache/<digest>``), shared by every
  release directory of the user, as the reference keeps them; final archives are also
  uploaded to the release blobstore and fetched from it when the cache lacks them.
- Release indexes (``dev_releases/<name>/index.yml``, ``releases/<name>/index.yml``) map
  an id to a version; next to them each version's manifest ``<name>-<version>.yml``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

import attrs

from bosh_core import serialization
from bosh_core.blobstore import Blobstore
from bosh_core.digest import MultipleDigest
from bosh_core.errors import BoshError, ReleaseError
from bosh_core.models.release import (
    ArtifactIndex,
    ArtifactIndexEntry,
    ReleaseIndex,
    ReleaseIndexEntry,
    ReleaseManifest,
)
from bosh_core.models.version import Version

__all__ = [
    "Artifact",
    "ArtifactCache",
    "ArtifactIndexStore",
    "IndexReporter",
    "ReleaseIndexStore",
    "write_atomically",
]


class IndexReporter(Protocol):
    """What the indexes tell the user (the CLI prints these as the reference does)."""

    def adding(self, kind: str, description: str) -> None: ...
    def added(self, kind: str, description: str, *, failed: bool) -> None: ...
    def transfer_started(self, direction: str, description: str, digest: str) -> None: ...
    def transfer_finished(
        self, direction: str, description: str, digest: str, *, failed: bool
    ) -> None: ...
    def release_added(self, index: str, description: str, *, failed: bool) -> None: ...


@attrs.frozen
class Artifact:
    """A built job/package/license archive: where it is and the digest recorded for it."""

    name: str
    fingerprint: str
    digest: str
    path: Path


@contextlib.contextmanager
def write_atomically(destination: Path) -> Iterator[IO[bytes]]:
    """Write `destination` through a temporary file renamed into place on success."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        Path(temporary).replace(destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ArtifactCache:
    """Archives by digest string, e.g. ``~/.bosh/cache/sha256:ab12...``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, digest: str) -> Path:
        parsed = str(MultipleDigest.parse(digest))  # refuses anything that is not a digest
        return self.directory / parsed

    def verified(self, digest: str) -> Path | None:
        """The cached archive for `digest`, checked; None when it is not cached."""
        path = self.path_for(digest)
        if not path.exists():
            return None
        try:
            MultipleDigest.parse(digest).verify_file(path)
        except BoshError as exc:
            raise ReleaseError(
                f"Local copy '{path}' of an archive does not match its digest: {exc}."
                " Remove the file and run the command again"
            ) from None
        return path

    @contextlib.contextmanager
    def writing(self) -> Iterator[tuple[IO[bytes], Callable[[str], Path]]]:
        """A temporary file in the cache and a function that files it under its digest."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".building-")
        stored: list[Path] = []

        def store(digest: str) -> Path:
            stream.flush()
            target = self.path_for(digest)
            Path(temporary).replace(target)
            stored.append(target)
            return target

        try:
            with os.fdopen(fd, "wb") as stream:
                yield stream, store
        finally:
            if not stored:
                Path(temporary).unlink(missing_ok=True)


def _load_document(path: Path) -> Any:
    # Indexes written by the old Ruby CLI carry "!binary" where YAML means "!!binary".
    text = path.read_text().replace(" !binary ", " !!binary ")
    return _decode_binary(serialization.load_yaml(text, source=str(path)) or {})


def _decode_binary(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {_decode_binary(k): _decode_binary(v) for k, v in value.items()}
    return value


class ArtifactIndexStore:
    """One kind (job, package, license) of the dev or final artifact index."""

    def __init__(
        self,
        directory: Path,
        *,
        kind: str,
        per_name: bool,
        cache: ArtifactCache,
        reporter: IndexReporter,
        blobstore: Callable[[], Blobstore] | None = None,
    ) -> None:
        self.directory = directory
        self.kind = kind
        self._per_name = per_name
        self._cache = cache
        self._reporter = reporter
        self._blobstore = blobstore
        self._lock = threading.Lock()

    def _index_path(self, name: str) -> Path:
        return (self.directory / name if self._per_name else self.directory) / "index.yml"

    def _read(self, name: str) -> ArtifactIndex:
        path = self._index_path(name)
        if not path.exists():
            return ArtifactIndex()
        return serialization.structure(_load_document(path), ArtifactIndex, source=str(path))

    def find(self, name: str, fingerprint: str) -> Artifact | None:
        """The archive built for `fingerprint`, from the cache or the blobstore.

        A dev build whose archive left the cache (a wiped ``~/.bosh/cache``) counts as
        not built: it is rebuilt, where the reference would stop with an error.
        """
        for entry in self._read(name).builds.values():
            if entry.version != fingerprint:
                continue
            if self._blobstore is None and self._cache.verified(entry.sha1) is None:
                return None
            return Artifact(name, fingerprint, entry.sha1, self._fetch(name, entry))
        return None

    def _fetch(self, name: str, entry: ArtifactIndexEntry) -> Path:
        cached = self._cache.verified(entry.sha1)
        if cached is not None:
            return cached
        description = f"{name}/{entry.version}"
        if self._blobstore is None or not entry.blobstore_id:
            raise ReleaseError(
                f"Cannot find the archive of {self.kind} '{description}' (digest '{entry.sha1}')"
                f" in the local cache '{self._cache.directory}' and no blobstore holds it"
            )
        self._reporter.transfer_started("download", description, entry.sha1)
        failed = True
        try:
            target = self._cache.path_for(entry.sha1)
            self._blobstore().get(entry.blobstore_id, target)
            MultipleDigest.parse(entry.sha1).verify_file(
                target, what=f"blob '{entry.blobstore_id}' of {self.kind} '{description}'"
            )
            failed = False
            return target
        finally:
            if failed:
                self._cache.path_for(entry.sha1).unlink(missing_ok=True)
            self._reporter.transfer_finished("download", description, entry.sha1, failed=failed)

    def add(self, name: str, fingerprint: str, archive: Path, digest: str) -> Artifact:
        """Record a built archive (already in the cache); final indexes upload it."""
        description = f"{name}/{fingerprint}"
        self._reporter.adding(self.kind, description)
        failed = True
        try:
            blobstore_id = None
            if self._blobstore is not None:
                self._reporter.transfer_started("upload", description, digest)
                try:
                    blobstore_id = self._blobstore().put(archive)
                finally:
                    self._reporter.transfer_finished(
                        "upload", description, digest, failed=blobstore_id is None
                    )
            with self._lock:
                builds = {
                    key: entry
                    for key, entry in self._read(name).builds.items()
                    if entry.version != fingerprint  # a rebuilt archive replaces the old entry
                }
                builds[fingerprint] = ArtifactIndexEntry(
                    version=fingerprint, blobstore_id=blobstore_id, sha1=digest
                )
                self._save(name, ArtifactIndex(dict(sorted(builds.items()))))
            failed = False
        finally:
            self._reporter.added(self.kind, description, failed=failed)
        return Artifact(name, fingerprint, digest, archive)

    def _save(self, name: str, index: ArtifactIndex) -> None:
        with write_atomically(self._index_path(name)) as stream:
            stream.write(serialization.dump_yaml(serialization.unstructure(index)).encode())


class ReleaseIndexStore:
    """``dev_releases/`` or ``releases/``: the versions of each release name."""

    def __init__(self, directory: Path, *, label: str, reporter: IndexReporter) -> None:
        self.directory = directory
        self.label = label
        self._reporter = reporter

    def _index_path(self, name: str) -> Path:
        return self.directory / name / "index.yml"

    def manifest_path(self, name: str, version: str) -> Path:
        return self.directory / name / f"{name}-{version}.yml"

    def _read(self, name: str) -> ReleaseIndex:
        if not name:
            raise ReleaseError("Expected non-empty release name")
        path = self._index_path(name)
        if not path.exists():
            return ReleaseIndex()
        return serialization.structure(_load_document(path), ReleaseIndex, source=str(path))

    def versions(self, name: str) -> list[Version]:
        return sorted(Version.parse(entry.version) for entry in self._read(name).builds.values())

    def last_version(self, name: str) -> Version | None:
        versions = self.versions(name)
        return versions[-1] if versions else None

    def contains(self, name: str, version: str) -> bool:
        return any(entry.version == version for entry in self._read(name).builds.values())

    def read_manifest(self, name: str, version: str) -> ReleaseManifest:
        path = self.manifest_path(name, version)
        return serialization.structure(_load_document(path), ReleaseManifest, source=str(path))

    def add(self, manifest: ReleaseManifest) -> None:
        description = f"{manifest.name}/{manifest.version}"
        index = self._read(manifest.name)
        if self.contains(manifest.name, manifest.version):
            raise ReleaseError(f"Release version '{manifest.version}' already exists")
        failed = True
        try:
            with write_atomically(self.manifest_path(manifest.name, manifest.version)) as stream:
                stream.write(serialization.dump_yaml(serialization.unstructure(manifest)).encode())
            builds = {**index.builds, str(uuid.uuid4()): ReleaseIndexEntry(manifest.version)}
            with write_atomically(self._index_path(manifest.name)) as stream:
                document = ReleaseIndex(dict(sorted(builds.items())))
                stream.write(serialization.dump_yaml(serialization.unstructure(document)).encode())
            failed = False
        finally:
            self._reporter.release_added(self.label, description, failed=failed)
