from __future__ import annotations

import pytest

from bosh_core.director.errors import ColocatedJobError, RuntimeInvalidDeploymentReleaseError
from bosh_core.models.release import JobSpec
from bosh_core.models.runtime_config import load_runtime_config
from bosh_core.planning.addons import apply_addons
from bosh_core.planning.links import resolve_links
from bosh_core.planning.properties import bind_job_properties

from .link_samples import HELLO_SPEC, group, job, manifest

GROUPS = (
    group("web", job("web"), azs=["z1", "z2"]),
    group("db", job("db"), networks=[{"name": "private"}]),
    group("task", job("web"), lifecycle="errand", azs=["z2"]),
)


def runtime(*addons, releases=({"name": "agent", "version": "2"},)):
    return load_runtime_config({"releases": list(releases), "addons": list(addons)})


def addon(name="monitor", **fields):
    return {"name": name, "jobs": [{"name": "agent", "release": "agent"}], **fields}


def placed(result):
    return [(entry.addon, entry.instance_group, entry.job) for entry in result.added]


@pytest.mark.parametrize(
    ("rules", "groups"),
    [
        ({}, ["web", "db", "task"]),
        ({"include": {"instance_groups": ["db"]}}, ["db"]),
        ({"include": {"jobs": [{"name": "web", "release": "app"}]}}, ["web", "task"]),
        ({"include": {"jobs": [{"name": "web", "release": "other"}]}}, []),
        ({"include": {"azs": ["z2"]}}, ["web", "task"]),
        ({"include": {"networks": ["private"]}}, ["db"]),
        ({"include": {"lifecycle": "errand"}}, ["task"]),
        ({"include": {"stemcell": [{"os": "ubuntu-jammy"}]}}, ["web", "db", "task"]),
        ({"include": {"stemcell": [{"os": "windows"}]}}, []),
        ({"include": {"deployments": ["dep"]}}, ["web", "db", "task"]),
        ({"include": {"deployments": ["other"]}}, []),
        ({"include": {"teams": ["ops"]}}, ["web", "db", "task"]),
        ({"include": {"teams": ["dev"]}}, []),
        ({"exclude": {"lifecycle": "errand"}}, ["web", "db"]),
        ({"exclude": {}}, ["web", "db", "task"]),
        # every rule of a filter must match: web is in z2 but not on 'private'
        ({"include": {"azs": ["z2"], "instance_groups": ["web", "db"]}}, ["web"]),
        ({"include": {"azs": ["z2"]}, "exclude": {"instance_groups": ["task"]}}, ["web"]),
    ],
)
def test_filters_select_instance_groups(rules, groups):
    result = apply_addons(manifest(*GROUPS), [runtime(addon(**rules))], teams=["ops"])
    assert [entry.instance_group for entry in result.added] == groups
    for name in groups:
        [found] = [g for g in result.manifest.instance_groups if g.name == name]
        assert found.jobs[-1].name == "agent"


def test_deployment_addons_come_first_ignore_teams_and_runtime_filters_see_their_jobs():
    plan = manifest(
        *GROUPS,
        addons=[
            {
                "name": "local",
                "jobs": [{"name": "agent", "release": "app"}],
                "include": {"teams": ["nobody"], "instance_groups": ["db"]},
            }
        ],
    )
    later = addon("follow", include={"jobs": [{"name": "agent", "release": "app"}]})
    later["jobs"] = [{"name": "sidecar", "release": "agent"}]
    result = apply_addons(plan, [runtime(later)])
    assert placed(result) == [("local", "db", "agent"), ("follow", "db", "sidecar")]


def test_addon_jobs_get_their_own_or_the_addon_properties_never_the_groups():
    plan = manifest(group("web", job("web"), properties={"port": 1}), properties={"port": 2})
    first = addon("own")
    first["jobs"] = [{"name": "hello", "release": "hello", "properties": {"message": "own"}}]
    second = addon("level", properties={"port": 9})
    second["jobs"] = [{"name": "agent", "release": "agent"}]
    releases = ({"name": "agent", "version": "2"}, {"name": "hello", "version": "1"})
    result = apply_addons(plan, [runtime(first, second, releases=releases)])
    assert [entry.properties for entry in result.added] == [{"message": "own"}, {"port": 9}]
    [web] = result.manifest.instance_groups
    hello = web.jobs[1]
    bound = bind_job_properties(
        HELLO_SPEC, hello, group_properties=web.properties, global_properties={"port": 2}
    )
    assert bound == {
        "port": 8080,
        "message": "own",
        "listen_address": "0.0.0.0",
        "store_dir": "/var/vcap/store/hello",
        "password": None,
    }


def test_runtime_releases_join_the_deployment_only_when_an_addon_applies():
    plan = manifest(*GROUPS)
    unused = runtime(addon(include={"instance_groups": ["none"]}))
    assert apply_addons(plan, [unused]).runtime_releases == ()
    used = apply_addons(plan, [runtime(addon())])
    assert [release.name for release in used.manifest.releases] == ["app", "hello", "agent"]
    assert [release.version for release in used.runtime_releases] == ["2"]


def test_a_runtime_release_at_another_version_than_the_deployments_is_refused():
    config = runtime(
        {"name": "x", "jobs": [{"name": "x", "release": "app"}]},
        releases=({"name": "app", "version": "7"},),
    )
    with pytest.raises(RuntimeInvalidDeploymentReleaseError) as raised:
        apply_addons(manifest(*GROUPS), [config])
    assert str(raised.value) == (
        "Runtime manifest specifies release 'app' with version as '7'. This conflicts with"
        " version '1' specified in the deployment manifest."
    )
    assert raised.value.error_code == 530003


def test_an_addon_job_already_on_the_group_is_refused():
    config = runtime(
        {"name": "dup", "jobs": [{"name": "web", "release": "app"}]},
        releases=({"name": "app", "version": "1"},),
    )
    with pytest.raises(ColocatedJobError, match="Colocated job 'web' is already added"):
        apply_addons(manifest(*GROUPS), [config])


def test_addon_jobs_take_part_in_links():
    plan = manifest(group("hello", job("web")))
    config = runtime(
        {"name": "hello", "jobs": [{"name": "hello", "release": "hello"}]},
        releases=({"name": "hello", "version": "1"},),
    )
    specs = {("app", "web"): JobSpec(name="web"), ("hello", "hello"): HELLO_SPEC}
    links = resolve_links(apply_addons(plan, [config]).manifest, specs, {})
    assert links.for_job("hello", "hello")["peers"]["instance_group"] == "hello"
