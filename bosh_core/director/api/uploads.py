"""Release and stemcell uploads: ``POST /releases`` and ``POST /stemcells``.

Both take the tarball as the raw request body (``application/x-compressed``, what the
CLI sends) or a JSON ``{"location": URL, "sha1": DIGEST}`` naming where the worker
fetches it. A body is streamed to a file under the director's scratch directory, so
memory stays flat whatever the tarball's size; the file is staged for the task (named
``*.staged``, listed in the payload's `STAGED_FILES`), which removes it however it ends.
The answer is the reference's: ``302 Found`` with ``Location: /tasks/<id>``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Final

import anyio.to_thread
from litestar import Request, Response, post
from litestar.status_codes import HTTP_302_FOUND

from bosh_core.director.api.app import DirectorDependency
from bosh_core.director.api.errors import consumes
from bosh_core.director.api.tasks import query_flag, start_task
from bosh_core.director.errors import ValidationInvalidType
from bosh_core.director.tasks.runner import STAGED_FILES, STAGED_SUFFIX, discard_staged_files

__all__ = ["ROUTES"]

_TARBALL = "application/x-compressed"
_JSON = "application/json"
#: Bytes gathered before one write to disk (each write is one hop to a worker thread).
_WRITE_BATCH: Final = 4 << 20


async def _receive(request: Request[Any, Any, Any], directory: Path, prefix: str) -> Path:
    """The request body, streamed into a new staged file in `directory`; no file is
    left behind when the client goes away mid-upload."""
    await anyio.to_thread.run_sync(lambda: directory.mkdir(parents=True, exist_ok=True))
    descriptor, name = tempfile.mkstemp(prefix=prefix, suffix=STAGED_SUFFIX, dir=directory)
    path = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            batch = bytearray()
            async for chunk in request.stream():
                batch += chunk
                if len(batch) >= _WRITE_BATCH:
                    await anyio.to_thread.run_sync(stream.write, bytes(batch))
                    batch.clear()
            await anyio.to_thread.run_sync(stream.write, bytes(batch))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def _remote(request: Request[Any, Any, Any]) -> dict[str, str]:
    """``{"location", "sha1"?}`` from a JSON body, checked."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        raise ValidationInvalidType("Request body is not valid JSON") from None
    location = body.get("location") if isinstance(body, dict) else None
    if not isinstance(location, str) or not location:
        raise ValidationInvalidType("Expected a JSON body with a non-empty 'location' (a URL)")
    remote = {"location": location}
    sha1 = body.get("sha1")
    if sha1 is not None:
        if not isinstance(sha1, str):
            raise ValidationInvalidType("'sha1' must be a string")
        remote["sha1"] = sha1
    return remote


async def _create_upload_task(
    request: Request[Any, Any, Any],
    director: DirectorDependency,
    *,
    resource: str,
    job_type: str,
    options: dict[str, Any],
    url_sha1_in_query: bool = False,
) -> Response[Any]:
    """The task of an upload; with `url_sha1_in_query` (releases) a URL's digest may be
    the ``sha1`` query parameter instead of the body's, as the reference takes it."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == _JSON:
        payload: dict[str, Any] = {**options, **await _remote(request)}
        query_sha1 = request.query_params.get("sha1") if url_sha1_in_query else None
        if query_sha1 and "sha1" in payload:
            return Response(
                "Sha1 provided in multiple places", status_code=400, media_type="text/plain"
            )
        if query_sha1:
            payload["sha1"] = query_sha1
    else:
        tarball = await _receive(request, director.config.tmp_dir, f"{resource}-upload-")
        payload = {**options, "tarball": str(tarball), STAGED_FILES: [str(tarball)]}
        if sha1 := request.query_params.get("sha1"):
            payload["sha1"] = sha1
    try:
        return await start_task(request, director, job_type, f"create {resource}", payload)
    except BaseException:
        discard_staged_files(payload)
        raise


@post(
    "/releases",
    guards=[consumes(_TARBALL, _JSON)],
    request_max_body_size=None,
    status_code=HTTP_302_FOUND,
    summary="Upload a release: the tarball as the body, or JSON {location, sha1}",
)
async def upload_release(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> Response[Any]:
    return await _create_upload_task(
        request,
        director,
        resource="release",
        job_type="update_release",
        options={"fix": query_flag(request, "fix"), "rebase": query_flag(request, "rebase")},
        url_sha1_in_query=True,
    )


@post(
    "/stemcells",
    guards=[consumes(_TARBALL, _JSON)],
    request_max_body_size=None,
    status_code=HTTP_302_FOUND,
    summary="Upload a stemcell: the tarball as the body, or JSON {location, sha1}",
)
async def upload_stemcell(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> Response[Any]:
    return await _create_upload_task(
        request,
        director,
        resource="stemcell",
        job_type="update_stemcell",
        options={"fix": query_flag(request, "fix")},
    )


ROUTES = [upload_release, upload_stemcell]
