"""The shared pieces: strict field types, choices, IP ranges, names, mutated documents."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bosh_core import serialization
from bosh_core.errors import ManifestError
from bosh_core.models.cloud_config import load_cloud_config, load_cloud_configs
from bosh_core.models.cpi_config import load_cpi_config
from bosh_core.models.manifest import Lifecycle, load_manifest
from bosh_core.models.runtime_config import load_runtime_config
from bosh_core.models.validation import (
    Int,
    IPRanges,
    Model,
    Seq,
    Str,
    canonical_name,
    cidr_block,
    ip_blocks,
    tag,
)

from .samples import CLOUD_CONFIG, CPI_CONFIG, MANIFEST, RUNTIME_CONFIG, document


@attrs.frozen(kw_only=True)
class Sample(Model):
    kind: str = tag("sample")
    count: Int = 0
    label: Str | None = None
    names: Seq[Str] = ()
    ips: IPRanges = ()
    lifecycle: Lifecycle = Lifecycle.SERVICE


def build(data: Any) -> Sample:
    return serialization.structure(data, Sample, source="sample")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"count": "3"}, "$.count: expected an integer, found a string"),
        ({"count": 3.0}, "$.count: expected an integer, found a number"),
        ({"count": False}, "$.count: expected an integer, found a boolean"),
        ({"label": True}, "$.label: expected a string, found a boolean"),
        ({"label": ["a"]}, "$.label: expected a string, found a list"),
        ({"names": "abc"}, "$.names: expected a list, found a string"),
        ({"names": {"a": 1}}, "$.names: expected a list, found a map"),
        ({"names": ["a", None]}, "$.names[1]: expected a string, found null"),
        ({"ips": 10}, "$.ips: expected a string or a list, found a number"),
        ({"lifecycle": "Service"}, "$.lifecycle: expected 'service' or 'errand', found 'Service'"),
        ({"lifecycle": 1}, "$.lifecycle: expected 'service' or 'errand', found a number"),
        ({"lifecycle": "x" * 65}, "$.lifecycle: expected 'service' or 'errand', found a string"),
    ],
)
def test_strict_types(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ManifestError) as caught:
        build(data)
    assert [str(p) for p in caught.value.problems] == [problem]


def test_lenient_where_the_director_is() -> None:
    sample = build({"label": 1.5, "names": [1, "b"], "ips": "10.0.0.1", "lifecycle": "errand"})
    assert sample == Sample(
        label="1.5", names=("1", "b"), ips=("10.0.0.1",), lifecycle=Lifecycle.ERRAND
    )


def test_defaults_are_left_out_but_tags_are_written() -> None:
    assert serialization.unstructure(Sample()) == {"kind": "sample"}
    written = serialization.unstructure(Sample(count=2, lifecycle=Lifecycle.ERRAND))
    assert written == {"kind": "sample", "count": 2, "lifecycle": "errand"}
    assert type(written["lifecycle"]) is str


@pytest.mark.parametrize(
    ("text", "version", "size"),
    [
        ("10.0.0.5", 4, 1),
        ("10.0.0.5/30", 4, 4),  # host bits ignored, as the director reads it
        ("10.0.0.5 - 10.0.0.9", 4, 5),
        ("10.0.0.5-10.0.0.5", 4, 1),
        ("fd00::/120", 6, 256),
        ("fd00::1 - fd00::3", 6, 3),
    ],
)
def test_ip_blocks(text: str, version: int, size: int) -> None:
    [block] = ip_blocks([text])
    assert (block.version, block.size, block.text) == (version, size, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.256", "Invalid IP or CIDR '10.0.0.256'"),
        ("10.0.0.0/24 - 10.0.1.0", "Invalid IP range format: 10.0.0.0/24 - 10.0.1.0"),
        ("10.0.0.9 - 10.0.0.1", "Invalid IP range format: 10.0.0.9 - 10.0.0.1"),
        ("10.0.0.1 - fd00::1", "Invalid IP range format: 10.0.0.1 - fd00::1"),
        ("", "Invalid IP or CIDR ''"),
    ],
)
def test_not_ip_blocks(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(") + "$"):
        ip_blocks([text])


def test_blocks_compare_within_their_version() -> None:
    net, v6 = cidr_block("10.0.0.0/24"), cidr_block("::a00:0/120")
    assert cidr_block("10.0.0.7").within(net) and not cidr_block("10.0.1.7").within(net)
    assert not v6.within(net) and not v6.overlaps(net)
    assert cidr_block("10.0.0.255/30").overlaps(net)
    assert v6.address(v6.first) == "::a00:0" and net.address(net.last) == "10.0.0.255"


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("Redis_Master", "redis-master"), ("db.1 (old)", "db1old"), ("a--b", "a--b")],
)
def test_canonical_names(name: str, canonical: str) -> None:
    assert canonical_name(name) == canonical


@pytest.mark.parametrize(("name", "where"), [("_db", "start"), ("db-", "end"), ("-", "start")])
def test_names_that_cannot_be_dns_names(name: str, where: str) -> None:
    with pytest.raises(ValueError, match=f"cannot {where} with a hyphen"):
        canonical_name(name)


# Valid documents with a few parts replaced by odd values or removed: every check runs on
# data it did not expect, and must still answer with a ManifestError, not a traceback.
ODD_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 300)
    | st.sampled_from(["", "z1", "10.10.0.0/30", "10.10.0.9 - 10.10.0.1", "fd00::1", "25%"]),
    lambda children: (
        st.lists(children, max_size=2)
        | st.dictionaries(st.sampled_from(["name", "type", "az", "azs"]), children, max_size=2)
    ),
    max_leaves=4,
)


def _places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    places = [path]
    if isinstance(node, dict | list):
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            places += _places(child, (*path, key))
    return places


@st.composite
def mutated(draw: st.DrawFn, text: str) -> Any:
    data = copy.deepcopy(document(text))
    for _ in range(draw(st.integers(1, 4))):
        places = _places(data)[1:]
        if not places:  # everything was removed
            break
        path = draw(st.sampled_from(places))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[path[-1]] = draw(ODD_VALUES)
        elif isinstance(parent, dict):
            del parent[path[-1]]
    return data


CASES: list[tuple[Callable[[Any], Any], str]] = [
    (load_manifest, MANIFEST),
    (load_cloud_config, CLOUD_CONFIG),
    (lambda data: load_cloud_configs({"a": data, "b": CLOUD_CONFIG}), CLOUD_CONFIG),
    (load_runtime_config, RUNTIME_CONFIG),
    (load_cpi_config, CPI_CONFIG),
]


@pytest.mark.parametrize(("load", "text"), CASES)
@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_mutated_documents_load_or_fail_cleanly(
    load: Callable[[Any], Any], text: str, data: st.DataObject
) -> None:
    try:
        load(data.draw(mutated(text)))
    except ManifestError as error:
        assert error.problems
        assert all(problem.path and problem.message for problem in error.problems)
