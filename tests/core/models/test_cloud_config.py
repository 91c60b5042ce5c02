"""Cloud configs: networks by type, IP checks, compilation, and named configs merged."""

from __future__ import annotations

from typing import Any

import pytest

import bosh_core
from bosh_core import serialization
from bosh_core.models.cloud_config import (
    CloudConfig,
    DynamicNetwork,
    ManualNetwork,
    VipNetwork,
    load_cloud_config,
    load_cloud_configs,
)

from . import samples
from .samples import CLOUD_CONFIG, document


def problems(data: Any) -> list[str]:
    return samples.problems(load_cloud_config, data, source="cloud config")


def merge_problems(documents: dict[str, Any]) -> list[str]:
    return samples.problems(load_cloud_configs, documents, source="cloud configs")


def test_a_cloud_config_reads_into_typed_values() -> None:
    config = load_cloud_config(CLOUD_CONFIG)
    manual, vip, dynamic = config.networks
    assert isinstance(manual, ManualNetwork) and isinstance(vip, VipNetwork)
    assert isinstance(dynamic, DynamicNetwork)
    assert manual.subnets[0].az_names == ("z1",) and manual.subnets[1].az_names == ("z2",)
    assert manual.subnets[0].reserved == ("10.10.0.2 - 10.10.0.10",)
    assert manual.subnets[1].static == ("10.10.64.121 - 10.10.64.122",)
    assert dynamic.subnets is not None and dynamic.subnets[0].dns == ("8.8.8.8",)
    assert config.disk_types[0].disk_size == 10240
    assert config.azs[1].cpi == "aws-east"
    assert config.compilation is not None and config.compilation.reuse_compilation_vms is True
    assert bosh_core.load_cloud_config is load_cloud_config


def test_written_back_with_each_network_type() -> None:
    config = load_cloud_config(CLOUD_CONFIG)
    data = serialization.unstructure(config)
    assert [network["type"] for network in data["networks"]] == ["manual", "vip", "dynamic"]
    assert load_cloud_config(serialization.dump_yaml(data)) == config


def test_a_network_without_a_type_is_manual() -> None:
    data = document(CLOUD_CONFIG)
    del data["networks"][0]["type"]
    assert isinstance(load_cloud_config(data).networks[0], ManualNetwork)


def test_type_problems_name_their_paths() -> None:
    data = document(CLOUD_CONFIG)
    data["networks"][0]["subnets"][0]["range"] = 10
    data["networks"][0]["subnets"][1]["static"] = {"a": 1}
    data["networks"][1]["type"] = "public"
    data["networks"][2] = "outside"
    data["disk_types"][0]["disk_size"] = "10G"
    data["compilation"]["workers"] = True
    assert problems(data) == [
        "$.networks[0].subnets[1].static: expected a string or a list, found a map",
        "$.networks[1].type: expected 'manual', 'dynamic' or 'vip', found 'public'",
        "$.networks[2]: expected a map, found a string",
        "$.disk_types[0].disk_size: expected an integer, found a string",
        "$.compilation.workers: expected an integer, found a boolean",
    ]


def test_names_and_references() -> None:
    data = document(CLOUD_CONFIG)
    data["azs"].append({"name": "z1"})
    data["vm_types"].append({"name": "medium"})
    data["disk_types"].append({"name": "tiny", "disk_size": -1})
    data["networks"].append({"name": "Default", "type": "vip"})
    data["networks"][0]["subnets"][1]["azs"] = ["z2", "z9"]
    data["networks"][2]["subnets"].append({"az": "z1", "azs": ["z2"]})
    data["networks"][2]["subnets"].append({"azs": []})
    assert problems(data) == [
        "$.azs[2].name: Duplicate az name 'z1' (first defined at $.azs[0].name)",
        "$.vm_types[1].name: Duplicate vm type name 'medium' (first defined at $.vm_types[0].name)",
        "$.disk_types[1].disk_size: Disk types 'tiny' references an invalid persistent disk size"
        " '-1'",
        "$.networks[3].name: Invalid network name 'Default', canonical name already taken"
        " (by $.networks[0])",
        "$.networks[0].subnets[1].azs: Network 'default' refers to an unknown availability zone"
        " 'z9'",
        "$.networks[2].subnets[1]: Network 'outside' contains both 'az' and 'azs'. Choose one.",
        "$.networks[2].subnets[2].azs: Network 'outside' refers to an empty 'azs' array",
    ]


