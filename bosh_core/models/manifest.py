"""The deployment manifest (v2): typed, and validated as the director validates it.

`load_manifest` checks one manifest on its own. What needs other documents (an
instance group's ``vm_type`` or ``azs`` against the cloud config, a job against its
release) is left to planning, which has them.

Messages about meaning (references, duplicates, networks) are the director's words, with
the path of the offending item; type errors say what was expected and what was found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from bosh_core import serialization
from bosh_core.errors import ManifestError, Problem
from bosh_core.models.validation import (
    Choice,
    Document,
    Int,
    IPBlock,
    IPRanges,
    Model,
    Seq,
    Str,
    check_canonical_names,
    check_unique,
    describe,
    ip_blocks,
    load_parts,
)

__all__ = [
    "Addon",
    "AddonFilter",
    "Amount",
    "AzUpdateStrategy",
    "CustomProviderDefinition",
    "Features",
    "FilterJob",
    "FilterStemcell",
    "InstanceGroup",
    "InstanceGroupNetwork",
    "InstanceGroupUpdate",
    "Job",
    "Lifecycle",
    "Manifest",
    "MigratedFrom",
    "PersistentDisk",
    "Release",
    "ReleaseStemcell",
    "Stemcell",
    "Update",
    "Variable",
    "VariableUpdate",
    "VmResources",
    "VmStrategy",
    "WatchTime",
    "check_addons",
    "check_variables",
    "load_manifest",
]

_AMOUNT = re.compile(r"(?P<percent>\d+)%|(?P<number>[-+]?\d+)")
_WATCH_TIME = re.compile(r"\s*(?P<min>\d+)\s*(?:-\s*(?P<max>\d+)\s*)?")


@attrs.frozen
class Amount:
    """``canaries`` or ``max_in_flight``: a number of instances, or a percentage of a group."""

    value: int
    percent: bool = False

    @classmethod
    def parse(cls, value: Any) -> Amount:
        text = value if isinstance(value, str) else None
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        match = _AMOUNT.fullmatch(text) if text is not None else None
        if match is None:
            raise ValueError(
                f"expected an integer or a percentage like '25%', found {describe(value)}"
            )
        if match["percent"] is not None:
            return cls(int(match["percent"]), percent=True)
        return cls(int(match["number"]))

    def of(self, size: int) -> int:
        """How many instances of a group of `size` this is (a percentage rounds down)."""
        return min(self.value * size // 100, size) if self.percent else self.value

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


@attrs.frozen
class WatchTime:
    """A watch time in milliseconds: ``5000`` or a range ``1000-30000``."""

    min_ms: int
    max_ms: int

    @classmethod
    def parse(cls, value: Any) -> WatchTime:
        text = value if isinstance(value, str) else None
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        match = _WATCH_TIME.fullmatch(text) if text is not None else None
        if match is None:
            raise ValueError(
                "expected milliseconds or a range of two integers like '1000-30000',"
                f" found {describe(value)}"
            )
        low = int(match["min"])
        high = int(match["max"]) if match["max"] is not None else low
        if low > high:
            raise ValueError(
                f"expected the min watch time to be at most the max, found {describe(value)}"
            )
        return cls(low, high)

    def __str__(self) -> str:
        return str(self.min_ms) if self.min_ms == self.max_ms else f"{self.min_ms}-{self.max_ms}"


class Lifecycle(Choice):
    SERVICE = "service"
    ERRAND = "errand"


class VmStrategy(Choice):
    DELETE_CREATE = "delete-create"
    CREATE_SWAP_DELETE = "create-swap-delete"


class AzUpdateStrategy(Choice):
    SERIAL = "serial"
    PARALLEL = "parallel"


@attrs.frozen(kw_only=True)
class InstanceGroupUpdate(Model):
    """An instance group's ``update`` block: what it sets overrides the deployment's."""

    canaries: Amount | None = None
    max_in_flight: Amount | None = None
    canary_watch_time: WatchTime | None = None
    update_watch_time: WatchTime | None = None
    serial: bool | None = None
    vm_strategy: VmStrategy | None = None
    initial_deploy_az_update_strategy: AzUpdateStrategy | None = None


@attrs.frozen(kw_only=True)
class Update(Model):
    """The deployment's ``update`` block. ``vm_strategy`` None is the director's default."""

    canaries: Amount
    max_in_flight: Amount
    canary_watch_time: WatchTime
    update_watch_time: WatchTime
    serial: bool = True
    vm_strategy: VmStrategy | None = None
    initial_deploy_az_update_strategy: AzUpdateStrategy = AzUpdateStrategy.SERIAL

    def overridden_by(self, override: InstanceGroupUpdate | None) -> Update:
        """The update settings of an instance group whose own block is `override`."""
        if override is None:
            return self
        changes = {
            field.name: value
            for field in attrs.fields(InstanceGroupUpdate)
            if (value := getattr(override, field.name)) is not None
        }
        return attrs.evolve(self, **changes)


@attrs.frozen(kw_only=True)
class ReleaseStemcell(Model):
    """The stemcell a compiled release was compiled on (``stemcell``, ``exported_from``)."""

    os: Str
    version: Str


@attrs.frozen(kw_only=True)
class Release(Model):
    name: Str
    version: Str
    url: Str | None = None
    sha1: Str | None = None
    stemcell: ReleaseStemcell | None = None
    exported_from: Seq[ReleaseStemcell] = ()


@attrs.frozen(kw_only=True)
class Stemcell(Model):
    """A stemcell the instance groups name by ``alias``; matched by ``os`` or ``name``."""

    alias: Str
    os: Str | None = None
    name: Str | None = None
    version: Str


@attrs.frozen(kw_only=True)
class CustomProviderDefinition(Model):
    """A link a job provides although its release spec does not declare it."""

    name: Str
    type: Str
    properties: Seq[Str] = ()


@attrs.frozen(kw_only=True)
class Job(Model):
    """A release job placed on an instance group (or by an addon).

    ``properties`` None means the job takes the instance group's (and the deployment's)
    properties, which an empty map does not. ``consumes`` and ``provides`` are checked
    against the release's job spec when links are resolved.
    """

    name: Str
    release: Str
    properties: dict[str, Any] | None = None
    consumes: dict[str, Any] = attrs.field(factory=dict)
    provides: dict[str, Any] = attrs.field(factory=dict)
    custom_provider_definitions: Seq[CustomProviderDefinition] = ()


@attrs.frozen(kw_only=True)
class VmResources(Model):
    """Generic VM size (the CPI picks an instance type); ``ram`` and disk in MiB."""

    cpu: Int
    ram: Int
    ephemeral_disk_size: Int


@attrs.frozen(kw_only=True)
class PersistentDisk(Model):
    """One of several named persistent disks (``persistent_disks``), of a cloud-config type."""

    name: Str
    type: Str


@attrs.frozen(kw_only=True)
class InstanceGroupNetwork(Model):
    """A network an instance group is on; ``default`` lists what it is the default for."""

    name: Str
    static_ips: IPRanges | None = None
    default: Seq[Str] = ()
    nic_group: Str | None = None


@attrs.frozen(kw_only=True)
class MigratedFrom(Model):
    name: Str
    az: Str | None = None


@attrs.frozen(kw_only=True)
class InstanceGroup(Model):
    name: Str
    azs: Seq[Str] | None = None
    instances: Int
    lifecycle: Lifecycle = Lifecycle.SERVICE
    jobs: Seq[Job]
    vm_type: Str | None = None
    vm_resources: VmResources | None = None
    vm_extensions: Seq[Str] = ()
    stemcell: Str
    persistent_disk: Int | None = None
    persistent_disk_type: Str | None = None
    persistent_disks: Seq[PersistentDisk] | None = None
    networks: Seq[InstanceGroupNetwork]
    update: InstanceGroupUpdate | None = None
    migrated_from: Seq[MigratedFrom] = ()
    env: dict[str, Any] = attrs.field(factory=dict)
    properties: dict[str, Any] = attrs.field(factory=dict)
    tags: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class VariableUpdate(Model):
    strategy: Str | None = None


@attrs.frozen(kw_only=True)
class Variable(Model):
    """A credential the director (or ``--vars-store``) generates when it is missing."""

    name: Str
    type: Str
    options: dict[str, Any] = attrs.field(factory=dict)
    update_mode: Str | None = None
    update: VariableUpdate | None = None
    consumes: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Features(Model):
    use_dns_addresses: bool | None = None
    use_short_dns_addresses: bool | None = None
    use_link_dns_names: bool | None = None
    randomize_az_placement: bool | None = None
    converge_variables: bool | None = None
    use_tmpfs_config: bool | None = None


@attrs.frozen(kw_only=True)
class FilterJob(Model):
    name: Str
    release: Str


@attrs.frozen(kw_only=True)
class FilterStemcell(Model):
    os: Str


@attrs.frozen(kw_only=True)
class AddonFilter(Model):
    """An addon's ``include`` or ``exclude`` rules: every key given must match."""

    deployments: Seq[Str] = ()
    jobs: Seq[FilterJob] = ()
    instance_groups: Seq[Str] = ()
    stemcell: Seq[FilterStemcell] = ()
    networks: Seq[Str] = ()
    teams: Seq[Str] = ()
    azs: Seq[Str] = ()
    lifecycle: Str | None = None


