"""Instance placement: which existing instances stay, in which AZ, with which index and IPs.

The director's placement planner, as pure data in and out (`plan_placement`):

- with static IPs on a manual network, the IPs decide: an existing instance that holds
  one of them keeps it and its AZ; other existing instances stay when their AZ still has
  free static IPs; new instances go to the AZ of the next free static IP;
- otherwise, in order: ignored instances keep their place; instances with a persistent
  disk keep their AZ; the rest is balanced across the group's AZs (fewest instances
  first; a tie goes to an AZ that still has an unclaimed existing instance, then to the
  smallest AZ name, or a random one with ``randomize_az_placement``). Among the existing
  instances of an AZ the lowest indexes are kept, so scaling down deletes the highest.

Existing instances keep their uuid and index; a new one gets a fresh uuid and the lowest
index no instance of the group uses (obsolete ones included: they still exist until the
update deletes them). One desired instance is the bootstrap one: the existing bootstrap
instance when there is exactly one, else the lowest index. Networks are then reserved by
`bosh_core.planning.networks`.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import attrs

from bosh_core.director.errors import (
    DeploymentIgnoredInstancesModificationError,
    InstanceGroupNetworkInstanceIpMismatchError,
    JobInvalidAvailabilityZoneError,
    JobNetworkMissingRequiredAvailabilityZoneError,
    JobStaticIPNotSupportedOnDynamicNetworkError,
    JobStaticIpsFromInvalidAvailabilityZoneError,
    JobUnknownAvailabilityZoneError,
    JobUnknownNetworkError,
    NetworkReservationError,
    NetworkReservationVipDefaultProvidedError,
    NetworkReservationVipMisconfiguredError,
)
from bosh_core.models.cloud_config import CloudConfig, DynamicNetwork, ManualNetwork, Network
from bosh_core.models.manifest import InstanceGroup, InstanceGroupNetwork
from bosh_core.models.validation import ip_blocks
from bosh_core.planning.networks import (
    ExistingIP,
    InstanceRef,
    IPAllocator,
    IPHolder,
    Reservation,
)

__all__ = [
    "ExistingInstance",
    "InstanceStatus",
    "Placement",
    "PlannedInstance",
    "plan_placement",
]

_REQUIRED_DEFAULTS = ("dns", "gateway")


@attrs.frozen(kw_only=True)
class ExistingInstance:
    """An instance of the group from the director's database."""

    uuid: str
    index: int
    az: str | None = None
    has_persistent_disk: bool = False
    ignore: bool = False
    bootstrap: bool = False
    ips: tuple[ExistingIP, ...] = ()


class InstanceStatus(StrEnum):
    NEW = "new"
    EXISTING = "existing"
    OBSOLETE = "obsolete"


@attrs.frozen(kw_only=True)
class PlannedInstance:
    """One instance after placement.

    ``reservations`` follow the instance group's network order; ``released`` lists the
    existing IPs the instance no longer uses (freed after the update).
    """

    instance_group: str
    uuid: str
    index: int
    az: str | None
    status: InstanceStatus
    bootstrap: bool = False
    reservations: tuple[Reservation, ...] = ()
    released: tuple[ExistingIP, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.instance_group}/{self.uuid}"

    @property
    def network_settings(self) -> dict[str, dict[str, Any]]:
        """The ``networks`` the agent gets (its settings and the apply spec)."""
        return {r.network: r.settings() for r in self.reservations}


@attrs.frozen(kw_only=True)
class Placement:
    """The group's desired instances (by index) and the existing ones to delete."""

    instance_group: str
    instances: tuple[PlannedInstance, ...]
    obsolete: tuple[PlannedInstance, ...]


@attrs.define
class _Slot:
    """A desired instance while it is being placed."""

    az: str | None
    existing: ExistingInstance | None = None
    static_ips: dict[str, str] = attrs.field(factory=dict)


