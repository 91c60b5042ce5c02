"""Rows go in and come back the same, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    VM,
    CompiledPackage,
    Config,
    Deployment,
    DirectorAttribute,
    Event,
    Instance,
    IPAddress,
    Lock,
    Package,
    PersistentDisk,
    Release,
    ReleaseVersion,
    Stemcell,
    Task,
    Team,
    Template,
    Variable,
    VariableSet,
    latest_configs,
)

WHEN = dt.datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=dt.UTC)


def test_a_release_with_jobs_packages_and_compiled_packages(database: Database) -> None:
    with database.write() as session:
        release = Release(name="zookeeper")
        package = Package(
            release=release,
            name="java",
            version="abc",
            fingerprint="abc",
            blobstore_id="b1",
            sha1="sha256:00",
            dependency_set=["golang"],
        )
        job = Template(
            release=release,
            name="zookeeper",
            version="def",
            fingerprint="def",
            blobstore_id="b2",
            sha1="sha256:11",
            spec={"name": "zookeeper", "properties": {"port": {"default": 2181}}},
            package_names=["java"],
        )
        release.versions.append(
            ReleaseVersion(version="0.0.1", commit_hash="a1b2", templates=[job], packages=[package])
        )
        package.compiled_packages.append(
            CompiledPackage(
                stemcell_os="ubuntu-jammy",
                stemcell_version="1.1",
                dependency_key="[]",
                dependency_key_sha1="da39",
                blobstore_id="b3",
                sha1="sha256:22",
            )
        )
        session.add(release)

    with database.read() as session:
        version = session.scalars(select(ReleaseVersion)).one()
        assert (version.release.name, version.version, version.commit_hash) == (
            "zookeeper",
            "0.0.1",
            "a1b2",
        )
        assert (version.uncommitted_changes, version.update_completed) == (False, False)
        assert version.templates[0].spec["properties"]["port"] == {"default": 2181}
        assert version.packages[0].dependency_set == ["golang"]
        compiled = version.packages[0].compiled_packages[0]
        assert (compiled.stemcell_os, compiled.stemcell_version, compiled.build) == (
            "ubuntu-jammy",
            "1.1",
            1,
        )

    with pytest.raises(IntegrityError), database.write() as session:
        rel = session.scalars(select(Release)).one()
        session.add(ReleaseVersion(release=rel, version="0.0.1"))


def test_a_deployment_with_instances_vms_ips_and_disks(database: Database) -> None:
    ipv6 = int(ipaddress.IPv6Address("fd00::ffff:1"))
    with database.write() as session:
        team = Team(name="dev")
        cloud = Config(type="cloud", name="default", content="azs: []\n", created_at=WHEN)
        stemcell = Stemcell(
            name="bosh-warden", version="1.1", operating_system="ubuntu-jammy", cid="sc-1"
        )
        deployment = Deployment(
            name="zk", manifest_text="name: zk\n# kept\n", teams=[team], configs=[cloud]
        )
        deployment.stemcells.append(stemcell)
        variable_set = VariableSet(deployment=deployment, created_at=WHEN)
        variable_set.variables.append(Variable(variable_id="7", variable_name="/d/zk/pw"))
        instance = Instance(
            deployment=deployment,
            job="zookeeper",
            index=0,
            uuid="6b1c",
            az="z1",
            bootstrap=True,
            spec={"networks": {"default": {"ip": "10.0.0.2"}}},
            variable_set=variable_set,
        )
        instance.vms.append(VM(cid="vm-1", agent_id="agent-1", active=True, created_at=WHEN))
        instance.ip_addresses.append(IPAddress(network_name="v6", address=ipv6, static=True))
        instance.ip_addresses.append(
            IPAddress(network_name="default", address=int(ipaddress.IPv4Address("10.0.0.2")))
        )
        instance.persistent_disks.append(
            PersistentDisk(disk_cid="disk-1", size=1024, active=True, cloud_properties={"a": 1})
        )
        session.add(deployment)

    with database.read() as session:
        deployment = session.scalars(select(Deployment)).one()
        assert deployment.manifest_text == "name: zk\n# kept\n"
        assert [t.name for t in deployment.teams] == ["dev"]
        assert [c.created_at for c in deployment.configs] == [WHEN]
        assert [s.cid for s in deployment.stemcells] == ["sc-1"]
        instance = deployment.instances[0]
        assert (instance.state, instance.bootstrap, instance.az) == ("started", True, "z1")
        assert instance.vms[0].created_at == WHEN
        assert instance.variable_set is not None
        assert instance.variable_set.variables[0].variable_name == "/d/zk/pw"
        addresses = session.scalars(select(IPAddress.address).order_by(IPAddress.address)).all()
        assert addresses == [int(ipaddress.IPv4Address("10.0.0.2")), ipv6]
        assert instance.persistent_disks[0].cloud_properties == {"a": 1}

    # Deleting the deployment takes its instances and theirs with it, in the database.
    with database.write() as session:
        session.delete(session.scalars(select(Deployment)).one())
    with database.read() as session:
        for model in (Instance, VM, IPAddress, PersistentDisk, VariableSet, Variable):
            assert session.scalars(select(model)).all() == [], model
        assert session.scalars(select(Stemcell.cid)).all() == ["sc-1"]


def test_an_ip_address_is_reserved_once_per_network(database: Database) -> None:
    with database.write() as session:
        session.add(IPAddress(network_name="default", address=167772162))
    with pytest.raises(IntegrityError), database.write() as session:
        session.add(IPAddress(network_name="default", address=167772162))
    with pytest.raises(StatementError, match="not an IP address"), database.write() as session:
        session.add(IPAddress(network_name="default", address=2**128))
        session.flush()


def test_tasks_locks_events_and_attributes(database: Database) -> None:
    with database.write() as session:
        task = Task(
            type="update_deployment",
            description="create deployment",
            deployment_name="zk",
            context_id="ctx",
            started_at=WHEN,
            checkpoint_time=WHEN,
        )
        session.add(task)
        session.flush()
        session.add(
            Lock(name="lock:deployment:zk", uid="u1", expired_at=WHEN, task_id=str(task.id))
        )
        session.add(
            Event(
                user="admin",
                action="acquire",
                object_type="lock",
                object_name="lock:deployment:zk",
                task=str(task.id),
                deployment="zk",
                context={"ids": [1, 2]},
                timestamp=WHEN,
            )
        )
        session.add(DirectorAttribute(name="uuid", value="d-uuid"))

    with database.read() as session:
        task = session.scalars(select(Task)).one()
        assert (task.state, task.username, task.timestamp, task.started_at) == (
            "queued",
            "admin",
            None,
            WHEN,
        )
        assert (task.event_output, task.result_output) == ("", "")
        lock = session.scalars(select(Lock)).one()
        assert lock.expired_at == WHEN
        assert lock.expired_at.tzinfo is dt.UTC
        event = session.scalars(select(Event)).one()
        assert (event.context, event.timestamp, event.parent_id) == ({"ids": [1, 2]}, WHEN, None)

    with pytest.raises(IntegrityError), database.write() as session:
        session.add(Lock(name="lock:deployment:zk", uid="u2", expired_at=WHEN))


def test_naive_times_are_refused(database: Database) -> None:
    with pytest.raises(StatementError, match="naive"), database.write() as session:
        session.add(Lock(name="l", uid="u", expired_at=dt.datetime(2026, 1, 1)))
        session.flush()


def test_the_latest_config_of_each_type_and_name(database: Database) -> None:
    with database.write() as session:
        for content in ("v1", "v2", "v3"):
            session.add(Config(type="cloud", name="default", content=content))
        session.add(Config(type="cloud", name="extra", content="e1"))
        session.add(Config(type="runtime", name="dns", content="r1"))
        session.add(Config(type="runtime", name="gone", content="g1"))
        session.add(Config(type="runtime", name="gone", content="g2", deleted=True))

    with database.read() as session:
        assert [(c.name, c.content) for c in latest_configs(session, "cloud")] == [
            ("default", "v3"),
            ("extra", "e1"),
        ]
        assert [c.content for c in latest_configs(session, "runtime")] == ["r1"]
        assert [c.content for c in latest_configs(session, "cloud", "default")] == ["v3"]
        assert len(latest_configs(session)) == 3
