from __future__ import annotations

import pytest

from bosh_core.director.errors import LinkDefinitionError, LinkResolutionError
from bosh_core.models.release import JobSpec
from bosh_core.planning.links import DnsSettings, LinkInstance, resolve_links

from .link_samples import HELLO_SPEC, group, job, manifest

DB = JobSpec(
    name="db",
    properties={"port": {"default": 5432}, "password": {}},
    provides=({"name": "db", "type": "postgres", "properties": ["port"]},),
)
WEB = JobSpec(name="web", consumes=({"name": "db", "type": "postgres"},))
WORKER = JobSpec(name="worker", consumes=({"name": "db", "type": "postgres", "optional": True},))
SPECS = {
    ("app", "db"): DB,
    ("app", "web"): WEB,
    ("app", "worker"): WORKER,
    ("hello", "hello"): HELLO_SPEC,
}


def instances(group_name, count, *, network="default", base="10.0.0."):
    return [
        LinkInstance(
            id=f"{group_name}-{index}",
            index=index,
            az="z1",
            bootstrap=index == 0,
            addresses={network: f"{base}{10 + index}"},
            dns_addresses={network: f"{group_name}-{index}.{network}.dep.bosh"},
        )
        for index in range(count)
    ]


def failure(deployment, *lines):
    return (
        f"Failed to resolve links from deployment '{deployment}'. See errors below:\n  - "
        + "\n  - ".join(lines)
    )


def test_hello_release_instances_learn_their_peers_through_the_implicit_link():
    plan = manifest(group("hello", job("hello", "hello"), instances=2))
    links = resolve_links(plan, SPECS, {"hello": instances("hello", 2)})
    peers = links.for_job("hello", "hello")["peers"]
    assert peers == {
        "deployment_name": "dep",
        "domain": "bosh",
        "default_network": "default",
        "networks": ["default"],
        "instance_group": "hello",
        "properties": {"port": 8080},
        "use_short_dns_addresses": False,
        "use_dns_addresses": False,
        "use_link_dns_names": False,
        "instances": [
            {
                "name": "hello",
                "id": "hello-0",
                "index": 0,
                "bootstrap": True,
                "az": "z1",
                "address": "10.0.0.10",
            },
            {
                "name": "hello",
                "id": "hello-1",
                "index": 1,
                "bootstrap": False,
                "az": "z1",
                "address": "10.0.0.11",
            },
        ],
        "group_name": "hello-http",
        "address": "q-s0.hello.default.dep.bosh",
    }
    [provider] = links.providers
    assert (provider.name, provider.type, provider.shared) == ("hello", "http", False)


def test_link_properties_follow_the_providers_manifest_properties():
    plan = manifest(
        group("db", job("db", properties={"port": 6543, "password": "x"})),
        group("web", job("web")),
    )
    content = resolve_links(plan, SPECS, {"db": instances("db", 1)}).for_job("web", "web")["db"]
    assert content["properties"] == {"port": 6543}


def test_dns_addresses_when_the_deployment_uses_them_and_ips_when_the_link_asks():
    plan = manifest(
        group("db", job("db")),
        group("web", job("web")),
        group("ip", job("web", consumes={"db": {"ip_addresses": True}})),
        features={"use_dns_addresses": True},
    )
    links = resolve_links(plan, SPECS, {"db": instances("db", 1)})
    [dns] = links.for_job("web", "web")["db"]["instances"]
    [ip] = links.for_job("ip", "web")["db"]["instances"]
    assert dns["address"] == "db-0.default.dep.bosh"
    assert ip["address"] == "10.0.0.10"


def test_several_providers_of_the_type_name_the_consumer_and_every_candidate():
    plan = manifest(
        group("db1", job("db")),
        group("db2", job("db", provides={"db": {"as": "other"}})),
        group("web", job("web")),
    )
    with pytest.raises(LinkResolutionError) as raised:
        resolve_links(plan, SPECS, {})
    assert str(raised.value) == failure(
        "dep",
        "Failed to resolve link 'db' with type 'postgres' from job 'web' in instance group"
        " 'web'. Multiple link providers found:\n"
        "    - Link provider 'db' from job 'db' in instance group 'db1' in deployment 'dep'\n"
        "    - Link provider 'db' with alias 'other' from job 'db' in instance group 'db2'"
        " in deployment 'dep'",
    )


def test_explicit_from_picks_a_provider_by_its_alias():
    plan = manifest(
        group("db1", job("db")),
        group("db2", job("db", provides={"db": {"as": "other"}})),
        group("web", job("web", consumes={"db": {"from": "other"}})),
    )
    links = resolve_links(plan, SPECS, {"db2": instances("db2", 1)})
    [link] = links.links
    assert link.provider is not None and link.provider.instance_group == "db2"
    assert link.content["instance_group"] == "db2"


