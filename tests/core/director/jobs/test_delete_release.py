"""delete_release on SQLite and PostgreSQL: whole releases and single versions, blobs
kept while another version uses them, in-use refusals, blobstore errors and force."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from sqlalchemy import func, select

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    CompiledPackage,
    Deployment,
    Package,
    Release,
    ReleaseVersion,
    Template,
)
from bosh_core.director.errors import (
    ReleaseInUseError,
    ReleaseNotFoundError,
    ReleaseVersionInUseError,
    ReleaseVersionNotFoundError,
)
from bosh_core.director.jobs.delete_release import delete_release
from bosh_core.director.locks import Locks
from bosh_core.director.tasks.events import EventLog
from bosh_core.errors import BlobstoreError
from tests.core.director.jobs.local_cloud import Lines


@attrs.define
class Blobs:
    """The blob ids of the release stored by `_store` (v1 and v2 of ``app``)."""

    shared_package: str = ""  # "runtime/1": in v1 and v2
    shared_compiled: str = ""  # runtime/1 compiled for ubuntu-jammy/1.18
    v2_package: str = ""  # "server/2": only in v2
    v1_job: str = ""  # "web/1": only in v1
    shared_job: str = ""  # "worker/1": in v1 and v2

    def all(self) -> set[str]:
        return set(attrs.astuple(self))


class Director:
    def __init__(self, database: Database, blobstore: LocalBlobstore) -> None:
        self.database = database
        self.blobstore = blobstore
        self.locks = Locks(database, poll_interval=0.05)
        self.lines = Lines()

    def delete(self, name: str, version: str | None = None, **options: Any) -> str:
        self.lines = Lines()
        return delete_release(
            self.database,
            self.blobstore,
            name,
            version,
            event_log=EventLog(self.lines),
            locks=self.locks,
            task_id=7,
            **options,
        )

    def blobs(self) -> set[str]:
        path = self.blobstore.path
        return {blob.name for blob in path.iterdir()} if path.exists() else set()

    def count(self, model: type[Any]) -> int:
        with self.database.read() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def versions(self, name: str) -> list[str]:
        with self.database.read() as session:
            return list(
                session.scalars(
                    select(ReleaseVersion.version)
                    .join(Release)
                    .where(Release.name == name)
                    .order_by(ReleaseVersion.version)
                )
            )

    def use(self, deployment: str, name: str, version: str) -> None:
        with self.database.write() as session:
            row = session.scalars(
                select(ReleaseVersion)
                .join(Release)
                .where(Release.name == name, ReleaseVersion.version == version)
            ).one()
            session.add(Deployment(name=deployment, release_versions=[row]))


@pytest.fixture
def director(database: Database, tmp_path: Path) -> Director:
    return Director(database, LocalBlobstore(tmp_path / "blobstore"))


def _blob(director: Director, tmp_path: Path, content: str) -> str:
    source = tmp_path / "blob-source"
    source.write_text(content)
    return director.blobstore.put(source)


def _store(director: Director, tmp_path: Path, name: str = "app") -> Blobs:
    """Release `name` with versions 1 and 2 (see `Blobs`), and its blobs."""
    blobs = Blobs(**{field: _blob(director, tmp_path, field) for field in attrs.fields_dict(Blobs)})
    with director.database.write() as session:
        release = Release(name=name)
        runtime = Package(
            release=release,
            name="runtime",
            version="1",
            fingerprint="f-runtime",
            blobstore_id=blobs.shared_package,
            sha1="s",
        )
        runtime.compiled_packages.append(
            CompiledPackage(
                stemcell_os="ubuntu-jammy",
                stemcell_version="1.18",
                dependency_key="[]",
                dependency_key_sha1="k",
                blobstore_id=blobs.shared_compiled,
                sha1="s",
            )
        )
        server = Package(
            release=release,
            name="server",
            version="2",
            fingerprint="f-server",
            blobstore_id=blobs.v2_package,
            sha1="s",
        )
        web = Template(
            release=release,
            name="web",
            version="1",
            fingerprint="f-web",
            blobstore_id=blobs.v1_job,
            sha1="s",
        )
        worker = Template(
            release=release,
            name="worker",
            version="1",
            fingerprint="f-worker",
            blobstore_id=blobs.shared_job,
            sha1="s",
        )
        session.add_all(
            [
                ReleaseVersion(
                    release=release, version="1", packages=[runtime], templates=[web, worker]
                ),
                ReleaseVersion(
                    release=release, version="2", packages=[runtime, server], templates=[worker]
                ),
            ]
        )
    return blobs


def test_deleting_a_release_deletes_every_blob_and_row(director: Director, tmp_path: Path) -> None:
    _store(director, tmp_path)
    assert director.delete("app") == "/release/app"
    assert director.blobs() == set()
    for model in (Release, ReleaseVersion, Package, CompiledPackage, Template):
        assert director.count(model) == 0
    assert director.lines.finished() == [
        ("Deleting packages", "runtime/1"),
        ("Deleting packages", "server/2"),
        ("Deleting jobs", "web/1"),
        ("Deleting jobs", "worker/1"),
        ("Deleting release versions", "app/1"),
        ("Deleting release versions", "app/2"),
    ]


def test_deleting_a_version_keeps_what_another_version_uses(
    director: Director, tmp_path: Path
) -> None:
    blobs = _store(director, tmp_path)
    other = _store(director, tmp_path, name="other")
    assert director.delete("app", "2") == "/release/app"
    assert director.blobs() == blobs.all() - {blobs.v2_package} | other.all()
    assert director.versions("app") == ["1"]
    assert director.lines.finished() == [
        ("Deleting packages", "server/2"),
    ]
    director.delete("app", "1")  # the last version: the release goes
    assert director.blobs() == other.all()
    with director.database.read() as session:
        assert list(session.scalars(select(Release.name))) == ["other"]
    assert director.lines.finished() == [
        ("Deleting packages", "runtime/1"),
        ("Deleting jobs", "web/1"),
        ("Deleting jobs", "worker/1"),
    ]


def test_a_version_written_another_way_is_found(director: Director, tmp_path: Path) -> None:
    _store(director, tmp_path)
    director.delete("app", "2.0")
    assert director.versions("app") == ["1"]


def test_releases_in_use_are_kept_even_with_force(director: Director, tmp_path: Path) -> None:
    blobs = _store(director, tmp_path)
    director.use("cf", "app", "1")
    director.use("zookeeper", "app", "1")
    for force in (False, True):
        with pytest.raises(ReleaseInUseError, match="Release 'app' is still in use by: cf, zoo"):
            director.delete("app", force=force)
        with pytest.raises(
            ReleaseVersionInUseError,
            match="ReleaseVersion 'app/1' is still in use by: cf, zookeeper",
        ):
            director.delete("app", "1", force=force)
    assert director.blobs() == blobs.all()
    director.delete("app", "2")  # not in use
    assert director.versions("app") == ["1"]


def test_unknown_releases_and_versions(director: Director, tmp_path: Path) -> None:
    _store(director, tmp_path)
    with pytest.raises(ReleaseNotFoundError, match="Release 'nope' doesn't exist") as raised:
        director.delete("nope")
    assert raised.value.http_status == 404
    with pytest.raises(ReleaseVersionNotFoundError, match="Release version 'app/9' doesn't"):
        director.delete("app", "9")


def test_blobstore_errors_stop_the_deletion_unless_forced(
    director: Director, tmp_path: Path
) -> None:
    blobs = _store(director, tmp_path)
    with director.database.write() as session:
        server = session.scalars(select(Package).where(Package.name == "server")).one()
        server.blobstore_id = "not/a/blob"  # the local blobstore refuses such an id
    with pytest.raises(BlobstoreError, match="Invalid blob id 'not/a/blob'"):
        director.delete("app")
    # runtime/1 was deleted before server/2 failed; server/2 is still whole.
    with director.database.read() as session:
        assert list(session.scalars(select(Package.name))) == ["server"]
    assert director.versions("app") == ["1", "2"]
    director.delete("app", force=True)
    assert director.count(Release) == director.count(Package) == 0
    assert director.blobs() == {blobs.v2_package}  # no row names it any more
    assert director.lines.warnings() == [
        "Force deleting is set, ignoring exception: Invalid blob id 'not/a/blob':"
        " expected a plain file name such as a uuid"
    ]
