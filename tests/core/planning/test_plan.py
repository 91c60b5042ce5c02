"""make_plan on the sample deployment: placement, properties, links, packages, changes,
rollout, errors, and the second deploy that changes nothing."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from bosh_core.director.errors import (
    DeploymentPlanErrors,
    DeploymentUnknownTemplateError,
    StemcellNotFoundError,
)
from bosh_core.local.provisioning import cloud_config
from bosh_core.models.cloud_config import CloudConfig, load_cloud_config
from bosh_core.models.manifest import Amount, Manifest, load_manifest
from bosh_core.planning.changes import ChangeKind, InstanceAction, VmFacts
from bosh_core.planning.compilation import CompiledBuild, ReleasePackage, StemcellRef
from bosh_core.planning.networks import ExistingIP, IPHolder
from bosh_core.planning.plan import (
    CompiledPackageRecord,
    DeployFlags,
    DeploymentInputs,
    ExistingInstanceState,
    Plan,
    ReleaseData,
    ReleaseJob,
    StemcellData,
    instances_to_render,
    make_plan,
)
from bosh_core.templates import JobTemplates

ROOT = Path(__file__).resolve().parents[3]
HELLO_JOB = JobTemplates.from_directory(ROOT / "examples" / "hello-release" / "jobs" / "hello")
HELLO = ReleaseData(
    name="hello",
    version="0+dev.1",
    jobs={"hello": ReleaseJob(spec=HELLO_JOB.spec, version="jv1", sha1="js1", blobstore_id="jb1")},
    packages=(
        ReleasePackage(name="python-runtime", version="pv1"),
        ReleasePackage(name="hello-app", version="av1", dependencies=("python-runtime",)),
    ),
)
STEMCELL = StemcellData(
    name="bosh-local-ubuntu-jammy-go_agent", operating_system="ubuntu-jammy", version="1.0"
)
CLOUD = load_cloud_config(cloud_config(cidr="10.244.0.0/24", gateway="10.244.0.1"))


def sample_manifest(**changes: Any) -> dict[str, Any]:
    """examples/hello-deployment.yml with `version: latest` resolved, as the director
    hands it to planning."""
    document: dict[str, Any] = yaml.safe_load(
        (ROOT / "examples" / "hello-deployment.yml").read_text()
    )
    document["releases"][0]["version"] = HELLO.version
    document["stemcells"][0]["version"] = STEMCELL.version
    document["instance_groups"][0].update(changes)
    return document


def inputs(
    manifest: dict[str, Any] | Manifest | None = None,
    *,
    cloud: CloudConfig = CLOUD,
    **fields: Any,
) -> DeploymentInputs:
    loaded = (
        manifest if isinstance(manifest, Manifest) else load_manifest(manifest or sample_manifest())
    )
    return DeploymentInputs(
        manifest=loaded,
        cloud_config=cloud,
        releases={(HELLO.name, HELLO.version): HELLO},
        stemcells=(STEMCELL,),
        **fields,
    )


_uuids = (f"uuid-{n}" for n in itertools.count())


def plan_of(deployment: DeploymentInputs) -> Plan:
    return make_plan(deployment, new_uuid=lambda: next(_uuids))


def deployed(plan: Plan, **changes: Any) -> dict[str, Any]:
    """What the director holds once `plan` was deployed (rendered with `hash-<uuid>`):
    the existing instances and the IPs they hold, as the next deploy's inputs."""
    existing = []
    reserved = {}
    for instance in plan.instances:
        for reservation in instance.reservations:
            assert reservation.ip is not None
            reserved[reservation.ip] = IPHolder(
                network=reservation.network,
                deployment=plan.deployment,
                instance_group=instance.instance_group,
                instance_uuid=instance.uuid,
            )
        existing.append(
            ExistingInstanceState(
                instance_group=instance.instance_group,
                uuid=instance.uuid,
                index=instance.index,
                az=instance.az,
                bootstrap=instance.bootstrap,
                spec={**instance.spec, "configuration_hash": f"hash-{instance.uuid}"},
                cloud_properties=instance.cloud_properties,
                ips=tuple(
                    ExistingIP(network=r.network, ip=r.ip or "", static=r.type == "static")
                    for r in instance.reservations
                ),
                vm=VmFacts(env=instance.env),
                disks=instance.persistent_disks,
                job_state="running",
            )
        )
    return {
        "existing": tuple(existing),
        "reserved_ips": reserved,
        "initial_deploy": False,
    } | changes


def rendered(plan: Plan) -> Plan:
    return plan.with_configuration_hashes({i.uuid: f"hash-{i.uuid}" for i in plan.instances})


