"""Deployment manifests: typed values, and every problem reported with its path."""

from __future__ import annotations

from typing import Any

import pytest

import bosh_core
from bosh_core import serialization
from bosh_core.errors import YAMLError
from bosh_core.models.manifest import (
    Amount,
    AzUpdateStrategy,
    InstanceGroupUpdate,
    Lifecycle,
    Manifest,
    VmStrategy,
    WatchTime,
    load_manifest,
)

from . import samples
from .samples import MANIFEST, document


def problems(data: Any) -> list[str]:
    return samples.problems(load_manifest, data, source="deployment manifest")


def test_a_manifest_reads_into_typed_values() -> None:
    manifest = load_manifest(MANIFEST)
    assert manifest.name == "redis"
    assert [release.version for release in manifest.releases] == ["12", "11.1.1"]
    assert manifest.update.canaries == Amount(1)
    assert manifest.update.max_in_flight == Amount(25, percent=True)
    assert manifest.update.canary_watch_time == WatchTime(1000, 30000)
    assert manifest.update.update_watch_time == WatchTime(5000, 5000)
    assert manifest.update.vm_strategy is VmStrategy.CREATE_SWAP_DELETE
    assert manifest.update.serial is True
    master, errand = manifest.instance_groups
    assert master.lifecycle is Lifecycle.SERVICE and errand.lifecycle is Lifecycle.ERRAND
    assert master.azs == ("z1", "z2")
    assert master.networks[1].static_ips == ("203.0.113.10 - 203.0.113.11",)
    assert master.jobs[0].properties == {"port": 3606}
    assert errand.jobs[0].properties is None  # takes the group's properties
    assert errand.vm_resources is not None and errand.vm_resources.ram == 1024
    assert manifest.features.use_dns_addresses is True
    assert manifest.variables[1].options == {"is_ca": True, "common_name": "redis-ca"}


def test_text_and_parsed_documents_read_the_same() -> None:
    assert load_manifest(document(MANIFEST)) == load_manifest(MANIFEST.encode())


def test_the_loader_is_exported_lazily_from_bosh_core() -> None:
    assert bosh_core.load_manifest is load_manifest


def test_written_back_in_the_authors_order_without_defaults() -> None:
    manifest = load_manifest(MANIFEST)
    written = serialization.dump_yaml(serialization.unstructure(manifest))
    assert load_manifest(written) == manifest
    # Nothing the author left out is added (lifecycle: service, serial: true, ...).
    assert "serial" not in written and "lifecycle: service" not in written
    assert written.startswith("name: redis\nfeatures:\n  use_dns_addresses: true\nreleases:\n")
    assert "  max_in_flight: 25%\n  canary_watch_time: 1000-30000\n" in written
    assert "  update_watch_time: 5000\n" in written


def test_every_type_problem_is_reported_with_its_path() -> None:
    data = document(MANIFEST)
    data["name"] = True
    group = data["instance_groups"][0]
    group["instances"] = "2"
    group["azs"] = "z1"
    group["lifecycle"] = "daemon"
    group["jobs"][0]["properties"] = ["port"]
    del group["stemcell"]
    data["update"]["canaries"] = 1.5
    data["update"]["canary_watch_time"] = "30000-1000"
    data["stemcells"][0]["version"] = None
    assert problems(data) == [
        "$.name: expected a string, found a boolean",
        "$.stemcells[0].version: expected a string, found null",
        "$.update.canaries: expected an integer or a percentage like '25%', found a number",
        "$.update.canary_watch_time: expected the min watch time to be at most the max,"
        " found '30000-1000'",
        "$.instance_groups[0].azs: expected a list, found a string",
        "$.instance_groups[0].instances: expected an integer, found a string",
        "$.instance_groups[0].lifecycle: expected 'service' or 'errand', found 'daemon'",
        "$.instance_groups[0].jobs[0].properties: expected a map, found a list",
        "$.instance_groups[0].stemcell: required field missing",
    ]


