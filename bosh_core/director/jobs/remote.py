"""Fetching a release or stemcell tarball that an upload names by URL, as the reference's
``DownloadHelper`` does: streamed to a file, with its messages; then the optional digest
(``sha1`` or ``sha256:...``, several separated by ``;``) is checked."""

from __future__ import annotations

import logging
from pathlib import Path

from bosh_core.blobstore import staged_destination
from bosh_core.digest import MultipleDigest
from bosh_core.director.errors import ResourceError, ResourceNotFoundError
from bosh_core.errors import BoshError, DigestMismatchError
from bosh_core.urls import redact_url

__all__ = ["download", "verify_digest"]

_log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_TIMEOUT = 60.0


def download(url: str, destination: Path, *, resource: str) -> None:
    """Stream `url` (http or https) into `destination`, which appears only when complete.

    `resource` names what is fetched in the messages ("release", "stemcell"). A missing
    resource raises `ResourceNotFoundError`; any other failure `ResourceError`, with the
    details (never the URL's credentials) in the task's debug log.
    """
    import httpx

    shown = redact_url(url)
    if not url.startswith(("http://", "https://")):
        raise ResourceError(
            f"Downloading remote {resource} failed: '{shown}' is not an http or https URL"
        )
    _log.info("Downloading remote %s from %s", resource, shown)
    try:
        with (
            staged_destination(destination) as staged,
            httpx.stream("GET", url, follow_redirects=True, timeout=_TIMEOUT) as response,
        ):
            if response.status_code == 404:
                raise ResourceNotFoundError(f"No {resource} found at '{shown}'.")
            if response.status_code != 200:
                _log.error("Downloading %s answered HTTP %d", shown, response.status_code)
                raise ResourceError(
                    f"Downloading remote {resource} failed. Check task debug log for details."
                )
            with staged.open("wb") as stream:
                for chunk in response.iter_bytes(_CHUNK):
                    stream.write(chunk)
    except httpx.HTTPError as error:
        _log.error("Downloading %s failed: %s", shown, type(error).__name__)
        raise ResourceError(
            f"Downloading remote {resource} failed. Check task debug log for details."
        ) from None
    _log.info("Downloaded remote %s to %s", resource, destination)


def verify_digest(path: Path, expected: str, *, mismatch: type[BoshError], resource: str) -> None:
    """Check the file at `path` against `expected`; a mismatch raises `mismatch` (the
    reference's ``ReleaseSha1DoesNotMatch``/``StemcellSha1DoesNotMatch``)."""
    try:
        MultipleDigest.parse(expected).verify_file(path, what=f"the {resource}")
    except DigestMismatchError as error:
        raise mismatch(str(error)) from None