@attrs.frozen(kw_only=True)
class Addon(Model):
    """Jobs added to every instance group the filters select (manifest or runtime config)."""

    name: Str
    jobs: Seq[Job] = ()
    include: AddonFilter | None = None
    exclude: AddonFilter | None = None
    properties: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Manifest(Model):
    name: Str
    features: Features = Features()
    releases: Seq[Release]
    stemcells: Seq[Stemcell] = ()
    update: Update
    instance_groups: Seq[InstanceGroup] = ()
    addons: Seq[Addon] = ()
    variables: Seq[Variable] = ()
    properties: dict[str, Any] = attrs.field(factory=dict)
    tags: dict[str, Any] = attrs.field(factory=dict)


def _register() -> None:
    converter = serialization.converter
    for cls in (Amount, WatchTime):
        converter.register_structure_hook(cls, lambda value, cls: cls.parse(value))
    converter.register_unstructure_hook(
        Amount, lambda amount: str(amount) if amount.percent else amount.value
    )
    converter.register_unstructure_hook(
        WatchTime, lambda time: time.min_ms if time.min_ms == time.max_ms else str(time)
    )


_register()


def load_manifest(document: Document, *, source: str = "deployment manifest") -> Manifest:
    """Read and validate a deployment manifest (YAML text, or a document already parsed).

    Raises ManifestError listing every problem with its path. The manifest is read as it
    is: interpolate ``((variables))`` first.
    """
    if isinstance(document, str | bytes):
        document = serialization.load_yaml(document, source=source)
        if document is None:
            document = {}
    [(_, manifest)], problems = load_parts(
        [("", _releases_in_a_list(document))],
        Manifest,
        source=source,
        prefixed=False,
        check_raw=_refused_keys,
    )
    _check(manifest, problems)
    if problems:
        raise ManifestError(source, problems)
    return manifest