def test_first_deploy_places_binds_and_creates_every_instance() -> None:
    plan = plan_of(inputs())

    assert plan.deployment == "hello"
    [group] = plan.groups
    assert [(i.index, i.az, i.bootstrap) for i in group.instances] == [
        (0, "z1", True),
        (1, "z1", False),
    ]
    assert [i.reservations[0].ip for i in group.instances] == ["10.244.0.2", "10.244.0.3"]
    assert {i.action for i in group.instances} == {InstanceAction.CREATE}
    first = group.instances[0]
    [job] = first.jobs
    # the manifest's value and the spec's default; nothing undeclared
    assert job.properties == {
        "message": "Hello from BOSH!",
        "password": "((hello_password))",  # interpolated when rendering
        "port": 8080,
        "listen_address": "0.0.0.0",
        "store_dir": "/var/vcap/store/hello",
    }
    peers = job.links["peers"]
    assert [p["address"] for p in peers["instances"]] == ["10.244.0.2", "10.244.0.3"]
    assert peers["properties"] == {"port": 8080}
    assert [(link.name, link.type) for link in job.provided_links] == [("hello", "http")]
    assert first.stemcell == STEMCELL
    assert first.spec["address"] == "10.244.0.2"
    assert first.spec["job"]["templates"] == [
        {"name": "hello", "version": "jv1", "sha1": "js1", "blobstore_id": "jb1"}
    ]
    assert first.spec["packages"] == {
        "python-runtime": {"name": "python-runtime", "version": "pv1"},
        "hello-app": {"name": "hello-app", "version": "av1"},
    }
    apply = first.apply_spec()
    assert "properties" not in apply  # the agent gets rendered templates, not values
    assert apply["networks"]["default"]["ip"] == "10.244.0.2"
    assert {str(r.key) for r in plan.compilation.to_compile} == {
        "python-runtime/pv1 (hello) for ubuntu-jammy/1.0",
        "hello-app/av1 (hello) for ubuntu-jammy/1.0",
    }
    [batch] = plan.rollout.batches
    [rollout] = batch.groups
    [stage] = rollout.stages
    assert [ref.name for ref in stage.canaries] == [first.name]
    assert [ref.name for ref in stage.rest] == [group.instances[1].name]


def test_a_second_deploy_without_changes_does_nothing() -> None:
    first = rendered(plan_of(inputs()))

    again = rendered(plan_of(inputs(**deployed(first))))

    assert [i.uuid for i in again.instances] == [i.uuid for i in first.instances]
    assert [i.changes.changes for i in again.instances] == [(), ()]
    assert {i.action for i in again.instances} == {InstanceAction.NONE}
    assert not any(group.changed for group in again.rollout.groups)


def test_a_new_configuration_restarts_and_a_new_vm_type_recreates() -> None:
    first = rendered(plan_of(inputs()))
    plan = plan_of(inputs(**deployed(first)))

    restarted = plan.with_configuration_hashes({plan.instances[0].uuid: "other"})
    assert restarted.instances[0].action is InstanceAction.RESTART
    assert restarted.instances[0].changes.kinds == {ChangeKind.CONFIGURATION}
    assert restarted.instances[1].changes.kinds == {ChangeKind.CONFIGURATION}  # not rendered
    [stage] = restarted.rollout.groups[0].stages
    assert [ref.name for ref in stage.canaries] == [restarted.instances[0].name]

    bigger = load_cloud_config(
        {
            **yaml.safe_load(cloud_config(cidr="10.244.0.0/24", gateway="10.244.0.1")),
            "vm_types": [{"name": "default", "cloud_properties": {"cpu": 4}}],
        }
    )
    recreated = rendered(plan_of(inputs(cloud=bigger, **deployed(first))))
    assert {i.action for i in recreated.instances} == {InstanceAction.RECREATE}
    assert recreated.instances[0].changes.kinds == {ChangeKind.CLOUD_PROPERTIES}


def test_scaling_down_deletes_the_highest_index_and_frees_its_ip() -> None:
    first = rendered(plan_of(inputs()))

    plan = rendered(plan_of(inputs(sample_manifest(instances=1), **deployed(first))))

    assert [i.index for i in plan.instances] == [0]
    [gone] = plan.obsolete
    assert (gone.index, gone.changes.action) == (1, InstanceAction.DELETE)
    assert [ip.ip for ip in gone.released] == ["10.244.0.3"]
    assert [ref.name for ref in plan.rollout.groups[0].delete] == [gone.name]


