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
from typing import IO, Protocol, TypeVar

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
from bosh_core.release.files import check_name, write_yaml

__all__ = [
    "Artifact",
    "ArtifactCache",
    "ArtifactIndexStore",
    "IndexReporter",
    "QuietReporter",
    "ReleaseIndexStore",
    "read_release_manifest",
]

Document = TypeVar("Document")


class IndexReporter(Protocol):
    """What the indexes tell the user (the CLI prints these as the reference does)."""

    def adding(self, kind: str, description: str) -> None: ...
    def added(self, kind: str, description: str, *, failed: bool) -> None: ...
    def transfer_started(self, direction: str, description: str, digest: str) -> None: ...
    def transfer_finished(
        self, direction: str, description: str, digest: str, *, failed: bool
    ) -> None: ...
    def release_added(self, index: str, description: str, *, failed: bool) -> None: ...


class QuietReporter:
    """An `IndexReporter` that tells nobody (builds whose caller reports on its own)."""

    def adding(self, kind: str, description: str) -> None:
        pass

    def added(self, kind: str, description: str, *, failed: bool) -> None:
        pass

    def transfer_started(self, direction: str, description: str, digest: str) -> None:
        pass

    def transfer_finished(
        self, direction: str, description: str, digest: str, *, failed: bool
    ) -> None:
        pass

    def release_added(self, index: str, description: str, *, failed: bool) -> None:
        pass