def _releases_in_a_list(document: Any) -> Any:
    # The director still reads a lone `release:` as the only release.
    if isinstance(document, Mapping) and "release" in document and "releases" not in document:
        rest = {key: value for key, value in document.items() if key != "release"}
        return {**rest, "releases": [document["release"]]}
    return document


_CLOUD_CONFIG_ONLY = ("vm_types", "azs", "disk_types", "compilation")
_RETIRED = {
    "networks": "Deployment 'networks' are no longer supported."
    " Network definitions must now be provided in a cloud-config.",
    "disk_pools": "disk_pools is no longer supported."
    " Disk definitions must now be provided as disk_types in a cloud-config",
    "jobs": "Jobs are no longer supported, please use instance groups instead",
    "resource_pools": "resource_pools is no longer supported."
    " You must now define resources in a cloud-config",
}


def _refused_keys(document: Any, prefix: str) -> list[Problem]:
    """Keys the director refuses, from v1 manifests or from the cloud config."""
    if not isinstance(document, Mapping):
        return []
    problems = [
        Problem(
            f"{prefix}$.{key}",
            f"Deployment manifest contains '{key}' section,"
            " but this can only be set in a cloud-config.",
        )
        for key in _CLOUD_CONFIG_ONLY
        if key in document
    ]
    problems += [
        Problem(f"{prefix}$.{key}", message) for key, message in _RETIRED.items() if key in document
    ]
    if "release" in document and "releases" in document:
        problems.append(
            Problem(
                f"{prefix}$.release",
                "Deployment manifest contains both 'release' and 'releases' sections,"
                " please use one of the two.",
            )
        )
    groups = document.get("instance_groups")
    for index, group in enumerate(groups if isinstance(groups, list) else ()):
        if isinstance(group, Mapping):
            problems += _refused_group_keys(group, f"{prefix}$.instance_groups[{index}]")
    return problems