def test_numbers_are_read_as_strings_where_a_string_is_expected() -> None:
    data = document(MANIFEST)
    data["releases"][0]["version"] = 1.10
    data["stemcells"][0]["version"] = 1
    manifest = load_manifest(data)
    assert manifest.releases[0].version == "1.1"
    assert manifest.stemcells[0].version == "1"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("azs", [], "Deployment manifest contains 'azs' section, but this can only be set"),
        ("compilation", {}, "Deployment manifest contains 'compilation' section"),
        ("networks", [], "Deployment 'networks' are no longer supported."),
        ("resource_pools", [], "resource_pools is no longer supported."),
        ("disk_pools", [], "disk_pools is no longer supported."),
        ("jobs", [], "Jobs are no longer supported, please use instance groups instead"),
        (
            "release",
            {"name": "x", "version": "1"},
            "Deployment manifest contains both 'release' and 'releases'",
        ),
    ],
)
def test_sections_the_director_refuses(key: str, value: Any, problem: str) -> None:
    data = document(MANIFEST)
    data[key] = value
    [reported] = problems(data)
    assert reported.startswith(f"$.{key}: {problem}")


def test_instance_group_keys_the_director_refuses() -> None:
    data = document(MANIFEST)
    group = data["instance_groups"][1]
    group.update(templates=[{"name": "x"}], resource_pool="small", persistent_disk_pool="fast")
    assert problems(data) == [
        "$.instance_groups[1].templates: Instance group 'smoke-tests' specifies template or"
        " templates. This is no longer supported, please use jobs instead",
        "$.instance_groups[1].persistent_disk_pool: `persistent_disk_pool` is not supported as an"
        " `instance_groups` key. Please use `persistent_disk_type` instead.",
        "$.instance_groups[1].resource_pool: Instance groups no longer support resource_pool,"
        " please use 'vm_type' or 'vm_resources' keys",
    ]


def test_other_unknown_keys_are_ignored_as_the_director_ignores_them() -> None:
    data = document(MANIFEST)
    data["director_uuid"] = "ignored"
    data["instance_groups"][0]["colour"] = "blue"
    assert load_manifest(data) == load_manifest(MANIFEST)


def test_a_lone_release_section_is_the_only_release() -> None:
    data = document(MANIFEST)
    data["release"] = {"name": "redis", "version": "12"}
    del data["releases"]
    data["addons"] = []
    assert [release.name for release in load_manifest(data).releases] == ["redis"]


def test_references_and_duplicates() -> None:
    data = document(MANIFEST)
    data["releases"].append({"name": "redis", "version": "13"})
    data["stemcells"].append({"alias": "default", "version": "1"})
    master, errand = data["instance_groups"]
    master["stemcell"] = "jammy"
    master["jobs"].append({"name": "redis-server", "release": "postgres"})
    errand["name"] = "Redis_Master"
    data["addons"][0]["jobs"][0]["release"] = "rsyslog"
    data["variables"].append({"name": "redis_password", "type": "password"})
    assert problems(data) == [
        "$.releases[2]: Duplicate release name 'redis' (first defined at $.releases[0])",
        "$.stemcells[1]: Required property 'os' or 'name' was not specified",
        "$.stemcells[1].alias: Duplicate stemcell alias 'default'"
        " (first defined at $.stemcells[0].alias)",
        "$.variables[2].name: Duplicate variable name 'redis_password'"
        " (first defined at $.variables[0].name)",
        "$.instance_groups[1].name: Invalid instance group name 'Redis_Master', canonical name"
        " already taken (by $.instance_groups[0])",
        "$.instance_groups[0].jobs[1].release: Job 'redis-server' (instance group 'redis-master')"
        " references an unknown release 'postgres'",
        "$.instance_groups[0].jobs[1].name: Colocated job 'redis-server' is already added to the"
        " instance group 'redis-master'",
        "$.instance_groups[0].stemcell: Instance group 'redis-master' references an unknown"
        " stemcell 'jammy'",
        "$.addons[0].jobs[0].release: Manifest specifies job 'syslog_forwarder' which is defined"
        " in 'rsyslog', but 'rsyslog' is not listed in the deployment releases section.",
    ]


def test_stemcells_are_required() -> None:
    data = document(MANIFEST)
    del data["stemcells"]
    assert "$.stemcells: 'stemcells' needs to be specified" in problems(data)


