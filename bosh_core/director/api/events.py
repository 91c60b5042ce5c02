"""Event routes: ``GET /events`` (filters, newest first, at most 200), ``GET /events/:id``
and ``POST /events`` (what the Health Monitor's event logger sends)."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from bosh_core.director.api.app import DirectorDependency
from bosh_core.director.api.errors import consumes
from bosh_core.director.errors import EventNotFoundError, ValidationInvalidType
from bosh_core.director.events import parse_event_time

__all__ = ["ROUTES"]

_MAX_ID = 2**63 - 1


def _bad_parameter(name: str, value: str) -> Response[str]:
    # The reference's wording, trailing space included.
    return Response(
        f"Invalid {name} parameter: '{value}' ", status_code=400, media_type="text/plain"
    )


def _ruby_to_i(text: str) -> int:
    digits = ""
    for char in text.strip():
        if char.isdigit() or (not digits and char in "+-"):
            digits += char
        else:
            break
    try:
        return int(digits)
    except ValueError:
        return 0


@get("/events", summary="Events, newest first (at most 200)")
async def list_events(
    director: DirectorDependency,
    before_id: FromQuery[str | None] = None,
    before_time: FromQuery[str | None] = None,
    after_time: FromQuery[str | None] = None,
    task: FromQuery[str | None] = None,
    deployment: FromQuery[str | None] = None,
    instance: FromQuery[str | None] = None,
    user: FromQuery[str | None] = None,
    action: FromQuery[str | None] = None,
    object_type: FromQuery[str | None] = None,
    object_name: FromQuery[str | None] = None,
    object_id: Annotated[
        str | None, QueryParameter(description="older name of object_name")
    ] = None,
) -> Response[Any]:
    try:
        before = None if before_time is None else parse_event_time(before_time)
    except ValidationInvalidType:
        return _bad_parameter("before", before_time or "")
    try:
        after = None if after_time is None else parse_event_time(after_time)
    except ValidationInvalidType:
        return _bad_parameter("after", after_time or "")
    query = functools.partial(
        director.events.list,
        before_id=None if before_id is None else _ruby_to_i(before_id),
        before=before,
        after=after,
        task=task,
        deployment=deployment,
        instance=instance,
        user=user,
        action=action,
        object_type=object_type,
        object_name=object_name if object_name is not None else object_id,
    )
    records = await anyio.to_thread.run_sync(query)
    return Response([record.to_api() for record in records], media_type="application/json")


@get("/events/{event_id:str}", sync_to_thread=True, summary="One event")
def show_event(director: DirectorDependency, event_id: FromPath[str]) -> dict[str, Any]:
    record = None
    if event_id.isascii() and event_id.isdigit() and int(event_id) <= _MAX_ID:
        record = director.events.get(int(event_id))
    if record is None:
        raise EventNotFoundError(f"Event {event_id} not found")
    return record.to_api()


@post(
    "/events",
    guards=[consumes("application/json")],
    status_code=200,
    summary="Record an event: {action, object_type, object_name, deployment?, instance?, "
    "error?, context?, timestamp?}",
)
async def create_event(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> Response[str | None]:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except ValueError as error:
        raise ValidationInvalidType(f"Invalid JSON body: {error}") from error
    if not isinstance(payload, dict) or any(
        payload.get(key) is None for key in ("action", "object_type", "object_name")
    ):
        raise ValidationInvalidType("Action, object_type, object_name are required")
    context = payload.get("context")
    if context is not None and not isinstance(context, dict):
        raise ValidationInvalidType("Context must be a hash")
    timestamp = None
    if payload.get("timestamp") is not None:
        try:
            timestamp = parse_event_time(str(payload["timestamp"]))
        except ValidationInvalidType:
            return Response(
                f"Invalid timestamp parameter: '{payload['timestamp']}' ",
                status_code=400,
                media_type="text/plain",
            )

    def record() -> None:
        director.events.record(
            user=str(request.user),
            action=str(payload["action"]),
            object_type=str(payload["object_type"]),
            object_name=str(payload["object_name"]),
            deployment=_optional_text(payload.get("deployment")),
            instance=_optional_text(payload.get("instance")),
            error=payload.get("error"),
            context=context,
            timestamp=timestamp,
        )

    await anyio.to_thread.run_sync(record)
    return Response(None, status_code=200)


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


ROUTES = [list_events, show_event, create_event]