def _refused_group_keys(group: Mapping[str, Any], path: str) -> list[Problem]:
    name = group.get("name")
    problems = []
    for key in ("template", "templates"):
        if group.get(key):
            problems.append(
                Problem(
                    f"{path}.{key}",
                    f"Instance group '{name}' specifies template or templates."
                    " This is no longer supported, please use jobs instead",
                )
            )
    if "persistent_disk_pool" in group:
        problems.append(
            Problem(
                f"{path}.persistent_disk_pool",
                "`persistent_disk_pool` is not supported as an `instance_groups` key."
                " Please use `persistent_disk_type` instead.",
            )
        )
    if "resource_pool" in group:
        problems.append(
            Problem(
                f"{path}.resource_pool",
                "Instance groups no longer support resource_pool,"
                " please use 'vm_type' or 'vm_resources' keys",
            )
        )
    return problems


def _check(manifest: Manifest, problems: list[Problem]) -> None:
    check_unique(
        ((release.name, f"$.releases[{i}]") for i, release in enumerate(manifest.releases)),
        what="release name",
        problems=problems,
    )
    _check_stemcells(manifest.stemcells, problems)
    _check_features(manifest.features, problems)
    check_variables(
        manifest.variables,
        [f"$.variables[{i}]" for i in range(len(manifest.variables))],
        problems,
    )
    releases = {release.name for release in manifest.releases}
    stemcells = {stemcell.alias for stemcell in manifest.stemcells}
    paths = [f"$.instance_groups[{i}]" for i in range(len(manifest.instance_groups))]
    check_canonical_names(
        ((group.name, path) for group, path in zip(manifest.instance_groups, paths, strict=True)),
        what="instance group",
        problems=problems,
    )
    for group, path in zip(manifest.instance_groups, paths, strict=True):
        _check_instance_group(
            group, path, releases=releases, stemcells=stemcells, problems=problems
        )
    check_addons(
        manifest.addons,
        [f"$.addons[{i}]" for i in range(len(manifest.addons))],
        releases=releases,
        level="deployment",
        problems=problems,
    )


def _check_stemcells(stemcells: Sequence[Stemcell], problems: list[Problem]) -> None:
    if not stemcells:
        problems.append(Problem("$.stemcells", "'stemcells' needs to be specified"))
    for index, stemcell in enumerate(stemcells):
        if stemcell.os is None and stemcell.name is None:
            problems.append(
                Problem(
                    f"$.stemcells[{index}]", "Required property 'os' or 'name' was not specified"
                )
            )
    check_unique(
        ((stemcell.alias, f"$.stemcells[{i}].alias") for i, stemcell in enumerate(stemcells)),
        what="stemcell alias",
        problems=problems,
    )


def _check_features(features: Features, problems: list[Problem]) -> None:
    if not features.use_link_dns_names:
        return
    for key in ("use_short_dns_addresses", "use_dns_addresses"):
        if getattr(features, key) is False:
            problems.append(
                Problem(
                    f"$.features.{key}",
                    f"cannot enable `use_link_dns_names` when `{key}` is explicitly disabled",
                )
            )


def check_variables(
    variables: Sequence[Variable], paths: Sequence[str], problems: list[Problem]
) -> None:
    """The director's rules for a ``variables`` list (manifest or runtime configs)."""
    for variable, path in zip(variables, paths, strict=True):
        if not variable.name.strip():
            problems.append(Problem(f"{path}.name", "'name' must not be empty"))
        if not variable.type.strip():
            problems.append(
                Problem(f"{path}.type", f"Type for variable '{variable.name}' is empty")
            )
    check_unique(
        ((variable.name, f"{path}.name") for variable, path in zip(variables, paths, strict=True)),
        what="variable name",
        problems=problems,
    )


