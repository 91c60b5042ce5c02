"""What changed for one instance, and what the director must do about it.

The reference's ``InstancePlan#changes`` compares the desired instance with the last
applied spec, the VM and the agent's state; the kinds of change decide the action
(``needs_shutting_down?`` and friends):

- only ``dns`` and/or ``tags`` -> a light update (DNS records, VM metadata), no restart;
- ``cloud_properties``, ``stemcell``, ``env``, ``recreate`` or ``network`` -> a new VM;
- anything else (``packages``, ``configuration``, ``job``, ``persistent_disk``,
  ``restart``, ``dirty``, ``state``...) -> restart in place (stop, apply, start).

Values are compared as given: the caller interpolates ``((variables))`` of both sides
with their variable sets first, as the reference does.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "ActualInstance",
    "Change",
    "ChangeKind",
    "DesiredInstance",
    "DesiredState",
    "DiskSpec",
    "InstanceAction",
    "InstanceChanges",
    "InstanceSpec",
    "Requests",
    "VmFacts",
    "plan_changes",
]


class ChangeKind(enum.StrEnum):
    """The reference's change names, in its order."""

    DIRTY = "dirty"
    RESTART = "restart"
    RECREATE = "recreate"
    RECREATE_PERSISTENT_DISKS = "recreate_persistent_disks"
    CLOUD_PROPERTIES = "cloud_properties"
    STEMCELL = "stemcell"
    ENV = "env"
    NETWORK = "network"
    PACKAGES = "packages"
    PERSISTENT_DISK = "persistent_disk"
    CONFIGURATION = "configuration"
    JOB = "job"
    STATE = "state"
    DNS = "dns"
    TAGS = "tags"


_NEW_VM = frozenset(
    {
        ChangeKind.CLOUD_PROPERTIES,
        ChangeKind.STEMCELL,
        ChangeKind.ENV,
        ChangeKind.RECREATE,
        ChangeKind.NETWORK,
    }
)
_LIGHT = frozenset({ChangeKind.DNS, ChangeKind.TAGS})
_PACKAGE_KEYS = ("blobstore_id", "sha1", "name", "version")


class InstanceAction(enum.StrEnum):
    NONE = "none"
    LIGHT_UPDATE = "light_update"  # DNS records and VM metadata only
    RESTART = "restart"  # stop, apply, start on the same VM
    RECREATE = "recreate"  # a new VM (delete-create or create-swap-delete)
    CREATE = "create"  # no VM yet: create one
    DETACH = "detach"  # stop and delete the VM, keep the disks
    DELETE = "delete"  # obsolete instance: delete the VM, orphan the disks


@attrs.frozen
class DiskSpec:
    """A persistent disk as compared: size in MiB and cloud properties."""

    name: str
    size: int
    cloud_properties: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class InstanceSpec:
    """The comparable parts of an instance's spec: what the director stores as the
    applied spec, and what planning wants now. ``packages`` is the apply spec's
    ``packages`` (name -> {name, version, sha1, blobstore_id, ...}); ``job`` its ``job``
    ({name, templates: [{name, ...}]}); ``networks`` the network settings."""

    stemcell_name: str | None = None
    stemcell_version: str | None = None
    cloud_properties: Mapping[str, Any] = attrs.field(factory=dict)
    env: Mapping[str, Any] = attrs.field(factory=dict)
    networks: Mapping[str, Any] = attrs.field(factory=dict)
    packages: Mapping[str, Any] = attrs.field(factory=dict)
    configuration_hash: str | None = None
    job: Mapping[str, Any] | None = None
    persistent_disks: tuple[DiskSpec, ...] = ()
    dns_records: tuple[str, ...] = ()
    tags: Mapping[str, Any] = attrs.field(factory=dict)


class DesiredState(enum.StrEnum):
    STARTED = "started"
    STOPPED = "stopped"
    DETACHED = "detached"
    RESTART = "restart"  # started, restarted once (bosh restart)
    RECREATE = "recreate"  # started, on a new VM (bosh recreate)


@attrs.frozen(kw_only=True)
class DesiredInstance:
    spec: InstanceSpec
    state: DesiredState = DesiredState.STARTED

    @property
    def target_state(self) -> str:
        """The state the instance ends in (restart and recreate end started)."""
        if self.state in (DesiredState.RESTART, DesiredState.RECREATE):
            return DesiredState.STARTED.value
        return self.state.value


