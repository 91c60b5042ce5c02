"""The cloud config: AZs, networks, VM types and extensions, disk types, compilation.

A director holds several named cloud configs and uses them as one: their lists are
joined in order and ``compilation`` may come from one of them only
(`load_cloud_configs`). The joined config is then checked as a single one would be, so
a subnet may name an AZ that another config defines, and a name defined twice is an
error naming both places.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from bosh_core import serialization
from bosh_core.errors import ManifestError, Problem
from bosh_core.models.manifest import VmResources
from bosh_core.models.validation import (
    Document,
    Int,
    IPBlock,
    IPRanges,
    Model,
    Origins,
    Seq,
    Str,
    check_canonical_names,
    check_unique,
    cidr_block,
    concatenate,
    describe,
    field_error,
    ip_blocks,
    load_parts,
    single_owner,
    tag,
)

__all__ = [
    "AvailabilityZone",
    "CloudConfig",
    "Compilation",
    "DiskType",
    "DynamicNetwork",
    "DynamicSubnet",
    "ManualNetwork",
    "ManualSubnet",
    "Network",
    "VipNetwork",
    "VipSubnet",
    "VmExtension",
    "VmType",
    "load_cloud_config",
    "load_cloud_configs",
]


@attrs.frozen(kw_only=True)
class AvailabilityZone(Model):
    """An AZ; ``cpi`` names the CPI (from the cpi config) that serves it."""

    name: Str
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)
    cpi: Str | None = None


class _InAzs:
    """A subnet placed in AZs by ``az`` or ``azs`` (one of the two)."""

    __slots__ = ()
    az: str | None
    azs: tuple[str, ...] | None

    @property
    def az_names(self) -> tuple[str, ...]:
        if self.azs is not None:
            return self.azs
        return () if self.az is None else (self.az,)


@attrs.frozen(kw_only=True)
class ManualSubnet(_InAzs, Model):
    """A subnet whose IPs the director assigns: from ``static`` on request, else the rest.

    ``gateway`` is required (the director may be configured to waive it).
    """

    range: Str
    gateway: Str | None = None
    dns: Seq[Str] | None = None
    reserved: IPRanges = ()
    static: IPRanges = ()
    az: Str | None = None
    azs: Seq[Str] | None = None
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)
    name: Str | None = None


@attrs.frozen(kw_only=True)
class ManualNetwork(Model):
    name: Str
    type: Literal["manual"] = tag("manual")
    subnets: Seq[ManualSubnet]


@attrs.frozen(kw_only=True)
class DynamicSubnet(_InAzs, Model):
    dns: Seq[Str] | None = None
    az: Str | None = None
    azs: Seq[Str] | None = None
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class DynamicNetwork(Model):
    """A network whose IPs the IaaS assigns; with ``subnets``, one per AZ group."""

    name: Str
    type: Literal["dynamic"] = tag("dynamic")
    dns: Seq[Str] | None = None
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)
    subnets: Seq[DynamicSubnet] | None = None


@attrs.frozen(kw_only=True)
class VipSubnet(_InAzs, Model):
    static: IPRanges = ()
    az: Str | None = None
    azs: Seq[Str] | None = None
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class VipNetwork(Model):
    """Public IPs: given per instance (``static_ips``), or from the subnets' ``static``."""

    name: Str
    type: Literal["vip"] = tag("vip")
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)
    subnets: Seq[VipSubnet] = ()


Network = ManualNetwork | DynamicNetwork | VipNetwork

_NETWORK_TYPES: dict[str, type[Network]] = {
    "manual": ManualNetwork,
    "dynamic": DynamicNetwork,
    "vip": VipNetwork,
}


@attrs.frozen(kw_only=True)
class VmType(Model):
    name: Str
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class VmExtension(Model):
    name: Str
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class DiskType(Model):
    """A persistent disk kind; ``disk_size`` in MiB."""

    name: Str
    disk_size: Int
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Compilation(Model):
    """Compilation VMs: at most one of ``vm_type``, ``vm_resources``, ``cloud_properties``."""

    workers: Int
    az: Str | None = None
    vm_type: Str | None = None
    vm_resources: VmResources | None = None
    vm_extensions: Seq[Str] = ()
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)
    network: Str
    reuse_compilation_vms: bool | None = None
    orphan_workers: bool = False
    env: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class CloudConfig(Model):
    azs: Seq[AvailabilityZone] = ()
    networks: Seq[Network] = ()
    vm_types: Seq[VmType] = ()
    vm_extensions: Seq[VmExtension] = ()
    disk_types: Seq[DiskType] = ()
    compilation: Compilation | None = None