def test_missing_providers_are_reported_together_and_optional_consumers_go_without():
    plan = manifest(
        group("web", job("web")),
        group("worker", job("worker")),
        group("named", job("worker", consumes={"db": {"from": "main"}})),
    )
    with pytest.raises(LinkResolutionError) as raised:
        resolve_links(plan, SPECS, {})
    assert raised.value.errors == (
        "Failed to resolve link 'db' with type 'postgres' from job 'web' in instance group"
        " 'web'. Details below:\n    - No link providers found",
        "Failed to resolve link 'db' with alias 'main' and type 'postgres' from job 'worker'"
        " in instance group 'named'. Details below:\n    - No link providers found",
    )


def test_nil_blocks_an_optional_consumer_and_hides_a_provider():
    plan = manifest(
        group("db", job("db", provides={"db": "nil"})),
        group("worker", job("worker", consumes={"db": "nil"})),
        group("free", job("worker")),
    )
    links = resolve_links(plan, SPECS, {})
    assert links.links == ()
    assert links.providers[0].consumable is False


def test_cross_deployment_links_need_a_shared_provider():
    provider_plan = manifest(
        group("db", job("db", provides={"db": {"shared": True}})),
        group("db_private", job("db", provides={"db": {"as": "private"}})),
        name="data",
    )
    data = resolve_links(provider_plan, SPECS, {"db": instances("db", 1, base="10.1.0.")})
    assert [provider.instance_group for provider in data.shared_providers()] == ["db"]
    others = {"data": data.providers}
    consumer_plan = manifest(
        group("web", job("web", consumes={"db": {"from": "db", "deployment": "data"}})),
        group("bad", job("web", consumes={"db": {"from": "private", "deployment": "data"}})),
    )
    with pytest.raises(LinkResolutionError) as raised:
        resolve_links(consumer_plan, SPECS, {}, other_deployments=others)
    assert raised.value.errors == (
        "Failed to resolve link 'db' with alias 'private' and type 'postgres' from job 'web'"
        " in instance group 'bad'. Details below:\n    - No link providers found",
    )
    good = manifest(group("web", job("web", consumes={"db": {"from": "db", "deployment": "data"}})))
    content = resolve_links(good, SPECS, {}, other_deployments=others).for_job("web", "web")
    assert content["db"]["deployment_name"] == "data"
    assert content["db"]["instances"][0]["address"] == "10.1.0.10"


def test_consuming_from_an_unknown_deployment_is_a_definition_error():
    plan = manifest(group("web", job("web", consumes={"db": {"deployment": "ghost"}})))
    with pytest.raises(LinkDefinitionError, match="but the deployment does not exist"):
        resolve_links(plan, SPECS, {})


def test_a_network_the_provider_is_not_on_is_named_in_the_error():
    plan = manifest(
        group("db", job("db")),
        group("web", job("web", consumes={"db": {"network": "private"}})),
    )
    with pytest.raises(LinkResolutionError) as raised:
        resolve_links(plan, SPECS, {})
    assert raised.value.errors[0].endswith(
        "Details below:\n    - Link provider 'db' from job 'db' in instance group 'db'"
        " in deployment 'dep' does not belong to network 'private'"
    )


def test_manual_links_are_used_as_written():
    manual = {"instances": [{"address": "db.example.com"}], "properties": {"port": 1}}
    plan = manifest(group("web", job("web", consumes={"db": manual})))
    [link] = resolve_links(plan, SPECS, {}).links
    assert link.provider is None
    assert link.content == {**manual, "address": None, "deployment_name": "dep"}


def test_malformed_manifest_links_are_all_reported():
    plan = manifest(
        group(
            "web",
            job("web", consumes={"db": {"from": "x", "instances": [], "ip_addresses": "yes"}}),
            job("db", provides={"db": {"name": "renamed"}}),
        )
    )
    with pytest.raises(LinkDefinitionError) as raised:
        resolve_links(plan, SPECS, {})
    assert raised.value.errors == (
        "Cannot specify both 'instances' and 'from' keys for link 'db' in job 'web' in"
        " instance group 'web'.",
        "Cannot specify non boolean values for 'ip_addresses' field for link 'db' in job"
        " 'web' in instance group 'web'.",
        "Cannot specify 'name' or 'type' properties in the manifest for link 'db' in job 'db'"
        " in instance group 'web'. Please provide these keys in the release only.",
    )


def test_unknown_manifest_links_are_warnings():
    plan = manifest(group("hello", job("hello", "hello", consumes={"ghost": "nil"})))
    links = resolve_links(plan, SPECS, {"hello": instances("hello", 1)})
    assert links.warnings == (
        "Manifest defines unknown consumers:\n  - Job 'hello' does not define link consumer"
        " 'ghost' in the release spec",
    )


def test_short_dns_leaves_the_group_address_to_the_renderer():
    plan = manifest(group("hello", job("hello", "hello")))
    links = resolve_links(
        plan,
        SPECS,
        {"hello": instances("hello", 1)},
        dns=DnsSettings(use_short_dns_addresses=True, root_domain="example"),
    )
    content = links.for_job("hello", "hello")["peers"]
    assert "address" not in content
    assert content["domain"] == "example"
