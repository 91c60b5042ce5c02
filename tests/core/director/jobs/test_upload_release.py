"""upload_release on SQLite and PostgreSQL with release tarballs built from the
conformance fixture release: rows, blobs, event-log stages, failures and the lock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    CompiledPackage,
    Package,
    Release,
    ReleaseVersion,
    Template,
)
from bosh_core.director.errors import (
    ReleaseInvalidArchiveError,
    ReleaseVersionCommitHashMismatchError,
)
from bosh_core.director.jobs.upload_release import upload_release
from bosh_core.director.locks import Locks
from bosh_core.director.tasks.events import EventLog
from bosh_core.errors import BlobstoreError
from tests.core.director.release_tarballs import STEMCELL, Tarballs, sha256_digest


class Director:
    """What a worker hands the job: database, blobstore, locks, a task's event log."""

    def __init__(self, database: Database, blobstore: LocalBlobstore, scratch: Path) -> None:
        self.database = database
        self.blobstore = blobstore
        self.scratch = scratch
        self.locks = Locks(database, poll_interval=0.05)
        self.lines: list[str] = []
        self.tasks = 0

    def upload(self, tarball: Path, **options: Any) -> str:
        self.tasks += 1
        return upload_release(
            self.database,
            self.blobstore,
            tarball,
            event_log=EventLog(self.lines.append),
            locks=self.locks,
            task_id=self.tasks,
            scratch_dir=self.scratch,
            **options,
        )

    def events(self) -> list[dict[str, Any]]:
        entries = [json.loads(line) for line in self.lines]
        self.lines.clear()
        return entries

    def stages(self) -> list[tuple[str, str, str]]:
        return [
            (entry["stage"], entry["task"], entry["state"])
            for entry in self.events()
            if "stage" in entry and entry["state"] != "started"
        ]

    def blobs(self) -> set[str]:
        return (
            {path.name for path in self.blobstore.path.iterdir()}
            if self.blobstore.path.exists()
            else set()
        )

    def count(self, model: type[Any]) -> int:
        with self.database.read() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def stored_blob_ids(self) -> set[str]:
        with self.database.read() as session:
            ids = [
                *session.scalars(select(Package.blobstore_id)),
                *session.scalars(select(Template.blobstore_id)),
                *session.scalars(select(CompiledPackage.blobstore_id)),
            ]
        return {blob_id for blob_id in ids if blob_id is not None}


@pytest.fixture
def director(database: Database, tmp_path: Path) -> Iterator[Director]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    yield Director(database, LocalBlobstore(tmp_path / "blobstore"), scratch)
    # Nothing an upload unpacked stays behind, whatever happened.
    assert list(scratch.iterdir()) == []


def _version(director: Director, name: str, version: str) -> ReleaseVersion:
    with director.database.read() as session:
        row = session.scalar(
            select(ReleaseVersion)
            .join(Release)
            .where(Release.name == name, ReleaseVersion.version == version)
        )
        assert row is not None
        # Load the links while the session is open.
        row.packages, row.templates  # noqa: B018
        return row