def check_addons(
    addons: Sequence[Addon],
    paths: Sequence[str],
    *,
    releases: set[str],
    level: str,
    problems: list[Problem],
) -> None:
    """An addon's jobs come from the releases of its document; `level` names that document."""
    for addon, path in zip(addons, paths, strict=True):
        for index, job in enumerate(addon.jobs):
            if job.release not in releases:
                problems.append(
                    Problem(
                        f"{path}.jobs[{index}].release",
                        f"Manifest specifies job '{job.name}' which is defined in"
                        f" '{job.release}', but '{job.release}' is not listed in the"
                        f" {level} releases section.",
                    )
                )
        if level != "deployment":
            continue
        for key, rules in (("include", addon.include), ("exclude", addon.exclude)):
            if rules is not None and rules.deployments:
                problems.append(
                    Problem(
                        f"{path}.{key}.deployments",
                        "Deployment filter is not allowed for deployment level addons.",
                    )
                )


def _check_instance_group(
    group: InstanceGroup,
    path: str,
    *,
    releases: set[str],
    stemcells: set[str],
    problems: list[Problem],
) -> None:
    name = group.name
    _check_jobs(group, path, releases=releases, problems=problems)
    _check_disks(group, path, problems)
    if group.stemcell not in stemcells:
        problems.append(
            Problem(
                f"{path}.stemcell",
                f"Instance group '{name}' references an unknown stemcell '{group.stemcell}'",
            )
        )
    if group.vm_type is None and group.vm_resources is None:
        problems.append(
            Problem(
                path,
                f"Instance group '{name}' is missing either 'vm_type' or 'vm_resources' section.",
            )
        )
    elif group.vm_type is not None and group.vm_resources is not None:
        problems.append(
            Problem(
                path, f"Instance group '{name}' can only specify 'vm_type' or 'vm_resources' keys."
            )
        )
    if group.azs is not None and not group.azs:
        problems.append(
            Problem(f"{path}.azs", f"Instance group '{name}' has empty availability zones")
        )
    for index, migrated in enumerate(group.migrated_from):
        if migrated.az is not None and migrated.az not in (group.azs or ()):
            problems.append(
                Problem(
                    f"{path}.migrated_from[{index}].az",
                    f"Instance group '{migrated.name}' specified for migration to instance group"
                    f" '{name}' refers to availability zone '{migrated.az}'. Az '{migrated.az}'"
                    f" is not in the list of availability zones of instance group '{name}'.",
                )
            )
    _check_networks(group, path, problems)


def _check_jobs(
    group: InstanceGroup, path: str, *, releases: set[str], problems: list[Problem]
) -> None:
    seen: set[str] = set()
    for index, job in enumerate(group.jobs):
        at = f"{path}.jobs[{index}]"
        if job.release not in releases:
            problems.append(
                Problem(
                    f"{at}.release",
                    f"Job '{job.name}' (instance group '{group.name}') references an unknown"
                    f" release '{job.release}'",
                )
            )
        if job.name in seen:
            problems.append(
                Problem(
                    f"{at}.name",
                    f"Colocated job '{job.name}' is already added to the instance group"
                    f" '{group.name}'",
                )
            )
        seen.add(job.name)
        _check_custom_providers(job, at, group.name, problems)


def _check_custom_providers(job: Job, path: str, group: str, problems: list[Problem]) -> None:
    where = f"in job '{job.name}' in instance group '{group}'"
    for index, provider in enumerate(job.custom_provider_definitions):
        at = f"{path}.custom_provider_definitions[{index}]"
        if not provider.name:
            problems.append(
                Problem(
                    f"{at}.name",
                    f"Name for custom link provider definition in manifest {where}"
                    " must be a valid non-empty string.",
                )
            )
        if not provider.type:
            problems.append(
                Problem(
                    f"{at}.type",
                    f"Type for custom link provider definition in manifest {where}"
                    " must be a valid non-empty string.",
                )
            )
    names = [provider.name for provider in job.custom_provider_definitions]
    for duplicate in sorted({name for name in names if names.count(name) > 1}):
        problems.append(
            Problem(
                f"{path}.custom_provider_definitions",
                f"Custom provider '{duplicate}' {where} is defined multiple times in manifest.",
            )
        )


