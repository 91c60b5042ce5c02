"""Config routes, shaped as the reference's controllers answer.

- ``/configs`` (JSON): list, show, create (a new version only when the content changed;
  ``expected_latest_id`` guards against concurrent updates with a 412), diff, delete.
- ``/cloud_configs``, ``/runtime_configs``, ``/cpi_configs`` (YAML bodies): the older
  per-type API the CLI's ``update-cloud-config`` and friends still use.

Every attempt to change a config is an event (``config/<type>`` create, or
``cloud-config``/``runtime-config``/``cpi-config`` update), with the error when it failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final

import anyio.to_thread
import attrs
from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter

from bosh_core.director.api.app import Director, DirectorDependency
from bosh_core.director.api.errors import consumes
from bosh_core.director.changeset import diff_documents
from bosh_core.director.configs import (
    DEFAULT_NAME,
    ConfigStore,
    parse_config_content,
    parse_manifest,
    release_versions_as_strings,
    ruby_time,
)
from bosh_core.director.errors import (
    BadConfigError,
    BadConfigRequestError,
    BadExpectedConfigIdError,
    BadManifestError,
    InvalidJsonError,
    ValidationInvalidType,
)
from bosh_core.errors import ManifestError

__all__ = ["ROUTES"]

_PLAIN_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DIFF_FORMATS: Final = (
    "The following request formats are allowed:\n"
    '1. {"from":<config>,"to":<config>} where <config> is either {"id":"<id>"}'
    ' or {"content":"<content>"}\n'
    '2. {"type":"<type>","name":"<name>","content":"<content>"}'
)


def _store(director: Director) -> ConfigStore:
    return ConfigStore(director.database)


def _record_event(
    director: Director,
    request: Request[Any, Any, Any],
    *,
    action: str,
    object_type: str,
    object_name: str | None,
    error: BaseException | None = None,
) -> None:
    director.events.record(
        user=str(request.user),
        action=action,
        object_type=object_type,
        object_name=object_name,
        error=error,
    )


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise InvalidJsonError(f"Invalid JSON request body: {error}") from None
    if not isinstance(document, dict):
        raise BadConfigRequestError("JSON object expected")
    return document


def _required_text(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if value is None or value == "":
        raise BadConfigRequestError(f"'{key}' is required")
    if not isinstance(value, str):
        raise BadConfigRequestError(f"'{key}' must be a string")
    return value


def _ruby_to_s(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- /configs ----------------------------------------------------------------------------


def _limit(limit: str | None, latest: str | None, store: ConfigStore) -> int:
    if limit is not None:
        if not _PLAIN_INTEGER.fullmatch(limit):
            raise BadConfigRequestError("'limit' must be a number")
        if int(limit) < 1:
            raise BadConfigRequestError("'limit' must be larger than zero")
    if latest is not None and latest not in ("true", "false"):
        raise BadConfigRequestError("'latest' must be 'true' or 'false'")
    if limit is not None:
        return int(limit)
    return 1 if latest != "false" else store.max_id()


@get("/configs", summary="Configs: the current ones, or their history")
async def list_configs(
    director: DirectorDependency,
    config_type: Annotated[str | None, QueryParameter(name="type")] = None,
    name: FromQuery[str | None] = None,
    latest: Annotated[
        str | None, QueryParameter(description="true (default): current versions only")
    ] = None,
    limit: Annotated[str | None, QueryParameter(description="versions per config")] = None,
) -> list[dict[str, Any]]:
    # Async with an explicit thread: a sync_to_thread handler sharing its path with
    # handlers of other methods gets wrapped once per registration by Litestar 2.25 and
    # answers a coroutine.
    def listed() -> list[dict[str, Any]]:
        store = _store(director)
        found = store.list(type_=config_type, name=name, limit=_limit(limit, latest, store))
        return [record.to_api() for record in found]

    return await anyio.to_thread.run_sync(listed)


@get("/configs/{config_id:str}", sync_to_thread=True, summary="One config version")
def show_config(director: DirectorDependency, config_id: FromPath[str]) -> dict[str, Any]:
    return _store(director).get(config_id).to_api()


@post(
    "/configs",
    guards=[consumes("application/json")],
    summary="Store a config version: {type, name, content, expected_latest_id?}",
)
async def create_config(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> Response[dict[str, Any]]:
    raw = await request.body()
    return await anyio.to_thread.run_sync(_create_config, request, director, raw)


def _create_config(
    request: Request[Any, Any, Any], director: Director, raw: bytes
) -> Response[dict[str, Any]]:
    document: dict[str, Any] | None = None
    try:
        document = _json_object(raw)
        config_type = _required_text(document, "type")
        name = _required_text(document, "name")
        content = document.get("content")
        parsed = parse_config_content(content)
        if config_type == "runtime":
            content = release_versions_as_strings(parsed)
    except (InvalidJsonError, BadConfigRequestError, BadConfigError) as error:
        failed_type = document.get("type") if document else None
        _record_event(
            director,
            request,
            action="create",
            object_type=f"config/{'' if failed_type is None else failed_type}",
            object_name=None if document is None else document.get("name"),
            error=error,
        )
        raise
    expected = document.get("expected_latest_id")
    try:
        record, created = _store(director).create_if_changed(
            config_type,
            name,
            str(content),
            expected_latest_id=None if expected is None else _ruby_to_s(expected),
        )
    except BadExpectedConfigIdError as error:
        return Response(
            {
                "latest_id": error.latest_id,
                "expected_latest_id": error.expected_latest_id,
                "description": str(error),
            },
            status_code=412,
        )
    if created:
        _record_event(
            director,
            request,
            action="create",
            object_type=f"config/{config_type}",
            object_name=name,
        )
    return Response(record.to_api(), status_code=201)


@post(
    "/configs/diff",
    guards=[consumes("application/json")],
    status_code=200,
    summary='Diff {"type","name","content"} with the current config, or {"from","to"}'
    " (each {id} or {content})",
)
async def diff_config(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> Response[dict[str, Any]]:
    raw = await request.body()
    return await anyio.to_thread.run_sync(_diff_config, director, raw)


def _diff_side(value: Any) -> str | None:
    """``id`` or ``content``: which form a ``from``/``to`` object has (ids first)."""
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("id"), str) and re.search(r"\d", value["id"]):
        return "id"
    if isinstance(value.get("content"), str):
        return "content"
    return None


def _diff_config(director: Director, raw: bytes) -> Response[dict[str, Any]]:
    request = _json_object(raw)
    store = _store(director)
    sides = (_diff_side(request.get("from")), _diff_side(request.get("to")))
    answer: dict[str, Any] = {}
    before_text: str | None
    if None not in sides:
        before_text, after_text = (
            store.get(request[side]["id"]).content if form == "id" else request[side]["content"]
            for side, form in zip(("from", "to"), sides, strict=True)
        )
    elif all(isinstance(request.get(key), str) and request[key] for key in ("type", "name")) and (
        isinstance(request.get("content"), str)
    ):
        current = store.current(request["type"], request["name"])
        answer["from"] = {"id": "0" if current is None else str(current.id)}
        before_text = None if current is None else current.content
        after_text = request["content"]
    else:
        raise BadConfigRequestError(_DIFF_FORMATS)
    try:
        before = {} if before_text is None else parse_config_content(before_text)
        after = parse_config_content(after_text)
    except BadConfigError as error:
        return Response(
            {
                "diff": [],
                "error": f"Unable to diff config content: #<Bosh::Director::BadConfig: {error}>",
            },
            status_code=400,
        )
    answer["diff"] = [list(line) for line in diff_documents(before, after)]
    return Response(answer, status_code=200)


@delete(
    "/configs/{config_id:str}", sync_to_thread=True, status_code=200, summary="Delete a version"
)
def delete_config(director: DirectorDependency, config_id: FromPath[str]) -> Response[bytes]:
    store = _store(director)
    store.get(config_id)  # 404 with the reference's error when it is not there
    return _empty(204 if store.delete_by_id(config_id) else 404)


@delete(
    "/configs",
    sync_to_thread=True,
    status_code=200,
    summary="Delete every version of a config: ?type=&name=",
)
def delete_configs(
    director: DirectorDependency,
    config_type: Annotated[str | None, QueryParameter(name="type")] = None,
    name: FromQuery[str | None] = None,
) -> Response[bytes]:
    query = {"type": config_type, "name": name}
    config_type, name = (_required_text(query, key) for key in ("type", "name"))
    return _empty(204 if _store(director).delete(config_type, name) else 404)


def _empty(status: int) -> Response[bytes]:
    return Response(b"", status_code=status, media_type="text/plain")


# -- /cloud_configs, /runtime_configs, /cpi_configs --------------------------------------


@attrs.frozen
class _Kind:
    """One config type of the older per-type API."""

    type: str
    path: str
    # Events name the type with a dash: cloud-config.
    event_type: str
    # The cpi config has no names: it is always `default`.
    named: bool = True
    # The cloud config diff is never redacted; the others unless `redact=false`.
    redactable: bool = True
    # What is stored for an uploaded document, and what may refuse it.
    stored_text: Callable[[dict[str, Any], str], str] = lambda _, text: text
    check: Callable[[dict[str, Any]], None] = lambda _: None


def _check_cpi_config(document: dict[str, Any]) -> None:
    from bosh_core.models.cpi_config import load_cpi_config

    try:
        load_cpi_config(document)
    except ManifestError as error:
        raise ValidationInvalidType(str(error)) from None


_KINDS: Final = (
    _Kind("cloud", "/cloud_configs", "cloud-config", redactable=False),
    _Kind(
        "runtime",
        "/runtime_configs",
        "runtime-config",
        stored_text=lambda document, _: release_versions_as_strings(document),
    ),
    _Kind("cpi", "/cpi_configs", "cpi-config", named=False, check=_check_cpi_config),
)


def _config_name(kind: _Kind, name: str | None) -> str:
    return name if kind.named and name else DEFAULT_NAME


def _uploaded(raw: bytes, kind: _Kind) -> tuple[dict[str, Any], str]:
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise BadManifestError(
            "Incorrect YAML structure of the uploaded manifest: the body is not UTF-8 text"
        ) from None
    return parse_manifest(text, source=f"{kind.event_type} body"), text


def _limit_or_answer(limit: str | None) -> int | Response[str]:
    if not limit:
        return Response("limit is required", status_code=400, media_type="text/plain")
    try:
        value = int(limit.strip(), 0)
    except ValueError:
        value = 0
    if value < 1:
        return Response(
            f"limit is invalid: '{limit}' is not an integer",
            status_code=400,
            media_type="text/plain",
        )
    return value


def _kind_routes(kind: _Kind) -> list[HTTPRouteHandler]:
    def update(request: Request[Any, Any, Any], director: Director, raw: bytes, name: str) -> None:
        event_name = name if kind.named else None
        try:
            document, text = _uploaded(raw, kind)
            kind.check(document)
            _, created = _store(director).create_if_changed(
                kind.type, name, kind.stored_text(document, text)
            )
        except Exception as error:
            _record_event(
                director,
                request,
                action="update",
                object_type=kind.event_type,
                object_name=event_name,
                error=error,
            )
            raise
        if created:
            _record_event(
                director,
                request,
                action="update",
                object_type=kind.event_type,
                object_name=event_name,
            )

    @post(
        kind.path,
        guards=[consumes("text/yaml")],
        name=f"update_{kind.type}_config",
        summary=f"Store a {kind.event_type} version (YAML body) unless unchanged",
    )
    async def post_config(
        request: Request[Any, Any, Any],
        director: DirectorDependency,
        name: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        raw = await request.body()
        config_name = _config_name(kind, name)
        await anyio.to_thread.run_sync(update, request, director, raw, config_name)
        return _empty(201)

    def diff(director: Director, raw: bytes, name: str, redact: bool) -> dict[str, Any]:
        after, _ = _uploaded(raw, kind)
        current = _store(director).current(kind.type, name)
        before = {} if current is None else parse_config_content(current.content)
        return {
            "diff": [list(line) for line in diff_documents(before, after, redact_values=redact)]
        }

    @post(
        f"{kind.path}/diff",
        guards=[consumes("text/yaml")],
        status_code=200,
        name=f"diff_{kind.type}_config",
        summary=f"Diff a {kind.event_type} (YAML body) with the current one",
    )
    async def post_diff(
        request: Request[Any, Any, Any],
        director: DirectorDependency,
        name: FromQuery[str | None] = None,
        redact: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        raw = await request.body()
        hide = kind.redactable and redact != "false"
        result: dict[str, Any] = await anyio.to_thread.run_sync(
            diff, director, raw, _config_name(kind, name), hide
        )
        return result

    @get(
        kind.path,
        sync_to_thread=True,
        name=f"list_{kind.type}_configs",
        summary=f"The newest {kind.event_type} versions: [{{properties, created_at}}]",
    )
    def list_versions(
        director: DirectorDependency,
        limit: FromQuery[str | None] = None,
        name: FromQuery[str | None] = None,
    ) -> Response[Any]:
        count = _limit_or_answer(limit)
        if isinstance(count, Response):
            return count
        found = _store(director).list(type_=kind.type, name=_config_name(kind, name), limit=count)
        return Response(
            [
                {"properties": record.content, "created_at": ruby_time(record.created_at)}
                for record in found
            ],
            media_type="application/json",
        )

    return [post_config, post_diff, list_versions]


ROUTES = [
    list_configs,
    show_config,
    create_config,
    diff_config,
    delete_config,
    delete_configs,
    *(route for kind in _KINDS for route in _kind_routes(kind)),
]
