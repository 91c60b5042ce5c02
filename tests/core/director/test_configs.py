"""The config store (over SQLite and PostgreSQL) and the director's config diff."""

from __future__ import annotations

import datetime as dt

import pytest

from bosh_core.director.changeset import diff_documents, dump_like_ruby
from bosh_core.director.configs import ConfigStore, release_versions_as_strings, ruby_time
from bosh_core.director.db import Database
from bosh_core.director.errors import BadExpectedConfigIdError, ConfigNotFoundError


def test_versions_are_stored_only_when_the_content_changes(database: Database) -> None:
    store = ConfigStore(database)
    first, created = store.create_if_changed("cloud", "default", "a: 1\n")
    assert created and first.current and first.team is None
    same, created = store.create_if_changed("cloud", "default", "a: 1\n")
    assert (same.id, created) == (first.id, False)
    second, created = store.create_if_changed("cloud", "default", "a: 2\n")
    assert created and second.id > first.id
    history = store.list(type_="cloud", limit=10)
    assert [(record.id, record.current) for record in history] == [
        (second.id, True),
        (first.id, False),
    ]
    assert store.get(str(first.id)).current is False


def test_expected_latest_id_guards_against_concurrent_updates(database: Database) -> None:
    store = ConfigStore(database)
    with pytest.raises(BadExpectedConfigIdError) as raised:
        store.create_if_changed("cloud", "x", "a: 1\n", expected_latest_id="3")
    assert (raised.value.latest_id, raised.value.expected_latest_id) == ("0", "3")
    record, _ = store.create_if_changed("cloud", "x", "a: 1\n", expected_latest_id="0")
    store.create_if_changed("cloud", "x", "a: 2\n", expected_latest_id=str(record.id))


def test_listing_orders_by_type_default_name_first(database: Database) -> None:
    store = ConfigStore(database)
    for type_, name in [("runtime", "dns"), ("cloud", "zeta"), ("cloud", "default"),
                        ("cloud", "alpha")]:  # fmt: skip
        store.create_if_changed(type_, name, f"{name}: 1\n")
    assert [(r.type, r.name) for r in store.list()] == [
        ("cloud", "default"), ("cloud", "alpha"), ("cloud", "zeta"), ("runtime", "dns"),
    ]  # fmt: skip
    assert [r.name for r in store.list(type_="cloud", name="alpha")] == ["alpha"]


def test_deleting_a_version_brings_the_previous_one_back(database: Database) -> None:
    store = ConfigStore(database)
    old, _ = store.create_if_changed("cloud", "default", "a: 1\n")
    new, _ = store.create_if_changed("cloud", "default", "a: 2\n")
    assert store.delete_by_id(str(new.id))
    assert not store.delete_by_id(str(new.id))
    current = store.current("cloud", "default")
    assert current is not None and current.id == old.id
    with pytest.raises(ConfigNotFoundError, match=f"Config {new.id} not found"):
        store.get(str(new.id))
    assert store.delete("cloud", "default")
    assert store.current("cloud", "default") is None
    assert not store.delete("cloud", "default")
    with pytest.raises(ConfigNotFoundError, match="Config 07 not found"):
        store.get("07")


def test_times_and_runtime_versions_as_the_reference_writes_them() -> None:
    moment = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
    assert ruby_time(moment) == "2026-11-25 15:00:00 UTC"
    text = release_versions_as_strings({"releases": [{"name": "dns", "version": 1.5}]})
    assert text == "---\nreleases:\n- name: dns\n  version: '1.5'\n"


def test_diff_matches_list_items_by_name_and_orders_sections() -> None:
    def subnet(gateway: str) -> dict[str, str]:
        return {"range": "10.0.0.0/24", "gateway": gateway}

    before = {
        "networks": [{"name": "net", "subnets": [subnet("10.0.0.1")]}],
        "azs": [{"name": "z1", "cloud_properties": {"zone": "a"}}, {"name": "z2"}],
    }
    after = {
        "networks": [{"name": "net", "subnets": [subnet("10.0.0.2")]}],
        "azs": [{"name": "z1", "cloud_properties": {"zone": "b"}}],
        "vm_types": [{"name": "s"}],
    }
    assert diff_documents(before, after) == [
        ("azs:", None),
        ("- name: z1", None),
        ("  cloud_properties:", None),
        ("    zone: a", "removed"),
        ("    zone: b", "added"),
        ("- name: z2", "removed"),
        ("", None),
        ("vm_types:", "added"),
        ("- name: s", "added"),
        ("", None),
        ("networks:", None),
        ("- name: net", None),
        ("  subnets:", None),
        ("  - range: 10.0.0.0/24", None),
        ("    gateway: 10.0.0.1", "removed"),
        ("    gateway: 10.0.0.2", "added"),
    ]
    assert diff_documents(after, after) == []


def test_diff_redacts_properties_and_release_credentials_unless_asked() -> None:
    before = {"addons": [{"name": "a", "properties": {"password": "old-secret"}}]}
    after = {
        "addons": [{"name": "a", "properties": {"password": "new-secret"}}],
        "releases": [{"name": "r", "url": "https://user:pw@example.com/r.tgz"}],
    }
    shown = "\n".join(line for line, _ in diff_documents(before, after))
    assert "secret" not in shown and "pw@" not in shown
    assert '    password: "<redacted>"' in shown
    assert "url: https://<redacted>:<redacted>@example.com/r.tgz" in shown
    unredacted = diff_documents(before, after, redact_values=False)
    assert ("    password: new-secret", "added") in unredacted


def test_ruby_quoting_of_scalars() -> None:
    assert dump_like_ruby({"a": None, "b": "/x", "c": "1.0", "d": "yes", "e": "y", "f": "ok"}) == (
        "a:\nb: \"/x\"\nc: '1.0'\nd: 'yes'\ne: \"y\"\nf: ok\n"
    )
    assert dump_like_ruby({"t": "one\ntwo"}) == "t: |-\n  one\n  two\n"