def _check_disks(group: InstanceGroup, path: str, problems: list[Problem]) -> None:
    name = group.name
    given = [group.persistent_disk, group.persistent_disk_type, group.persistent_disks]
    if sum(value is not None for value in given) > 1:
        problems.append(
            Problem(
                path,
                f"Instance group '{name}' specifies more than one of the following keys:"
                " 'persistent_disk', 'persistent_disk_type', and 'persistent_disks'. Choose one.",
            )
        )
    if group.persistent_disk is not None and group.persistent_disk < 0:
        problems.append(
            Problem(
                f"{path}.persistent_disk",
                f"Instance group '{name}' references an invalid persistent disk size"
                f" '{group.persistent_disk}'",
            )
        )
    disks = group.persistent_disks or ()
    if len({disk.name for disk in disks}) != len(disks):
        problems.append(
            Problem(
                f"{path}.persistent_disks",
                f"Instance group '{name}' persistent_disks's section contains duplicate names",
            )
        )
    for index, disk in enumerate(disks):
        if not disk.name.strip():
            problems.append(
                Problem(
                    f"{path}.persistent_disks[{index}].name",
                    f"Instance group '{name}' persistent_disks's section contains a disk"
                    " with no name",
                )
            )


_REQUIRED_DEFAULTS = ("dns", "gateway")
_DEFAULTS = ("addressable", "dns", "gateway")


def _check_networks(group: InstanceGroup, path: str, problems: list[Problem]) -> None:
    name = group.name
    if not group.networks:
        problems.append(
            Problem(
                f"{path}.networks",
                f"Instance group '{name}' must specify at least one network",
            )
        )
        return
    for index, network in enumerate(group.networks):
        at = f"{path}.networks[{index}]"
        for value in network.default:
            if value not in _DEFAULTS:
                problems.append(
                    Problem(
                        f"{at}.default",
                        f"Instance group '{name}' specified an invalid default network property"
                        f" '{value}', valid properties are: {', '.join(_REQUIRED_DEFAULTS)}",
                    )
                )
        if network.static_ips is not None:
            _check_static_ips(group, network, at, problems)
    if len(group.networks) == 1:
        return
    by_default = {
        value: [network.name for network in group.networks if value in network.default]
        for value in _DEFAULTS
    }
    several = [
        f"'{value}' has default networks: " + ", ".join(f"'{n}'" for n in networks) + "."
        for value, networks in by_default.items()
        if len(networks) > 1
    ]
    if several:
        problems.append(
            Problem(
                f"{path}.networks",
                f"Instance group '{name}' specified more than one network to contain default. "
                + " ".join(several),
            )
        )
    missing = [value for value in _REQUIRED_DEFAULTS if not by_default[value]]
    if missing:
        problems.append(
            Problem(
                f"{path}.networks",
                f"Instance group '{name}' must specify which network is default for"
                f" {', '.join(missing)}, since it has more than one network configured",
            )
        )


def _check_static_ips(
    group: InstanceGroup, network: InstanceGroupNetwork, path: str, problems: list[Problem]
) -> None:
    try:
        blocks = ip_blocks(network.static_ips or ())
    except ValueError as error:
        problems.append(Problem(f"{path}.static_ips", str(error)))
        return
    duplicate = _first_repeated_ip(blocks)
    if duplicate is not None:
        problems.append(
            Problem(
                f"{path}.static_ips",
                f"Instance group '{group.name}' specifies static IP '{duplicate}' more than once",
            )
        )
    count = sum(block.size for block in blocks)
    if count != group.instances:
        problems.append(
            Problem(
                f"{path}.static_ips",
                f"Instance group '{group.name}' has {group.instances} instances but was allocated"
                f" {count} static IPs in network '{network.name}'",
            )
        )


def _first_repeated_ip(blocks: Iterable[IPBlock]) -> str | None:
    covered: IPBlock | None = None  # the block seen so far that reaches furthest
    for block in sorted(blocks, key=lambda block: (block.version, block.first)):
        if covered is not None and covered.overlaps(block):
            return block.address(block.first)
        if covered is None or covered.version != block.version or block.last > covered.last:
            covered = block
    return None
