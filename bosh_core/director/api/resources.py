"""``GET /resources/:id``: a blob from the director's blobstore (fetched logs, exported
releases), streamed. The blob is copied to the director's scratch space and the copy
unlinked at once while it stays open, so nothing is left behind however the download
ends; memory does not grow with the blob's size."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import BinaryIO, Final

import anyio.to_thread
from litestar import get
from litestar.params import FromPath
from litestar.response import Stream

from bosh_core.director.api.app import Director, DirectorDependency
from bosh_core.director.errors import ResourceError, ResourceNotFoundError
from bosh_core.errors import BlobNotFoundError, BlobstoreError

__all__ = ["ROUTES"]

_CHUNK: Final = 1024 * 1024


def _open_blob(director: Director, blob_id: str) -> BinaryIO:
    scratch = director.config.tmp_dir
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / f"resource-{uuid.uuid4()}"
    try:
        director.blobstore.get(blob_id, copy)
    except BlobNotFoundError:
        raise ResourceNotFoundError(f"Resource '{blob_id}' not found in the blobstore") from None
    except BlobstoreError as error:
        raise ResourceError(f"Blobstore error accessing resource '{blob_id}': {error}") from None
    try:
        return copy.open("rb")
    finally:
        copy.unlink()


def _chunks(blob: BinaryIO) -> Iterator[bytes]:
    with blob:
        while chunk := blob.read(_CHUNK):
            yield chunk


@get("/resources/{resource_id:str}", summary="Download a blob (logs, exported releases)")
async def download_resource(director: DirectorDependency, resource_id: FromPath[str]) -> Stream:
    blob = await anyio.to_thread.run_sync(_open_blob, director, resource_id)
    size = os.fstat(blob.fileno()).st_size
    return Stream(
        _chunks(blob),
        media_type="application/x-gzip",
        headers={"Content-Length": str(size)},
    )


ROUTES = [download_resource]