_LISTS = ("azs", "networks", "vm_types", "vm_extensions", "disk_types")


def _structure_network(value: Any, _: Any) -> Network:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a map, found {serialization.kind_of(value)}")
    kind = value.get("type", "manual")
    cls = _NETWORK_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise field_error(
            ManualNetwork,
            "type",
            f"expected 'manual', 'dynamic' or 'vip', found {describe(kind)}",
        )
    return serialization.converter.structure(value, cls)


serialization.converter.register_structure_hook(Network, _structure_network)


def load_cloud_config(document: Document, *, source: str = "cloud config") -> CloudConfig:
    """Read and validate one cloud config (YAML text, or a document already parsed).

    Raises ManifestError listing every problem with its path.
    """
    return _load([("", document)], source=source, prefixed=False)


def load_cloud_configs(
    documents: Mapping[str, Document], *, source: str = "cloud configs"
) -> CloudConfig:
    """Merge named cloud configs (name -> document) as the director does, then validate.

    Problem paths start with the config's name: ``default:$.networks[0].subnets[0].az``.
    """
    return _load(list(documents.items()), source=source, prefixed=True)


def _load(documents: Sequence[tuple[str, Document]], *, source: str, prefixed: bool) -> CloudConfig:
    parts, problems = load_parts(
        documents, CloudConfig, source=source, prefixed=prefixed, check_raw=_refused_keys
    )
    lists, origins = concatenate(parts, _LISTS, prefixed=prefixed)
    compilation, compilation_path = single_owner(
        parts,
        "compilation",
        message="Cloud config 'compilation' key cannot be defined in multiple cloud configs.",
        prefixed=prefixed,
        problems=problems,
    )
    config = CloudConfig(**lists, compilation=compilation)
    _check(config, origins, compilation_path, problems)
    if problems:
        raise ManifestError(source, problems)
    return config


def _refused_keys(document: Any, prefix: str) -> list[Problem]:
    """Keys a dynamic network may not have, which its typed model would not keep."""
    networks = document.get("networks") if isinstance(document, Mapping) else None
    problems = []
    for index, network in enumerate(networks if isinstance(networks, list) else ()):
        if not isinstance(network, Mapping) or network.get("type") != "dynamic":
            continue
        path, name = f"{prefix}$.networks[{index}]", network.get("name")
        for key in ("az", "azs", "managed", "prefix"):
            if key in network:
                problems.append(
                    Problem(f"{path}.{key}", f"Network '{name}' must not specify '{key}'.")
                )
        if "subnets" not in network:
            continue
        for key in ("dns", "cloud_properties"):
            if key in network:
                problems.append(
                    Problem(
                        f"{path}.{key}",
                        f"Network '{name}' must not specify '{key}' when also specifying"
                        f" 'subnets'. Instead, '{key}' should be specified on subnet entries.",
                    )
                )
    return problems


def _check(
    config: CloudConfig, origins: Origins, compilation_path: str, problems: list[Problem]
) -> None:
    for section, what in (
        ("azs", "az name"),
        ("vm_types", "vm type name"),
        ("vm_extensions", "vm extension name"),
        ("disk_types", "disk type name"),
    ):
        items = getattr(config, section)
        check_unique(
            ((item.name, f"{origins.path(section, i)}.name") for i, item in enumerate(items)),
            what=what,
            problems=problems,
        )
    for index, disk_type in enumerate(config.disk_types):
        if disk_type.disk_size < 0:
            problems.append(
                Problem(
                    f"{origins.path('disk_types', index)}.disk_size",
                    f"Disk types '{disk_type.name}' references an invalid persistent disk size"
                    f" '{disk_type.disk_size}'",
                )
            )
    azs = {az.name for az in config.azs}
    _check_networks(config.networks, origins, azs, problems)
    if config.compilation is None:
        problems.append(Problem("$.compilation", "required field missing"))
    else:
        _check_compilation(config, config.compilation, compilation_path, problems)


