"""Runtime configs: addons and their releases, explicit versions, merged named configs."""

from __future__ import annotations

import pytest

import bosh_core
from bosh_core import serialization
from bosh_core.models.runtime_config import (
    RuntimeConfig,
    load_runtime_config,
    load_runtime_configs,
)

from .samples import RUNTIME_CONFIG, document, problems


def test_a_runtime_config_reads_into_typed_values() -> None:
    config = load_runtime_config(RUNTIME_CONFIG)
    [addon] = config.addons
    assert addon.include is not None and addon.include.stemcell[0].os == "ubuntu-jammy"
    assert addon.exclude is not None and addon.exclude.deployments == ("bosh",)
    assert addon.exclude.lifecycle == "errand"
    assert addon.jobs[0].properties == {"api": {"server": {"tls": "((dns_api_server_tls))"}}}
    assert config.tags == {"owner": "platform"}
    assert load_runtime_config(serialization.dump_yaml(serialization.unstructure(config))) == (
        config
    )
    assert bosh_core.load_runtime_config is load_runtime_config


def test_an_empty_runtime_config_is_valid() -> None:
    assert load_runtime_config("") == RuntimeConfig()


def test_versions_must_be_explicit_and_addon_releases_listed() -> None:
    data = document(RUNTIME_CONFIG)
    data["releases"][0]["version"] = "1.latest"
    data["addons"][0]["jobs"].append({"name": "syslog", "release": "syslog"})
    data["addons"][0]["include"]["jobs"] = [{"name": "x"}]
    data["variables"].append({"name": "dns_api_server_tls", "type": "certificate"})
    assert problems(load_runtime_config, data, source="runtime config") == [
        "$.addons[0].include.jobs[0].release: required field missing",
    ]
    del data["addons"][0]["include"]["jobs"]
    assert problems(load_runtime_config, data, source="runtime config") == [
        "$.releases[0].version: Runtime manifest contains the release 'bosh-dns' with version as"
        " '1.latest'. Please specify the actual version string.",
        "$.addons[0].jobs[1].release: Manifest specifies job 'syslog' which is defined in"
        " 'syslog', but 'syslog' is not listed in the runtime releases section.",
        "$.variables[1].name: Duplicate variable name 'dns_api_server_tls'"
        " (first defined at $.variables[0].name)",
    ]


@pytest.mark.parametrize(
    ("version", "refused"),
    [("latest", True), ("1_latest", True), ("latest-1", False), ("blatest", False)],
)
def test_latest_versions(version: str, refused: bool) -> None:
    data = document(RUNTIME_CONFIG)
    data["releases"][0]["version"] = version
    if refused:
        assert len(problems(load_runtime_config, data, source="runtime config")) == 1
    else:
        assert load_runtime_config(data).releases[0].version == version


def test_named_configs_merge_and_only_one_sets_tags() -> None:
    syslog = {
        "releases": [{"name": "syslog", "version": "12"}],
        "addons": [{"name": "syslog", "jobs": [{"name": "forwarder", "release": "syslog"}]}],
    }
    merged = load_runtime_configs({"dns": RUNTIME_CONFIG, "syslog": syslog})
    assert [addon.name for addon in merged.addons] == ["bosh-dns", "syslog"]
    assert [release.name for release in merged.releases] == ["bosh-dns", "syslog"]
    assert merged.tags == {"owner": "platform"}
    assert bosh_core.load_runtime_configs is load_runtime_configs
    # An addon may use a release another runtime config lists.
    del syslog["releases"]
    releases = {"releases": [{"name": "syslog", "version": "12"}]}
    assert load_runtime_configs({"dns": RUNTIME_CONFIG, "syslog": syslog, "r": releases})
    # Tags are set once, even when empty.
    assert problems(
        load_runtime_configs, {"dns": RUNTIME_CONFIG, "t": {"tags": {}}}, source="runtime configs"
    ) == [
        "t:$.tags: Runtime config 'tags' key cannot be defined in multiple runtime configs.",
    ]
    assert problems(load_runtime_configs, {"a": syslog}, source="runtime configs") == [
        "a:$.addons[0].jobs[0].release: Manifest specifies job 'forwarder' which is defined in"
        " 'syslog', but 'syslog' is not listed in the runtime releases section.",
    ]
