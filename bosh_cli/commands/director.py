"""Commands that talk to a director: tasks, task, cancel-task, cancel-tasks, locks,
events, event.

The director is the one :func:`bosh_cli.session.open_director` resolves from ``-e``
(a URL or an alias), ``--ca-cert``, ``--client``/``--client-secret`` and the config file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.options import OptionalValueOption
from bosh_cli.session import open_director
from bosh_cli.ui import UI, Table
from bosh_core.client import ClientError, Director, EventFilter, Task, TaskEvent
from bosh_core.errors import BoshError

__all__ = ["COMMANDS", "TaskReporter", "go_time", "track_task"]


def go_time(moment: dt.datetime | None) -> str:
    """A time as the reference prints it (Go's UnixDate, in UTC)."""
    if moment is None:
        return ""
    utc = moment.astimezone(dt.UTC)
    return f"{utc:%a %b} {utc.day:2d} {utc:%H:%M:%S} UTC {utc.year}"


def _duration(seconds: float) -> str:
    total = max(int(seconds), 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


class TaskReporter:
    """Renders a followed task as the reference CLI's task view: one
    ``Task N | hh:mm:ss | Stage tags: task`` line per event, durations when steps end,
    then Started/Finished/Duration and ``Task N <state>``. With ``events=False`` the raw
    output is printed as it comes (``--debug``, ``--cpi``, ``--result``, ``--event``)."""

    def __init__(self, ui: UI, *, events: bool) -> None:
        self._ui = ui
        self._for_events = events
        self._seen: list[TaskEvent] = []
        self._last: TaskEvent | None = None
        self._task_id = 0
        self._output_since_start = False

    def started(self, task_id: int) -> None:
        self._task_id = task_id
        self._ui.begin_line(f"Task {task_id}")

    def chunk(self, data: bytes) -> None:
        if not self._output_since_start:
            self._ui.begin_line("\n" if self._for_events else "\n\n")
            self._output_since_start = True
        if not self._for_events:
            self._ui.print_block(data.decode(errors="replace"))

    def event(self, event: TaskEvent) -> None:
        prefix = f"\nTask {self._task_id} | {_hours(event.time)} | "
        start = next((seen for seen in self._seen if _same(seen, event)), None)
        took = _duration(event.time - start.time) if start is not None else ""
        error_indent = f"\n     {' ' * len(str(self._task_id))}            L Error: "
        if self._last is not None and _same(self._last, event):
            if event.state == "finished":
                self._ui.print_block(f" ({took})")
            elif event.state == "in_progress":
                self._ui.print_block(f"{prefix}L {event.status}: {event.task}")
            elif event.state == "failed":
                self._ui.print_block(f" ({took})")
                self._ui.print_block(error_indent + event.error)
        else:
            desc = event.stage + (" " + ", ".join(event.tags) if event.tags else "")
            if event.type == "deprecation":
                self._ui.print_block(f"{prefix}Deprecation: {event.message}")
            elif event.type == "warning":
                self._ui.print_block(f"{prefix}Warning: {event.message}")
            elif event.state == "started":
                self._ui.print_block(f"{prefix}{desc}: {event.task}")
            elif event.state == "in_progress":
                self._ui.print_block(f"{prefix}{desc}: {event.task}")
                self._ui.print_block(f"{prefix}L {event.status}: {event.task}")
            elif event.state == "finished":
                self._ui.print_block(f"{prefix}{desc}: {event.task} ({took})")
            elif event.state == "failed":
                self._ui.print_block(f"{prefix}{desc}: {event.task} ({took})")
                self._ui.print_block(error_indent + event.error)
            elif event.is_task_error:
                self._ui.print_block(f"{prefix}Error: {event.message}")
        self._seen.append(event)
        self._last = event

    def finished(self, task: Task) -> None:
        task_id = task.id
        if self._seen:
            first, last = self._seen[0], self._seen[-1]
            self._ui.begin_line(
                f"\n\nTask {task_id} Started  {go_time(_moment(first.time))}"
                f"\nTask {task_id} Finished {go_time(_moment(last.time))}"
                f"\nTask {task_id} Duration {_duration(last.time - first.time)}"
            )
        if not self._output_since_start and not self._seen:
            self._ui.begin_line(f". {task.state.title()}\n")
        else:
            self._ui.begin_line(f"\nTask {task_id} {task.state}\n")


def track_task(ui: UI, director: Director, task_id: int, *, kind: str | None = None) -> Task:
    """Follow the task to its end as the reference shows it (`TaskReporter`): its events,
    or with `kind` (``debug``, ``cpi``, ``result``, ``event``) that raw output. A task
    that did not end ``done`` is an error, as every task-creating command reports it."""
    reporter = TaskReporter(ui, events=kind is None)
    reporter.started(task_id)
    final = director.follow_task(
        task_id,
        reporter.event if kind is None else None,
        output_type=kind or "event",
        on_chunk=reporter.chunk,
    )
    reporter.finished(final)
    if not final.succeeded:
        raise BoshError(f"Expected task '{final.id}' to succeed but state is '{final.state}'")
    return final


def _same(one: TaskEvent, other: TaskEvent) -> bool:
    return bool(one.stage) and (one.stage, one.tags, one.task) == (
        other.stage,
        other.tags,
        other.task,
    )


def _moment(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _hours(epoch: int) -> str:
    return f"{_moment(epoch):%H:%M:%S}"


# --- tasks --------------------------------------------------------------------------------


@click.command("tasks", short_help="List running or recent tasks")
@click.option(
    "-r",
    "--recent",
    cls=OptionalValueOption,
    type=int,
    optional_value=30,
    default=None,
    help="Show 30 recent tasks. Use '=' to specify the number of tasks to show",
)
@click.option(
    "-a", "--all", "all_types", is_flag=True, help="Include all task types (ssh, logs, vms, etc)"
)
@pass_cli
def tasks(cli: CLIContext, recent: int | None, all_types: bool) -> None:
    """Without --recent: the queued, processing and cancelling tasks."""
    deployment = cli.options.deployment
    with open_director(cli) as director:
        if recent is not None:
            found = director.tasks(limit=recent, all_types=all_types, deployment=deployment)
        else:
            found = director.current_tasks(deployment=deployment)
    rows = [
        [
            str(task.id),
            task.state,
            go_time(task.started_at),
            go_time(task.finished_at) if task.finished_at else "-",
            task.user,
            task.deployment or "",
            task.description,
            task.result or "",
        ]
        for task in sorted(found, key=lambda task: task.id, reverse=True)
    ]
    header = [
        "ID",
        "State",
        "Started At",
        "Finished At",
        "User",
        "Deployment",
        "Description",
        "Result",
    ]
    cli.ui.print_table(Table(header=header, rows=rows, content="tasks"))


@click.command("task", short_help="Show task status and start tracking its output")
@click.argument("task_id", metavar="[ID]", type=int, required=False)
@click.option("--event", "kind", flag_value="event", help="Track event log")
@click.option("--cpi", "kind", flag_value="cpi", help="Track CPI log")
@click.option("--debug", "kind", flag_value="debug", help="Track debug log")
@click.option("--result", "kind", flag_value="result", help="Track result log")
@click.option(
    "-a", "--all", "all_types", is_flag=True, help="Include all task types (ssh, logs, vms, etc)"
)
@pass_cli
def task(cli: CLIContext, task_id: int | None, kind: str | None, all_types: bool) -> None:
    """Follow a task until it ends; without ID, the newest running task."""
    if kind is None and click.get_current_context().find_root().params.get("debug"):
        # `--debug` is also a global flag, hoisted in front of the command: here it asks
        # for the debug log, as in the reference.
        kind = "debug"
    with open_director(cli) as director:
        if not task_id:
            running = director.current_tasks(all_types=all_types, deployment=cli.options.deployment)
            if not running:
                raise BoshError("No task found")
            task_id = running[0].id
        else:
            director.task(task_id)
        track_task(cli.ui, director, task_id, kind=kind)


@click.command("cancel-task", short_help="Cancel task at its next checkpoint")
@click.argument("task_id", metavar="ID", type=int)
@pass_cli
def cancel_task(cli: CLIContext, task_id: int) -> None:
    with open_director(cli) as director:
        # As the reference: find the task first, so that a wrong ID is named as such.
        try:
            director.task(task_id)
        except ClientError as error:
            raise BoshError(f"Finding task '{task_id}': {error}") from None
        try:
            director.cancel_task(task_id)
        except ClientError as error:
            raise BoshError(f"Cancelling task '{task_id}': {error}") from None


@click.command("cancel-tasks", short_help="Cancel tasks at their next checkpoints")
@click.option(
    "-t",
    "--type",
    "types",
    cls=OptionalValueOption,
    multiple=True,
    help="task types to cancel (cck_scan_and_fix, cck_apply, update_release,"
    " update_deployment, vms, etc) (default is all types)",
)
@click.option(
    "-s",
    "--state",
    "states",
    cls=OptionalValueOption,
    multiple=True,
    help="task states to cancel (queued, processing) (default: queued)",
)
@pass_cli
def cancel_tasks(cli: CLIContext, types: tuple[str, ...], states: tuple[str, ...]) -> None:
    with open_director(cli) as director:
        director.cancel_tasks(types=types, states=states, deployment=cli.options.deployment)


# --- locks and events --------------------------------------------------------------------


@click.command("locks", short_help="List current locks")
@pass_cli
def locks(cli: CLIContext) -> None:
    with open_director(cli) as director:
        found = director.locks()
    rows = [
        [lock.type, ":".join(lock.resource), lock.task_id, go_time(lock.expires_at)]
        for lock in found
    ]
    cli.ui.print_table(
        Table(
            header=["Type", "Resource", "Task ID", "Expires at"],
            rows=rows,
            content="locks",
            sort_by=[(2, True)],
        )
    )


def _context_text(context: Mapping[str, Any]) -> str:
    if not context:
        return ""
    from bosh_core.go_yaml import dump  # the reference prints contexts as YAML

    return str(dump(dict(context))).strip()


@click.command("events", short_help="List events")
@click.option("--before-id", help="Show events with ID less than the given ID")
@click.option("--before", help="Show events before the given timestamp (ex: 2016-05-08 17:26:32)")
@click.option("--after", help="Show events after the given timestamp (ex: 2016-05-08 17:26:32)")
@click.option("--task", "task_id", help="Show events with the given task ID")
@click.option("--instance", help="Show events with given instance")
@click.option("--event-user", "user", help="Show events with given user")
@click.option("--action", help="Show events with given action")
@click.option("--object-type", help="Show events with given object type")
@click.option("--object-name", help="Show events with given object name")
@pass_cli
def events(cli: CLIContext, /, task_id: str | None, **filters: str | None) -> None:
    query = EventFilter(task=task_id, deployment=cli.options.deployment, **filters)
    with open_director(cli) as director:
        found = director.events(query)
    rows = [
        [
            event.id + (f" <- {event.parent_id}" if event.parent_id else ""),
            go_time(event.timestamp),
            event.user,
            event.action,
            event.object_type,
            event.object_name,
            event.task,
            event.deployment,
            event.instance,
            _context_text(event.context),
            event.error,
        ]
        for event in found
    ]
    header = [
        "ID", "Time", "User", "Action", "Object Type", "Object Name",
        "Task ID", "Deployment", "Instance", "Context", "Error",
    ]  # fmt: skip
    cli.ui.print_table(Table(header=header, rows=rows, content="events"))


@click.command("event", short_help="Show event details")
@click.argument("event_id", metavar="ID")
@pass_cli
def event(cli: CLIContext, event_id: str) -> None:
    with open_director(cli) as director:
        found = director.event(event_id)
    header = ["ID", "Time"]
    row: list[str | list[str]] = [
        found.id + (f" <- {found.parent_id}" if found.parent_id else ""),
        go_time(found.timestamp),
    ]
    optional: list[tuple[str, str | list[str]]] = [
        ("User", found.user),
        ("Action", found.action),
        ("Object Type", found.object_type),
        ("Object Name", found.object_name),
        ("Task ID", found.task),
        ("Deployment", found.deployment),
        ("Instance", found.instance),
        ("Context", sorted(f"{key}: {value}" for key, value in found.context.items())),
        ("Error", found.error),
    ]
    for title, value in optional:
        if value or title in ("Action", "Object Type"):
            header.append(title)
            row.append(value)
    cli.ui.print_table(Table(header=header, rows=[row], transpose=True))


COMMANDS = [tasks, task, cancel_task, cancel_tasks, locks, events, event]
