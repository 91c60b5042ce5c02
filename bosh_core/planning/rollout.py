"""How a deploy rolls out: update settings per instance group, batches of groups, and
the AZ-by-AZ canary/max_in_flight stages within a group.

Follows the reference (``UpdateConfig``, ``NumericalValueCalculator``,
``BatchMultiInstanceGroupUpdater``, ``InstanceGroupUpdater``, ``Starter``):

- a group's settings are the deployment's ``update`` block overridden key by key by the
  group's own, and ``--canaries`` / ``--max-in-flight`` from the command line override
  both;
- consecutive groups with the same ``serial`` form a batch: a serial batch updates its
  groups one after another, a parallel batch all at once;
- within a group only the changed instances are updated, AZ by AZ in order of first
  appearance (all AZs as one stage on a first deploy with
  ``initial_deploy_az_update_strategy: parallel``). Canaries and max_in_flight are
  computed from the size of each stage; only the first stage has canaries. Canaries run
  first (at most max_in_flight at a time) and must all succeed; then the rest go through
  a pool of max_in_flight workers, each starting as soon as a slot frees;
- after ``start`` the director polls the agent on `watch_schedule`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import attrs

from bosh_core.director.errors import AgentJobNotRunningError
from bosh_core.models.manifest import (
    Amount,
    AzUpdateStrategy,
    InstanceGroup,
    Update,
    VmStrategy,
    WatchTime,
)

__all__ = [
    "AzStage",
    "GroupBatch",
    "GroupRollout",
    "InstanceRef",
    "ResolvedUpdate",
    "Rollout",
    "RolloutGroup",
    "UpdateOverrides",
    "job_not_running_error",
    "plan_rollout",
    "resolve_update",
    "watch_schedule",
]

# The reference polls about ten times per watch window, never more often than every
# second nor less often than every 15 seconds.
_WATCH_INTERVALS = 10
_MIN_WATCH_STEP_MS = 1000.0
_MAX_WATCH_STEP_MS = 15000.0


@attrs.frozen
class UpdateOverrides:
    """``bosh deploy --canaries N --max-in-flight N``: they beat every update block."""

    canaries: Amount | None = None
    max_in_flight: Amount | None = None


@attrs.frozen(kw_only=True)
class ResolvedUpdate:
    """An instance group's effective update settings."""

    canaries: Amount
    max_in_flight: Amount
    canary_watch_time: WatchTime
    update_watch_time: WatchTime
    serial: bool
    vm_strategy: VmStrategy
    initial_deploy_az_update_strategy: AzUpdateStrategy

    def canaries_for(self, size: int) -> int:
        """Canaries among `size` instances to update (a percentage rounds down)."""
        return max(min(self.canaries.of(size), size), 0)

    def max_in_flight_for(self, size: int) -> int:
        """Instances updated at once among `size` (at least one, or nothing moves)."""
        return max(self.max_in_flight.of(size), 1)


def resolve_update(
    deployment: Update,
    group: InstanceGroup,
    *,
    overrides: UpdateOverrides = UpdateOverrides(),
    default_vm_strategy: VmStrategy = VmStrategy.DELETE_CREATE,
) -> ResolvedUpdate:
    """The update settings of `group`; `default_vm_strategy` is the director's
    ``default_update_vm_strategy``, used when no block names one."""
    merged = deployment.overridden_by(group.update)
    return ResolvedUpdate(
        canaries=overrides.canaries or merged.canaries,
        max_in_flight=overrides.max_in_flight or merged.max_in_flight,
        canary_watch_time=merged.canary_watch_time,
        update_watch_time=merged.update_watch_time,
        serial=merged.serial,
        vm_strategy=merged.vm_strategy or default_vm_strategy,
        initial_deploy_az_update_strategy=merged.initial_deploy_az_update_strategy,
    )


@attrs.frozen
class InstanceRef:
    """An instance to update, as the event log names it (``ig/uuid``), and its AZ."""

    name: str
    az: str | None = None


@attrs.frozen(kw_only=True)
class RolloutGroup:
    """Input per instance group, in manifest order: the instances whose ``changes`` are
    not empty (in placement order) and the obsolete instances to delete."""

    group: InstanceGroup
    changed: tuple[InstanceRef, ...] = ()
    obsolete: tuple[InstanceRef, ...] = ()


@attrs.frozen(kw_only=True)
class AzStage:
    """The instances of one AZ (or of every AZ, ``az`` None, when updated together).
    ``canaries`` go first and all must succeed; then ``rest`` with at most
    ``max_in_flight`` in flight."""

    az: str | None
    canaries: tuple[InstanceRef, ...]
    rest: tuple[InstanceRef, ...]
    max_in_flight: int

    def batches(self) -> tuple[tuple[InstanceRef, ...], ...]:
        """`rest` cut in max_in_flight-sized groups: how a dry run shows the order. A
        worker pool does not wait for a whole batch before starting the next."""
        size = self.max_in_flight
        return tuple(self.rest[start : start + size] for start in range(0, len(self.rest), size))