def test_manual_subnet_addresses() -> None:
    data = document(CLOUD_CONFIG)
    first, second = data["networks"][0]["subnets"]
    first.update(
        gateway="10.10.0.0",
        reserved=["10.10.1.0/30", "10.10.0.4 - 10.10.0.6"],
        static=["10.10.0.5", "10.10.0.255"],
    )
    first["dns"] = ["10.10.0.0/30", "dns.local"]
    second.update(range="10.10.0.128/25", gateway="10.10.0.129/32")
    del second["static"]
    assert problems(data) == [
        "$.networks[0].subnets[0].dns[0]: Invalid DNS for network 'default': must be a single IP",
        "$.networks[0].subnets[0].dns[1]: Invalid IP or CIDR 'dns.local'",
        "$.networks[0].subnets[0].gateway: Invalid gateway for network 'default': can't be the"
        " network id",
        "$.networks[0].subnets[0].reserved: Reserved IP '10.10.1.0/30' is out of network"
        " 'default' range",
        "$.networks[0].subnets[0].static: Static IP '10.10.0.5' is in network 'default' reserved"
        " range",
        "$.networks[0].subnets[0].static: Static IP '10.10.0.255' is in network 'default'"
        " reserved range",
        "$.networks[0].subnets[1].range: Network 'default' has overlapping subnets",
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"range": "10.10.0.7/32"}, "range: Invalid network range '10.10.0.7/32', should include"),
        ({"range": "10.10.0.0-10.10.0.255"}, "range: Invalid IP or CIDR '10.10.0.0-10.10.0.255'"),
        ({"gateway": "10.10.0.0/30"}, "gateway: Invalid gateway for network 'default': must be a"),
        ({"gateway": "10.10.9.1"}, "gateway: Invalid gateway for network 'default': must be ins"),
        ({"gateway": "10.10.0.255"}, "gateway: Invalid gateway for network 'default': can't be th"),
        ({"gateway": None}, "gateway: required field missing"),
        ({"static": ["10.10.0.1"]}, "static: Static IP '10.10.0.1' is in network 'default' res"),
        ({"static": ["fd00::1"]}, "static: Static IP 'fd00::1' is out of network 'default' range"),
        ({"reserved": "10.10.0.9 - 10.10.0.3"}, "reserved: Invalid IP range format: 10.10.0.9 -"),
    ],
)
def test_one_subnet_problem(change: dict[str, Any], problem: str) -> None:
    data = document(CLOUD_CONFIG)
    subnet = data["networks"][0]["subnets"][0]
    subnet.update(change)
    if change.get("gateway", "") is None:
        del subnet["gateway"]
    [reported] = problems(data)
    assert reported.startswith(f"$.networks[0].subnets[0].{problem}")


def test_subnets_all_in_azs_or_none() -> None:
    data = document(CLOUD_CONFIG)
    del data["networks"][0]["subnets"][1]["azs"]
    assert problems(data) == [
        "$.networks[0].subnets: Subnets on network 'default' must all either specify"
        " availability zone or not",
    ]


def test_dynamic_network_keys_the_director_refuses() -> None:
    data = document(CLOUD_CONFIG)
    data["networks"][2].update(az="z1", prefix=28, dns=["8.8.4.4"], cloud_properties={})
    data["networks"].append({"name": "flat", "type": "dynamic", "dns": ["1.1.1.1/30"]})
    assert problems(data) == [
        "$.networks[2].az: Network 'outside' must not specify 'az'.",
        "$.networks[2].prefix: Network 'outside' must not specify 'prefix'.",
        "$.networks[2].dns: Network 'outside' must not specify 'dns' when also specifying"
        " 'subnets'. Instead, 'dns' should be specified on subnet entries.",
        "$.networks[2].cloud_properties: Network 'outside' must not specify 'cloud_properties'"
        " when also specifying 'subnets'. Instead, 'cloud_properties' should be specified on"
        " subnet entries.",
        "$.networks[3].dns[0]: Invalid DNS for network 'flat': must be a single IP",
    ]


def test_vip_subnet_statics_are_ips() -> None:
    data = document(CLOUD_CONFIG)
    data["networks"][1]["subnets"] = [{"static": ["203.0.113.5", "eip"], "az": "z3"}]
    assert problems(data) == [
        "$.networks[1].subnets[0].az: Network 'public' refers to an unknown availability zone 'z3'",
        "$.networks[1].subnets[0].static: Invalid IP or CIDR 'eip'",
    ]