def _check_networks(
    networks: Sequence[Network], origins: Origins, azs: set[str], problems: list[Problem]
) -> None:
    if not networks:
        problems.append(Problem("$.networks", "No networks specified"))
    check_canonical_names(
        ((network.name, origins.path("networks", i)) for i, network in enumerate(networks)),
        what="network",
        problems=problems,
    )
    for index, network in enumerate(networks):
        path = origins.path("networks", index)
        if isinstance(network, ManualNetwork):
            _check_manual_network(network, path, azs, problems)
        elif isinstance(network, DynamicNetwork):
            if network.subnets is None:
                _check_dns(network.dns, network.name, path, problems)
            for i, subnet in enumerate(network.subnets or ()):
                _check_subnet_azs(subnet, network.name, f"{path}.subnets[{i}]", azs, problems)
                _check_dns(subnet.dns, network.name, f"{path}.subnets[{i}]", problems)
        else:
            for i, vip_subnet in enumerate(network.subnets):
                at = f"{path}.subnets[{i}]"
                _check_subnet_azs(vip_subnet, network.name, at, azs, problems)
                _ip_blocks_or_report(vip_subnet.static, f"{at}.static", problems)


def _check_subnet_azs(
    subnet: _InAzs, network: str, path: str, azs: set[str], problems: list[Problem]
) -> None:
    if subnet.az is not None and subnet.azs is not None:
        problems.append(
            Problem(path, f"Network '{network}' contains both 'az' and 'azs'. Choose one.")
        )
    elif subnet.azs is not None and not subnet.azs:
        problems.append(
            Problem(f"{path}.azs", f"Network '{network}' refers to an empty 'azs' array")
        )
    for az in subnet.az_names:
        if az not in azs:
            key = "az" if subnet.azs is None else "azs"
            problems.append(
                Problem(
                    f"{path}.{key}",
                    f"Network '{network}' refers to an unknown availability zone '{az}'",
                )
            )


def _check_dns(dns: Sequence[str] | None, network: str, path: str, problems: list[Problem]) -> None:
    for index, server in enumerate(dns or ()):
        try:
            single = cidr_block(server).size == 1
        except ValueError as error:
            problems.append(Problem(f"{path}.dns[{index}]", str(error)))
            continue
        if not single:
            problems.append(
                Problem(
                    f"{path}.dns[{index}]",
                    f"Invalid DNS for network '{network}': must be a single IP",
                )
            )


def _ip_blocks_or_report(
    entries: Sequence[str], path: str, problems: list[Problem]
) -> list[IPBlock] | None:
    try:
        return ip_blocks(entries)
    except ValueError as error:
        problems.append(Problem(path, str(error)))
        return None


def _check_manual_network(
    network: ManualNetwork, path: str, azs: set[str], problems: list[Problem]
) -> None:
    ranges: list[IPBlock] = []
    placed = 0
    for index, subnet in enumerate(network.subnets):
        at = f"{path}.subnets[{index}]"
        _check_subnet_azs(subnet, network.name, at, azs, problems)
        _check_dns(subnet.dns, network.name, at, problems)
        placed += bool(subnet.az_names)
        block = _check_manual_subnet(subnet, network.name, at, problems)
        if block is None:
            continue
        if any(block.overlaps(earlier) for earlier in ranges):
            problems.append(
                Problem(f"{at}.range", f"Network '{network.name}' has overlapping subnets")
            )
        ranges.append(block)
    if 0 < placed < len(network.subnets):
        problems.append(
            Problem(
                f"{path}.subnets",
                f"Subnets on network '{network.name}' must all either specify availability"
                " zone or not",
            )
        )


def _check_manual_subnet(
    subnet: ManualSubnet, network: str, path: str, problems: list[Problem]
) -> IPBlock | None:
    """Check the subnet's addresses; its range when that could be read."""
    try:
        whole = cidr_block(subnet.range)
    except ValueError as error:
        problems.append(Problem(f"{path}.range", str(error)))
        return None
    if whole.size <= 1:
        problems.append(
            Problem(
                f"{path}.range",
                f"Invalid network range '{subnet.range}', should include at least 2 IPs",
            )
        )
        return whole
    edges = [
        IPBlock("network id", whole.version, whole.first, whole.first),
        IPBlock("broadcast", whole.version, whole.last, whole.last),
    ]
    restricted = edges + _check_gateway(subnet, network, whole, path, problems)
    for block in _ip_blocks_or_report(subnet.reserved, f"{path}.reserved", problems) or ():
        if not block.within(whole):
            problems.append(
                Problem(
                    f"{path}.reserved",
                    f"Reserved IP '{block.text}' is out of network '{network}' range",
                )
            )
        restricted.append(block)
    for block in _ip_blocks_or_report(subnet.static, f"{path}.static", problems) or ():
        if not block.within(whole):
            problems.append(
                Problem(
                    f"{path}.static",
                    f"Static IP '{block.text}' is out of network '{network}' range",
                )
            )
        elif any(block.overlaps(other) for other in restricted):
            problems.append(
                Problem(
                    f"{path}.static",
                    f"Static IP '{block.text}' is in network '{network}' reserved range",
                )
            )
    return whole


