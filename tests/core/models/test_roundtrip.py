"""Every model survives unstructure and structure, and YAML text; loaders fail only cleanly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bosh_core import serialization
from bosh_core.errors import ManifestError
from bosh_core.models.cloud_config import CloudConfig, load_cloud_config, load_cloud_configs
from bosh_core.models.cpi_config import CpiConfig, load_cpi_config
from bosh_core.models.manifest import Manifest, load_manifest
from bosh_core.models.runtime_config import RuntimeConfig, load_runtime_config

from .strategies import models, yaml_values

DOCUMENTS = [Manifest, CloudConfig, RuntimeConfig, CpiConfig]

big = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cls", DOCUMENTS, ids=lambda cls: cls.__name__)
@big
@given(data=st.data())
def test_structure_of_unstructure_is_identity(cls: type[Any], data: st.DataObject) -> None:
    model = data.draw(models(cls))
    assert serialization.structure(serialization.unstructure(model), cls, source="s") == model


@pytest.mark.parametrize("cls", DOCUMENTS, ids=lambda cls: cls.__name__)
@big
@given(data=st.data())
def test_models_survive_yaml_text(cls: type[Any], data: st.DataObject) -> None:
    model = data.draw(models(cls, plain=True))
    text = serialization.dump_yaml(serialization.unstructure(model))
    assert serialization.load_yaml_as(text, cls, source="s") == model


# Documents that look like the real ones (their keys, random values), to reach deep checks.
KEYS = [
    "name", "releases", "stemcells", "update", "instance_groups", "jobs", "release",
    "version", "alias", "os", "canaries", "max_in_flight", "canary_watch_time",
    "update_watch_time", "azs", "az", "instances", "vm_type", "vm_resources", "stemcell",
    "networks", "static_ips", "default", "persistent_disk", "persistent_disks", "type",
    "subnets", "range", "gateway", "static", "reserved", "dns", "compilation", "workers",
    "network", "vm_types", "disk_types", "disk_size", "cpis", "addons", "include",
    "exclude", "variables", "tags", "features", "migrated_from", "lifecycle",
    "custom_provider_definitions", "vm_extensions", "cpu", "ram", "ephemeral_disk_size",
]  # fmt: skip

documents = st.recursive(
    st.none() | st.integers(-2, 40) | st.sampled_from(["z1", "10.0.0.0/30", "1%", "1-2", ""]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=6)
    ),
    max_leaves=30,
)

LOADERS: list[Callable[[Any], Any]] = [
    load_manifest,
    load_cloud_config,
    load_runtime_config,
    load_cpi_config,
    lambda document: load_cloud_configs({"a": document, "b": document}),
]


@pytest.mark.parametrize("load", LOADERS)
@settings(max_examples=300)
@given(document=documents | yaml_values)
def test_loaders_accept_or_raise_a_manifest_error(
    load: Callable[[Any], Any], document: Any
) -> None:
    # Whatever the document, the outcome is a model or a ManifestError, never a crash.
    try:
        load(document)
    except ManifestError as error:
        assert error.problems
