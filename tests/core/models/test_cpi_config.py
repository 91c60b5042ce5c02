"""CPI configs: names (current and former) are unique and find their CPI."""

from __future__ import annotations

import pytest

import bosh_core
from bosh_core import serialization
from bosh_core.errors import ManifestError
from bosh_core.models.cpi_config import load_cpi_config, load_cpi_configs

from .samples import CPI_CONFIG, document


def test_a_cpi_config_reads_and_finds_cpis_by_current_or_former_name() -> None:
    config = load_cpi_config(CPI_CONFIG)
    east, west = config.cpis
    assert east.properties["region"] == "us-east-1" and east.exec_path is None
    assert west.exec_path == "/var/vcap/jobs/aws_cpi/bin/cpi"
    assert config.cpi("aws-west") is west
    assert config.cpi("") is east  # the former name of a CPI that had none
    assert config.cpi("gcp") is None
    assert load_cpi_config(serialization.dump_yaml(serialization.unstructure(config))) == config
    assert bosh_core.load_cpi_config is load_cpi_config


def test_names_are_unique_across_former_names() -> None:
    data = document(CPI_CONFIG)
    data["cpis"][1]["migrated_from"] = [{"name": "aws-east"}]
    data["cpis"].append({"name": "", "type": "gcp"})
    with pytest.raises(ManifestError) as caught:
        load_cpi_config(data)
    assert [str(problem) for problem in caught.value.problems] == [
        "$.cpis[1].migrated_from[0].name: Duplicate cpi name 'aws-east'"
        " (first defined at $.cpis[0].name)",
        "$.cpis[2].name: Duplicate cpi name '' (first defined at $.cpis[0].migrated_from[0].name)",
    ]


def test_cpis_are_required_in_each_named_config() -> None:
    with pytest.raises(ManifestError) as caught:
        load_cpi_configs({"a": CPI_CONFIG, "b": {}, "c": {"cpis": [{"name": "aws-west"}]}})
    assert str(caught.value) == (
        "Invalid cpi configs:\n"
        "  - b:$.cpis: required field missing\n"
        "  - c:$.cpis[0].type: required field missing"
    )


def test_named_configs_merge() -> None:
    other = {"cpis": [{"name": "gcp", "type": "google"}]}
    merged = load_cpi_configs({"aws": CPI_CONFIG, "gcp": other})
    assert [cpi.name for cpi in merged.cpis] == ["aws-east", "aws-west", "gcp"]
    assert bosh_core.load_cpi_configs is load_cpi_configs
    with pytest.raises(ManifestError, match=r"gcp:\$.cpis\[0\].name: Duplicate cpi name 'gcp'"):
        load_cpi_configs({"aws": other, "gcp": other})
