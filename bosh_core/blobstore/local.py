"""The ``local`` release blobstore: one file per blob id in a directory."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from bosh_core.blobstore import Blobstore, staged_destination
from bosh_core.errors import BlobNotFoundError, BlobstoreError

__all__ = ["LocalBlobstore"]

# The reference creates the store directory group-writable: a team shares it.
_DIRECTORY_MODE = 0o770


class LocalBlobstore(Blobstore):
    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"LocalBlobstore({str(self.path)!r})"

    def put(self, source: Path) -> str:
        blob_id = str(uuid.uuid4())
        try:
            self.path.mkdir(mode=_DIRECTORY_MODE, parents=True, exist_ok=True)
            with staged_destination(self._blob_path(blob_id)) as staged:
                shutil.copyfile(source, staged)
        except OSError as exc:
            raise BlobstoreError(
                f"Cannot store '{source}' in the local blobstore '{self.path}': {exc.strerror}"
            ) from None
        return blob_id

    def get(self, blob_id: str, destination: Path) -> None:
        blob = self._blob_path(blob_id)
        try:
            with staged_destination(destination) as staged:
                shutil.copyfile(blob, staged)
        except OSError as exc:
            if not blob.is_file():
                raise BlobNotFoundError(
                    f"Blob '{blob_id}' not found in the local blobstore '{self.path}'"
                ) from None
            raise BlobstoreError(
                f"Cannot copy blob '{blob_id}' from the local blobstore '{self.path}'"
                f" to '{destination}': {exc.strerror}"
            ) from None

    def delete(self, blob_id: str) -> None:
        try:
            self._blob_path(blob_id).unlink(missing_ok=True)
        except OSError as exc:
            raise BlobstoreError(
                f"Cannot delete blob '{blob_id}' from the local blobstore '{self.path}':"
                f" {exc.strerror}"
            ) from None

    def exists(self, blob_id: str) -> bool:
        return self._blob_path(blob_id).is_file()

    def _blob_path(self, blob_id: str) -> Path:
        # Ids come from index files anyone can edit; one must not name a file elsewhere.
        if not blob_id or blob_id in (".", "..") or "/" in blob_id or "\\" in blob_id:
            raise BlobstoreError(
                f"Invalid blob id '{blob_id}': expected a plain file name such as a uuid"
            )
        return self.path / blob_id
