"""IP reservation on the cloud config's networks, as the director's IP provider does it.

One `IPAllocator` serves one deploy's planning: it is built from the cloud-config
networks and from every IP the director already holds (its ``ip_addresses`` table, all
deployments, so an IP is unique across deployments), then hands out reservations:

- *manual* networks: a static IP must lie in a subnet and outside its restricted
  addresses (network id, broadcast, gateway, ``reserved``, director IPs); a dynamic IP is
  the lowest free address of the first subnet (in the instance's AZ) that has one,
  skipping restricted addresses, the ``static`` ranges and every IP held anywhere;
- *dynamic* networks: the IaaS assigns the IP, the reservation only picks the subnet
  (by AZ) whose ``cloud_properties`` and ``dns`` the agent gets;
- *vip* networks: IPs from the instance group's ``static_ips``, or, when the network has
  subnets, from their ``static`` pools (globally allocated).

A conflict names the holder, as the reference does. Allocation keeps a cursor per subnet
(an IP taken during planning is never given back before the update), so planning N
instances costs O(N + addresses skipped), not O(N x addresses).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from bosh_core.director.errors import (
    NetworkReservationAlreadyInUseError,
    NetworkReservationIpOutsideSubnetError,
    NetworkReservationIpReservedError,
    NetworkReservationNotEnoughCapacityError,
    NetworkSubnetInvalidAvailabilityZoneError,
)
from bosh_core.models.cloud_config import (
    ManualNetwork,
    ManualSubnet,
    Network,
    VipNetwork,
)
from bosh_core.models.validation import IPBlock, cidr_block, ip_blocks

__all__ = [
    "ExistingIP",
    "IPAllocator",
    "IPHolder",
    "InstanceRef",
    "NetworkType",
    "Reservation",
    "ReservationType",
]

NetworkType = Literal["manual", "dynamic", "vip"]
ReservationType = Literal["static", "dynamic"]

_IPKey = tuple[int, int]
"""An address as (IP version, integer value): v4 and v6 values never collide."""

_Runs = tuple[tuple[int, int], ...]
"""Sorted, merged (first, last) address runs of one IP version."""


@attrs.frozen(kw_only=True)
class IPHolder:
    """Who holds an IP, as a row of the director's ``ip_addresses`` table tells it.

    ``instance_uuid`` None is an IP whose instance is gone (an orphaned reservation).
    """

    network: str
    deployment: str | None = None
    instance_group: str | None = None
    instance_uuid: str | None = None
    static: bool = False

    def describe(self) -> str:
        if self.instance_uuid is None:
            return "orphaned instance"
        return (
            f"instance '{self.instance_group}/{self.instance_uuid}'"
            f" from deployment '{self.deployment}'"
        )


@attrs.frozen(kw_only=True)
class InstanceRef:
    """The instance a reservation is for; its text is the reference's ``ig/uuid (index)``."""

    deployment: str
    instance_group: str
    uuid: str
    index: int
    az: str | None = None

    def __str__(self) -> str:
        return f"{self.instance_group}/{self.uuid} ({self.index})"

    def holds(self, holder: IPHolder) -> bool:
        return holder.deployment == self.deployment and holder.instance_uuid == self.uuid


@attrs.frozen(kw_only=True)
class ExistingIP:
    """An IP an existing instance holds from a previous deploy."""

    network: str
    ip: str
    static: bool = False


