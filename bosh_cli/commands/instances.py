"""instances and vms: what each instance or VM of a deployment is doing, as its agent says.

As the reference CLI (cmd/instances.go, vms.go, instance_table.go, instance_values.go):
each deployment's ``vms`` task is followed (``Task N. Done``), then its table is printed
under ``Deployment '<name>'``; without ``-d`` every deployment, a few tasks at a time
(``--parallel``), the tables of those that answered printed before the failures are
reported. Values are written as the reference writes them (sizes as go-humanize,
``1d 2h 3m 4s`` uptimes, ``-`` for empty cells).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Literal, NamedTuple

import click

from bosh_cli.commands.director import go_time, track_task
from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.reporters import human_bytes
from bosh_cli.session import open_director
from bosh_cli.ui import Cell, Table
from bosh_core.client import ClientError, Director
from bosh_core.client.director import DiskUsage, MemoryUsage, ProcessInfo, VMInfo
from bosh_core.errors import BoshError

__all__ = ["COMMANDS"]

_Resource = Literal["instances", "vms"]

_DETAILS = ["State", "VM CID", "VM Type", "Disk CIDs", "Agent ID", "Index", "Bootstrap", "Ignore"]
_VM_DETAILS = ["VM CID", "VM Type", "Active"]
_VITALS = [
    "VM Created At", "Uptime", "Load\n(1m, 5m, 15m)",
    "CPU\nTotal", "CPU\nUser", "CPU\nSys", "CPU\nWait",
    "Memory\nUsage", "Swap\nUsage",
    "System\nDisk Usage", "Ephemeral\nDisk Usage", "Persistent\nDisk Usage",
]  # fmt: skip


class _Layout(NamedTuple):
    """Which column groups a table has (the reference's ``InstanceTable``)."""

    processes: bool = False
    deployment: bool = False
    details: bool = False
    vm_details: bool = False
    stemcell: bool = False
    cloud_properties: bool = False
    vitals: bool = False

    def headers(self) -> list[str]:
        headers = ["Instance", *(["Process"] if self.processes else [])]
        headers += ["Process State", "AZ", "IPs", *(["Deployment"] if self.deployment else [])]
        if self.details:
            headers += _DETAILS
        elif self.vm_details:
            headers += _VM_DETAILS
        headers += ["Stemcell"] if self.stemcell else []
        headers += ["Cloud Properties"] if self.cloud_properties else []
        return headers + (_VITALS if self.vitals else [])


# --- values, as the reference writes them --------------------------------------------------


def _name(info: VMInfo) -> str:
    return (info.job_name or "?") + (f"/{info.id}" if info.id else "")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _percent(text: str) -> str:
    return f"{text}%" if text else ""


def _uptime(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds // 86400}d {seconds // 3600 % 24}h {seconds // 60 % 60}m {seconds % 60}s"


def _memory(usage: MemoryUsage) -> str:
    if not usage.percent or not usage.kb.isdigit():
        return ""
    return f"{usage.percent}% ({human_bytes(int(usage.kb) * 1000, binary=False)})"


def _process_memory(process: ProcessInfo) -> str:
    if process.mem_percent is None or process.mem_kb is None:
        return ""
    return f"{process.mem_percent:.1f}% ({human_bytes(process.mem_kb * 1000, binary=False)})"


def _cpu_total(total: float | None) -> str:
    return "" if total is None else f"{total:.1f}%"


def _disk(usage: DiskUsage | None) -> str:
    if usage is None or not usage.percent or not usage.inode_percent:
        return ""
    return f"{usage.percent}% ({usage.inode_percent}i%)"


def _cloud_properties(info: VMInfo) -> str:
    if not info.cloud_properties:
        return ""
    from bosh_core.go_yaml import dump  # only here: start-up time of the other commands

    return dump(dict(info.cloud_properties)).strip()


def _vm_values(info: VMInfo, headers: Sequence[str]) -> dict[str, Cell]:
    """The value of every column of `headers` for an instance's (or VM's) row."""
    vitals = info.vitals
    values: dict[str, Cell] = {
        "Instance": _name(info),
        "Process State": info.process_state,
        "AZ": info.az or "",
        "IPs": list(info.ips),
        "Deployment": info.deployment,
        "State": info.state,
        "VM CID": info.vm_cid or "",
        "VM Type": info.vm_type or "",
        "Disk CIDs": list(info.disk_cids),
        "Agent ID": info.agent_id or "",
        "Index": str(info.index or 0),
        "Bootstrap": _flag(info.bootstrap),
        "Ignore": _flag(info.ignore),
        "Active": "-" if info.active is None else _flag(info.active),
        "Stemcell": (
            f"{info.stemcell_name}/{info.stemcell_version}" if info.stemcell_name else "-"
        ),
        "VM Created At": go_time(info.vm_created_at),
    }
    if "Cloud Properties" in headers:  # YAML, made only when shown
        values["Cloud Properties"] = _cloud_properties(info)
    if vitals is not None:
        values.update(
            {
                "Uptime": _uptime(vitals.uptime_secs),
                "Load\n(1m, 5m, 15m)": ", ".join(vitals.load),
                "CPU\nUser": _percent(vitals.cpu_user),
                "CPU\nSys": _percent(vitals.cpu_sys),
                "CPU\nWait": _percent(vitals.cpu_wait),
                "Memory\nUsage": _memory(vitals.mem),
                "Swap\nUsage": _memory(vitals.swap),
                "System\nDisk Usage": _disk(vitals.disks.get("system")),
                "Ephemeral\nDisk Usage": _disk(vitals.disks.get("ephemeral")),
                "Persistent\nDisk Usage": _disk(vitals.disks.get("persistent")),
            }
        )
    return values


def _process_values(info: VMInfo, process: ProcessInfo) -> dict[str, Cell]:
    """A process row's values: under its instance (whose name it repeats, shown ``~``)."""
    return {
        "Instance": _name(info),
        "Process": process.name,
        "Process State": process.state,
        "Uptime": _uptime(process.uptime_secs),
        "Memory\nUsage": _process_memory(process),
        "CPU\nTotal": _cpu_total(process.cpu_total),
    }


# --- tables ---------------------------------------------------------------------------------


def _row(headers: Sequence[str], values: dict[str, Cell]) -> list[Cell]:
    return [values.get(header, "") for header in headers]


def _instances_table(
    deployment: str, infos: Sequence[VMInfo], layout: _Layout, *, failing: bool, as_json: bool
) -> Table:
    headers = layout.headers()
    rows: list[list[Cell]] = []
    shown = 0
    for info in infos:
        if failing and info.is_running:
            continue
        shown += 1
        rows.append(_row(headers, _vm_values(info, headers)))
        if layout.processes:
            rows += [
                _row(headers, _process_values(info, process))
                for process in info.processes
                if not (failing and process.is_running)
            ]
    table = Table(
        header=headers,
        rows=rows,
        content="instances",
        sort_by=[(0, True), (1, True)],  # an instance's own row before its processes
        title=f"Deployment '{deployment}'",
    )
    if len(rows) != shown and not as_json:
        # The footer counts instances, not their process rows.
        table = table._replace(content="", notes=[f"{shown} instances"])
    return table


def _vms_table(deployment: str, infos: Sequence[VMInfo], layout: _Layout) -> Table:
    headers = layout.headers()
    return Table(
        header=headers,
        rows=[_row(headers, _vm_values(info, headers)) for info in infos],
        content="vms",
        sort_by=[(0, True)],
        title=f"Deployment '{deployment}'",
    )


# --- asking the director ----------------------------------------------------------------------


def _infos(
    cli: CLIContext, director: Director, resource: _Resource
) -> tuple[list[tuple[str, list[VMInfo]]], list[str]]:
    """Each deployment's infos (``-d``'s, or every deployment's) and the failures. Up to
    ``--parallel`` tasks are queued at once, then followed one after the other."""
    if cli.options.deployment:
        names = [cli.options.deployment]
    else:
        try:
            names = [found.name for found in director.deployments()]
        except ClientError as error:
            raise BoshError(f"Finding deployments: {error}") from None
    found: list[tuple[str, list[VMInfo]]] = []
    failures: list[str] = []
    size = max(cli.options.parallel, 1)
    for start in range(0, len(names), size):
        started: list[tuple[str, int]] = []
        for name in names[start : start + size]:
            with _failure_of(name, resource, failures):
                started.append((name, director.start_vm_infos(name, resource).id))
        for name, task_id in started:
            with _failure_of(name, resource, failures):
                track_task(cli.ui, director, task_id)
                found.append((name, director.vm_infos_result(task_id, name)))
    return found, failures


@contextlib.contextmanager
def _failure_of(deployment: str, resource: _Resource, failures: list[str]) -> Iterator[None]:
    """Note a deployment's failure, worded as the reference's, and carry on."""
    try:
        yield
    except BoshError as error:
        failures.append(f"Listing deployment '{deployment}' {resource} infos: {error}")


def _finish(failures: Sequence[str]) -> None:
    if failures:
        raise BoshError("\n".join(failures))


@click.command("instances", short_help="List all instances in a deployment")
@click.option(
    "-i", "--details", is_flag=True, help="Show details including VM CID, persistent disk CID, etc."
)
@click.option("--vitals", is_flag=True, help="Show vitals")
@click.option("-p", "--ps", "processes", is_flag=True, help="Show processes")
@click.option("-f", "--failing", is_flag=True, help="Only show failing instances")
@pass_cli
def instances(cli: CLIContext, details: bool, vitals: bool, processes: bool, failing: bool) -> None:
    layout = _Layout(processes=processes, deployment=True, details=details, vitals=vitals)
    with open_director(cli) as director:
        found, failures = _infos(cli, director, "instances")
    for deployment, infos in found:
        cli.ui.print_table(
            _instances_table(deployment, infos, layout, failing=failing, as_json=cli.ui.json)
        )
    _finish(failures)


@click.command("vms", short_help="List all VMs in all deployments")
@click.option("--vitals", is_flag=True, help="Show vitals")
@click.option("--cloud-properties", is_flag=True, help="Show cloud properties")
@pass_cli
def vms(cli: CLIContext, vitals: bool, cloud_properties: bool) -> None:
    layout = _Layout(
        vm_details=True, stemcell=True, vitals=vitals, cloud_properties=cloud_properties
    )
    with open_director(cli) as director:
        found, failures = _infos(cli, director, "vms")
    for deployment, infos in found:
        cli.ui.print_table(_vms_table(deployment, infos, layout))
    _finish(failures)


COMMANDS = [instances, vms]