@attrs.frozen(kw_only=True)
class GroupRollout:
    """One instance group's rollout: deletions first, then its AZ stages in order."""

    name: str
    update: ResolvedUpdate
    delete: tuple[InstanceRef, ...]
    delete_max_in_flight: int
    stages: tuple[AzStage, ...]

    @property
    def changed(self) -> bool:
        """Something happens to the group (it then counts for post-deploy)."""
        return bool(self.delete or self.stages)


@attrs.frozen(kw_only=True)
class GroupBatch:
    """Consecutive groups with the same ``serial``: one after another, or all at once."""

    serial: bool
    groups: tuple[GroupRollout, ...]


@attrs.frozen
class Rollout:
    batches: tuple[GroupBatch, ...]

    @property
    def groups(self) -> tuple[GroupRollout, ...]:
        return tuple(group for batch in self.batches for group in batch.groups)


def plan_rollout(
    deployment: Update,
    groups: Sequence[RolloutGroup],
    *,
    initial_deploy: bool,
    overrides: UpdateOverrides = UpdateOverrides(),
    default_vm_strategy: VmStrategy = VmStrategy.DELETE_CREATE,
) -> Rollout:
    """The rollout of a deploy. `initial_deploy` is true when the deployment has no
    stored manifest yet (it enables ``initial_deploy_az_update_strategy: parallel``)."""
    planned = [
        _group_rollout(
            item,
            resolve_update(
                deployment,
                item.group,
                overrides=overrides,
                default_vm_strategy=default_vm_strategy,
            ),
            initial_deploy=initial_deploy,
        )
        for item in groups
    ]
    batches: list[GroupBatch] = []
    for group in planned:
        if batches and batches[-1].serial == group.update.serial:
            batches[-1] = attrs.evolve(batches[-1], groups=(*batches[-1].groups, group))
        else:
            batches.append(GroupBatch(serial=group.update.serial, groups=(group,)))
    return Rollout(tuple(batches))


def _group_rollout(
    item: RolloutGroup, update: ResolvedUpdate, *, initial_deploy: bool
) -> GroupRollout:
    parallel_azs = (
        initial_deploy and update.initial_deploy_az_update_strategy is AzUpdateStrategy.PARALLEL
    )
    if parallel_azs:
        per_az: Mapping[str | None, list[InstanceRef]] = {None: list(item.changed)}
    else:
        per_az = _by_az(item.changed)
    stages = []
    for position, (az, instances) in enumerate(per_az.items()):
        canaries = update.canaries_for(len(instances)) if position == 0 else 0
        stages.append(
            AzStage(
                az=az,
                canaries=tuple(instances[:canaries]),
                rest=tuple(instances[canaries:]),
                max_in_flight=update.max_in_flight_for(len(instances)),
            )
        )
    return GroupRollout(
        name=item.group.name,
        update=update,
        delete=item.obsolete,
        delete_max_in_flight=update.max_in_flight_for(len(item.obsolete)),
        stages=tuple(stages),
    )


def _by_az(instances: Iterable[InstanceRef]) -> dict[str | None, list[InstanceRef]]:
    """Instances per AZ, AZs in order of first appearance (dicts keep insertion order)."""
    grouped: dict[str | None, list[InstanceRef]] = {}
    for instance in instances:
        grouped.setdefault(instance.az, []).append(instance)
    return grouped


def watch_schedule(watch: WatchTime) -> tuple[float, ...]:
    """Milliseconds to sleep before each ``get_state`` poll after ``start``: first the
    min watch time, then steps of (max-min)/9 clamped to 1..15 s, as many as fit before
    max (the reference's ``Starter#watch_schedule``)."""
    delta = float(watch.max_ms - watch.min_ms)
    step = min(max(delta / (_WATCH_INTERVALS - 1), _MIN_WATCH_STEP_MS), _MAX_WATCH_STEP_MS)
    return (float(watch.min_ms), *([step] * math.floor(delta / step)))


def job_not_running_error(
    instance: str, state: Mapping[str, object] | None
) -> AgentJobNotRunningError | None:
    """The error when the last ``get_state`` of the watch (`state`, None when no poll
    answered) does not say ``running``; None when it does. `instance` is the
    reference's instance description, ``ig/uuid (index)``."""
    state = state or {}
    if state.get("job_state") == "running":
        return None
    processes = state.get("processes")
    failing = [
        str(process["name"])
        for process in (processes if isinstance(processes, list) else [])
        if isinstance(process, Mapping)
        and process.get("name") is not None
        and process.get("state") != "running"
    ]
    message = f"'{instance}' is not running after update."
    if failing:
        message += f" Review logs for failed jobs: {', '.join(failing)}"
    return AgentJobNotRunningError(message)