def test_instances_of_a_removed_group_are_obsolete() -> None:
    first = rendered(plan_of(inputs()))
    state = deployed(first)
    state["existing"] = tuple(attrs.evolve(s, instance_group="old") for s in state["existing"])

    plan = plan_of(inputs(**state))

    assert [(gone.instance_group, gone.index) for gone in plan.obsolete_groups] == [
        ("old", 0),
        ("old", 1),
    ]
    assert {i.status.value for i in plan.instances} == {"new"}


def test_compiled_builds_are_reused_and_named_in_the_package_specs() -> None:
    stemcell = StemcellRef("ubuntu-jammy", "1.0")
    records = tuple(
        CompiledPackageRecord(
            build=CompiledBuild(
                id=f"cp-{name}",
                release="hello",
                package=name,
                package_version=version,
                stemcell=stemcell,
                dependency_key=key,
                build=2,
            ),
            blobstore_id=f"blob-{name}",
            sha1=f"sha-{name}",
        )
        for name, version, key in (
            ("python-runtime", "pv1", "[]"),
            ("hello-app", "av1", '[["python-runtime","pv1"]]'),
        )
    )

    plan = plan_of(inputs(compiled=records))

    assert plan.compilation.to_compile == ()
    assert plan.instances[0].spec["packages"]["hello-app"] == {
        "name": "hello-app",
        "version": "av1.2",
        "sha1": "sha-hello-app",
        "blobstore_id": "blob-hello-app",
    }


def test_flags_override_the_update_block_and_choose_instances_to_skip_drain() -> None:
    document = sample_manifest(instances=4)
    flags = DeployFlags(
        canaries=Amount(2), max_in_flight=Amount(50, percent=True), skip_drain=("hello/1",)
    )

    plan = plan_of(inputs(document, flags=flags))

    [stage] = plan.rollout.groups[0].stages
    assert (len(stage.canaries), stage.max_in_flight) == (2, 2)
    assert [i.skip_drain for i in plan.instances] == [False, True, False, False]


def test_a_single_problem_raises_the_reference_error() -> None:
    document = sample_manifest()
    document["stemcells"][0]["version"] = "9.9"

    with pytest.raises(StemcellNotFoundError) as raised:
        plan_of(inputs(document))

    assert str(raised.value) == "Stemcell version '9.9' for OS 'ubuntu-jammy' doesn't exist"


def test_every_problem_is_reported_together() -> None:
    document = sample_manifest(vm_type="huge", vm_extensions=["fast"], persistent_disk_type="ssd")
    del document["instance_groups"][0]["persistent_disk"]  # a disk type instead
    document["instance_groups"][0]["jobs"].append({"name": "nope", "release": "hello"})

    with pytest.raises(DeploymentPlanErrors) as raised:
        plan_of(inputs(document))

    assert raised.value.errors == (
        "Instance group 'hello' references an unknown vm type 'huge'",
        "The vm_extension 'fast' has not been configured in cloud-config.",
        "Instance group 'hello' references an unknown disk type 'ssd'",
        "Can't find job 'nope'",
    )
    document = sample_manifest()
    document["releases"][0]["version"] = "7"
    with pytest.raises(Exception, match=r"Release version 'hello/7' doesn't exist"):
        plan_of(inputs(document))


def test_an_unknown_job_alone_is_the_reference_error() -> None:
    document = sample_manifest()
    document["instance_groups"][0]["jobs"][0]["name"] = "nope"
    with pytest.raises(DeploymentUnknownTemplateError, match="Can't find job 'nope'"):
        plan_of(inputs(document))


def test_describe_lists_actions_but_never_property_values() -> None:
    document = sample_manifest()
    document["instance_groups"][0]["jobs"][0]["properties"]["message"] = "s3cr3t"

    text = plan_of(inputs(document)).describe()

    assert "Instance group 'hello'" in text
    assert "hello/uuid-" in text and ": create (" in text
    assert "2 to compile" in text
    assert "s3cr3t" not in text


def test_render_inputs_carry_properties_links_and_spec() -> None:
    plan = plan_of(inputs())

    [first, _] = instances_to_render(plan, {("hello", "hello"): HELLO_JOB})

    assert first.spec.name == "hello" and first.spec.address == "10.244.0.2"
    [job] = first.jobs
    assert job.properties["port"] == 8080
    assert [peer.address for peer in job.links["peers"].instances] == [
        "10.244.0.2",
        "10.244.0.3",
    ]
    assert job.links["peers"].properties == {"port": 8080}


def test_fifty_instances_plan_fast() -> None:
    started = time.perf_counter()
    plan = plan_of(inputs(sample_manifest(instances=50, azs=["z1", "z2"])))
    elapsed = time.perf_counter() - started

    assert len({i.reservations[0].ip for i in plan.instances}) == 50
    assert elapsed < 2.0
