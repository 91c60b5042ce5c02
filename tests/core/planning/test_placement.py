"""Placement: AZs, indexes, bootstrap, static-IP driven placement."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any

import pytest

from bosh_core.director.errors import (
    DeploymentIgnoredInstancesModificationError,
    InstanceGroupNetworkInstanceIpMismatchError,
    JobNetworkMissingRequiredAvailabilityZoneError,
    JobStaticIpsFromInvalidAvailabilityZoneError,
    JobUnknownAvailabilityZoneError,
    JobUnknownNetworkError,
)
from bosh_core.models.cloud_config import CloudConfig, load_cloud_config
from bosh_core.models.manifest import InstanceGroup, InstanceGroupNetwork
from bosh_core.planning.networks import ExistingIP
from bosh_core.planning.placement import (
    ExistingInstance,
    InstanceStatus,
    Placement,
    plan_placement,
)


def cloud(azs: tuple[str, ...] = ("z1", "z2", "z3"), *, static: bool = False) -> CloudConfig:
    subnets = [
        {
            "range": f"10.0.{i}.0/24",
            "gateway": f"10.0.{i}.1",
            "dns": ["8.8.8.8"],
            "reserved": [f"10.0.{i}.2 - 10.0.{i}.9"],
            "static": [f"10.0.{i}.10 - 10.0.{i}.19"] if static else [],
            "az": az,
            "cloud_properties": {"subnet": az},
        }
        for i, az in enumerate(azs)
    ]
    return load_cloud_config(
        {
            "azs": [{"name": az} for az in azs],
            "networks": [{"name": "default", "type": "manual", "subnets": subnets}],
            "vm_types": [{"name": "small"}],
            "compilation": {"workers": 1, "network": "default", "az": azs[0]},
        }
    )


def group(
    instances: int, azs: tuple[str, ...] | None = ("z1", "z2", "z3"), **net: Any
) -> InstanceGroup:
    return InstanceGroup(
        name="web",
        azs=azs,
        instances=instances,
        jobs=(),
        stemcell="default",
        vm_type="small",
        networks=(InstanceGroupNetwork(name="default", **net),),
    )


_uuids = (f"uuid-{n}" for n in itertools.count())


def plan(g: InstanceGroup, existing: tuple[ExistingInstance, ...] = (), **kw: Any) -> Placement:
    kw.setdefault("cloud_config", cloud())
    return plan_placement(
        g, deployment="dep", existing=existing, new_uuid=lambda: next(_uuids), **kw
    )


def as_existing(placement: Placement, **changes: Any) -> tuple[ExistingInstance, ...]:
    """What the database holds after `placement` was deployed."""
    return tuple(
        ExistingInstance(
            uuid=i.uuid,
            index=i.index,
            az=i.az,
            bootstrap=i.bootstrap,
            ips=tuple(
                ExistingIP(network=r.network, ip=r.ip, static=r.type == "static")
                for r in i.reservations
                if r.ip
            ),
            **changes,
        )
        for i in placement.instances
    )


def summary(placement: Placement) -> list[tuple[int, str | None]]:
    return [(i.index, i.az) for i in placement.instances]


def test_new_instances_are_balanced_with_indexes_in_order() -> None:
    placement = plan(group(5))
    assert summary(placement) == [(0, "z1"), (1, "z2"), (2, "z3"), (3, "z1"), (4, "z2")]
    assert all(i.status is InstanceStatus.NEW for i in placement.instances)
    assert [i.bootstrap for i in placement.instances] == [True, False, False, False, False]
    assert len({i.uuid for i in placement.instances}) == 5


def test_second_deploy_is_stable() -> None:
    first = plan(group(5))
    second = plan(group(5), as_existing(first))
    assert [(i.uuid, i.index, i.az) for i in second.instances] == [
        (i.uuid, i.index, i.az) for i in first.instances
    ]
    assert all(i.status is InstanceStatus.EXISTING for i in second.instances)
    assert all(r.existing for i in second.instances for r in i.reservations)
    assert [i.network_settings for i in second.instances] == [
        i.network_settings for i in first.instances
    ]
    assert not second.obsolete


def test_scale_down_deletes_the_highest_indexes_and_keeps_balance() -> None:
    first = plan(group(6))
    second = plan(group(3), as_existing(first))
    assert summary(second) == [(0, "z1"), (1, "z2"), (2, "z3")]
    assert sorted(i.index for i in second.obsolete) == [3, 4, 5]
    assert all(i.status is InstanceStatus.OBSOLETE for i in second.obsolete)
    assert {ip.ip for i in second.obsolete for ip in i.released} == {
        r.ip for i in first.instances[3:] for r in i.reservations
    }


def test_scale_up_fills_index_gaps_and_the_emptiest_azs() -> None:
    first = plan(group(3))
    existing = tuple(i for i in as_existing(first) if i.index != 1)
    second = plan(group(4), existing)
    assert summary(second) == [(0, "z1"), (1, "z2"), (2, "z3"), (3, "z1")]
    assert [i.status for i in second.instances].count(InstanceStatus.NEW) == 2


def test_persistent_disk_instances_stay_in_their_az() -> None:
    existing = (
        ExistingInstance(uuid="a", index=0, az="z1", has_persistent_disk=True),
        ExistingInstance(uuid="b", index=1, az="z1", has_persistent_disk=True),
        ExistingInstance(uuid="c", index=2, az="z1", has_persistent_disk=True),
    )
    placement = plan(group(3), existing)
    assert [(i.uuid, i.az) for i in placement.instances] == [("a", "z1"), ("b", "z1"), ("c", "z1")]
    without_disks = plan(
        group(3), tuple(e.__class__(uuid=e.uuid, index=e.index, az=e.az) for e in existing)
    )
    assert Counter(i.az for i in without_disks.instances) == {"z1": 1, "z2": 1, "z3": 1}
    assert {i.uuid for i in without_disks.instances} == {"a"} | {
        i.uuid for i in without_disks.instances if i.status is InstanceStatus.NEW
    }


def test_removed_az_moves_instances() -> None:
    first = plan(group(3))
    second = plan(group(3, azs=("z1", "z2")), as_existing(first))
    assert Counter(i.az for i in second.instances) == {"z1": 2, "z2": 1}
    assert [i.index for i in second.obsolete] == [2]
    assert [i.index for i in second.instances if i.status is InstanceStatus.NEW] == [3]


def test_bootstrap_stays_with_its_instance() -> None:
    first = plan(group(3))
    existing = tuple(
        ExistingInstance(uuid=e.uuid, index=e.index, az=e.az, bootstrap=e.index == 2, ips=e.ips)
        for e in as_existing(first)
    )
    assert [i.bootstrap for i in plan(group(3), existing).instances] == [False, False, True]


def test_randomized_placement_still_balances() -> None:
    import random

    placement = plan(group(6), randomize_az_placement=True, rng=random.Random(3))
    assert Counter(i.az for i in placement.instances) == {"z1": 2, "z2": 2, "z3": 2}


def test_ignored_instances_may_not_be_deleted() -> None:
    first = plan(group(2))
    existing = as_existing(first, ignore=True)
    with pytest.raises(DeploymentIgnoredInstancesModificationError, match="has 2 ignored instance"):
        plan(group(1), existing)
    kept = plan(group(2), existing)
    assert [i.uuid for i in kept.instances] == [i.uuid for i in first.instances]


def test_no_azs() -> None:
    config = load_cloud_config(
        {
            "networks": [
                {"name": "default", "subnets": [{"range": "10.1.0.0/24", "gateway": "10.1.0.1"}]}
            ],
            "compilation": {"workers": 1, "network": "default"},
        }
    )
    placement = plan(group(2, azs=None), cloud_config=config)
    assert summary(placement) == [(0, None), (1, None)]
    assert [i.reservations[0].ip for i in placement.instances] == ["10.1.0.2", "10.1.0.3"]


def test_static_ips_decide_the_azs() -> None:
    config = cloud(static=True)
    ips = ("10.0.1.10", "10.0.0.10", "10.0.2.10", "10.0.0.11")
    placement = plan(group(4, static_ips=ips), cloud_config=config)
    assert [
        (i.index, i.az, i.reservations[0].ip, i.reservations[0].type) for i in placement.instances
    ] == [
        (0, "z2", "10.0.1.10", "static"),
        (1, "z1", "10.0.0.10", "static"),
        (2, "z3", "10.0.2.10", "static"),
        (3, "z1", "10.0.0.11", "static"),
    ]
    again = plan(group(4, static_ips=ips), as_existing(placement), cloud_config=config)
    assert [(i.uuid, i.az, i.reservations[0].ip) for i in again.instances] == [
        (i.uuid, i.az, i.reservations[0].ip) for i in placement.instances
    ]
    # dropping an IP deletes the instance holding it, even though it is not the highest index
    fewer = plan(group(3, static_ips=ips[1:]), as_existing(placement), cloud_config=config)
    assert [i.index for i in fewer.obsolete] == [0]
    assert [i.index for i in fewer.instances] == [1, 2, 3]


def test_static_ip_errors() -> None:
    config = cloud(static=True)
    with pytest.raises(
        InstanceGroupNetworkInstanceIpMismatchError,
        match=r"'10\.0\.0\.50', which belongs to no subnet",
    ):
        plan(group(1, static_ips=("10.0.0.50",)), cloud_config=config)
    with pytest.raises(
        JobStaticIpsFromInvalidAvailabilityZoneError, match=r"static ip '10\.0\.2\.10'"
    ):
        plan(group(1, azs=("z1",), static_ips=("10.0.2.10",)), cloud_config=config)


def test_reference_errors() -> None:
    with pytest.raises(JobUnknownAvailabilityZoneError, match="unknown availability zone 'z9'"):
        plan(group(1, azs=("z9",)))
    bad = InstanceGroup(
        name="web",
        instances=1,
        jobs=(),
        stemcell="s",
        vm_type="small",
        networks=(InstanceGroupNetwork(name="nope"),),
    )
    with pytest.raises(JobUnknownNetworkError, match="unknown network 'nope'"):
        plan(bad)
    with pytest.raises(JobNetworkMissingRequiredAvailabilityZoneError):
        plan(group(1, azs=("z1",)), cloud_config=_one_az_network())


def _one_az_network() -> CloudConfig:
    return load_cloud_config(
        {
            "azs": [{"name": "z1"}, {"name": "z2"}],
            "networks": [
                {
                    "name": "default",
                    "subnets": [{"range": "10.1.0.0/24", "gateway": "10.1.0.1", "az": "z2"}],
                }
            ],
            "compilation": {"workers": 1, "network": "default", "az": "z2"},
        }
    )


def test_a_thousand_instances_plan_fast() -> None:
    big = load_cloud_config(
        {
            "azs": [{"name": "z1"}, {"name": "z2"}],
            "networks": [
                {
                    "name": "default",
                    "subnets": [
                        {"range": "10.0.0.0/22", "gateway": "10.0.0.1", "az": "z1"},
                        {"range": "10.1.0.0/22", "gateway": "10.1.0.1", "az": "z2"},
                    ],
                }
            ],
            "compilation": {"workers": 1, "network": "default", "az": "z1"},
        }
    )
    started = time.perf_counter()
    first = plan(group(1000, azs=("z1", "z2")), cloud_config=big)
    second = plan(group(1000, azs=("z1", "z2")), as_existing(first), cloud_config=big)
    assert time.perf_counter() - started < 3
    assert len({r.ip for i in first.instances for r in i.reservations}) == 1000
    assert [i.uuid for i in second.instances] == [i.uuid for i in first.instances]
