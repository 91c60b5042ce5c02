"""Rollout planning: resolved update settings, group batches, AZ stages, watch schedule."""

from __future__ import annotations

import pytest

from bosh_core.director.errors import AgentJobNotRunningError
from bosh_core.models.manifest import (
    Amount,
    AzUpdateStrategy,
    InstanceGroup,
    InstanceGroupNetwork,
    InstanceGroupUpdate,
    Job,
    Update,
    VmStrategy,
    WatchTime,
)
from bosh_core.planning.rollout import (
    InstanceRef,
    RolloutGroup,
    UpdateOverrides,
    job_not_running_error,
    plan_rollout,
    resolve_update,
    watch_schedule,
)

UPDATE = Update(
    canaries=Amount(1),
    max_in_flight=Amount(2),
    canary_watch_time=WatchTime(1000, 30000),
    update_watch_time=WatchTime(5000, 5000),
)


def _group(name: str, update: InstanceGroupUpdate | None = None) -> InstanceGroup:
    return InstanceGroup(
        name=name,
        instances=3,
        jobs=(Job(name="web", release="app"),),
        stemcell="default",
        networks=(InstanceGroupNetwork(name="default"),),
        update=update,
    )


def _instances(group: str, *azs: str | None) -> tuple[InstanceRef, ...]:
    return tuple(InstanceRef(f"{group}/{index}", az) for index, az in enumerate(azs))


def test_group_block_overrides_the_deployment_and_the_cli_overrides_both() -> None:
    group = _group("web", InstanceGroupUpdate(canaries=Amount(3), serial=False))
    resolved = resolve_update(UPDATE, group)
    assert (resolved.canaries, resolved.max_in_flight, resolved.serial) == (
        Amount(3),
        Amount(2),
        False,
    )
    assert resolved.vm_strategy is VmStrategy.DELETE_CREATE
    assert resolved.canary_watch_time == WatchTime(1000, 30000)
    overridden = resolve_update(
        UPDATE,
        group,
        overrides=UpdateOverrides(canaries=Amount(0), max_in_flight=Amount(50, percent=True)),
        default_vm_strategy=VmStrategy.CREATE_SWAP_DELETE,
    )
    assert (overridden.canaries, overridden.max_in_flight) == (Amount(0), Amount(50, percent=True))
    assert overridden.vm_strategy is VmStrategy.CREATE_SWAP_DELETE


@pytest.mark.parametrize(
    ("amount", "size", "canaries", "max_in_flight"),
    [
        (Amount(2), 5, 2, 2),
        (Amount(9), 5, 5, 9),
        (Amount(25, percent=True), 10, 2, 2),
        (Amount(10, percent=True), 5, 0, 1),
        (Amount(150, percent=True), 4, 4, 4),
        (Amount(0), 3, 0, 1),
    ],
)
def test_counts_round_down_are_capped_and_max_in_flight_is_at_least_one(
    amount: Amount, size: int, canaries: int, max_in_flight: int
) -> None:
    resolved = resolve_update(UPDATE, _group("web"), overrides=UpdateOverrides(amount, amount))
    assert resolved.canaries_for(size) == canaries
    assert resolved.max_in_flight_for(size) == max_in_flight


def test_consecutive_groups_with_the_same_serial_form_batches() -> None:
    parallel = InstanceGroupUpdate(serial=False)
    groups = [
        RolloutGroup(group=_group("db")),
        RolloutGroup(group=_group("web", parallel)),
        RolloutGroup(group=_group("worker", parallel)),
        RolloutGroup(group=_group("smoke")),
    ]
    rollout = plan_rollout(UPDATE, groups, initial_deploy=False)
    assert [(b.serial, [g.name for g in b.groups]) for b in rollout.batches] == [
        (True, ["db"]),
        (False, ["web", "worker"]),
        (True, ["smoke"]),
    ]
    assert not rollout.groups[0].changed


def test_az_by_az_with_canaries_only_in_the_first_az() -> None:
    changed = _instances("web", "z2", "z1", "z2", "z2", "z1", "z2", "z2")
    group = RolloutGroup(group=_group("web"), changed=changed, obsolete=_instances("web", "z1"))
    (rollout,) = plan_rollout(UPDATE, [group], initial_deploy=False).groups
    assert [stage.az for stage in rollout.stages] == ["z2", "z1"]
    first, second = rollout.stages
    assert [i.name for i in first.canaries] == ["web/0"]
    assert [[i.name for i in batch] for batch in first.batches()] == [
        ["web/2", "web/3"],
        ["web/5", "web/6"],
    ]
    assert second.canaries == ()
    assert [i.name for i in second.rest] == ["web/1", "web/4"]
    assert [i.name for i in rollout.delete] == ["web/0"] and rollout.delete_max_in_flight == 2


def test_parallel_az_strategy_applies_only_on_the_first_deploy() -> None:
    update = InstanceGroupUpdate(initial_deploy_az_update_strategy=AzUpdateStrategy.PARALLEL)
    group = RolloutGroup(group=_group("web", update), changed=_instances("web", "z1", "z2", "z1"))
    (initial,) = plan_rollout(UPDATE, [group], initial_deploy=True).groups
    assert [(s.az, len(s.canaries), len(s.rest)) for s in initial.stages] == [(None, 1, 2)]
    (later,) = plan_rollout(UPDATE, [group], initial_deploy=False).groups
    assert [(s.az, len(s.canaries), len(s.rest)) for s in later.stages] == [
        ("z1", 1, 1),
        ("z2", 0, 1),
    ]


@pytest.mark.parametrize(
    ("watch", "schedule"),
    [
        (WatchTime(5000, 5000), (5000.0,)),
        (WatchTime(1000, 10000), (1000.0,) + (1000.0,) * 9),
        (WatchTime(0, 3500), (0.0, 1000.0, 1000.0, 1000.0)),
        (WatchTime(1000, 301000), (1000.0,) + (15000.0,) * 20),
        (WatchTime(0, 90000), (0.0,) + (10000.0,) * 9),
    ],
)
def test_watch_schedule(watch: WatchTime, schedule: tuple[float, ...]) -> None:
    assert watch_schedule(watch) == schedule


def test_job_not_running_message_names_the_failing_jobs() -> None:
    assert job_not_running_error("web/abc (0)", {"job_state": "running"}) is None
    error = job_not_running_error(
        "web/abc (0)",
        {
            "job_state": "failing",
            "processes": [
                {"name": "nginx", "state": "running"},
                {"name": "app", "state": "failing"},
            ],
        },
    )
    assert isinstance(error, AgentJobNotRunningError)
    assert (
        str(error) == "'web/abc (0)' is not running after update. Review logs for failed jobs: app"
    )
    silent = job_not_running_error("web/abc (0)", None)
    assert str(silent) == "'web/abc (0)' is not running after update."