class AnyVersionOf(str):
    """Equal to ``<name>/<any version>``: versions are fingerprints."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(f"{self}/")

    __hash__ = str.__hash__


def test_first_upload_stores_every_archive_and_row(director: Director, tarballs: Tarballs) -> None:
    result = director.upload(tarballs.v1)

    assert result == "Created release 'fixture/0+dev.1'"
    assert director.stages() == [
        ("Extracting release", "Extracting release", "finished"),
        ("Verifying manifest", "Verifying manifest", "finished"),
        ("Resolving package dependencies", "Resolving package dependencies", "finished"),
        *[("Creating new packages", AnyVersionOf("runtime"), "finished")],
        *[("Creating new packages", AnyVersionOf("webapp"), "finished")],
        *[("Creating new jobs", AnyVersionOf("web"), "finished")],
        *[("Creating new jobs", AnyVersionOf("worker"), "finished")],
        ("Release has been created", "fixture/0+dev.1", "finished"),
    ]
    version = _version(director, "fixture", "0+dev.1")
    assert version.update_completed
    assert sorted(p.name for p in version.packages) == ["runtime", "webapp"]
    assert sorted(t.name for t in version.templates) == ["web", "worker"]
    webapp = next(p for p in version.packages if p.name == "webapp")
    assert webapp.dependency_set == ["runtime"]
    web = next(t for t in version.templates if t.name == "web")
    assert web.package_names == ["webapp", "runtime"]
    assert web.spec["name"] == "web" and "port" in web.spec["properties"]
    assert director.blobs() == director.stored_blob_ids() and len(director.blobs()) == 4
    archive = director.scratch / "got"
    director.blobstore.get(webapp.blobstore_id or "", archive)
    assert sha256_digest(archive) == webapp.sha1
    archive.unlink()
    assert director.locks.list() == []


def test_uploading_the_same_release_again_changes_nothing(
    director: Director, tarballs: Tarballs
) -> None:
    director.upload(tarballs.v1)
    blobs = director.blobs()
    director.events()

    assert director.upload(tarballs.v1) == "Created release 'fixture/0+dev.1'"

    stages = [stage for stage, _, _ in director.stages()]
    assert "Processing 2 existing packages" in stages
    assert "Processing 2 existing jobs" in stages
    assert not {"Creating new packages", "Creating new jobs"} & set(stages)
    assert director.blobs() == blobs
    assert [director.count(m) for m in (Release, ReleaseVersion, Package, Template)] == [1, 1, 2, 2]


def test_a_second_version_reuses_unchanged_jobs_and_packages(
    director: Director, tarballs: Tarballs
) -> None:
    director.upload(tarballs.v1)
    blobs = director.blobs()
    director.events()

    assert director.upload(tarballs.v2) == "Created release 'fixture/0+dev.2'"

    created = [(stage, task) for stage, task, _ in director.stages() if stage.startswith("Creat")]
    assert created == [("Creating new jobs", AnyVersionOf("worker"))]
    assert len(director.blobs() - blobs) == 1  # the changed job only
    v1, v2 = _version(director, "fixture", "0+dev.1"), _version(director, "fixture", "0+dev.2")
    assert {p.id for p in v1.packages} == {p.id for p in v2.packages}
    assert {t.name: t.id for t in v1.templates}["web"] == {t.name: t.id for t in v2.templates}[
        "web"
    ]
    assert [director.count(m) for m in (Release, ReleaseVersion, Package, Template)] == [1, 2, 2, 3]


def test_another_release_with_the_same_packages_gets_copies_of_their_blobs(
    director: Director, tarballs: Tarballs
) -> None:
    director.upload(tarballs.v1)
    director.upload(tarballs.renamed)

    with director.database.read() as session:
        rows = session.scalars(select(Package).order_by(Package.id)).all()
        by_release: dict[int, dict[str, Package]] = {}
        for row in rows:
            by_release.setdefault(row.release_id, {})[row.name] = row
    first, second = by_release.values()
    for name in ("runtime", "webapp"):
        assert first[name].fingerprint == second[name].fingerprint
        assert first[name].blobstore_id != second[name].blobstore_id
        assert first[name].sha1 == second[name].sha1
    assert director.blobs() == director.stored_blob_ids() and len(director.blobs()) == 8


def test_fix_stores_every_archive_again(director: Director, tarballs: Tarballs) -> None:
    director.upload(tarballs.v1)
    lost = next(iter(director.blobs()))
    director.blobstore.delete(lost)  # a damaged blobstore
    before = director.stored_blob_ids()

    director.upload(tarballs.v1, fix=True)

    after = director.stored_blob_ids()
    assert len(after) == 4 and not after & before
    assert director.blobs() == after  # the replaced blobs are gone
    assert [director.count(m) for m in (Release, ReleaseVersion, Package, Template)] == [1, 1, 2, 2]


def test_a_tampered_tarball_fails_and_leaves_nothing(
    director: Director, tarballs: Tarballs
) -> None:
    with pytest.raises(ReleaseInvalidArchiveError) as failure:
        director.upload(tarballs.tampered)

    assert failure.value.error_code == 30002
    assert "packages/runtime.tgz" in str(failure.value)
    assert ("Extracting release", "Extracting release", "failed") in director.stages()
    assert [director.count(m) for m in (Release, ReleaseVersion, Package, Template)] == [0] * 4
    assert director.blobs() == set()


class FailingBlobstore(LocalBlobstore):
    """A local blobstore whose disk fills up after `room` blobs."""

    def __init__(self, path: Path, *, room: int) -> None:
        super().__init__(path)
        self.room = room

    def put(self, source: Path) -> str:
        if self.room == 0:
            raise BlobstoreError(f"Cannot store '{source}': No space left on device")
        self.room -= 1
        return super().put(source)


def test_a_failure_while_storing_deletes_the_blobs_stored(
    director: Director, tarballs: Tarballs
) -> None:
    director.blobstore = FailingBlobstore(director.blobstore.path, room=3)

    with pytest.raises(BlobstoreError, match="No space left"):
        director.upload(tarballs.v1)

    assert [director.count(m) for m in (Release, ReleaseVersion, Package, Template)] == [0] * 4
    assert director.blobs() == set()
    assert director.locks.list() == []


def test_a_compiled_release_then_its_source(director: Director, tarballs: Tarballs) -> None:
    assert director.upload(tarballs.compiled) == "Created release 'fixture/0+dev.1'"

    stages = director.stages()
    assert ("Compiled Release has been created", "fixture/0+dev.1", "finished") in stages
    compiled_tasks = [t for s, t, _ in stages if s == "Creating new compiled packages"]
    assert [t.split("/")[0] for t in compiled_tasks] == ["runtime", "webapp"]
    assert all(t.endswith(f" for {STEMCELL}") for t in compiled_tasks)
    with director.database.read() as session:
        packages = {p.name: p for p in session.scalars(select(Package))}
        compiled = {c.package.name: c for c in session.scalars(select(CompiledPackage))}
        assert {p.blobstore_id for p in packages.values()} == {None}
        assert compiled["runtime"].dependency_key == "[]"
        runtime_version = packages["runtime"].version
        assert compiled["webapp"].dependency_key == f'[["runtime","{runtime_version}"]]'
        assert (compiled["webapp"].stemcell_os, compiled["webapp"].stemcell_version) == (
            "ubuntu-jammy",
            "1.18",
        )
    assert len(director.blobs()) == 4  # 2 compiled packages, 2 jobs

    director.upload(tarballs.v1)  # the same version from source: sources are added

    with director.database.read() as session:
        assert None not in {p.blobstore_id for p in session.scalars(select(Package))}
    assert [director.count(m) for m in (ReleaseVersion, Package, CompiledPackage)] == [1, 2, 2]
    assert len(director.blobs()) == 6


def test_a_changed_commit_hash_is_refused(director: Director, tarballs: Tarballs) -> None:
    director.upload(tarballs.v1)
    with director.database.write() as session:
        session.execute(update(ReleaseVersion).values(commit_hash="0123abcd"))

    with pytest.raises(ReleaseVersionCommitHashMismatchError, match="commit_hash as '0123abcd'"):
        director.upload(tarballs.v1)


def test_concurrent_uploads_of_one_release_take_turns(
    director: Director, tarballs: Tarballs
) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            results.append(director.upload(tarballs.v1))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=upload) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results == ["Created release 'fixture/0+dev.1'"] * 3
    # One upload created the jobs; the others, waiting on the lock, found them.
    finished = [(s, t) for s, t, state in director.stages() if state == "finished"]
    assert len([s for s, _ in finished if s == "Creating new jobs"]) == 2
    assert len([s for s, _ in finished if s == "Processing 2 existing jobs"]) == 2
    assert [director.count(m) for m in (Release, ReleaseVersion, Package, Template)] == [1, 1, 2, 2]
    assert director.blobs() == director.stored_blob_ids() and len(director.blobs()) == 4


def test_a_rebased_upload_becomes_the_next_dev_version(
    director: Director, tarballs: Tarballs
) -> None:
    # `upload-release --rebase`: a dev release built elsewhere lands after the newest
    # dev version of the same base here, whatever version it was built as.
    assert director.upload(tarballs.v1, rebase=True) == "Created release 'fixture/0+dev.1'"
    director.upload(tarballs.v2)
    assert director.upload(tarballs.v1, rebase=True) == "Created release 'fixture/0+dev.3'"
    rebased = _version(director, "fixture", "0+dev.3")
    assert sorted(p.name for p in rebased.packages) == ["runtime", "webapp"]
    assert ("Release has been created", "fixture/0+dev.3", "finished") in director.stages()
