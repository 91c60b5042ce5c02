"""Blobstores: where release blobs and final job/package archives are kept.

A blobstore stores files under ids it chooses (uuid4 strings, as the reference does) and
gives them back by id. Implementations: ``local`` (a directory) and ``s3``; the S3 one
imports boto3 only when it is used, so importing this package stays light. A blob whose
digest was recorded is read back with `bosh_core.blobstore.verified.get_verified`, which
checks it against that digest.
"""

from __future__ import annotations

import abc
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Blobstore", "staged_destination"]


class Blobstore(abc.ABC):
    """Put, get, delete and test files by blob id."""

    @abc.abstractmethod
    def put(self, source: Path) -> str:
        """Store the file at `source`; returns the new blob id."""

    @abc.abstractmethod
    def get(self, blob_id: str, destination: Path) -> None:
        """Write the blob to `destination`, which only appears once it is complete.

        Raises BlobNotFoundError when there is no such blob.
        """

    @abc.abstractmethod
    def delete(self, blob_id: str) -> None:
        """Remove the blob; removing a blob that does not exist is not an error."""

    @abc.abstractmethod
    def exists(self, blob_id: str) -> bool: ...


@contextlib.contextmanager
def staged_destination(destination: Path, *, mode: int = 0o666) -> Iterator[Path]:
    """A temporary path beside `destination`, renamed onto it when the block succeeds.

    Beside, so the rename stays on one filesystem and is atomic: a reader never sees a
    half-written blob, and an interrupted transfer leaves no file under the final name.
    The file is created with `mode` less the umask.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    staged = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:12]}.part")
    # The default 0o666 lets the umask decide the mode, as for any file the user writes
    # (mkstemp would leave every blob readable by its owner only).
    os.close(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    try:
        yield staged
        staged.replace(destination)
    finally:
        staged.unlink(missing_ok=True)
