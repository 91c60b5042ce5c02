from __future__ import annotations

import pytest

from bosh_core.director.errors import PropertyTypeError
from bosh_core.models.manifest import Job
from bosh_core.models.release import JobSpec
from bosh_core.planning.properties import bind_job_properties, link_properties

from .link_samples import HELLO_SPEC

SPEC = JobSpec(
    name="web",
    properties={
        "port": {"default": 8080},
        "db.user": {"default": "admin"},
        "db.password": {},
        "tls.options": {"default": {"b": 2, "a": 1}},
        "flags": None,
    },
)


def bind(job_properties=None, *, group=None, global_=None):
    return bind_job_properties(
        SPEC,
        Job(name="web", release="app", properties=job_properties),
        group_properties=group or {},
        global_properties=global_ or {},
    )


def test_defaults_fill_what_the_manifest_leaves_out_and_dotted_names_nest():
    assert bind({"db": {"password": "secret"}}) == {
        "port": 8080,
        "db": {"user": "admin", "password": "secret"},
        "tls": {"options": {"a": 1, "b": 2}},
        "flags": None,
    }


def test_undeclared_properties_are_dropped():
    bound = bind({"port": 1, "extra": "x", "db": {"user": "u", "host": "h"}})
    assert "extra" not in bound
    assert bound["db"] == {"user": "u", "password": None}


def test_job_properties_win_whole_over_group_and_global_ones():
    bound = bind({}, group={"port": 1}, global_={"port": 2})
    assert bound["port"] == 8080  # an empty job block still replaces the others


def test_group_properties_deep_merge_over_global_ones_without_a_job_block():
    bound = bind(
        group={"db": {"password": "g"}},
        global_={"port": 9, "db": {"user": "global", "password": "x"}},
    )
    assert bound["port"] == 9
    assert bound["db"] == {"user": "global", "password": "g"}


def test_false_is_a_value_not_a_missing_property():
    assert bind({"flags": False})["flags"] is False


def test_maps_come_out_sorted_and_unshared_with_the_manifest():
    given = {"tls": {"options": {"z": [1], "a": {"y": 1, "x": 2}}}}
    bound = bind(given)
    assert list(bound["tls"]["options"]) == ["a", "z"]
    assert list(bound["tls"]["options"]["a"]) == ["x", "y"]
    bound["tls"]["options"]["z"].append(2)
    assert given["tls"]["options"]["z"] == [1]


def test_a_dotted_name_across_a_scalar_names_the_property_and_the_ruby_class():
    with pytest.raises(PropertyTypeError) as raised:
        bind({"db": "postgres://"})
    assert str(raised.value) == "Property 'db.user' expects a hash, but received 'String'"
    assert raised.value.error_code == 100


def test_hello_release_job_defaults_and_override():
    bound = bind_job_properties(
        HELLO_SPEC,
        Job(name="hello", release="hello", properties={"message": "hi", "debug": True}),
        group_properties={},
        global_properties={},
    )
    assert bound == {
        "port": 8080,
        "message": "hi",
        "listen_address": "0.0.0.0",
        "store_dir": "/var/vcap/store/hello",
        "password": None,
    }


def test_link_properties_take_present_values_else_spec_defaults():
    mapped, errors = link_properties(
        SPEC.properties,
        {"db": {"password": None}},
        ["port", "db.password", "db.user", "nope"],
        job_name="web",
    )
    assert mapped == {"port": 8080, "db": {"password": None, "user": "admin"}}
    assert errors == ["Link property nope in template web is not defined in release spec"]
