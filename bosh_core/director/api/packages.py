"""``POST /packages/matches`` and ``/packages/matches_compiled``: given a release.MF
(YAML), the fingerprints of the packages the director already has, so that
``bosh upload-release`` can leave them out of the tarball it sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from litestar import Request, post
from sqlalchemy.orm import Session

from bosh_core.director import views
from bosh_core.director.api.app import Director, DirectorDependency
from bosh_core.director.api.errors import consumes
from bosh_core.director.errors import BadManifestError
from bosh_core.errors import YAMLError
from bosh_core.yaml_loading import load_yaml

__all__ = ["ROUTES"]


async def _match(
    request: Request[Any, Any, Any],
    director: Director,
    matcher: Callable[[Session, Any], list[str]],
) -> list[str]:
    body = await request.body()
    try:
        manifest = load_yaml(body, source="the release manifest in the request")
    except YAMLError as error:
        raise BadManifestError(str(error)) from None

    def match() -> list[str]:
        with director.database.read() as session:
            return matcher(session, manifest)

    return await anyio.to_thread.run_sync(match)


@post(
    "/packages/matches",
    guards=[consumes("text/yaml")],
    status_code=200,
    summary="Fingerprints of a release.MF's source packages the director has",
)
async def match_packages(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> list[str]:
    return await _match(request, director, views.matching_packages)


@post(
    "/packages/matches_compiled",
    guards=[consumes("text/yaml")],
    status_code=200,
    summary="Fingerprints of a compiled release.MF's packages the director has",
)
async def match_compiled_packages(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> list[str]:
    return await _match(request, director, views.matching_compiled_packages)


ROUTES = [match_packages, match_compiled_packages]