@attrs.frozen(kw_only=True)
class VmFacts:
    """The instance's active VM as recorded; ``env`` is what it was created with."""

    created_at: dt.datetime | None = None
    env: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class ActualInstance:
    """An existing instance: its last applied spec, its DB state, its VM and what its
    agent said (``job_state`` of ``get_state``: running, failing, stopped, or
    ``unresponsive`` when it did not answer under ``--fix``; None without a VM)."""

    spec: InstanceSpec
    state: str = "started"
    vm: VmFacts | None = None
    job_state: str | None = None
    update_completed: bool = True
    persistent_disks: tuple[DiskSpec, ...] = ()


@attrs.frozen(kw_only=True)
class Requests:
    """Deploy flags that force changes: ``--recreate`` (optionally only VMs created
    before a time) and ``--recreate-persistent-disks``."""

    recreate: bool = False
    recreate_vms_created_before: dt.datetime | None = None
    recreate_persistent_disks: bool = False


@attrs.frozen
class Change:
    kind: ChangeKind
    reason: str


@attrs.frozen(kw_only=True)
class InstanceChanges:
    """The changes of one instance, in the reference's order, and the action."""

    changes: tuple[Change, ...]
    action: InstanceAction

    @property
    def kinds(self) -> frozenset[ChangeKind]:
        return frozenset(change.kind for change in self.changes)


def plan_changes(
    desired: DesiredInstance | None,
    actual: ActualInstance | None,
    *,
    requests: Requests = Requests(),
) -> InstanceChanges:
    """Changes and action for an instance: `desired` None is an obsolete instance,
    `actual` None a new one."""
    if desired is None:
        if actual is None:
            raise ValueError("an instance is desired, existing, or both")
        reasons = [Change(ChangeKind.PERSISTENT_DISK, "obsolete instance has persistent disks")]
        return InstanceChanges(
            changes=tuple(reasons) if actual.persistent_disks else (),
            action=InstanceAction.DELETE,
        )
    changes = tuple(_changes(desired, actual, requests))
    return InstanceChanges(changes=changes, action=_action(desired, actual, changes))


def _action(
    desired: DesiredInstance, actual: ActualInstance | None, changes: tuple[Change, ...]
) -> InstanceAction:
    kinds = {change.kind for change in changes}
    has_vm = actual is not None and actual.vm is not None
    if not kinds:
        return InstanceAction.NONE
    if desired.target_state == DesiredState.DETACHED:
        return InstanceAction.DETACH if has_vm else InstanceAction.NONE
    if not has_vm:
        return InstanceAction.CREATE
    if kinds & _NEW_VM:
        return InstanceAction.RECREATE
    if kinds <= _LIGHT:
        return InstanceAction.LIGHT_UPDATE
    return InstanceAction.RESTART


def _changes(
    desired: DesiredInstance, actual: ActualInstance | None, requests: Requests
) -> list[Change]:
    want = desired.spec
    have = actual.spec if actual is not None else InstanceSpec()
    found: list[Change] = []

    def add(kind: ChangeKind, reason: str) -> None:
        found.append(Change(kind, reason))

    unresponsive = actual is not None and actual.job_state == "unresponsive"
    if actual is not None and not actual.update_completed:
        add(ChangeKind.DIRTY, "the previous update of this instance did not complete")
    if desired.state is DesiredState.RESTART:
        add(ChangeKind.RESTART, "restart requested")
    recreate = _recreate_reason(desired, actual, requests, unresponsive=unresponsive)
    if recreate:
        add(ChangeKind.RECREATE, recreate)
    if requests.recreate_persistent_disks:
        add(ChangeKind.RECREATE_PERSISTENT_DISKS, "recreating persistent disks requested")
    if dict(want.cloud_properties) != dict(have.cloud_properties):
        add(ChangeKind.CLOUD_PROPERTIES, _from_to(have.cloud_properties, want.cloud_properties))
    if have.stemcell_name is not None and have.stemcell_name != want.stemcell_name:
        add(ChangeKind.STEMCELL, _from_to(have.stemcell_name, want.stemcell_name))
    elif have.stemcell_version is not None and have.stemcell_version != want.stemcell_version:
        add(
            ChangeKind.STEMCELL,
            _from_to(f"version: {have.stemcell_version}", f"version: {want.stemcell_version}"),
        )
    vm_env = actual.vm.env if actual is not None and actual.vm is not None else None
    if vm_env and dict(vm_env) != dict(want.env):
        add(ChangeKind.ENV, _from_to(vm_env, want.env))
    network = _network_reason(have.networks, want.networks, new=actual is None)
    if network:
        add(ChangeKind.NETWORK, network)
    if _comparable_packages(have.packages) != _comparable_packages(want.packages):
        add(ChangeKind.PACKAGES, _from_to(sorted(have.packages), sorted(want.packages)))
    disks = _disk_reason(actual, want, requests)
    if disks:
        add(ChangeKind.PERSISTENT_DISK, disks)
    if want.configuration_hash != have.configuration_hash:
        add(ChangeKind.CONFIGURATION, _from_to(have.configuration_hash, want.configuration_hash))
    if have.job is None or _comparable_job(have.job) != _comparable_job(want.job):
        add(ChangeKind.JOB, _from_to(_comparable_job(have.job), _comparable_job(want.job)))
    state = _state_reason(desired, actual, unresponsive=unresponsive)
    if state:
        add(ChangeKind.STATE, state)
    if set(have.dns_records) != set(want.dns_records):
        add(ChangeKind.DNS, _from_to(sorted(have.dns_records), sorted(want.dns_records)))
    if actual is None or dict(have.tags) != dict(want.tags):
        add(ChangeKind.TAGS, _from_to(None if actual is None else have.tags, want.tags))
    return found