@attrs.frozen(kw_only=True)
class Reservation:
    """One instance's place on one network, with what the agent needs to configure it.

    ``ip`` is None on a dynamic network (the IaaS assigns it). ``existing`` says the
    reservation is kept from the previous deploy (so the network did not change).
    ``default`` lists what this network is default for (``dns``, ``gateway``), or None.
    """

    network: str
    network_type: NetworkType
    type: ReservationType
    ip: str | None
    netmask: str | None = None
    gateway: str | None = None
    dns: tuple[str, ...] | None = None
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)
    prefix: str = "32"
    default: tuple[str, ...] | None = None
    existing: bool = False

    def settings(self) -> dict[str, Any]:
        """The agent's network settings for this network, keyed as the reference writes them."""
        if self.network_type == "vip":
            return {
                "type": "vip",
                "ip": self.ip,
                "cloud_properties": self.cloud_properties,
                "prefix": self.prefix,
            }
        settings: dict[str, Any] = {"type": self.network_type}
        if self.network_type == "manual":
            settings |= {"ip": self.ip, "prefix": self.prefix, "netmask": self.netmask}
        settings["cloud_properties"] = self.cloud_properties
        if self.network_type == "dynamic":
            settings["prefix"] = self.prefix
        if self.default is not None:
            settings["default"] = sorted(self.default)
        if self.dns is not None:
            settings["dns"] = list(self.dns)
        if self.gateway is not None:
            settings["gateway"] = self.gateway
        return settings


def _merge(blocks: Iterable[IPBlock], version: int) -> _Runs:
    runs: list[tuple[int, int]] = []
    for first, last in sorted((b.first, b.last) for b in blocks if b.version == version):
        if runs and first <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(last, runs[-1][1]))
        else:
            runs.append((first, last))
    return tuple(runs)


def _run_containing(runs: _Runs, value: int) -> tuple[int, int] | None:
    at = bisect.bisect_right(runs, (value, float("inf"))) - 1
    if at >= 0 and runs[at][0] <= value <= runs[at][1]:
        return runs[at]
    return None


def _ip_key(text: str) -> _IPKey:
    """The address of an IP (a ``/32`` or ``/128`` CIDR as stored by newer directors too)."""
    block = cidr_block(text)
    return block.version, block.first


def _ip_text(key: _IPKey) -> str:
    return str(ipaddress.ip_address(key[1]) if key[0] == 4 else ipaddress.IPv6Address(key[1]))


@attrs.frozen(kw_only=True)
class _Subnet:
    """A subnet read once for allocation: its range, restricted and static runs."""

    network: str
    version: int
    first: int
    last: int
    az_names: tuple[str, ...]
    restricted: _Runs
    static: _Runs
    cloud_properties: dict[str, Any]
    netmask: str | None = None
    gateway: str | None = None
    dns: tuple[str, ...] | None = None

    @property
    def prefix(self) -> str:
        return "32" if self.version == 4 else "128"

    def contains(self, key: _IPKey) -> bool:
        return key[0] == self.version and self.first <= key[1] <= self.last

    def is_static(self, key: _IPKey) -> bool:
        return key[0] == self.version and _run_containing(self.static, key[1]) is not None

    def is_reservable(self, key: _IPKey) -> bool:
        return self.contains(key) and _run_containing(self.restricted, key[1]) is None

    def serves(self, az: str | None) -> bool:
        """Whether an instance in `az` may take an IP here (no AZ: any subnet)."""
        return az is None or az in self.az_names

    def reservation(
        self, key: _IPKey | None, network_type: NetworkType, type_: ReservationType
    ) -> Reservation:
        return Reservation(
            network=self.network,
            network_type=network_type,
            type=type_,
            ip=None if key is None else _ip_text(key),
            netmask=self.netmask,
            gateway=self.gateway,
            dns=self.dns,
            cloud_properties=self.cloud_properties,
            prefix=self.prefix,
        )


def _manual_subnet(network: str, subnet: ManualSubnet, director_ips: Sequence[IPBlock]) -> _Subnet:
    whole = ipaddress.ip_network(subnet.range.strip(), strict=False)
    version, first, last = whole.version, int(whole[0]), int(whole[-1])
    restricted = [
        IPBlock("network id", version, first, first),
        IPBlock("broadcast", version, last, last),
        *ip_blocks(subnet.reserved),
        *director_ips,
    ]
    gateway = None if subnet.gateway is None else cidr_block(subnet.gateway)
    if gateway is not None:
        restricted.append(gateway)
    return _Subnet(
        network=network,
        version=version,
        first=first,
        last=last,
        az_names=subnet.az_names,
        restricted=_merge(restricted, version),
        static=_merge(ip_blocks(subnet.static), version),
        cloud_properties=subnet.cloud_properties,
        netmask=str(whole.netmask),
        gateway=None if gateway is None else gateway.address(gateway.first),
        dns=subnet.dns,
    )


