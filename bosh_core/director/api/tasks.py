"""Task routes: list, show, output (with byte ranges) and cancel, shaped as the
reference's ``TasksController``/``TaskController`` answer."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Final

import anyio.to_thread
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_302_FOUND
from sqlalchemy import select
from sqlalchemy.orm import Session

from bosh_core.director.api.app import CONTEXT_ID_HEADER, Director, DirectorDependency
from bosh_core.director.api.errors import consumes
from bosh_core.director.db.models import Task
from bosh_core.director.errors import TaskNotFoundError
from bosh_core.director.tasks.output import (
    UNSATISFIABLE,
    parse_range,
    stream_output,
)
from bosh_core.director.tasks.runner import is_stale, mark_stale_timeouts

__all__ = [
    "CANCELLABLE_STATES",
    "ROUTES",
    "VERBOSE_1_TYPES",
    "query_flag",
    "start_task",
    "task_to_hash",
]

CANCELLABLE_STATES: Final = ("queued", "processing")

VERBOSE_1_TYPES: Final = (
    "attach_disk",
    "create_snapshot",
    "delete_deployment",
    "delete_release",
    "delete_snapshot",
    "delete_stemcell",
    "run_errand",
    "snapshot_deployment",
    "update_instance",
    "update_deployment",
    "update_release",
    "update_stemcell",
    "export_release",
)
"""The task types ``GET /tasks`` lists unless ``verbose`` is given and not ``1``: what a
user started, not the director's own bookkeeping tasks."""

_MAX_ID = 2**31 - 1
_LEADING_INTEGER = re.compile(r"\s*([+-]?\d+)")


