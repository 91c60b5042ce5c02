"""read_deployment_inputs on SQLite and PostgreSQL with the sample release uploaded."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

import pytest

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.blobstore.verified import BlobDigestMismatchError
from bosh_core.digest import MultipleDigest, file_digest
from bosh_core.director.configs import ConfigStore
from bosh_core.director.db import Database
from bosh_core.director.db.models import VM, Instance, IPAddress, PersistentDisk
from bosh_core.director.deployment_state import (
    load_job_templates,
    read_deployment_inputs,
)
from bosh_core.director.errors import ReleaseNotFoundError, StemcellNotFoundError
from bosh_core.planning.plan import DeployFlags, make_plan
from tests.core.director.hello_release import (
    STEMCELL_VERSION,
    build_hello_tarball,
    install_hello,
    sample_manifest,
)
from tests.core.director.records import add_deployment, add_stemcell


@pytest.fixture(scope="session")
def hello_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hello_tarball(tmp_path_factory.mktemp("hello"))


@pytest.fixture
def blobstore(tmp_path: Path) -> LocalBlobstore:
    return LocalBlobstore(tmp_path / "blobstore")


@pytest.fixture
def hello(
    database: Database, blobstore: LocalBlobstore, hello_tarball: Path, tmp_path: Path
) -> Database:
    install_hello(database, blobstore, hello_tarball, tmp_path / "scratch")
    return database


def test_a_first_deploy_reads_releases_stemcells_and_configs(
    hello: Database, blobstore: LocalBlobstore
) -> None:
    add_stemcell(hello, "bosh-local-ubuntu-jammy-go_agent", "0.9", os="ubuntu-jammy")

    inputs = read_deployment_inputs(hello, sample_manifest(), flags=DeployFlags(fix=True))

    assert [(r.name, r.version) for r in inputs.manifest.releases] == [("hello", "0+dev.1")]
    assert inputs.manifest.stemcells[0].version == STEMCELL_VERSION  # the newest
    release = inputs.releases[("hello", "0+dev.1")]
    assert release.jobs["hello"].spec.packages == ("python-runtime", "hello-app")
    assert {p.name: p.dependencies for p in release.packages} == {
        "python-runtime": (),
        "hello-app": ("python-runtime",),
    }
    assert [az.name for az in inputs.cloud_config.azs] == ["z1", "z2"]
    assert inputs.initial_deploy and inputs.existing == () and inputs.flags.fix

    plan = make_plan(inputs)
    assert [i.reservations[0].ip for i in plan.instances] == ["10.244.0.2", "10.244.0.3"]
    templates = load_job_templates(hello, blobstore, plan)
    assert set(templates) == {("hello", "hello")}
    assert "config/hello.json" in templates[("hello", "hello")].spec.templates.values()


def test_a_corrupt_stored_job_archive_is_an_error_naming_the_job_and_both_digests(
    hello: Database, blobstore: LocalBlobstore
) -> None:
    plan = make_plan(read_deployment_inputs(hello, sample_manifest()))
    [job] = {(j.release, j.name): j for i in plan.instances for j in i.jobs}.values()
    stored = blobstore.path / job.blobstore_id
    assert stored.is_file()  # the local blobstore keeps one file per blob id
    stored.write_bytes(stored.read_bytes()[:-1] + b"!")  # one byte changed, same size
    expected = MultipleDigest.parse(job.sha1).strongest
    actual = file_digest(stored, expected.algorithm)
    assert actual != expected

    with pytest.raises(BlobDigestMismatchError) as failure:
        load_job_templates(hello, blobstore, plan)

    message = str(failure.value)
    assert f"blob '{job.blobstore_id}'" in message
    assert f"job 'hello/{job.version}' of release 'hello/0+dev.1'" in message
    assert f"expected '{expected}' but the blobstore returned '{actual}'" in message
    assert "upload release 'hello/0+dev.1' again with 'bosh upload-release --fix'" in message


def test_existing_instances_their_ips_and_other_deployments_ips_are_read(hello: Database) -> None:
    deployment_id = add_deployment(hello, "hello", manifest="name: hello")
    other_id = add_deployment(hello, "other")
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with hello.write() as session:
        instance = Instance(
            deployment_id=deployment_id,
            job="hello",
            index=0,
            uuid="u-0",
            az="z1",
            bootstrap=True,
            update_completed=True,
            spec={"stemcell": {"name": "s", "version": "1"}},
            cloud_properties={"cpu": 1},
        )
        session.add(instance)
        session.flush()
        vm = VM(instance_id=instance.id, cid="vm-1", active=True, created_at=created, env={})
        session.add(vm)
        session.add(PersistentDisk(instance_id=instance.id, disk_cid="d-1", size=1024, active=True))
        session.add(
            IPAddress(
                network_name="default",
                address=int(ipaddress.ip_address("10.244.0.2")),
                instance_id=instance.id,
            )
        )
        other = Instance(deployment_id=other_id, job="web", index=0, uuid="o-0")
        session.add(other)
        session.flush()
        session.add(
            IPAddress(
                network_name="default",
                address=int(ipaddress.ip_address("10.244.0.3")),
                instance_id=other.id,
            )
        )

    inputs = read_deployment_inputs(hello, sample_manifest())

    assert not inputs.initial_deploy
    [existing] = inputs.existing
    assert (existing.uuid, existing.index, existing.bootstrap) == ("u-0", 0, True)
    assert [ip.ip for ip in existing.ips] == ["10.244.0.2"]
    assert existing.vm is not None and existing.vm.created_at == created
    assert [(d.size, d.name) for d in existing.disks] == [(1024, "")]
    assert inputs.reserved_ips["10.244.0.3"].describe() == (
        "instance 'web/o-0' from deployment 'other'"
    )

    plan = make_plan(inputs)
    # the existing instance keeps its IP and index; the new one skips the other
    # deployment's IP
    assert [(i.uuid, i.reservations[0].ip) for i in plan.instances] == [
        ("u-0", "10.244.0.2"),
        (plan.instances[1].uuid, "10.244.0.4"),
    ]


def test_several_cloud_configs_are_merged(hello: Database) -> None:
    ConfigStore(hello).create_if_changed(
        "cloud", "extra", "vm_types: [{name: large, cloud_properties: {cpu: 8}}]"
    )

    inputs = read_deployment_inputs(hello, sample_manifest())

    assert [v.name for v in inputs.cloud_config.vm_types] == ["default", "large"]


@pytest.mark.parametrize(
    ("section", "entry", "error", "message"),
    [
        ("releases", {"name": "nope", "version": "latest"}, ReleaseNotFoundError, "Release 'nope'"),
        (
            "stemcells",
            {"alias": "default", "os": "windows", "version": "latest"},
            StemcellNotFoundError,
            "Stemcell version 'latest' for OS 'windows' doesn't exist",
        ),
    ],
)
def test_latest_of_nothing_uploaded_is_an_error(
    hello: Database, section: str, entry: dict[str, Any], error: type[Exception], message: str
) -> None:
    document = sample_manifest()
    document[section] = [entry]

    with pytest.raises(error, match=message):
        read_deployment_inputs(hello, document)
