"""What every VM of a deployment is doing: the ``vms`` task behind ``bosh instances`` and
``bosh vms`` (``GET /deployments/:d/instances|vms?format=full``).

As the reference's ``VmState`` job: one JSON object per line in the task's result, for
every instance (`every_instance`, ``instances``: also those without a VM) or for every
VM of the instances that have an active one (``vms``: inactive VMs of a create-swap-delete
too). The database gives what the director recorded (the rows and addresses come from
the same views as the database-only routes); each VM's agent is asked ``get_state
full`` with a 5 s timeout, all agents at once on a thread pool, for ``job_state``,
``vitals`` and ``processes``. An agent that does not answer in time, or answers with an
error, is reported as ``"unresponsive agent"``, without vitals or processes.

A VM's stemcell is the one its instance was last applied with (its spec's), with the API
version the VM was created for: this director keeps no stemcell name on the VM row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

import attrs
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bosh_core.agent.errors import AgentError
from bosh_core.director import views
from bosh_core.director.db.models import VM, Instance

if TYPE_CHECKING:
    from bosh_core.director.agents import Agents
    from bosh_core.director.db import Database

__all__ = ["AGENT_TIMEOUT", "MAX_THREADS", "UNRESPONSIVE_AGENT", "vm_states"]

_log = logging.getLogger(__name__)

#: Seconds each agent has to answer ``get_state`` (the reference's).
AGENT_TIMEOUT: Final = 5.0
#: Agents asked at once (the reference's ``max_threads`` default).
MAX_THREADS: Final = 32
#: The ``job_state`` of a VM whose agent did not answer.
UNRESPONSIVE_AGENT: Final = "unresponsive agent"


@attrs.frozen
class _Line:
    """One result line's database half, and the agent to ask (None: no VM, or a VM
    whose agent is not known)."""

    recorded: dict[str, Any]
    agent_id: str | None
    has_vm: bool


def vm_states(
    database: Database,
    agents: Agents,
    deployment: str,
    *,
    every_instance: bool,
    write: Callable[[str], None],
    max_threads: int = MAX_THREADS,
) -> str:
    """Write `deployment`'s state lines (each ending with a newline) to `write`, in the
    database's order of instances; the task's result text is empty, as the reference's."""
    with database.read() as session:
        lines = _recorded_lines(session, deployment, every_instance=every_instance)
    if not lines:
        return ""
    with ThreadPoolExecutor(
        max_workers=min(max_threads, len(lines)), thread_name_prefix="vm-state"
    ) as executor:
        for line in executor.map(lambda line: _with_agent_state(agents, line), lines):
            write(json.dumps(line) + "\n")
    return ""


def _recorded_lines(session: Session, deployment: str, *, every_instance: bool) -> list[_Line]:
    found = views.find_deployment(session, deployment)
    instances = {
        instance.uuid: instance
        for instance in session.scalars(
            select(Instance)
            .where(Instance.deployment_id == found.id)
            .options(selectinload(Instance.vms), selectinload(Instance.persistent_disks))
        )
    }
    if every_instance:
        entries = views.deployment_instances(session, found)
    else:
        entries = [
            entry
            for entry in views.deployment_vms(session, found)
            if any(vm.active for vm in instances[entry["id"]].vms)
        ]
    lines = []
    for entry in entries:
        instance = instances[entry["id"]]
        vm = _listed_vm(instance, entry)
        lines.append(
            _Line(
                recorded=_recorded(instance, vm, entry),
                agent_id=None if vm is None else vm.agent_id,
                has_vm=vm is not None,
            )
        )
    return lines


def _listed_vm(instance: Instance, entry: Mapping[str, Any]) -> VM | None:
    """The VM a view's entry is about (None for an instance listed without one)."""
    if entry["cid"] is None and entry["agent_id"] is None:
        return None
    return next(
        vm for vm in instance.vms if (vm.cid, vm.agent_id) == (entry["cid"], entry["agent_id"])
    )


def _recorded(instance: Instance, vm: VM | None, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The line's keys, in the reference's order, with what the database knows."""
    spec = instance.spec or {}
    vm_type = spec.get("vm_type") or {}
    stemcell = (spec.get("stemcell") or {}) if vm is not None else {}
    disks = [disk for disk in instance.persistent_disks if disk.active]
    managed = next((disk.disk_cid for disk in disks if disk.name == ""), None)
    return {
        "vm_cid": entry["cid"],
        "active": None if vm is None else vm.active,
        "vm_created_at": entry["vm_created_at"],
        "cloud_properties": _cloud_properties(instance),
        "disk_cid": managed,
        "disk_cids": [disk.disk_cid for disk in disks],
        "ips": entry["ips"],
        "agent_id": entry["agent_id"],
        "job_name": instance.job,
        "index": instance.index,
        "job_state": None,
        "state": instance.state,
        "vm_type": vm_type.get("name"),
        "vitals": None,
        "processes": [],
        "az": instance.az,
        "id": instance.uuid,
        "bootstrap": instance.bootstrap,
        "ignore": instance.ignore,
        "stemcell": {
            "name": stemcell.get("name"),
            "version": stemcell.get("version"),
            "api_version": None if vm is None else vm.stemcell_api_version,
        },
    }


def _cloud_properties(instance: Instance) -> dict[str, Any]:
    """The instance's cloud properties, else its VM type's (the reference's rule)."""
    if instance.cloud_properties is not None:
        return dict(instance.cloud_properties)
    vm_type = (instance.spec or {}).get("vm_type") or {}
    return dict(vm_type.get("cloud_properties") or {})


def _with_agent_state(agents: Agents, line: _Line) -> dict[str, Any]:
    """The line with its agent's ``job_state``, ``vitals`` and ``processes``."""
    result = dict(line.recorded)
    if not line.has_vm:
        return result
    state = _agent_state(agents, line.agent_id)
    if state is None:
        result["job_state"] = UNRESPONSIVE_AGENT
        return result
    result["job_state"] = state.get("job_state")
    result["vitals"] = state.get("vitals") or None
    result["processes"] = state.get("processes") or []
    return result


def _agent_state(agents: Agents, agent_id: str | None) -> Mapping[str, Any] | None:
    """The agent's ``get_state full``; None when it cannot tell: no agent recorded, no
    answer in time, an error, or an answer that is not a state."""
    if agent_id is None:
        return None
    try:
        state = agents.blocking_client(agent_id, timeout=AGENT_TIMEOUT).send("get_state", "full")
    except AgentError as error:  # timeouts too (AgentTimeoutError)
        _log.info("agent %s did not tell its state: %s", agent_id, error)
        return None
    return state if isinstance(state, Mapping) else None
