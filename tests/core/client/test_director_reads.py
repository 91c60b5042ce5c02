"""The SDK's read calls for deployments, releases, stemcells, package matches and
resources against a real director API over TLS (the CLI tests cover the tables)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.client import Director, DirectorResponseError
from bosh_core.director.db.models import Package, Release, ReleaseVersion
from tests.core.client.conftest import ADMIN, Served
from tests.core.director.records import add_deployment, add_instance, add_stemcell


@pytest.fixture
def director(served: Served) -> Iterator[Director]:
    with Director(
        served.url, ca_cert=str(served.ca), client=ADMIN[0], client_secret=ADMIN[1]
    ) as client:
        yield client


def test_instances_and_vms_from_the_database(director: Director, served: Served) -> None:
    created = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    deployment = add_deployment(served.database, "cf")
    add_instance(
        served.database,
        deployment,
        "web",
        0,
        uuid="uuid-web-0",
        vms=[{"cid": "vm-1", "agent_id": "agent-1", "active": True, "created_at": created}],
        ips=[("default", "10.0.0.5", 0)],
    )

    (instance,) = director.instances_db("cf")
    (vm,) = director.vms_db("cf")

    assert (instance.id, instance.job, instance.index, instance.az) == (
        "uuid-web-0",
        "web",
        0,
        "z1",
    )
    assert (instance.vm_cid, instance.agent_id, instance.ips) == ("vm-1", "agent-1", ("10.0.0.5",))
    assert instance.vm_created_at == created
    assert (instance.expects_vm, instance.active) == (True, None)
    assert (vm.expects_vm, vm.active) == (None, True)
    with pytest.raises(DirectorResponseError) as failure:
        director.instances_db("nope")
    assert (failure.value.http_status, failure.value.code) == (404, 70000)


def test_deployments_with_excludes(director: Director, served: Served) -> None:
    add_stemcell(served.database, "jammy", "1.18")
    add_deployment(served.database, "cf", stemcells=[("jammy", "1.18")], teams=["ops"])

    (full,) = director.deployments()
    (lean,) = director.deployments(exclude_configs=True, exclude_lock=True)

    assert (full.cloud_config, full.locked, full.teams) == ("none", False, ("ops",))
    assert full.stemcells[0].name == "jammy" and full.stemcells[0].version == "1.18"
    assert (lean.cloud_config, lean.locked) == (None, None)


def test_stemcell_needed(director: Director, served: Served) -> None:
    assert director.stemcell_needed("jammy", "1.18") is True
    add_stemcell(served.database, "jammy", "1.18")
    assert director.stemcell_needed("jammy", "1.18") is False


def test_package_matches(director: Director, served: Served) -> None:
    with served.database.write() as session:
        release = Release(name="nginx")
        release.versions = [ReleaseVersion(version="1", update_completed=True)]
        session.add(release)
        session.add(
            Package(
                release=release,
                name="runtime",
                version="f1",
                fingerprint="f1",
                blobstore_id="blob",
                sha1="sha",
            )
        )
    manifest = {
        "name": "nginx",
        "version": "2",
        "packages": [
            {"name": "runtime", "fingerprint": "f1"},
            {"name": "new", "fingerprint": "f2"},
        ],
    }
    assert director.package_matches(yaml.safe_dump(manifest)) == ["f1"]
    with pytest.raises(DirectorResponseError) as failure:
        director.package_matches("compiled_packages: []\n", compiled=False)
    assert failure.value.code == 440001


def test_download_resource_streams_to_a_complete_file(
    director: Director, served: Served, tmp_path: Path
) -> None:
    source = tmp_path / "logs.tgz"
    source.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    blob_id = LocalBlobstore(served.data_dir / "blobstore").put(source)

    downloads = tmp_path / "downloads"
    destination = downloads / "logs.tgz"
    assert director.download_resource(blob_id, destination) == destination
    assert destination.read_bytes() == source.read_bytes()

    with pytest.raises(DirectorResponseError) as failure:
        director.download_resource("no-such-blob", downloads / "missing.tgz")
    assert (failure.value.http_status, failure.value.code) == (404, 100002)
    # Nothing half-written stays behind.
    assert [path.name for path in downloads.iterdir()] == ["logs.tgz"]