def _pool_subnets(network: Network, director_ips: Sequence[IPBlock]) -> list[_Subnet]:
    if isinstance(network, ManualNetwork):
        return [_manual_subnet(network.name, s, director_ips) for s in network.subnets]
    if isinstance(network, VipNetwork):
        subnets = []
        for vip_subnet in network.subnets:
            blocks = ip_blocks(vip_subnet.static)
            version = blocks[0].version if blocks else 4
            subnets.append(
                _Subnet(
                    network=network.name,
                    version=version,
                    first=min((b.first for b in blocks), default=0),
                    last=max((b.last for b in blocks), default=-1),
                    az_names=vip_subnet.az_names,
                    restricted=(),
                    static=_merge(blocks, version),
                    cloud_properties=network.cloud_properties,
                )
            )
        return subnets
    if network.subnets is None:
        return [
            _Subnet(
                network=network.name,
                version=4,
                first=0,
                last=-1,
                az_names=(),
                restricted=(),
                static=(),
                cloud_properties=network.cloud_properties,
                dns=network.dns,
            )
        ]
    return [
        _Subnet(
            network=network.name,
            version=4,
            first=0,
            last=-1,
            az_names=s.az_names,
            restricted=(),
            static=(),
            cloud_properties=s.cloud_properties,
            dns=s.dns,
        )
        for s in network.subnets
    ]


