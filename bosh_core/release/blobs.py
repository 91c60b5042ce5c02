"""Release blobs: large files tracked in config/blobs.yml and kept in blobs/.

config/blobs.yml maps a blob path to its size, digest (``sha``) and, once uploaded,
its blobstore id (``object_id``)::

    golang/go1.22.linux-amd64.tar.gz:
      size: 68988925
      object_id: 36764f38-6274-4a5d-8faa-26c31a745cb2
      sha: sha256:904b924d435eaea086515bc63235b192ea441bd8c9b198c507e85009e6e4c7f0

The file itself is ``blobs/<path>``. ``add-blob`` copies a file there and records it
(without an object_id); ``upload-blobs`` puts the unrecorded ones in the release
blobstore; ``sync-blobs`` (and create-release) downloads what is missing or does not
match its digest, and deletes files in blobs/ that blobs.yml does not list.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Protocol

import attrs

from bosh_core import go_yaml, serialization
from bosh_core.blobstore import Blobstore, staged_destination
from bosh_core.digest import DEFAULT_ALGORITHM, Digest, MultipleDigest
from bosh_core.errors import (
    BoshError,
    DigestMismatchError,
    ReleaseError,
)
from bosh_core.release.config import (
    load_release_config,
    open_release_blobstore,
)
from bosh_core.release.files import remove_path, write_atomically, write_yaml

__all__ = ["EMPTY_BLOBS_INDEX", "BlobEntry", "BlobsDir", "BlobsReporter"]

log = logging.getLogger(__name__)

# What init-release writes (the reference's exact text).
EMPTY_BLOBS_INDEX = "--- {}\n"
# Attempts at a download whose bytes do not match the digest (a transfer gone wrong);
# connection failures are retried inside the blobstore client.
_DOWNLOAD_ATTEMPTS = 3
_CHUNK = 1024 * 1024


class BlobsReporter(Protocol):
    """What blob transfers tell the user (the CLI words them as the reference does)."""

    def blob_download_started(self, path: str, *, size: int, blob_id: str, digest: str) -> None: ...
    def blob_download_finished(
        self, path: str, *, blob_id: str, error: BaseException | None
    ) -> None: ...
    def blob_upload_started(self, path: str, *, size: int, digest: str) -> None: ...
    def blob_upload_finished(
        self, path: str, *, blob_id: str, error: BaseException | None
    ) -> None: ...


class _SilentReporter:
    def blob_download_started(self, path: str, *, size: int, blob_id: str, digest: str) -> None:
        pass

    def blob_download_finished(
        self, path: str, *, blob_id: str, error: BaseException | None
    ) -> None:
        pass

    def blob_upload_started(self, path: str, *, size: int, digest: str) -> None:
        pass

    def blob_upload_finished(self, path: str, *, blob_id: str, error: BaseException | None) -> None:
        pass


@attrs.frozen
class BlobEntry:
    path: str
    size: int
    sha: str
    object_id: str | None = None


@attrs.frozen
class _Record:
    """One value of blobs.yml; absent keys read as Go's zero values, as the reference."""

    size: int = 0
    sha: str = ""
    object_id: str = ""


