"""Stemcell routes. Reading: ``GET /stemcells`` and ``POST /stemcell_uploads`` (does
any CPI still need this stemcell?). Uploading and deleting add their handlers to
`ROUTES`."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from litestar import Request, get, post

from bosh_core.director import views
from bosh_core.director.api.app import DirectorDependency
from bosh_core.director.errors import ValidationInvalidType, ValidationMissingField

__all__ = ["ROUTES"]


@get("/stemcells", sync_to_thread=True, summary="Stemcells by name, with their deployments")
def list_stemcells(director: DirectorDependency) -> list[dict[str, Any]]:
    with director.database.read() as session:
        return views.stemcells(session)


@post(
    "/stemcell_uploads",
    status_code=200,
    summary='Whether a stemcell needs uploading: {"stemcell": {"name", "version"}}',
)
async def stemcell_upload_needed(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> dict[str, bool]:
    # The reference reads the body as JSON whatever its Content-Type says.
    try:
        payload = json.loads(await request.body())
    except ValueError as error:
        raise ValidationInvalidType(f"Invalid JSON body: {error}") from None
    stemcell = payload.get("stemcell") if isinstance(payload, dict) else None
    if not isinstance(stemcell, dict):
        raise ValidationMissingField("Missing 'stemcell' field")
    for field in ("name", "version"):
        if stemcell.get(field) is None:
            raise ValidationMissingField(f"Missing '{field}' field")

    def needed() -> bool:
        with director.database.read() as session:
            return views.stemcell_needed(session, str(stemcell["name"]), str(stemcell["version"]))

    return {"needed": await anyio.to_thread.run_sync(needed)}


ROUTES = [list_stemcells, stemcell_upload_needed]