@attrs.frozen
class Artifact:
    """A built job/package/license archive: where it is and the digest recorded for it."""

    name: str
    fingerprint: str
    digest: str
    path: Path


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
        except OSError as exc:
            raise ReleaseError(f"Cannot read cached archive '{path}': {exc.strerror}") from None
        return path

    @contextlib.contextmanager
    def writing(self) -> Iterator[tuple[IO[bytes], Callable[[str], Path]]]:
        """A temporary file in the cache and a function that files it under its digest.

        Archives in the cache are readable by their owner only (mkstemp's 0600), as the
        reference's are; they keep that mode inside release tarballs.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".building-")
        except OSError as exc:
            raise self._unwritable(exc) from None
        stored: list[Path] = []

        def store(digest: str) -> Path:
            target = self.path_for(digest)
            try:
                stream.flush()
                Path(temporary).replace(target)
            except OSError as exc:
                raise self._unwritable(exc) from None
            stored.append(target)
            return target

        try:
            with os.fdopen(fd, "wb") as stream:
                yield stream, store
        finally:
            if not stored:
                Path(temporary).unlink(missing_ok=True)

    def _unwritable(self, exc: OSError) -> ReleaseError:
        return ReleaseError(
            f"Cannot write to the archive cache '{self.directory}': {exc.strerror}"
            f" ('{exc.filename or self.directory}'); make it a writable directory"
        )


def _read_document(path: Path, cls: type[Document], *, what: str) -> Document:
    """Read and check the index or manifest at `path`; every failure names the file."""
    try:
        # Indexes written by the old Ruby CLI carry "!binary" where YAML means "!!binary".
        text = path.read_bytes().decode().replace(" !binary ", " !!binary ")
    except OSError as exc:
        raise ReleaseError(f"Cannot read {what} '{path}': {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ReleaseError(
            f"Cannot read {what} '{path}': it is not UTF-8 text (byte {exc.start})"
        ) from None
    return serialization.load_yaml_as(text, cls, source=f"{what} '{path}'")


def read_release_manifest(path: Path) -> ReleaseManifest:
    """A release manifest of ``dev_releases/`` or ``releases/`` (``<name>-<version>.yml``)."""
    return _read_document(path, ReleaseManifest, what="release manifest")


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
        if not self._per_name:
            return self.directory / "index.yml"
        check_name(name, kind=self.kind.capitalize())
        return self.directory / name / "index.yml"

    def _read(self, name: str) -> ArtifactIndex:
        path = self._index_path(name)
        if not path.exists():
            return ArtifactIndex()
        index = _read_document(path, ArtifactIndex, what=f"{self.kind} index")
        for entry in index.builds.values():
            try:
                MultipleDigest.parse(entry.sha1)
            except ReleaseError as exc:
                raise ReleaseError(
                    f"Invalid {self.kind} index '{path}': build '{entry.version}': {exc}"
                ) from None
        return index

    def find(self, name: str, fingerprint: str) -> Artifact | None:
        """The archive built for `fingerprint`, from the cache or the blobstore.

        A dev build whose archive left the cache (a wiped ``~/.bosh/cache``) counts as
        not built: it is rebuilt, where the reference would stop with an error.
        """
        entry = next(
            (e for e in self._read(name).builds.values() if e.version == fingerprint), None
        )
        if entry is None:
            return None
        path = self._cache.verified(entry.sha1)
        if path is None:
            if self._blobstore is None:
                return None
            path = self._download(name, entry, self._blobstore)
        return Artifact(name, fingerprint, entry.sha1, path)

    def _download(
        self, name: str, entry: ArtifactIndexEntry, blobstore: Callable[[], Blobstore]
    ) -> Path:
        """Fetch a final build missing from the cache from the blobstore, verified."""
        description = f"{name}/{entry.version}"
        if not entry.blobstore_id:
            raise ReleaseError(
                f"Cannot find the archive of {self.kind} '{description}' (digest '{entry.sha1}')"
                f" in the local cache '{self._cache.directory}' and no blobstore holds it"
            )
        self._reporter.transfer_started("download", description, entry.sha1)
        failed = True
        try:
            target = self._cache.path_for(entry.sha1)
            blobstore().get(entry.blobstore_id, target)
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
                write_yaml(
                    self._index_path(name),
                    ArtifactIndex(dict(sorted(builds.items()))),
                    what=f"{self.kind} index",
                )
            failed = False
        finally:
            self._reporter.added(self.kind, description, failed=failed)
        return Artifact(name, fingerprint, digest, archive)


class ReleaseIndexStore:
    """``dev_releases/`` or ``releases/``: the versions of each release name."""

    def __init__(self, directory: Path, *, label: str, reporter: IndexReporter) -> None:
        self.directory = directory
        self.label = label
        self._reporter = reporter

    def _release_directory(self, name: str) -> Path:
        if not name:
            raise ReleaseError("Expected non-empty release name")
        check_name(name, kind="Release")
        return self.directory / name

    def _index_path(self, name: str) -> Path:
        return self._release_directory(name) / "index.yml"

    def manifest_path(self, name: str, version: str) -> Path:
        return self._release_directory(name) / f"{name}-{version}.yml"

    def _read(self, name: str) -> ReleaseIndex:
        path = self._index_path(name)
        if not path.exists():
            return ReleaseIndex()
        return _read_document(path, ReleaseIndex, what=f"{self.label} release index")

    def versions(self, name: str) -> list[Version]:
        return sorted(Version.parse(entry.version) for entry in self._read(name).builds.values())

    def last_version(self, name: str) -> Version | None:
        versions = self.versions(name)
        return versions[-1] if versions else None

    def contains(self, name: str, version: str) -> bool:
        return any(entry.version == version for entry in self._read(name).builds.values())

    def add(self, manifest: ReleaseManifest) -> None:
        description = f"{manifest.name}/{manifest.version}"
        index = self._read(manifest.name)
        if any(entry.version == manifest.version for entry in index.builds.values()):
            raise ReleaseError(f"Release version '{manifest.version}' already exists")
        failed = True
        try:
            write_yaml(
                self.manifest_path(manifest.name, manifest.version),
                manifest,
                what="release manifest",
            )
            builds = {**index.builds, str(uuid.uuid4()): ReleaseIndexEntry(manifest.version)}
            write_yaml(
                self._index_path(manifest.name),
                ReleaseIndex(dict(sorted(builds.items()))),
                what=f"{self.label} release index",
            )
            failed = False
        finally:
            self._reporter.release_added(self.label, description, failed=failed)