def _epoch(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def task_to_hash(task: Task) -> dict[str, Any]:
    """The task's JSON as the reference's ``TaskManager#task_to_hash``: ``timestamp`` is
    the finish time, null while the task is queued or processing."""
    finished = None if task.state in ("queued", "processing") else _epoch(task.timestamp)
    return {
        "id": task.id,
        "state": task.state,
        "description": task.description,
        "timestamp": finished,
        "started_at": _epoch(task.started_at),
        "result": task.result,
        "user": task.username or "admin",
        "deployment": task.deployment_name,
        "context_id": task.context_id,
    }


def query_flag(request: Request[Any, Any, Any], name: str) -> bool:
    """A ``?name=true`` flag of a task-creating route (anything else is false)."""
    return request.query_params.get(name, "").lower() == "true"


async def start_task(
    request: Request[Any, Any, Any],
    director: Director,
    job_type: str,
    description: str,
    payload: Mapping[str, Any],
    *,
    deployment: str | None = None,
    queue: str = "normal",
) -> Response[None]:
    """Queue a task for the request's user (with its ``X-Bosh-Context-Id``) on `queue`
    and answer as every task-creating route of the reference does: 302 to
    ``/tasks/<id>``."""
    task_id = await anyio.to_thread.run_sync(
        lambda: director.tasks.create(
            job_type,
            description,
            payload,
            user=str(request.user),
            deployment=deployment,
            context_id=request.headers.get(CONTEXT_ID_HEADER, ""),
            queue=queue,
        )
    )
    return Response(None, status_code=HTTP_302_FOUND, headers={"Location": f"/tasks/{task_id}"})


def _find(session: Session, task_id: str) -> Task:
    task = None
    if task_id.isascii() and task_id.isdigit() and int(task_id) <= _MAX_ID:
        task = session.get(Task, int(task_id))
    if task is None:
        raise TaskNotFoundError(f"Task {task_id} not found")
    return task


def _ruby_to_i(text: str) -> int:
    # The reference reads `limit` with String#to_i: leading digits, else 0.
    match = _LEADING_INTEGER.match(text)
    return int(match[1]) if match else 0


def _split(value: str | None) -> list[str]:
    return [item for item in (value or "").split(",") if item]


@get("/tasks", sync_to_thread=True, summary="List tasks, newest first")
def list_tasks(
    director: DirectorDependency,
    task_state: Annotated[
        str | None, QueryParameter(name="state", description="comma-separated states")
    ] = None,
    deployment: FromQuery[str | None] = None,
    limit: Annotated[str | None, QueryParameter(description="at most this many (>= 1)")] = None,
    verbose: Annotated[
        str | None, QueryParameter(description="1 (default): user-started types only; 2: all")
    ] = None,
    task_type: Annotated[
        str | None, QueryParameter(name="type", description="comma-separated task types")
    ] = None,
    context_id: FromQuery[str | None] = None,
) -> list[dict[str, Any]]:
    query = select(Task).order_by(Task.timestamp.desc(), Task.id.desc())
    if states := _split(task_state):
        query = query.where(Task.state.in_(states))
    if (verbose or "1") == "1":
        # `type || ''`: no index on it, so the database walks the timestamp index and
        # stops at the page's end, instead of sorting every user task of the type index
        # (SQLite, without statistics, chose that: 20 times slower at 10,000 tasks).
        query = query.where(Task.type.concat("").in_(VERBOSE_1_TYPES))
    if types := _split(task_type):
        query = query.where(Task.type.in_(types))
    if context_id is not None:
        query = query.where(Task.context_id == context_id)
    if deployment is not None:
        query = query.where(Task.deployment_name == deployment)
    if limit is not None:
        query = query.limit(max(_ruby_to_i(limit), 1))
    tasks = _read_timing_out(director, lambda session: list(session.scalars(query)))
    return [task_to_hash(task) for task in tasks]


@get("/tasks/{task_id:str}", sync_to_thread=True, summary="Show a task")
def show_task(director: DirectorDependency, task_id: FromPath[str]) -> dict[str, Any]:
    (task,) = _read_timing_out(director, lambda session: [_find(session, task_id)])
    return task_to_hash(task)


def _read_timing_out(director: Director, read: Callable[[Session], list[Task]]) -> list[Task]:
    """The tasks `read` finds, after marking ``timeout`` those among them whose worker
    stopped checkpointing, as the reference does when tasks are read (a director whose
    workers all died still ends their tasks)."""
    interval = director.config.task_checkpoint_interval
    with director.database.read() as session:
        tasks = read(session)
    if not any(is_stale(task, checkpoint_interval=interval) for task in tasks):
        return tasks
    mark_stale_timeouts(director.database, checkpoint_interval=interval)
    with director.database.read() as session:
        return read(session)


@get(
    "/tasks/{task_id:str}/output",
    sync_to_thread=True,
    summary="A task's output file, with Range: bytes=N- support",
)
def task_output(
    director: DirectorDependency,
    task_id: FromPath[str],
    output_type: Annotated[
        str | None, QueryParameter(name="type", description="event, result, debug (default), cpi")
    ] = None,
    range_header: Annotated[str | None, HeaderParameter(name="range", required=False)] = None,
) -> Response[Any]:
    with director.database.read() as session:
        task = _find(session, task_id)
        kind = output_type or "debug"
        directory = task.output
        column = {"event": task.event_output, "result": task.result_output}.get(kind)
    # Old tasks (and tasks whose files were cleaned up) keep event and result in the row.
    if (
        column is not None
        and directory is not None
        and not (Path(directory) / kind).exists()
        and not (Path(directory) / f"{kind}.gz").exists()
    ):
        return _from_column(column.encode(), range_header)
    status, headers, chunks = stream_output(directory, output_type, range_header)
    if status == 204:
        return Response(None, status_code=204)
    media_type = headers.pop("Content-Type", "text/plain")
    return Stream(chunks, status_code=status, headers=headers, media_type=media_type)


def _from_column(data: bytes, range_header: str | None) -> Response[bytes]:
    ranges = parse_range(range_header, len(data))
    if ranges is UNSATISFIABLE:
        return Response(
            b"Byte range unsatisfiable",
            status_code=416,
            media_type="text/plain",
            headers={"Content-Range": f"bytes */{len(data)}"},
        )
    if not isinstance(ranges, list) or len(ranges) != 1:
        return Response(data, media_type="text/plain")
    start, end = ranges[0]
    return Response(
        data[start:end],
        status_code=206,
        media_type="text/plain",
        headers={"Content-Range": f"bytes {start}-{end - 1}/{len(data)}"},
    )


def _cancel(director: Director, task_id: str) -> Response[str | None]:
    with director.database.write() as session:
        task = _find(session, task_id)
        if task.state not in CANCELLABLE_STATES:
            return Response(
                f"Cannot cancel task {task_id}: invalid state ({task.state})",
                status_code=400,
                media_type="text/plain",
            )
        task.state = "cancelling"
    return Response(None, status_code=204)


@delete("/task/{task_id:str}", sync_to_thread=True, status_code=200, summary="Cancel a task")
def cancel_task(director: DirectorDependency, task_id: FromPath[str]) -> Response[str | None]:
    """The reference's route (``bosh cancel-task``)."""
    return _cancel(director, task_id)


@post(
    "/tasks/cancel",
    guards=[consumes("application/json")],
    status_code=200,
    summary="Cancel the tasks a selector picks: {states, types, deployment}",
)
async def cancel_tasks(
    request: Request[Any, Any, Any], director: DirectorDependency
) -> Response[str | None]:
    raw = await request.body()
    try:
        selector = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return Response("Invalid JSON body", status_code=400, media_type="text/plain")
    if not isinstance(selector, dict):
        selector = {}
    states = selector.get("states")
    if not isinstance(states, list) or not states:
        states = ["queued"]
    for item in states:
        if item not in CANCELLABLE_STATES:
            return Response(
                f"{item} is not one of the cancellable states: {', '.join(CANCELLABLE_STATES)}",
                status_code=400,
                media_type="text/plain",
            )
    types = selector.get("types")
    await anyio.to_thread.run_sync(
        _cancel_selected,
        director,
        [str(item) for item in states],
        [str(item) for item in types] if isinstance(types, list) else [],
        selector.get("deployment"),
    )
    return Response(None, status_code=204)


def _cancel_selected(
    director: Director, states: Sequence[str], types: Sequence[str], deployment: Any
) -> None:
    query = select(Task).where(Task.state.in_(states))
    if types:
        query = query.where(Task.type.in_(types))
    if deployment is not None:
        query = query.where(Task.deployment_name == str(deployment))
    with director.database.write() as session:
        for task in session.scalars(query.with_for_update()):
            if task.state in CANCELLABLE_STATES:
                task.state = "cancelling"


ROUTES = [list_tasks, show_task, task_output, cancel_task, cancel_tasks]