def _from_to(old: object, new: object) -> str:
    return f"changed FROM: {old} TO: {new}"


def _recreate_reason(
    desired: DesiredInstance,
    actual: ActualInstance | None,
    requests: Requests,
    *,
    unresponsive: bool,
) -> str | None:
    """The reference's ``recreation_requested?``, with the reason it logs."""
    if unresponsive:
        return "the agent is unresponsive"
    if not (requests.recreate or desired.state is DesiredState.RECREATE):
        return None
    threshold = requests.recreate_vms_created_before
    if threshold is None:
        return "recreate requested"
    if actual is not None and not actual.update_completed:
        return "recreate requested and the instance is dirty"
    created_at = actual.vm.created_at if actual is not None and actual.vm is not None else None
    if created_at is None:
        return "recreate requested and the VM's creation time is unknown"
    if created_at < threshold:
        return f"VM created at {created_at.isoformat()} is older than {threshold.isoformat()}"
    return None


def _network_reason(have: Mapping[str, Any], want: Mapping[str, Any], *, new: bool) -> str | None:
    """New instances get new reservations; existing ones change when their network
    settings do (the per-deploy ``dns_record_name`` does not count)."""
    if new:
        return f"new reservations on {', '.join(sorted(want))}" if want else None
    if not have:
        return None
    old, wanted = _without_dns_record_name(have), _without_dns_record_name(want)
    return _from_to(old, wanted) if old != wanted else None


def _without_dns_record_name(networks: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: (
            {key: value for key, value in settings.items() if key != "dns_record_name"}
            if isinstance(settings, Mapping)
            else settings
        )
        for name, settings in networks.items()
    }


def _comparable_packages(packages: Mapping[str, Any]) -> dict[str, Any]:
    """Packages compare by name, version, sha1 and blobstore id only."""
    return {
        name: {key: spec.get(key) for key in _PACKAGE_KEYS if key in spec}
        if isinstance(spec, Mapping)
        else spec
        for name, spec in packages.items()
    }


def _comparable_job(job: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Jobs compare by name and templates (sorted by name), as the reference does."""
    if job is None:
        return None
    comparable = {key: job[key] for key in ("name", "templates") if key in job}
    if "templates" in comparable:
        comparable["templates"] = sorted(
            comparable["templates"], key=lambda template: str(template.get("name"))
        )
    return comparable


def _disk_reason(
    actual: ActualInstance | None, want: InstanceSpec, requests: Requests
) -> str | None:
    if requests.recreate_persistent_disks:
        return "recreating persistent disks requested"
    have = actual.persistent_disks if actual is not None else ()
    if _disk_set(have) == _disk_set(want.persistent_disks):
        return None
    return _from_to(
        [_describe(disk) for disk in have], [_describe(disk) for disk in want.persistent_disks]
    )


def _disk_set(disks: tuple[DiskSpec, ...]) -> dict[str, tuple[int, Any]]:
    return {disk.name: (disk.size, dict(disk.cloud_properties)) for disk in disks}


def _describe(disk: DiskSpec) -> str:
    return f"{disk.name or 'disk'} ({disk.size} MiB)"


def _state_reason(
    desired: DesiredInstance, actual: ActualInstance | None, *, unresponsive: bool
) -> str | None:
    """The reference's ``state_changed?``: a requested detach, or jobs not in the
    desired state as the agent reports them."""
    target = desired.target_state
    current = actual.state if actual is not None else None
    if target == DesiredState.DETACHED:
        return f"state changed FROM: {current} TO: {target}" if current != target else None
    if unresponsive:
        return "the agent is unresponsive"
    running = actual is not None and actual.job_state == "running"
    if target == DesiredState.STOPPED and running:
        return "state is 'stopped' and the agent reports 'running'"
    if target == DesiredState.STARTED and not running:
        job_state = actual.job_state if actual is not None else None
        return f"state is 'started' and the agent reports '{job_state or 'no VM'}'"
    return None