def test_compilation_references() -> None:
    data = document(CLOUD_CONFIG)
    data["compilation"].update(
        workers=0,
        az="z3",
        vm_type="huge",
        cloud_properties={"instance_type": "c5.large"},
        vm_extensions=["public-lbs", "spot"],
        network="elsewhere",
    )
    assert problems(data) == [
        "$.compilation.workers: expected at least 1, found 0",
        "$.compilation.az: Compilation config references unknown az 'z3'. Known azs are: [z1, z2]",
        "$.compilation: Compilation config specifies more than one of 'vm_type', 'vm_resources',"
        " or 'cloud_properties', only one is allowed.",
        "$.compilation.vm_type: Compilation config references unknown vm type 'huge'. Known vm"
        " types are: medium",
        "$.compilation.vm_extensions[1]: Compilation config references unknown vm extension"
        " 'spot'. Known vm extensions are: public-lbs",
        "$.compilation.network: Compilation config references an unknown network 'elsewhere'",
    ]


def test_compilation_extensions_need_a_vm_size() -> None:
    data = document(CLOUD_CONFIG)
    del data["compilation"]["vm_type"]
    data["compilation"]["vm_extensions"] = ["public-lbs"]
    assert problems(data) == [
        "$.compilation.vm_extensions[0]: Compilation config is using vm extension 'public-lbs'"
        " and must configure a vm type or vm_resources block.",
    ]


@pytest.mark.parametrize(
    ("az", "network", "reaches"),
    [("z2", "default", True), ("z2", "outside", False), (None, "default", False),
     (None, "public", True), ("z1", "public", True)],
)  # fmt: skip
def test_the_compilation_network_must_reach_its_az(
    az: str | None, network: str, reaches: bool
) -> None:
    data = document(CLOUD_CONFIG)
    data["compilation"].update(az=az, network=network)
    if reaches:
        assert load_cloud_config(data).compilation is not None
    else:
        assert problems(data) == [
            f"$.compilation.az: Compilation config refers to az '{az or ''}' but network"
            f" '{network}' has no matching subnet(s).",
        ]


def test_networks_and_compilation_are_required() -> None:
    assert problems({}) == [
        "$.networks: No networks specified",
        "$.compilation: required field missing",
    ]


def test_named_configs_merge_in_order() -> None:
    data = document(CLOUD_CONFIG)
    azs = {"azs": data.pop("azs")}
    extensions = {"vm_extensions": [*data.pop("vm_extensions"), {"name": "spot"}]}
    merged = load_cloud_configs({"default": data, "azs": azs, "lbs": extensions})
    assert [az.name for az in merged.azs] == ["z1", "z2"]
    assert [extension.name for extension in merged.vm_extensions] == ["public-lbs", "spot"]
    assert merged == load_cloud_config(serialization.unstructure(merged))
    assert bosh_core.load_cloud_configs is load_cloud_configs


def test_merged_duplicates_name_both_configs() -> None:
    data = document(CLOUD_CONFIG)
    other = {
        "azs": [{"name": "z2"}],
        "networks": [{"name": "public", "type": "vip"}],
        "compilation": {"workers": 1, "network": "public"},
    }
    assert merge_problems({"default": data, "extra": other}) == [
        "extra:$.compilation: Cloud config 'compilation' key cannot be defined in multiple cloud"
        " configs.",
        "extra:$.azs[0].name: Duplicate az name 'z2' (first defined at default:$.azs[1].name)",
        "extra:$.networks[0].name: Invalid network name 'public', canonical name already taken"
        " (by default:$.networks[1])",
    ]


def test_merged_problems_name_their_config() -> None:
    broken = {"networks": [{"name": "x", "subnets": [{"range": "10.0.0.0/24", "az": "z9"}]}]}
    assert merge_problems({"default": document(CLOUD_CONFIG), "x": broken}) == [
        "x:$.networks[0].subnets[0].az: Network 'x' refers to an unknown availability zone 'z9'",
        "x:$.networks[0].subnets[0].gateway: required field missing",
    ]
    unreadable, wrong_type = merge_problems({"a": "azs: [", "b": {"azs": 1}})
    assert unreadable.startswith("a:line ")  # the parser's words
    assert wrong_type == "b:$.azs: expected a list, found a number"


def test_no_configs_merge_into_an_empty_one() -> None:
    assert merge_problems({}) == [
        "$.networks: No networks specified",
        "$.compilation: required field missing",
    ]
    assert serialization.structure({}, CloudConfig, source="s") == CloudConfig()
