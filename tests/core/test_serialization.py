"""The one converter: documents of the wrong shape are refused with their path."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from bosh_core import serialization
from bosh_core.errors import ManifestError
from bosh_core.models.release import ArtifactIndex, ReleaseIndex, ReleaseManifest


@attrs.frozen
class Defaults:
    size: int = 0
    name: str = ""


@pytest.mark.parametrize(
    ("data", "cls", "problem"),
    [
        ([], ReleaseIndex, "$: expected a map, found a list"),
        ("text", ArtifactIndex, "$: expected a map, found a string"),
        (7, Defaults, "$: expected a map, found a number"),
        (True, Defaults, "$: expected a map, found a boolean"),
        (["a"], dict[str, Defaults], "$: expected a map, found a list"),
        ({"a": [1]}, dict[str, Defaults], "$['a']: expected a map, found a list"),
        ({"builds": {"x": "1"}}, ReleaseIndex, "$.builds['x']: expected a map, found a string"),
        (
            {"name": "r", "version": "1", "jobs": [["web"]]},
            ReleaseManifest,
            "$.jobs[0]: expected a map, found a list",
        ),
    ],
)
def test_classes_and_dicts_are_built_from_maps_only(
    data: Any, cls: type[Any], problem: str
) -> None:
    with pytest.raises(ManifestError) as caught:
        serialization.structure(data, cls, source="index 'x.yml'")
    assert str(caught.value) == f"Invalid index 'x.yml': {problem}"
    assert caught.value.source == "index 'x.yml'"


def test_a_type_built_once_from_a_map_still_refuses_a_list() -> None:
    # Hooks are made on first use and cached: the cached one must check too.
    for cls in (dict[str, Defaults], Defaults):
        serialization.structure({}, cls, source="s")
        with pytest.raises(ManifestError, match=r"expected a map, found a list"):
            serialization.structure([], cls, source="s")


def test_a_map_with_every_field_defaulted_is_still_fine() -> None:
    assert serialization.structure({}, Defaults, source="s") == Defaults()
    assert serialization.structure({"builds": {}}, ReleaseIndex, source="s") == ReleaseIndex()


def test_an_empty_document_reads_as_an_empty_map() -> None:
    assert serialization.load_yaml_as("", ReleaseIndex, source="s") == ReleaseIndex()
    with pytest.raises(ManifestError, match=r"expected a map, found a list"):
        serialization.load_yaml_as("[]", ReleaseIndex, source="s")


def test_binary_scalars_are_read_into_strings_as_go_reads_them() -> None:
    document = serialization.load_yaml("name: !!binary aGVsbG8=\n", source="s")
    assert serialization.structure(document, Defaults, source="s") == Defaults(name="hello")


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "null"), (True, "a boolean"), (1.5, "a number"), ("x", "a string"), ({}, "a map")],
)
def test_kind_of(value: Any, kind: str) -> None:
    assert serialization.kind_of(value) == kind


def test_a_string_is_not_read_as_a_list_of_its_letters() -> None:
    from bosh_core.models.release import JobSpec

    with pytest.raises(ManifestError, match=r"\$\.packages: expected a list, found a string"):
        serialization.structure({"name": "web", "packages": "pkg"}, JobSpec, source="spec")


@pytest.mark.parametrize("value", ["3", 3.5, True])
def test_integer_fields_take_integers_only(value: object) -> None:
    with pytest.raises(ManifestError, match="expected an integer"):
        serialization.structure(value, int, source="doc")


def test_a_plain_equals_sign_reads_as_a_string() -> None:
    assert serialization.load_yaml("key: =\n") == {"key": "="}
