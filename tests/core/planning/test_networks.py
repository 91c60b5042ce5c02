"""IP reservation: manual, dynamic and vip networks; conflicts; agent network settings."""

from __future__ import annotations

from typing import Any

import pytest

from bosh_core.director.errors import (
    NetworkReservationAlreadyInUseError,
    NetworkReservationIpReservedError,
    NetworkReservationNotEnoughCapacityError,
)
from bosh_core.models.cloud_config import CloudConfig, load_cloud_config
from bosh_core.models.manifest import InstanceGroup, InstanceGroupNetwork
from bosh_core.planning.networks import InstanceRef, IPAllocator, IPHolder
from bosh_core.planning.placement import plan_placement

CONFIG = load_cloud_config(
    {
        "azs": [{"name": "z1"}],
        "networks": [
            {
                "name": "private",
                "subnets": [
                    {
                        "range": "10.0.0.0/28",
                        "gateway": "10.0.0.2",
                        "dns": ["10.0.0.53"],
                        "reserved": ["10.0.0.3 - 10.0.0.4"],
                        "static": ["10.0.0.6"],
                        "az": "z1",
                        "cloud_properties": {"net": "a"},
                    }
                ],
            },
            {"name": "cloud", "type": "dynamic", "subnets": [{"az": "z1", "dns": ["1.1.1.1"]}]},
            {"name": "public", "type": "vip", "cloud_properties": {"eip": True}},
            {
                "name": "pool",
                "type": "vip",
                "subnets": [{"static": ["52.0.0.1 - 52.0.0.2"], "az": "z1"}],
            },
        ],
        "compilation": {"workers": 1, "network": "private", "az": "z1"},
    }
)


def ref(uuid: str = "u1", index: int = 0) -> InstanceRef:
    return InstanceRef(deployment="dep", instance_group="web", uuid=uuid, index=index, az="z1")


def test_dynamic_ips_skip_network_gateway_reserved_static_and_held() -> None:
    allocator = IPAllocator(
        CONFIG.networks,
        reserved={
            "10.0.0.7": IPHolder(
                network="private", deployment="other", instance_group="db", instance_uuid="x"
            )
        },
        director_ips=["10.0.0.9"],
    )
    ips = [allocator.reserve_dynamic(ref(f"u{n}", n), "private").ip for n in range(5)]
    # .0 network, .1 free, .2 gateway, .3-.4 reserved, .5 free, .6 static, .7 held, .8, .9 director
    assert ips == ["10.0.0.1", "10.0.0.5", "10.0.0.8", "10.0.0.10", "10.0.0.11"]
    for n in range(5, 8):
        allocator.reserve_dynamic(ref(f"u{n}", n), "private")
    with pytest.raises(
        NetworkReservationNotEnoughCapacityError,
        match=r"Failed to reserve IP for 'web/u8 \(8\)' for manual network 'private':"
        r" no more available",
    ):  # .15 is the broadcast
        allocator.reserve_dynamic(ref("u8", 8), "private")


def test_conflicts_name_the_holder() -> None:
    allocator = IPAllocator(
        CONFIG.networks,
        reserved={
            "10.0.0.6": IPHolder(
                network="private", deployment="other", instance_group="db", instance_uuid="x"
            ),
            "10.0.0.5": IPHolder(network="private"),
        },
    )
    with pytest.raises(
        NetworkReservationAlreadyInUseError,
        match=r"Failed to reserve IP '10.0.0.6' for instance 'web/u1 \(0\)': already reserved by"
        r" instance 'db/x' from deployment 'other'",
    ):
        allocator.reserve_static(ref(), "private", "10.0.0.6")
    with pytest.raises(NetworkReservationAlreadyInUseError, match="by orphaned instance"):
        allocator.reserve_static(ref(), "private", "10.0.0.5")
    with pytest.raises(NetworkReservationIpReservedError, match="IP belongs to reserved range"):
        allocator.reserve_static(ref(), "private", "10.0.0.3")
    # the same instance may take its own IP again
    mine = IPAllocator(
        CONFIG.networks,
        reserved={
            "10.0.0.6": IPHolder(
                network="private", deployment="dep", instance_group="web", instance_uuid="u1"
            )
        },
    )
    assert mine.reserve_static(ref(), "private", "10.0.0.6").type == "static"


def group(*networks: InstanceGroupNetwork, instances: int = 1) -> InstanceGroup:
    return InstanceGroup(
        name="web",
        azs=("z1",),
        instances=instances,
        jobs=(),
        stemcell="s",
        vm_type="v",
        networks=networks,
    )


def settings(g: InstanceGroup, config: CloudConfig = CONFIG, **kw: Any) -> dict[str, Any]:
    placement = plan_placement(g, deployment="dep", cloud_config=config, new_uuid=lambda: "u", **kw)
    return placement.instances[0].network_settings


def test_single_network_is_default_for_dns_and_gateway() -> None:
    assert settings(group(InstanceGroupNetwork(name="private"))) == {
        "private": {
            "type": "manual",
            "ip": "10.0.0.1",
            "prefix": "32",
            "netmask": "255.255.255.240",
            "cloud_properties": {"net": "a"},
            "default": ["dns", "gateway"],
            "dns": ["10.0.0.53"],
            "gateway": "10.0.0.2",
        }
    }


def test_several_networks_dynamic_and_vip() -> None:
    result = settings(
        group(
            InstanceGroupNetwork(name="cloud"),
            InstanceGroupNetwork(name="private", default=("gateway", "dns")),
            InstanceGroupNetwork(name="public", static_ips=("34.0.0.9",)),
            InstanceGroupNetwork(name="pool"),
        )
    )
    assert result["cloud"] == {
        "type": "dynamic",
        "cloud_properties": {},
        "prefix": "32",
        "dns": ["1.1.1.1"],
    }
    assert result["private"]["default"] == ["dns", "gateway"]
    assert result["public"] == {
        "type": "vip",
        "ip": "34.0.0.9",
        "cloud_properties": {"eip": True},
        "prefix": "32",
    }
    assert result["pool"]["ip"] == "52.0.0.1"
    taken = {
        "52.0.0.1": IPHolder(network="pool", deployment="o", instance_group="g", instance_uuid="z")
    }
    assert (
        settings(
            group(InstanceGroupNetwork(name="private"), InstanceGroupNetwork(name="pool")),
            reserved_ips=taken,
        )["pool"]["ip"]
        == "52.0.0.2"
    )


def test_changed_reserved_range_moves_an_existing_ip() -> None:
    from bosh_core.planning.networks import ExistingIP
    from bosh_core.planning.placement import ExistingInstance

    existing = (
        ExistingInstance(
            uuid="u", index=0, az="z1", ips=(ExistingIP(network="private", ip="10.0.0.4"),)
        ),
    )
    held = {
        "10.0.0.4": IPHolder(
            network="private", deployment="dep", instance_group="web", instance_uuid="u"
        )
    }
    placement = plan_placement(
        group(InstanceGroupNetwork(name="private")),
        deployment="dep",
        cloud_config=CONFIG,
        existing=existing,
        reserved_ips=held,
    )
    instance = placement.instances[0]
    assert instance.reservations[0].ip == "10.0.0.1"
    assert not instance.reservations[0].existing
    assert [ip.ip for ip in instance.released] == ["10.0.0.4"]