def test_vm_and_disk_choices() -> None:
    data = document(MANIFEST)
    master, errand = data["instance_groups"]
    master["vm_resources"] = {"cpu": 1, "ram": 512, "ephemeral_disk_size": 1024}
    master["persistent_disk"] = -1
    del errand["vm_resources"]
    errand["persistent_disks"] = [{"name": "a", "type": "x"}, {"name": "a", "type": "y"}]
    assert problems(data) == [
        "$.instance_groups[0]: Instance group 'redis-master' specifies more than one of the"
        " following keys: 'persistent_disk', 'persistent_disk_type', and 'persistent_disks'."
        " Choose one.",
        "$.instance_groups[0].persistent_disk: Instance group 'redis-master' references an"
        " invalid persistent disk size '-1'",
        "$.instance_groups[0]: Instance group 'redis-master' can only specify 'vm_type' or"
        " 'vm_resources' keys.",
        "$.instance_groups[1].persistent_disks: Instance group 'smoke-tests' persistent_disks's"
        " section contains duplicate names",
        "$.instance_groups[1]: Instance group 'smoke-tests' is missing either 'vm_type' or"
        " 'vm_resources' section.",
    ]


def test_networks_defaults_and_static_ips() -> None:
    data = document(MANIFEST)
    master, errand = data["instance_groups"]
    master["networks"][0]["default"] = ["dns", "gateway", "addressable", "dhcp"]
    master["networks"][1].update(default=["dns", "addressable"])
    master["networks"][1]["static_ips"] = ["203.0.113.10 - 203.0.113.12", "203.0.113.12"]
    errand["networks"] = []
    assert problems(data) == [
        "$.instance_groups[0].networks[0].default: Instance group 'redis-master' specified an"
        " invalid default network property 'dhcp', valid properties are: dns, gateway",
        "$.instance_groups[0].networks[1].static_ips: Instance group 'redis-master' specifies"
        " static IP '203.0.113.12' more than once",
        "$.instance_groups[0].networks[1].static_ips: Instance group 'redis-master' has 2"
        " instances but was allocated 4 static IPs in network 'public'",
        "$.instance_groups[0].networks: Instance group 'redis-master' specified more than one"
        " network to contain default. 'addressable' has default networks: 'default', 'public'."
        " 'dns' has default networks: 'default', 'public'.",
        "$.instance_groups[1].networks: Instance group 'smoke-tests' must specify at least one"
        " network",
    ]


def test_several_networks_need_a_default_for_dns_and_gateway() -> None:
    data = document(MANIFEST)
    del data["instance_groups"][0]["networks"][0]["default"]
    assert problems(data) == [
        "$.instance_groups[0].networks: Instance group 'redis-master' must specify which network"
        " is default for dns, gateway, since it has more than one network configured"
    ]


@pytest.mark.parametrize(
    ("static_ips", "problem"),
    [
        ("203.0.113.10-203.0.113.x", "Invalid IP or CIDR '203.0.113.x'"),
        (["203.0.113.11 - 203.0.113.10"], "Invalid IP range format: 203.0.113.11 - 203.0.113.10"),
        (["10.0.0.1 - 10.0.0.2 - 10.0.0.3"], "Invalid IP range format: 10.0.0.1 - 10.0.0.2 -"),
    ],
)
def test_static_ips_that_are_not_ips(static_ips: Any, problem: str) -> None:
    data = document(MANIFEST)
    data["instance_groups"][0]["networks"][1]["static_ips"] = static_ips
    [reported] = problems(data)
    assert reported.startswith(f"$.instance_groups[0].networks[1].static_ips: {problem}")


def test_static_ips_as_one_string_or_cidr() -> None:
    data = document(MANIFEST)
    data["instance_groups"][0]["networks"][1]["static_ips"] = "203.0.113.8/31"
    assert load_manifest(data).instance_groups[0].networks[1].static_ips == ("203.0.113.8/31",)


def test_azs_migration_features_and_providers() -> None:
    data = document(MANIFEST)
    master, errand = data["instance_groups"]
    errand["azs"] = []
    master["migrated_from"] = [{"name": "redis-old", "az": "z3"}, {"name": "redis-z1", "az": "z1"}]
    master["jobs"][0]["custom_provider_definitions"] += [
        {"name": "admin", "type": ""},
        {"name": "", "type": "x"},
    ]
    data["features"] = {"use_link_dns_names": True, "use_dns_addresses": False}
    where = "in job 'redis-server' in instance group 'redis-master'"
    assert problems(data) == [
        "$.features.use_dns_addresses: cannot enable `use_link_dns_names` when"
        " `use_dns_addresses` is explicitly disabled",
        "$.instance_groups[0].jobs[0].custom_provider_definitions[1].type: Type for custom link"
        f" provider definition in manifest {where} must be a valid non-empty string.",
        "$.instance_groups[0].jobs[0].custom_provider_definitions[2].name: Name for custom link"
        f" provider definition in manifest {where} must be a valid non-empty string.",
        f"$.instance_groups[0].jobs[0].custom_provider_definitions: Custom provider 'admin' {where}"
        " is defined multiple times in manifest.",
        "$.instance_groups[0].migrated_from[0].az: Instance group 'redis-old' specified for"
        " migration to instance group 'redis-master' refers to availability zone 'z3'. Az 'z3'"
        " is not in the list of availability zones of instance group 'redis-master'.",
        "$.instance_groups[1].azs: Instance group 'smoke-tests' has empty availability zones",
    ]