def _check_gateway(
    subnet: ManualSubnet, network: str, whole: IPBlock, path: str, problems: list[Problem]
) -> list[IPBlock]:
    """Check the gateway; the addresses it takes from the range."""
    if subnet.gateway is None:
        problems.append(Problem(f"{path}.gateway", "required field missing"))
        return []
    try:
        gateway = cidr_block(subnet.gateway)
    except ValueError as error:
        problems.append(Problem(f"{path}.gateway", str(error)))
        return []
    reason = None
    if gateway.size != 1:
        reason = "must be a single IP"
    elif not gateway.within(whole):
        reason = "must be inside the range"
    elif gateway.first == whole.first:
        reason = "can't be the network id"
    elif gateway.first == whole.last:
        reason = "can't be the broadcast IP"
    if reason is not None:
        problems.append(
            Problem(f"{path}.gateway", f"Invalid gateway for network '{network}': {reason}")
        )
    return [gateway]


def _has_azs(network: Network, az: str | None) -> bool:
    """Whether `network` reaches `az` (None: no AZ), as the director decides it."""
    if isinstance(network, VipNetwork):
        return True
    subnets: Sequence[_InAzs] = network.subnets or ()
    network_azs = {name for subnet in subnets for name in subnet.az_names}
    if az is None:
        return not network_azs
    return az in network_azs


def _check_compilation(
    config: CloudConfig, compilation: Compilation, path: str, problems: list[Problem]
) -> None:
    if compilation.workers < 1:
        problems.append(
            Problem(f"{path}.workers", f"expected at least 1, found {compilation.workers}")
        )
    azs = [az.name for az in config.azs]
    if compilation.az and compilation.az not in azs:
        problems.append(
            Problem(
                f"{path}.az",
                f"Compilation config references unknown az '{compilation.az}'."
                f" Known azs are: [{', '.join(azs)}]",
            )
        )
    given = [compilation.vm_type, compilation.vm_resources, compilation.cloud_properties]
    if sum(bool(value) for value in given) > 1:
        problems.append(
            Problem(
                path,
                "Compilation config specifies more than one of 'vm_type', 'vm_resources',"
                " or 'cloud_properties', only one is allowed.",
            )
        )
    vm_types = [vm_type.name for vm_type in config.vm_types]
    if compilation.vm_type is not None and compilation.vm_type not in vm_types:
        problems.append(
            Problem(
                f"{path}.vm_type",
                f"Compilation config references unknown vm type '{compilation.vm_type}'."
                f" Known vm types are: {', '.join(vm_types)}",
            )
        )
    _check_compilation_extensions(config, compilation, path, problems)
    network = next((n for n in config.networks if n.name == compilation.network), None)
    if network is None:
        problems.append(
            Problem(
                f"{path}.network",
                f"Compilation config references an unknown network '{compilation.network}'",
            )
        )
    elif not _has_azs(network, compilation.az or None):
        problems.append(
            Problem(
                f"{path}.az",
                f"Compilation config refers to az '{compilation.az or ''}' but network"
                f" '{network.name}' has no matching subnet(s).",
            )
        )


def _check_compilation_extensions(
    config: CloudConfig, compilation: Compilation, path: str, problems: list[Problem]
) -> None:
    known = [extension.name for extension in config.vm_extensions]
    sized = compilation.vm_type is not None or compilation.vm_resources is not None
    for index, name in enumerate(compilation.vm_extensions):
        if name not in known:
            problems.append(
                Problem(
                    f"{path}.vm_extensions[{index}]",
                    f"Compilation config references unknown vm extension '{name}'."
                    f" Known vm extensions are: {', '.join(known)}",
                )
            )
        elif not sized:
            problems.append(
                Problem(
                    f"{path}.vm_extensions[{index}]",
                    f"Compilation config is using vm extension '{name}' and must configure"
                    " a vm type or vm_resources block.",
                )
            )
