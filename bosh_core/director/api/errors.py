"""How the API answers failures, as the reference director does.

- A `DirectorError` becomes its ``http_status`` with ``{"code", "description"}``.
- An unknown route, a known path with another method, or a request whose Content-Type
  the route does not consume answers 404 ``Endpoint '<path>' not found.`` (the reference
  routes on content type too) - but only to an authenticated caller: authentication is
  checked first, so an unauthenticated caller gets the 401 for any path but ``/info``.
- Any other exception is logged and answered 500 with an empty body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ExceptionHandlersMap

from bosh_core.director.api.auth import REALM_HEADER, BasicAuthenticator, not_authorized_body
from bosh_core.director.errors import DirectorError

__all__ = [
    "PUBLIC_PATHS",
    "NotAuthorizedError",
    "consumes",
    "endpoint_not_found",
    "exception_handlers",
    "is_public",
    "unauthorized",
]

logger = logging.getLogger(__name__)

PUBLIC_PATHS = ("/info", "/schema")
"""Paths answered without authentication (and their sub-paths): ``/info`` as in the
reference, and the OpenAPI document."""


def is_public(path: str) -> bool:
    return any(path == public or path.startswith(public + "/") for public in PUBLIC_PATHS)


class NotAuthorizedError(HTTPException):
    """No valid credentials: 401 with the reference's body and header."""

    status_code = 401


def unauthorized(path: str) -> Response[str]:
    return Response(
        not_authorized_body(path),
        status_code=401,
        media_type="text/plain",
        headers={"WWW-Authenticate": REALM_HEADER},
    )


def endpoint_not_found(path: str) -> Response[str]:
    return Response(f"Endpoint '{path}' not found.", status_code=404, media_type="text/plain")


def consumes(*media_types: str) -> Callable[[ASGIConnection[Any, Any, Any, Any], Any], None]:
    """A route guard: requests whose Content-Type (without parameters) is not one of
    `media_types` answer as an unknown route, as the reference's ``consumes`` does."""
    accepted = frozenset(media_type.lower() for media_type in media_types)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        content_type = connection.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() not in accepted:
            raise NotFoundException()

    return guard


def _director_error(_: Request[Any, Any, Any], error: DirectorError) -> Response[dict[str, Any]]:
    logger.debug(
        "Request failed, response code: %s, error code: %s, error message: %s",
        error.http_status,
        error.error_code,
        error,
    )
    return Response(
        {"code": error.error_code, "description": str(error)},
        status_code=error.http_status,
        media_type="application/json",
    )


def _not_authorized(request: Request[Any, Any, Any], _: NotAuthorizedError) -> Response[str]:
    return unauthorized(request.url.path)


def _no_route(request: Request[Any, Any, Any], _: HTTPException) -> Response[str]:
    path = request.url.path
    authenticator: BasicAuthenticator = request.app.state.authenticator
    if (
        not is_public(path)
        and authenticator.authenticate(request.headers.get("authorization")) is None
    ):
        return unauthorized(path)
    return endpoint_not_found(path)


def _http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[str]:
    return Response(
        error.detail, status_code=error.status_code, media_type="text/plain", headers=error.headers
    )


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    logger.error(
        "%s %s failed: %s - %s",
        request.method,
        request.url.path,
        type(error).__name__,
        error,
        exc_info=error,
    )
    return Response(b"", status_code=500, media_type="text/plain")


exception_handlers: ExceptionHandlersMap = {
    DirectorError: _director_error,
    NotAuthorizedError: _not_authorized,
    NotFoundException: _no_route,
    MethodNotAllowedException: _no_route,
    HTTPException: _http_error,
    Exception: _unexpected,
}
"""Litestar ``exception_handlers`` for the director's app."""