def plan_placement(
    group: InstanceGroup,
    *,
    deployment: str,
    cloud_config: CloudConfig,
    existing: Sequence[ExistingInstance] = (),
    reserved_ips: Mapping[str, IPHolder] | None = None,
    director_ips: Sequence[str] = (),
    allocator: IPAllocator | None = None,
    randomize_az_placement: bool = False,
    rng: random.Random | None = None,
    new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Placement:
    """Place `group`'s instances and reserve their IPs.

    Pass one `allocator` to plan several groups of a deploy (so they share what is
    taken); otherwise one is built from `reserved_ips` and `director_ips`.
    """
    networks = _check_group(group, cloud_config)
    allocator = allocator or IPAllocator(
        cloud_config.networks, reserved=reserved_ips, director_ips=director_ips
    )
    ordered = sorted(existing, key=lambda instance: instance.index)
    _check_ignored(group, ordered)
    placed = [
        n
        for n in group.networks
        if not isinstance(networks[n.name], ManualNetwork) or not n.static_ips
    ]
    static_networks = [n for n in group.networks if n not in placed]
    if static_networks:
        slots, obsolete = _StaticIpPicker(group, static_networks, allocator).place(ordered)
    else:
        slots, obsolete = _place_by_az(
            group, ordered, rng=(rng or random.Random()) if randomize_az_placement else None
        )
    indexes = _assign_indexes(slots, ordered)
    refs = [
        InstanceRef(
            deployment=deployment,
            instance_group=group.name,
            uuid=slot.existing.uuid if slot.existing else new_uuid(),
            index=index,
            az=slot.az,
        )
        for slot, index in zip(slots, indexes, strict=True)
    ]
    order = sorted(range(len(slots)), key=lambda i: refs[i].index)
    reservations = _reserve(group, networks, allocator, [(refs[i], slots[i]) for i in order])
    bootstrap = _bootstrap_index([slots[i].existing for i in order], [refs[i] for i in order])
    instances = tuple(
        PlannedInstance(
            instance_group=group.name,
            uuid=refs[i].uuid,
            index=refs[i].index,
            az=refs[i].az,
            status=InstanceStatus.EXISTING if slots[i].existing else InstanceStatus.NEW,
            bootstrap=refs[i].index == bootstrap,
            reservations=reservations[position],
            released=_released(slots[i].existing, reservations[position]),
        )
        for position, i in enumerate(order)
    )
    return Placement(
        instance_group=group.name,
        instances=instances,
        obsolete=tuple(
            PlannedInstance(
                instance_group=group.name,
                uuid=instance.uuid,
                index=instance.index,
                az=instance.az,
                status=InstanceStatus.OBSOLETE,
                released=instance.ips,
            )
            for instance in obsolete
        ),
    )


# -- checks ------------------------------------------------------------------------------


def _network_azs(network: Network) -> set[str | None]:
    """The AZs a network reaches; None stands for subnets without AZ."""
    if isinstance(network, DynamicNetwork) and network.subnets is None:
        return {None}
    subnets: Iterable[Any] = network.subnets or ()
    return {az for subnet in subnets for az in (subnet.az_names or (None,))}


def _check_group(group: InstanceGroup, cloud_config: CloudConfig) -> dict[str, Network]:
    """The group's cloud networks by name, after the reference's reference checks."""
    known = {network.name: network for network in cloud_config.networks}
    azs = {az.name for az in cloud_config.azs}
    for name in group.azs or ():
        if name not in azs:
            raise JobUnknownAvailabilityZoneError(
                f"Instance group '{group.name}' references unknown availability zone '{name}'"
            )
    networks: dict[str, Network] = {}
    for job_network in group.networks:
        network = known.get(job_network.name)
        if network is None:
            raise JobUnknownNetworkError(
                f"Instance group '{group.name}' references an unknown network '{job_network.name}'"
            )
        if isinstance(network, DynamicNetwork) and job_network.static_ips is not None:
            raise JobStaticIPNotSupportedOnDynamicNetworkError(
                f"Instance group '{group.name}' using dynamic network '{network.name}' cannot"
                " specify static IP(s)"
            )
        if network.type == "vip":
            if job_network.default:
                raise NetworkReservationVipDefaultProvidedError(
                    "Can't provide any defaults since this is a VIP network"
                )
            if job_network.static_ips and network.subnets:
                raise NetworkReservationVipMisconfiguredError(
                    "IPs cannot be specified in both the instance group and the cloud config"
                )
        else:
            reached = _network_azs(network)
            wanted: Iterable[str | None] = group.azs or (None,)
            if not (group.azs is None and reached == {None}) and not set(wanted) <= reached:
                raise JobNetworkMissingRequiredAvailabilityZoneError(
                    f"Instance group '{group.name}' must specify availability zone that"
                    f" matches availability zones of network '{network.name}'"
                )
        networks[network.name] = network
    return networks


def _check_ignored(group: InstanceGroup, existing: Sequence[ExistingInstance]) -> None:
    ignored = [instance for instance in existing if instance.ignore]
    if not ignored:
        return
    where = f"Instance Group '{group.name}'"
    if len(ignored) > group.instances:
        raise DeploymentIgnoredInstancesModificationError(
            f"{where} has {len(ignored)} ignored instance(s). {group.instances} instance(s) of"
            " that instance group were requested. Deleting ignored instances is not allowed."
        )
    gone = sorted({i.az for i in ignored if i.az is not None} - set(group.azs or ()))
    if gone:
        listed = ", ".join(f'"{az}"' for az in gone)
        raise DeploymentIgnoredInstancesModificationError(
            f"{where} no longer contains AZs [{listed}] where ignored instance(s) exist."
        )
    desired = sorted({network.name for network in group.networks})
    for instance in ignored:
        if sorted({ip.network for ip in instance.ips}) != desired:
            raise DeploymentIgnoredInstancesModificationError(
                f"In instance group '{group.name}', which contains ignored vms, an attempt was"
                " made to modify the networks. This operation is not allowed."
            )


# -- placement without static IPs --------------------------------------------------------


def _place_by_az(
    group: InstanceGroup, existing: Sequence[ExistingInstance], *, rng: random.Random | None
) -> tuple[list[_Slot], list[ExistingInstance]]:
    """The reference's AvailabilityZonePicker; `rng` None breaks ties by AZ name."""
    unclaimed: dict[str | None, deque[ExistingInstance]] = {}
    for instance in existing:
        unclaimed.setdefault(instance.az, deque()).append(instance)
    count = Counter(instance.az for instance in existing)
    azs = sorted(group.azs, key=lambda az: -count[az]) if group.azs is not None else None
    slots: list[_Slot] = []
    remaining = group.instances

    def claim(instance: ExistingInstance) -> None:
        nonlocal remaining
        unclaimed[instance.az].remove(instance)
        slots.append(_Slot(az=instance.az, existing=instance))
        remaining -= 1

    for instance in [i for i in existing if i.ignore]:
        claim(instance)
    if azs is not None:
        for instance in [i for i in existing if i.has_persistent_disk and not i.ignore]:
            if remaining == 0:
                break
            if instance.az in azs:
                claim(instance)
    weight = dict.fromkeys(azs or (), 0)
    for slot in slots:
        if slot.az in weight:
            weight[slot.az] += 1
    preferred = Counter(i.az for queue in unclaimed.values() for i in queue if i.az is not None)
    for _ in range(remaining):
        az = _balance(weight, preferred, rng)
        queue = unclaimed.get(az)
        slots.append(_Slot(az=az, existing=queue.popleft() if queue else None))
    obsolete = sorted(
        (i for queue in unclaimed.values() for i in queue), key=lambda instance: instance.index
    )
    return slots, obsolete


def _balance(
    weight: dict[str, int], preferred: Counter[str], rng: random.Random | None
) -> str | None:
    """The AZ with the fewest instances (the reference's Balancer), counted in."""
    if not weight:
        return None
    least = min(weight.values())
    tied = [az for az, placed in weight.items() if placed == least]
    chosen = next((az for az in tied if preferred[az] > 0), None) if len(tied) > 1 else tied[0]
    if chosen is None:
        chosen = rng.choice(tied) if rng is not None else min(tied)
    weight[chosen] += 1
    if preferred[chosen] > 0:
        preferred[chosen] -= 1
    return chosen


# -- placement by static IPs --------------------------------------------------------------


class _StaticIps:
    """One network's static IPs with the AZs each may go to; claims them in order."""

    def __init__(self, ips: list[str], azs: dict[str, tuple[str | None, ...]]) -> None:
        self.order = ips
        self.azs = azs
        self.claimed: set[str] = set()
        self.by_az: dict[str | None, deque[str]] = {}
        for ip in ips:
            for az in azs[ip]:
                self.by_az.setdefault(az, deque()).append(ip)
        self._next = 0

    def first_free(self) -> str | None:
        while self._next < len(self.order) and self.order[self._next] in self.claimed:
            self._next += 1
        return self.order[self._next] if self._next < len(self.order) else None

    def free_in(self, az: str | None) -> str | None:
        queue = self.by_az.get(az)
        while queue and queue[0] in self.claimed:
            queue.popleft()
        return queue[0] if queue else None


class _StaticIpPicker:
    """The reference's StaticIpsAvailabilityZonePicker, greedy where it brute-forces.

    The reference pins each IP that may go to several AZs so that every network ends up
    with the same count per AZ; here a new instance takes the AZ (among the next free
    IP's) with the fewest instances, which gives the same counts for the usual layouts.
    """

    def __init__(
        self,
        group: InstanceGroup,
        networks: Sequence[InstanceGroupNetwork],
        allocator: IPAllocator,
    ) -> None:
        self.group = group
        desired: tuple[str | None, ...] = tuple(group.azs) if group.azs is not None else (None,)
        self.ips: dict[str, _StaticIps] = {}
        for network in networks:
            addresses = [
                block.address(value)
                for block in ip_blocks(network.static_ips or ())
                for value in range(block.first, block.last + 1)
            ]
            azs: dict[str, tuple[str | None, ...]] = {}
            for ip in addresses:
                subnet_azs = allocator.static_subnet_azs(network.name, ip)
                if subnet_azs is None:
                    raise InstanceGroupNetworkInstanceIpMismatchError(
                        f"Instance group '{group.name}' with network '{network.name}' declares"
                        f" static ip '{ip}', which belongs to no subnet"
                    )
                if group.azs is None and subnet_azs:
                    raise JobInvalidAvailabilityZoneError(
                        f"Instance group '{group.name}' subnets declare availability zones and"
                        " the instance group does not"
                    )
                options = tuple(az for az in dict.fromkeys(subnet_azs or (None,)) if az in desired)
                if not options:
                    raise JobStaticIpsFromInvalidAvailabilityZoneError(
                        f"Instance group '{group.name}' declares static ip '{ip}' which does not"
                        " belong to any of the instance group's availability zones."
                    )
                azs[ip] = options
            self.ips[network.name] = _StaticIps(addresses, azs)

    def place(
        self, existing: Sequence[ExistingInstance]
    ) -> tuple[list[_Slot], list[ExistingInstance]]:
        slots: list[_Slot] = []
        obsolete: list[ExistingInstance] = []
        rest: list[ExistingInstance] = []
        for instance in existing:
            held = {
                name: ip.ip
                for name, pool in self.ips.items()
                for ip in instance.ips
                if ip.ip in pool.azs
            }
            if not held:
                rest.append(instance)
            elif len(slots) == self.group.instances:
                obsolete.append(instance)
                for name, ip in held.items():
                    self.ips[name].claimed.add(ip)  # nobody else takes an IP being deleted
            else:
                slots.append(self._keep_holder(instance, held))
        for instance in rest:
            if len(slots) < self.group.instances and all(
                pool.free_in(instance.az) for pool in self.ips.values()
            ):
                slots.append(_Slot(az=instance.az, existing=instance))
            else:
                obsolete.append(instance)
        for slot in slots:
            self._fill(slot)
        if any(i.ignore for i in obsolete):
            raise DeploymentIgnoredInstancesModificationError(
                f"In instance group '{self.group.name}', an attempt was made to remove a static"
                " ip that is used by an ignored instance. This operation is not allowed."
            )
        placed = Counter(slot.az for slot in slots)
        first = next(iter(self.ips.values()))
        for _ in range(self.group.instances - len(slots)):
            next_ip = first.first_free()
            if next_ip is None:
                raise _distribution_error()
            az = min(first.azs[next_ip], key=lambda option: placed[option])
            placed[az] += 1
            slot = _Slot(az=az)
            self._fill(slot)
            slots.append(slot)
        return slots, sorted(obsolete, key=lambda instance: instance.index)

    def _keep_holder(self, instance: ExistingInstance, held: dict[str, str]) -> _Slot:
        name, ip = next(iter(held.items()))
        if instance.az not in self.ips[name].azs[ip]:
            raise NetworkReservationError(
                f"Existing instance '{self.group.name}/{instance.index}' is using IP '{ip}' in"
                f" availability zone '{instance.az}'"
            )
        slot = _Slot(az=instance.az, existing=instance)
        for network, address in held.items():
            pool = self.ips[network]
            if instance.az in pool.azs[address]:
                pool.claimed.add(address)
                slot.static_ips[network] = address
        return slot

    def _fill(self, slot: _Slot) -> None:
        """Give `slot` a free IP in its AZ on each static network it lacks one on."""
        for network, pool in self.ips.items():
            if network in slot.static_ips:
                continue
            ip = pool.free_in(slot.az)
            if ip is None:
                raise _distribution_error()
            pool.claimed.add(ip)
            slot.static_ips[network] = ip


def _distribution_error() -> NetworkReservationError:
    return NetworkReservationError(
        "Failed to distribute static IPs to satisfy existing instance reservations"
    )


# -- indexes, bootstrap, reservations ---------------------------------------------------------


def _assign_indexes(slots: Sequence[_Slot], existing: Sequence[ExistingInstance]) -> list[int]:
    """Existing instances keep theirs; new ones take the lowest indexes nobody uses."""
    used = {instance.index for instance in existing}
    free = (index for index in range(len(used) + len(slots) + 1) if index not in used)
    return [slot.existing.index if slot.existing else next(free) for slot in slots]


def _bootstrap_index(
    existing: Sequence[ExistingInstance | None], refs: Sequence[InstanceRef]
) -> int | None:
    current = [
        ref.index
        for instance, ref in zip(existing, refs, strict=True)
        if instance is not None and instance.bootstrap
    ]
    if len(current) == 1:
        return current[0]
    return min((ref.index for ref in refs), default=None)


def _defaults(group: InstanceGroup) -> dict[str, tuple[str, ...] | None]:
    if len(group.networks) == 1:
        return {group.networks[0].name: _REQUIRED_DEFAULTS}
    return {n.name: tuple(n.default) or None for n in group.networks}


def _reserve(
    group: InstanceGroup,
    networks: Mapping[str, Network],
    allocator: IPAllocator,
    placed: Sequence[tuple[InstanceRef, _Slot]],
) -> list[tuple[Reservation, ...]]:
    """Every instance's reservations, in the group's network order.

    Static and kept reservations go first for all instances, new dynamic IPs after, so a
    new instance never takes an address an existing one keeps.
    """
    defaults = _defaults(group)
    vip_ips = {
        n.name: _vip_static_ips(group.name, n, placed)
        for n in group.networks
        if networks[n.name].type == "vip" and not allocator.globally_allocated(n.name)
    }
    table: list[list[Reservation | None]] = []
    for position, (ref, slot) in enumerate(placed):
        row: list[Reservation | None] = []
        for network in group.networks:
            name = network.name
            reservation: Reservation | None
            if name in slot.static_ips:
                reservation = allocator.reserve_static(ref, name, slot.static_ips[name])
            elif name in vip_ips:
                reservation = allocator.reserve_static(ref, name, vip_ips[name][position])
            else:
                reservation = next(
                    (
                        kept
                        for ip in (slot.existing.ips if slot.existing else ())
                        if ip.network == name
                        and (kept := allocator.keep(ref, name, ip)) is not None
                    ),
                    None,
                )
            if (
                reservation is not None
                and slot.existing is not None
                and reservation.ip in {ip.ip for ip in slot.existing.ips if ip.network == name}
            ):
                reservation = attrs.evolve(reservation, existing=True)
            row.append(reservation)
        table.append(row)
    result = []
    for (ref, _), row in zip(placed, table, strict=True):
        filled = [
            reservation or allocator.reserve_dynamic(ref, network.name)
            for network, reservation in zip(group.networks, row, strict=True)
        ]
        result.append(
            tuple(
                attrs.evolve(reservation, default=defaults[network.name])
                for network, reservation in zip(group.networks, filled, strict=True)
            )
        )
    return result


def _vip_static_ips(
    group: str, network: InstanceGroupNetwork, placed: Sequence[tuple[InstanceRef, _Slot]]
) -> list[str]:
    """Each instance's IP from the group's ``static_ips``: its old one if still listed."""
    free = [
        block.address(value)
        for block in ip_blocks(network.static_ips or ())
        for value in range(block.first, block.last + 1)
    ]
    remaining = set(free)
    chosen: list[str | None] = []
    for _, slot in placed:
        old = next(
            (
                ip.ip
                for ip in (slot.existing.ips if slot.existing else ())
                if ip.network == network.name and ip.ip in remaining
            ),
            None,
        )
        if old is not None:
            remaining.discard(old)
        chosen.append(old)
    queue = deque(ip for ip in free if ip in remaining)
    if chosen.count(None) > len(queue):
        raise InstanceGroupNetworkInstanceIpMismatchError(
            f"Instance group '{group}' has {len(placed)} instances but was allocated"
            f" {len(free)} static IPs in network '{network.name}'"
        )
    return [ip if ip is not None else queue.popleft() for ip in chosen]


def _released(
    existing: ExistingInstance | None, reservations: Sequence[Reservation]
) -> tuple[ExistingIP, ...]:
    if existing is None:
        return ()
    kept = {(r.network, r.ip) for r in reservations}
    return tuple(ip for ip in existing.ips if (ip.network, ip.ip) not in kept)
