"""Reading a blob back checked against the digest recorded for it.

Any `Blobstore`'s ``get`` writes what the store holds; `get_verified` also checks it
against the digest the caller recorded when the blob was stored (a job's or package's
``sha1`` column, a compiled package's), as the reference's blobstore clients do on get.
The blob is fetched to a staged file beside `destination` and renamed onto it only once
its digest matches: a corrupt blob never appears under `destination`, and a failed check
leaves no file behind. The implementers (local, dav, s3) stay unaware of digests.
"""

from __future__ import annotations

from pathlib import Path

from bosh_core.blobstore import Blobstore, staged_destination
from bosh_core.digest import MultipleDigest, file_digest
from bosh_core.errors import BlobstoreError, DigestMismatchError, ReleaseError

__all__ = ["BlobDigestMismatchError", "get_verified"]

_DEFAULT_REMEDY = (
    "store it again from its source (a release's job or package: upload the release"
    " again with 'bosh upload-release --fix')"
)


class BlobDigestMismatchError(BlobstoreError, DigestMismatchError):
    """A blob read back from a blobstore does not match the digest recorded for it."""


def get_verified(
    blobstore: Blobstore,
    *,
    blob_id: str,
    destination: Path,
    digest: MultipleDigest | str | None,
    what: str | None = None,
    remedy: str | None = None,
) -> None:
    """Write the blob to `destination` once its content matches `digest`.

    `digest` is the recorded digest (a `MultipleDigest` or its string form; the
    strongest algorithm in it is checked); None fetches unchecked. `what` names the
    blob for the error ("package 'runtime/1a2b'"), `remedy` says what to do about a
    mismatch. Raises BlobDigestMismatchError on a mismatch, BlobstoreError on a
    malformed recorded digest, and whatever ``blobstore.get`` raises.
    """
    if digest is None:
        blobstore.get(blob_id, destination)
        return
    blob = f"blob '{blob_id}'" + (f" ({what})" if what else "")
    if isinstance(digest, str):
        try:
            digest = MultipleDigest.parse(digest)
        except ReleaseError as error:
            raise BlobstoreError(
                f"Cannot verify {blob}: its recorded digest is malformed: {error}"
            ) from None
    expected = digest.strongest
    with staged_destination(destination) as staged:
        blobstore.get(blob_id, staged)
        actual = file_digest(staged, expected.algorithm)
        if actual != expected:
            raise BlobDigestMismatchError(
                f"The {blob} does not match its recorded digest: expected '{expected}'"
                f" but the blobstore returned '{actual}'. The stored blob is corrupt or"
                f" was replaced; {remedy or _DEFAULT_REMEDY}"
            )