class BlobsDir:
    """config/blobs.yml and blobs/ of one release directory."""

    def __init__(
        self,
        release_dir: Path,
        *,
        reporter: BlobsReporter | None = None,
        blobstore: Callable[[], Blobstore] | None = None,
    ) -> None:
        """`blobstore` makes the release blobstore when first needed; by default it is
        the one config/final.yml names (so listing or adding blobs needs no blobstore)."""
        self.release_dir = release_dir
        self.index_path = release_dir / "config" / "blobs.yml"
        self.blobs_path = release_dir / "blobs"
        self._reporter: BlobsReporter = reporter or _SilentReporter()
        self._make_blobstore = blobstore or self._configured_blobstore
        self._blobstore: Blobstore | None = None
        self._blobstore_lock = threading.Lock()  # parallel downloads and uploads share it

    def init(self) -> None:
        """Start an empty blobs.yml (init-release)."""
        with write_atomically(self.index_path) as stream:
            stream.write(EMPTY_BLOBS_INDEX.encode())

    def blobs(self) -> list[BlobEntry]:
        """The entries of config/blobs.yml, sorted by path."""
        source = f"blobs index '{self.index_path}'"
        try:
            text = self.index_path.read_bytes()
        except FileNotFoundError:
            raise ReleaseError(
                f"Reading blobs index: '{self.index_path}' does not exist;"
                " run 'bosh init-release' or create it containing '--- {}'"
            ) from None
        except OSError as exc:
            raise ReleaseError(f"Reading blobs index '{self.index_path}': {exc.strerror}") from None
        records = serialization.load_yaml_as(text, dict[str, _Record], source=source)
        entries = []
        for path, record in records.items():
            self._local_path(path)
            entries.append(BlobEntry(path, record.size, record.sha, record.object_id or None))
        return sorted(entries, key=lambda entry: entry.path)

    def track(self, source: Path, blob_path: str) -> BlobEntry:
        """Copy `source` to blobs/`blob_path` and record it (add-blob), replacing any entry
        for that path; the new entry has no object_id until upload()."""
        destination = self._local_path(blob_path)
        entries = {entry.path: entry for entry in self.blobs()}
        if source.is_dir():
            raise ReleaseError(f"Cannot add blob from '{source}': it is a directory")
        hasher = hashlib.new(DEFAULT_ALGORITHM)
        size = 0
        try:
            with (
                source.open("rb") as reader,
                staged_destination(destination) as staged,
                staged.open("wb") as writer,
            ):
                while chunk := reader.read(_CHUNK):
                    hasher.update(chunk)
                    writer.write(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise ReleaseError(
                f"Cannot add blob '{blob_path}' from '{source}': {exc.strerror}"
                f" ({exc.filename or source})"
            ) from None
        entry = BlobEntry(blob_path, size, str(Digest(DEFAULT_ALGORITHM, hasher.hexdigest())))
        entries[blob_path] = entry
        self._save(entries.values())
        return entry

    def untrack(self, blob_path: str) -> None:
        """Delete blobs/`blob_path` and its entry (remove-blob).

        As in the reference, a path blobs.yml does not list is not an error: the local
        file, if any, is removed all the same.
        """
        local = self._local_path(blob_path)
        entries = self.blobs()
        try:
            remove_path(local)
        except OSError as exc:
            raise ReleaseError(
                f"Removing blob '{blob_path}' from blobs/: {exc.strerror} ({local})"
            ) from None
        remaining = [entry for entry in entries if entry.path != blob_path]
        if len(remaining) != len(entries):
            self._save(remaining)

    def sync(self, *, parallel: int) -> None:
        """Make blobs/ hold exactly the uploaded blobs of blobs.yml, each verified.

        Files blobs.yml does not list are deleted; a listed file that is missing or does
        not match its digest is downloaded again. Blobs never uploaded are left alone.
        """
        entries = self.blobs()
        self._refuse_symlinks()
        self._remove_unknown_files(entries)
        stale: list[BlobEntry] = []

        def check(entry: BlobEntry) -> None:
            if not self._is_current(entry):
                stale.append(entry)

        _in_pool(check, [entry for entry in entries if entry.object_id], workers=parallel)
        if stale:
            self.blobstore()  # a configuration problem is reported once, not per blob
            stale.sort(key=lambda entry: entry.path)
            _in_pool(self._download, stale, workers=parallel)

    def upload(self) -> None:
        """Put every blob without an object_id in the blobstore and record its id.

        blobs.yml is saved after each upload, so ids of blobs already uploaded survive a
        later failure.
        """
        entries = {entry.path: entry for entry in self.blobs()}
        for entry in list(entries.values()):
            if entry.object_id:
                continue
            blob_id = self._upload(entry)
            entries[entry.path] = attrs.evolve(entry, object_id=blob_id)
            try:
                self._save(entries.values())
            except BoshError as exc:
                # The id is in the message so the uploaded object can be found and cleaned up.
                raise ReleaseError(
                    f"Saving newly created blob '{blob_id}' for path '{entry.path}': {exc}"
                ) from None

    def _upload(self, entry: BlobEntry) -> str:
        self._reporter.blob_upload_started(entry.path, size=entry.size, digest=entry.sha)
        try:
            local = self.blobs_path / entry.path
            # Refuse to publish bytes that do not match blobs.yml: every later sync would
            # fail against the uploaded object.
            _parse_digest(entry).verify_file(local, what=f"blob '{entry.path}' ({local})")
            blob_id = self.blobstore().put(local)
        except BoshError as exc:
            self._reporter.blob_upload_finished(entry.path, blob_id="", error=exc)
            raise _wrapped(exc, f"Creating blob for path '{entry.path}'") from None
        except OSError as exc:
            self._reporter.blob_upload_finished(entry.path, blob_id="", error=exc)
            raise ReleaseError(
                f"Creating blob for path '{entry.path}': {exc.strerror} ({exc.filename})"
            ) from None
        self._reporter.blob_upload_finished(entry.path, blob_id=blob_id, error=None)
        return blob_id

    def _is_current(self, entry: BlobEntry) -> bool:
        """Whether blobs/ already holds `entry` with the right bytes."""
        local = self.blobs_path / entry.path
        digest = _parse_digest(entry)
        if not local.is_file():
            return False
        try:
            digest.verify_file(local)
        except DigestMismatchError:
            # Info, not error: the reference keeps this for its debug log, not the screen.
            log.info("Incorrect SHA sum for blob at '%s'. Re-downloading from blobstore.", local)
            return False
        return True

    def _download(self, entry: BlobEntry) -> None:
        assert entry.object_id is not None
        digest = _parse_digest(entry)
        destination = self.blobs_path / entry.path
        self._reporter.blob_download_started(
            entry.path, size=entry.size, blob_id=entry.object_id, digest=entry.sha
        )
        try:
            self._fetch(entry, digest, destination)
        except BoshError as exc:
            self._reporter.blob_download_finished(entry.path, blob_id=entry.object_id, error=exc)
            raise _wrapped(
                exc, f"Getting blob '{entry.object_id}' for path '{entry.path}'"
            ) from None
        self._reporter.blob_download_finished(entry.path, blob_id=entry.object_id, error=None)

    def _fetch(self, entry: BlobEntry, digest: MultipleDigest, destination: Path) -> None:
        """Download into place only once the bytes match the digest."""
        assert entry.object_id is not None
        blobstore = self.blobstore()
        for attempt in range(1, _DOWNLOAD_ATTEMPTS + 1):
            try:
                with staged_destination(destination) as staged:
                    blobstore.get(entry.object_id, staged)
                    digest.verify_file(staged, what=f"downloaded blob '{entry.object_id}'")
                return
            except DigestMismatchError:
                if attempt == _DOWNLOAD_ATTEMPTS:
                    raise
                log.info("Blob '%s' did not match its digest; attempt %d", entry.path, attempt)
            except OSError as exc:
                raise ReleaseError(
                    f"Cannot write blob to '{destination}': {exc.strerror}"
                ) from None

    def blobstore(self) -> Blobstore:
        """The release blobstore, made once (thread-safe) when first needed."""
        with self._blobstore_lock:
            if self._blobstore is None:
                self._blobstore = self._make_blobstore()
            return self._blobstore

    def _configured_blobstore(self) -> Blobstore:
        return open_release_blobstore(self.release_dir, load_release_config(self.release_dir))

    def _local_path(self, blob_path: str) -> Path:
        """blobs/`blob_path`, refusing paths that leave blobs/ (blobs.yml is editable)."""
        if not _is_local(blob_path):
            raise ReleaseError(f"Invalid blob path '{blob_path}': must be a safe local path")
        return self.blobs_path / blob_path

    def _files(self) -> Iterator[Path]:
        if not self.blobs_path.is_dir():
            return
        for directory, subdirectories, files in os.walk(self.blobs_path):
            for name in [*subdirectories, *files]:
                yield Path(directory, name)

    def _refuse_symlinks(self) -> None:
        if any(path.is_symlink() for path in self._files()):
            raise ReleaseError(
                "Bailing because symlinks found in blobs directory. If switching from CLI v1,"
                " please use the `reset-release` command."
            )

    def _remove_unknown_files(self, entries: Sequence[BlobEntry]) -> None:
        known = {os.path.normpath(self.blobs_path / entry.path) for entry in entries}
        for path in list(self._files()):
            if path.is_dir() or os.path.normpath(path) in known:
                continue
            log.info("Deleting blob at '%s' that is not in the blob index.", path)
            try:
                path.unlink()
            except OSError as exc:
                raise ReleaseError(
                    f"Syncing blobs: Removing unknown blob '{path}': {exc.strerror}"
                ) from None

    def _save(self, entries: Iterable[BlobEntry]) -> None:
        by_path = {entry.path: entry for entry in entries}
        # Paths in yaml.v2's order, fields in the reference's struct order.
        document = {
            path: {
                "size": by_path[path].size,
                **({"object_id": by_path[path].object_id} if by_path[path].object_id else {}),
                "sha": by_path[path].sha,
            }
            for path in go_yaml.key_order(by_path)
        }
        write_yaml(self.index_path, document, what="blobs index")


def _is_local(path: str) -> bool:
    """Go's filepath.IsLocal on POSIX: relative, not empty, and not climbing out."""
    if not path or path.startswith("/"):
        return False
    parts = PurePosixPath(os.path.normpath(path)).parts
    return bool(parts) and parts[0] not in ("..", ".")


def _in_pool(task: Callable[[BlobEntry], None], entries: list[BlobEntry], *, workers: int) -> None:
    """Run `task` on every entry with up to `workers` threads, as the reference's pool:
    a worker stops at its first failure while the others go on; every failure is raised."""
    pending: queue.SimpleQueue[BlobEntry] = queue.SimpleQueue()
    for entry in entries:
        pending.put(entry)
    failures: list[BoshError] = []

    def worker() -> None:
        while True:
            try:
                entry = pending.get_nowait()
            except queue.Empty:
                return
            try:
                task(entry)
            except BoshError as exc:
                failures.append(exc)
                return

    count = max(1, min(workers, len(entries)))
    if count == 1:
        worker()
    else:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="blobs") as pool:
            for started in [pool.submit(worker) for _ in range(count)]:
                started.result()  # re-raises what is not a BoshError (a bug)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise ReleaseError("\n".join(str(failure) for failure in failures))


def _parse_digest(entry: BlobEntry) -> MultipleDigest:
    try:
        return MultipleDigest.parse(entry.sha)
    except ReleaseError as exc:
        raise ReleaseError(
            f"Invalid digest '{entry.sha}' of blob '{entry.path}' in config/blobs.yml: {exc}"
        ) from None


def _wrapped(error: BoshError, context: str) -> BoshError:
    """`error` with `context` in front, keeping its class when that class allows it."""
    message = f"{context}: {error}"
    try:
        wrapped = type(error)(message)
    except TypeError:
        wrapped = ReleaseError(message)
    return wrapped