class IPAllocator:
    """Hands out IPs for one deploy's planning; remembers what it gave.

    `reserved` maps every IP the director holds (any deployment) to its holder;
    `director_ips` (CIDRs or IPs) are never given out. The allocator is mutable on
    purpose: it is the one record of what this planning has taken so far.
    """

    def __init__(
        self,
        networks: Iterable[Network],
        *,
        reserved: Mapping[str, IPHolder] | None = None,
        director_ips: Sequence[str] = (),
    ) -> None:
        director_blocks = ip_blocks(director_ips)
        self.networks: dict[str, Network] = {network.name: network for network in networks}
        self._subnets = {
            name: _pool_subnets(network, director_blocks) for name, network in self.networks.items()
        }
        self._held: dict[_IPKey, IPHolder] = {
            _ip_key(ip): holder for ip, holder in (reserved or {}).items()
        }
        self._cursors: dict[tuple[str, int], int] = {}

    # -- questions the placement asks ---------------------------------------------------

    def static_subnet_azs(self, network: str, ip: str) -> tuple[str, ...] | None:
        """The AZs of the subnet whose ``static`` range holds `ip`; None when none does."""
        key = _ip_key(ip)
        subnet = next((s for s in self._subnets[network] if s.is_static(key)), None)
        return None if subnet is None else subnet.az_names

    def network_type(self, network: str) -> NetworkType:
        found = self.networks[network]
        return "manual" if isinstance(found, ManualNetwork) else found.type

    def globally_allocated(self, network: str) -> bool:
        """A vip network with subnets gives out its IPs itself (instance groups may not)."""
        found = self.networks[network]
        return isinstance(found, VipNetwork) and bool(found.subnets)

    # -- reservations ------------------------------------------------------------------

    def reserve_static(self, instance: InstanceRef, network: str, ip: str) -> Reservation:
        """Reserve `ip` (from the instance group's ``static_ips``) for `instance`."""
        key = _ip_key(ip)
        found = self.networks[network]
        if isinstance(found, VipNetwork):
            self._claim(key, instance, network, static=True)
            return Reservation(
                network=network,
                network_type="vip",
                type="static",
                ip=_ip_text(key),
                cloud_properties=found.cloud_properties,
                prefix="32" if key[0] == 4 else "128",
            )
        subnet = next((s for s in self._subnets[network] if s.contains(key)), None)
        if subnet is None:
            raise NetworkReservationIpOutsideSubnetError(
                f"Provided static IP '{ip}' does not belong to any subnet in network '{network}'"
            )
        if not subnet.is_reservable(key):
            raise NetworkReservationIpReservedError(
                f"Failed to reserve IP '{ip}' for network '{network}': IP belongs to reserved range"
            )
        type_: ReservationType = "static" if subnet.is_static(key) else "dynamic"
        self._claim(key, instance, network, static=type_ == "static")
        return subnet.reservation(key, "manual", type_)

    def keep(self, instance: InstanceRef, network: str, existing: ExistingIP) -> Reservation | None:
        """The existing dynamic reservation when it is still valid for `instance`, else None.

        Valid: the IP lies, unrestricted and outside the static ranges, in a subnet of
        the network that serves the instance's AZ (a vip pool for a global vip network).
        """
        network_type = self.network_type(network)
        if existing.static or network_type == "dynamic":
            return None
        key = _ip_key(existing.ip)
        for subnet in self._subnets[network]:
            if network_type == "vip":
                usable = subnet.is_static(key)
            else:
                usable = subnet.is_reservable(key) and not subnet.is_static(key)
            if usable and subnet.serves(instance.az) and self._free_for(key, instance):
                self._claim(key, instance, network, static=False)
                return attrs.evolve(subnet.reservation(key, network_type, "dynamic"), existing=True)
        return None

    def reserve_dynamic(self, instance: InstanceRef, network: str) -> Reservation:
        """A new dynamic reservation: the lowest free IP (manual, global vip) or a subnet."""
        network_type = self.network_type(network)
        subnets = [(i, s) for i, s in enumerate(self._subnets[network]) if s.serves(instance.az)]
        if network_type == "dynamic":
            if not subnets:
                raise NetworkSubnetInvalidAvailabilityZoneError(
                    f"Network '{network}' has no matching subnet for availability zone"
                    f" '{instance.az}'"
                )
            return subnets[0][1].reservation(None, "dynamic", "dynamic")
        for position, subnet in subnets:
            key = self._lowest_free(network, position, subnet, vip=network_type == "vip")
            if key is not None:
                self._claim(key, instance, network, static=False)
                return subnet.reservation(key, network_type, "dynamic")
        raise NetworkReservationNotEnoughCapacityError(
            f"Failed to reserve IP for '{instance}' for {network_type} network '{network}':"
            " no more available"
        )

    # -- bookkeeping -------------------------------------------------------------------

    def _free_for(self, key: _IPKey, instance: InstanceRef) -> bool:
        holder = self._held.get(key)
        return holder is None or instance.holds(holder)

    def _claim(self, key: _IPKey, instance: InstanceRef, network: str, *, static: bool) -> None:
        holder = self._held.get(key)
        if holder is not None and not instance.holds(holder):
            raise NetworkReservationAlreadyInUseError(
                f"Failed to reserve IP '{_ip_text(key)}' for instance '{instance}':"
                f" already reserved by {holder.describe()}"
            )
        self._held[key] = IPHolder(
            network=network,
            deployment=instance.deployment,
            instance_group=instance.instance_group,
            instance_uuid=instance.uuid,
            static=static,
        )

    def _lowest_free(
        self, network: str, position: int, subnet: _Subnet, *, vip: bool
    ) -> _IPKey | None:
        """The lowest address of `subnet` nobody holds and rules allow, from its cursor."""
        cursor = self._cursors.get((network, position), subnet.first)
        while cursor <= subnet.last:
            if vip:
                run = _run_containing(subnet.static, cursor)
                if run is None:  # jump to the next pool run
                    at = bisect.bisect_right(subnet.static, (cursor, float("inf")))
                    if at >= len(subnet.static):
                        break
                    cursor = subnet.static[at][0]
                    continue
            else:
                run = _run_containing(subnet.restricted, cursor) or _run_containing(
                    subnet.static, cursor
                )
                if run is not None:
                    cursor = run[1] + 1
                    continue
            key = (subnet.version, cursor)
            cursor += 1
            if key not in self._held:
                self._cursors[(network, position)] = cursor
                return key
        self._cursors[(network, position)] = cursor
        return None
