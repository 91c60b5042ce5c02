"""A synchronous client of the director's REST API.

    director = Director("https://10.0.0.6:25555", ca_cert="ca.pem",
                        client="admin", client_secret="...")
    director.info().name
    task = director.follow_task(12, on_event=print)   # polls every 0.5 s until it ends
    director.task_output(12, "result")

Results are frozen attrs objects; failures are `ClientError` subclasses: the director's
``{"code", "description"}`` becomes `DirectorResponseError` (with ``code`` and
``http_status``), a 401 becomes `NotLoggedInError`.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import attrs
import httpx

from bosh_core.errors import BoshError

__all__ = [
    "DEFAULT_PORT",
    "RUNNING_STATES",
    "ClientError",
    "Director",
    "DirectorResponseError",
    "Event",
    "EventFilter",
    "Info",
    "Lock",
    "NotLoggedInError",
    "Task",
    "TaskEvent",
    "TaskOutput",
    "normalize_url",
]

DEFAULT_PORT: Final = 25555
RUNNING_STATES: Final = frozenset({"queued", "processing", "cancelling"})
"""States the reference CLI waits on; ``done`` is success, anything else failure."""

_POLL_INTERVAL: Final = 0.5


class ClientError(BoshError):
    """The director could not be reached or answered with a failure."""


class DirectorResponseError(ClientError):
    """A failure answer: ``code`` is BOSH's error code when the body carried one."""

    def __init__(self, message: str, *, http_status: int, code: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code


class NotLoggedInError(DirectorResponseError):
    """401: no or wrong credentials."""


def _epoch(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


@attrs.frozen
class Info:
    """``GET /info``. ``features`` maps each feature to whether it is enabled."""

    name: str
    uuid: str
    version: str
    user: str | None
    cpi: str | None
    stemcell_os: str | None
    stemcell_version: str | None
    auth_type: str
    auth_options: Mapping[str, Any]
    features: Mapping[str, bool]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Info:
        auth = body.get("user_authentication") or {}
        return cls(
            name=str(body.get("name") or ""),
            uuid=str(body.get("uuid") or ""),
            version=str(body.get("version") or ""),
            user=body.get("user") or None,
            cpi=body.get("cpi") or None,
            stemcell_os=body.get("stemcell_os") or None,
            stemcell_version=body.get("stemcell_version") or None,
            auth_type=str(auth.get("type") or ""),
            auth_options=dict(auth.get("options") or {}),
            features={
                name: bool((feature or {}).get("status"))
                for name, feature in (body.get("features") or {}).items()
            },
        )


@attrs.frozen
class Task:
    """One task as ``GET /tasks`` shows it; ``finished_at`` is the API's ``timestamp``."""

    id: int
    state: str
    description: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result: str | None
    user: str
    deployment: str | None
    context_id: str

    @property
    def is_running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "done"

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Task:
        return cls(
            id=int(body["id"]),
            state=str(body.get("state") or ""),
            description=str(body.get("description") or ""),
            started_at=_epoch(body.get("started_at")),
            finished_at=_epoch(body.get("timestamp")),
            result=body.get("result"),
            user=str(body.get("user") or ""),
            deployment=body.get("deployment"),
            context_id=str(body.get("context_id") or ""),
        )


@attrs.frozen
class TaskOutput:
    """A piece of a task's output file from `offset` (empty when the director answered
    416 or 204: nothing past `offset` yet)."""

    data: bytes
    offset: int
    next_offset: int


@attrs.frozen
class TaskEvent:
    """One line of a task's event log (a stage step, a warning or a task error)."""

    time: int
    stage: str = ""
    tags: tuple[str, ...] = ()
    total: int = 0
    task: str = ""
    index: int = 0
    state: str = ""
    progress: int = 0
    status: str = ""
    error: str = ""
    error_code: int | None = None
    type: str = ""
    message: str = ""

    @classmethod
    def from_line(cls, line: str) -> TaskEvent:
        entry = json.loads(line)
        data = entry.get("data") or {}
        error = entry.get("error")
        return cls(
            time=int(entry.get("time") or 0),
            stage=str(entry.get("stage") or ""),
            tags=tuple(str(tag) for tag in entry.get("tags") or ()),
            total=int(entry.get("total") or 0),
            task=str(entry.get("task") or ""),
            index=int(entry.get("index") or 0),
            state=str(entry.get("state") or ""),
            progress=int(entry.get("progress") or 0),
            status=str(data.get("status") or ""),
            error=str(data.get("error") or "") if not isinstance(error, Mapping) else "",
            error_code=int(error["code"])
            if isinstance(error, Mapping) and "code" in error
            else None,
            type=str(entry.get("type") or ""),
            message=str(
                (error.get("message") if isinstance(error, Mapping) else None)
                or entry.get("message")
                or ""
            ),
        )

    @property
    def is_task_error(self) -> bool:
        """The task-level error line (``{"time", "error": {code, message}}``)."""
        return self.error_code is not None


@attrs.frozen
class Lock:
    """One entry of ``GET /locks``."""

    type: str
    resource: tuple[str, ...]
    task_id: str
    expires_at: dt.datetime | None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Lock:
        return cls(
            type=str(body.get("type") or ""),
            resource=tuple(str(item) for item in body.get("resource") or ()),
            task_id=str(body.get("task_id") or ""),
            expires_at=_epoch(body.get("timeout")),
        )


@attrs.frozen
class Event:
    """One audit event (``GET /events``); absent fields are empty strings."""

    id: str
    parent_id: str
    timestamp: dt.datetime | None
    user: str
    action: str
    object_type: str
    object_name: str
    task: str
    deployment: str
    instance: str
    error: str
    context: Mapping[str, Any]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Event:
        def text(key: str) -> str:
            value = body.get(key)
            return "" if value is None else str(value)

        return cls(
            id=text("id"),
            parent_id=text("parent_id"),
            timestamp=_epoch(body.get("timestamp")),
            user=text("user"),
            action=text("action"),
            object_type=text("object_type"),
            object_name=text("object_name"),
            task=text("task"),
            deployment=text("deployment"),
            instance=text("instance"),
            error=text("error"),
            context=dict(body.get("context") or {}),
        )


@attrs.frozen(kw_only=True)
class EventFilter:
    """``bosh events`` filters; times as the CLI takes them (epoch or a parseable time)."""

    before_id: str | None = None
    before: str | None = None
    after: str | None = None
    task: str | None = None
    deployment: str | None = None
    instance: str | None = None
    user: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_name: str | None = None

    def query(self) -> dict[str, str]:
        names = {"before": "before_time", "after": "after_time"}
        return {
            names.get(field.name, field.name): value
            for field in attrs.fields(EventFilter)
            if (value := getattr(self, field.name))
        }


def normalize_url(environment: str) -> str:
    """``10.0.0.6`` -> ``https://10.0.0.6:25555``: https, the director's port by default."""
    text = environment.strip()
    if not text:
        raise ClientError("Expected non-empty Director URL")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme != "https":
        raise ClientError(f"Expected an https Director URL, not '{environment}'")
    netloc = parts.netloc if parts.port is not None else f"{parts.netloc}:{DEFAULT_PORT}"
    return urlunsplit(("https", netloc, parts.path.rstrip("/"), "", ""))


def _ssl_context(ca_cert: str | None) -> ssl.SSLContext:
    if ca_cert is None or not ca_cert.strip():
        return ssl.create_default_context()
    if "-----BEGIN" in ca_cert:
        return ssl.create_default_context(cadata=ca_cert)
    return ssl.create_default_context(cafile=ca_cert)


class Director:
    """The director at `url` (see `normalize_url`), as basic-auth user `client`."""

    def __init__(
        self,
        url: str,
        *,
        ca_cert: str | None = None,
        client: str | None = None,
        client_secret: str | None = None,
        timeout: float = 30.0,
        poll_interval: float = _POLL_INTERVAL,
    ) -> None:
        self.url = normalize_url(url)
        self.client = client
        self._poll_interval = poll_interval
        auth = (client, client_secret or "") if client else None
        self._http = httpx.Client(
            base_url=self.url,
            verify=_ssl_context(ca_cert),
            auth=auth,
            timeout=timeout,
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Director:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ClientError(f"Performing request {method} '{self.url}{path}': {error}") from error
        if response.status_code not in ok:
            raise _failure(method, path, response)
        return response

    def _json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = self._request("GET", path, params=params)
        try:
            return response.json()
        except ValueError as error:
            raise ClientError(f"Unmarshaling Director response of GET '{path}': {error}") from error

    # -- endpoints ---------------------------------------------------------------------

    def info(self) -> Info:
        return Info.from_api(self._json("/info"))

    def tasks(
        self,
        *,
        states: tuple[str, ...] = (),
        limit: int | None = None,
        all_types: bool = False,
        deployment: str | None = None,
        context_id: str | None = None,
    ) -> list[Task]:
        """Tasks newest first. ``all_types`` is ``verbose=2`` (ssh, vms, logs... too)."""
        params = {"verbose": "2" if all_types else "1"}
        if states:
            params["state"] = ",".join(states)
        if limit is not None:
            params["limit"] = str(limit)
        if deployment:
            params["deployment"] = deployment
        if context_id is not None:
            params["context_id"] = context_id
        return [Task.from_api(item) for item in self._json("/tasks", params)]

    def current_tasks(self, *, all_types: bool = True, deployment: str | None = None) -> list[Task]:
        """Queued, processing and cancelling tasks (``bosh tasks`` without ``--recent``)."""
        return self.tasks(
            states=("processing", "cancelling", "queued"),
            all_types=all_types,
            deployment=deployment,
        )

    def task(self, task_id: int) -> Task:
        return Task.from_api(self._json(f"/tasks/{task_id}"))

    def task_output(self, task_id: int, output_type: str = "event", offset: int = 0) -> TaskOutput:
        """The bytes of the task's `output_type` file from `offset` on (``Range``)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._request(
            "GET",
            f"/tasks/{task_id}/output",
            ok=(200, 204, 206, 416),
            params={"type": output_type},
            headers=headers,
        )
        data = b"" if response.status_code in (204, 416) else response.content
        return TaskOutput(data=data, offset=offset, next_offset=offset + len(data))

    def follow_task(
        self,
        task_id: int,
        on_event: Callable[[TaskEvent], None] | None = None,
        *,
        output_type: str = "event",
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> Task:
        """Poll the task until it leaves the running states, reporting new output as it
        comes: raw bytes to `on_chunk`, and (for ``event`` output) each whole event line
        to `on_event`. Returns the final task; a failed task is not an exception here."""
        offset = 0
        pending = b""
        while True:
            # The state first: output read after it is complete for a finished task.
            task = self.task(task_id)
            piece = self.task_output(task_id, output_type, offset)
            offset = piece.next_offset
            if piece.data:
                if on_chunk is not None:
                    on_chunk(piece.data)
                if on_event is not None and output_type == "event":
                    pending += piece.data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            on_event(TaskEvent.from_line(line.decode()))
            if not task.is_running:
                return task
            time.sleep(self._poll_interval)

    def cancel_task(self, task_id: int) -> None:
        self._request("DELETE", f"/task/{task_id}", ok=(200, 204))

    def locks(self) -> list[Lock]:
        return [Lock.from_api(item) for item in self._json("/locks")]

    def events(self, filters: EventFilter | None = None) -> list[Event]:
        query = (filters or EventFilter()).query()
        return [Event.from_api(item) for item in self._json("/events", query)]

    def iter_events(self, filters: EventFilter | None = None) -> Iterator[Event]:
        """Every matching event, page by page (200 a page), newest first."""
        base = filters or EventFilter()
        page = self.events(base)
        while page:
            yield from page
            if len(page) < 200:
                return
            page = self.events(attrs.evolve(base, before_id=page[-1].id))

    def event(self, event_id: str | int) -> Event:
        return Event.from_api(self._json(f"/events/{event_id}"))


def _failure(method: str, path: str, response: httpx.Response) -> ClientError:
    status = response.status_code
    if status == 401:
        return NotLoggedInError(
            "Not logged in: the director refused the credentials"
            " (set --client/--client-secret or BOSH_CLIENT/BOSH_CLIENT_SECRET, or log in)",
            http_status=status,
        )
    body = response.text
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and "description" in document:
        code = document.get("code")
        return DirectorResponseError(
            f"Director responded with non-successful status code '{status}' response"
            f" '{document['description']}'",
            http_status=status,
            code=int(code) if isinstance(code, int) else None,
        )
    detail = f" response '{body.strip()}'" if body.strip() else ""
    return DirectorResponseError(
        f"{method} '{path}': Director responded with non-successful status code '{status}'{detail}",
        http_status=status,
    )