def test_addon_filters_in_a_manifest_cannot_name_deployments() -> None:
    data = document(MANIFEST)
    data["addons"][0]["exclude"] = {"deployments": ["other"]}
    assert problems(data) == [
        "$.addons[0].exclude.deployments: Deployment filter is not allowed for deployment level"
        " addons."
    ]


def test_empty_names_and_types_of_variables() -> None:
    data = document(MANIFEST)
    data["variables"] = [{"name": " ", "type": ""}]
    assert problems(data) == [
        "$.variables[0].name: 'name' must not be empty",
        "$.variables[0].type: Type for variable ' ' is empty",
    ]


def test_an_empty_document_names_what_is_required() -> None:
    assert problems("") == [
        "$.name: required field missing",
        "$.releases: required field missing",
        "$.update: required field missing",
    ]


def test_a_document_that_is_not_a_map() -> None:
    assert problems("- a\n") == ["$: expected a map, found a list"]


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(YAMLError) as caught:
        load_manifest("name: a\nname: b\n")
    assert str(caught.value) == (
        "Invalid YAML in deployment manifest: line 2, column 1: duplicate key 'name'"
        " (first defined on line 1)"
    )


@pytest.mark.parametrize(
    ("value", "amount", "of_ten"),
    [(3, Amount(3), 3), ("3", Amount(3), 3), ("+3", Amount(3), 3), ("25%", Amount(25, True), 2),
     ("150%", Amount(150, True), 10), (0, Amount(0), 0)],
)  # fmt: skip
def test_amounts(value: Any, amount: Amount, of_ten: int) -> None:
    assert Amount.parse(value) == amount
    assert amount.of(10) == of_ten


@pytest.mark.parametrize("value", ["25 %", "%", "1.5", True, None, 2.0, "-5%"])
def test_not_amounts(value: Any) -> None:
    with pytest.raises(ValueError, match="expected an integer or a percentage"):
        Amount.parse(value)


@pytest.mark.parametrize(
    ("value", "time"),
    [(5000, WatchTime(5000, 5000)), ("1000-30000", WatchTime(1000, 30000)),
     (" 1000 - 30000 ", WatchTime(1000, 30000)), ("7", WatchTime(7, 7))],
)  # fmt: skip
def test_watch_times(value: Any, time: WatchTime) -> None:
    assert WatchTime.parse(value) == time


@pytest.mark.parametrize("value", [-1, "1000-", "a-b", 1.5, False, "1-2-3"])
def test_not_watch_times(value: Any) -> None:
    with pytest.raises(ValueError, match="expected milliseconds or a range"):
        WatchTime.parse(value)


def test_an_instance_group_update_overrides_what_it_sets() -> None:
    manifest = load_manifest(MANIFEST)
    master = manifest.instance_groups[0]
    update = manifest.update.overridden_by(master.update)
    assert update.max_in_flight == Amount(1)
    assert update.canaries == Amount(1) and update.vm_strategy is VmStrategy.CREATE_SWAP_DELETE
    assert manifest.update.overridden_by(None) is manifest.update
    override = InstanceGroupUpdate(
        serial=False, initial_deploy_az_update_strategy=AzUpdateStrategy.PARALLEL
    )
    changed = manifest.update.overridden_by(override)
    assert changed.serial is False
    assert changed.initial_deploy_az_update_strategy is AzUpdateStrategy.PARALLEL


def test_structure_alone_checks_types_but_not_references() -> None:
    # The converter builds models (round trips use it); load_manifest adds the director's checks.
    data = document(MANIFEST)
    data["instance_groups"][0]["stemcell"] = "unknown"
    assert serialization.structure(data, Manifest, source="s").instance_groups[0].stemcell == (
        "unknown"
    )
