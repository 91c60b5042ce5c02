"""upload_release with tarballs that leave out package archives, as ``bosh
upload-release`` sends them after ``/packages/matches``: the director copies the stored
blob with the fingerprint, or fails the task leaving nothing behind."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from bosh_core import serialization
from bosh_core.blobstore.verified import BlobDigestMismatchError
from bosh_core.digest import MultipleDigest
from bosh_core.director.db.models import CompiledPackage, Package, Release, ReleaseVersion, Template
from bosh_core.director.errors import PackageInvalidArchiveError, ReleaseInvalidArchiveError
from tests.core.director.jobs import test_upload_release
from tests.core.director.jobs.test_upload_release import AnyVersionOf, Director
from tests.core.director.release_tarballs import STEMCELL, Tarballs

director = test_upload_release.director  # the fixture: the director the upload tests use
ROWS = (Release, ReleaseVersion, Package, Template, CompiledPackage)


def repack(source: Path, destination: Path, *, leave_out: set[str], name: str = "") -> Path:
    """`source` without the members `leave_out` (the CLI's tarball after matching), its
    release renamed to `name` if given."""
    with (
        tarfile.open(source, "r:gz") as reader,
        tarfile.open(destination, "w:gz") as writer,
    ):
        members = reader.getmembers()
        assert leave_out <= {member.name for member in members}  # no typo passes silently
        for member in members:
            if member.name in leave_out:
                continue
            content = reader.extractfile(member) if member.isfile() else None
            if member.name == "release.MF" and content is not None and name:
                document = serialization.load_yaml(content.read(), source=str(source))
                data = serialization.dump_yaml({**document, "name": name}).encode()
                member.size, content = len(data), io.BytesIO(data)
            writer.addfile(member, content)
    return destination


def packages_by_release(director: Director) -> dict[str, dict[str, Package]]:
    with director.database.read() as session:
        rows = session.scalars(select(Package).join(Release).order_by(Package.id)).all()
        found: dict[str, dict[str, Package]] = {}
        for row in rows:
            found.setdefault(row.release.name, {})[row.name] = row
        return found


def compiled_by_release(director: Director) -> dict[str, dict[str, CompiledPackage]]:
    with director.database.read() as session:
        rows = session.scalars(select(CompiledPackage).order_by(CompiledPackage.id)).all()
        found: dict[str, dict[str, CompiledPackage]] = {}
        for row in rows:
            found.setdefault(row.package.release.name, {})[row.package.name] = row
        return found


def counts(director: Director) -> list[int]:
    return [director.count(model) for model in ROWS]


SOURCES = {"packages/runtime.tgz", "packages/webapp.tgz"}
COMPILED = {"compiled_packages/runtime.tgz", "compiled_packages/webapp.tgz"}


def test_left_out_packages_are_copied_from_another_release(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    director.upload(tarballs.v1)
    director.events()
    other = repack(tarballs.renamed, tmp_path / "other.tgz", leave_out=SOURCES)

    assert director.upload(other) == "Created release 'other/0+dev.1'"

    created = [(stage, task) for stage, task, _ in director.stages() if stage.startswith("Creat")]
    assert [(stage, task.split("/")[0]) for stage, task in created] == [
        ("Creating new packages", "runtime"),
        ("Creating new packages", "webapp"),
        ("Creating new jobs", "web"),
        ("Creating new jobs", "worker"),
    ]
    packages = packages_by_release(director)
    for name in ("runtime", "webapp"):
        original, copy = packages["fixture"][name], packages["other"][name]
        assert copy.fingerprint == original.fingerprint and copy.sha1 == original.sha1
        assert copy.blobstore_id is not None and original.blobstore_id is not None
        assert copy.blobstore_id != original.blobstore_id
        blobs = director.blobstore.path
        assert (blobs / copy.blobstore_id).read_bytes() == (
            blobs / original.blobstore_id
        ).read_bytes()
    assert director.blobs() == director.stored_blob_ids() and len(director.blobs()) == 8


def test_a_new_version_without_its_unchanged_packages(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    director.upload(tarballs.v1)
    blobs = director.blobs()
    v2 = repack(tarballs.v2, tmp_path / "v2.tgz", leave_out=SOURCES)

    assert director.upload(v2) == "Created release 'fixture/0+dev.2'"

    assert len(director.blobs() - blobs) == 1  # the changed job only
    assert counts(director) == [1, 2, 2, 3, 0]


def test_a_left_out_package_the_director_lacks_fails_and_leaves_nothing(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    without_webapp = repack(tarballs.v1, tmp_path / "v1.tgz", leave_out={"packages/webapp.tgz"})

    with pytest.raises(PackageInvalidArchiveError) as failure:
        director.upload(without_webapp)

    assert failure.value.error_code == 60000
    message = str(failure.value)
    assert message.startswith("Extracting package 'webapp/")
    assert "the release tarball leaves it out but the director has no package with" in message
    assert "'bosh upload-release --fix'" in message
    assert ("Creating new packages", AnyVersionOf("runtime"), "finished") in director.stages()
    assert counts(director) == [0] * 5
    assert director.blobs() == set()  # runtime's blob, stored first, is gone
    assert director.locks.list() == []


def test_a_corrupt_stored_package_fails_the_copy_and_leaves_nothing(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    director.upload(tarballs.v1)
    webapp = packages_by_release(director)["fixture"]["webapp"]
    assert webapp.blobstore_id is not None and webapp.sha1 is not None
    stored = director.blobstore.path / webapp.blobstore_id
    stored.write_bytes(stored.read_bytes()[:-1] + b"!")  # a bit rotted on disk
    rows, blobs, before = director.stored_blob_ids(), director.blobs(), counts(director)
    director.events()
    other = repack(tarballs.renamed, tmp_path / "other.tgz", leave_out=SOURCES)

    with pytest.raises(BlobDigestMismatchError) as failure:
        director.upload(other)

    expected = MultipleDigest.parse(webapp.sha1).strongest
    message = str(failure.value)
    assert message.startswith(
        f"The blob '{webapp.blobstore_id}' (the stored package 'webapp/{webapp.version}'"
        f" this upload copies) does not match its recorded digest: expected '{expected}'"
        f" but the blobstore returned '{expected.algorithm}:"
    )
    assert "'bosh upload-release --fix'" in message
    assert ("Creating new packages", AnyVersionOf("runtime"), "finished") in director.stages()
    assert counts(director) == before == [1, 1, 2, 2, 0]
    assert director.stored_blob_ids() == rows
    assert director.blobs() == blobs  # runtime's copy, stored first, is gone
    assert director.locks.list() == []

    # The remedy the message gives: --fix sends and stores every archive, copying none.
    assert director.upload(tarballs.renamed, fix=True) == "Created release 'other/0+dev.1'"
    assert packages_by_release(director)["other"]["webapp"].sha1 == webapp.sha1


def test_a_corrupt_stored_compiled_package_fails_the_copy(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    director.upload(tarballs.compiled)
    runtime = compiled_by_release(director)["fixture"]["runtime"]
    (director.blobstore.path / runtime.blobstore_id).write_bytes(b"not a tarball")
    blobs = director.blobs()
    other = repack(tarballs.compiled, tmp_path / "other.tgz", leave_out=COMPILED, name="other")

    with pytest.raises(BlobDigestMismatchError) as failure:
        director.upload(other)

    assert str(failure.value).startswith(
        f"The blob '{runtime.blobstore_id}' (the stored compiled package 'runtime/"
    )
    assert f" for stemcell '{STEMCELL}' this upload copies)" in str(failure.value)
    assert counts(director) == [1, 1, 2, 2, 2]
    assert director.blobs() == blobs


def test_a_left_out_job_is_refused(director: Director, tarballs: Tarballs, tmp_path: Path) -> None:
    without_job = repack(tarballs.v1, tmp_path / "v1.tgz", leave_out={"jobs/web.tgz"})

    with pytest.raises(ReleaseInvalidArchiveError, match=r"lacks 'jobs/web.tgz'") as failure:
        director.upload(without_job)

    assert failure.value.error_code == 30002
    assert counts(director) == [0] * 5


def test_fix_needs_every_package_archive(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    director.upload(tarballs.v1)
    rows, blobs = director.stored_blob_ids(), director.blobs()
    without_runtime = repack(tarballs.v1, tmp_path / "v1.tgz", leave_out={"packages/runtime.tgz"})

    with pytest.raises(PackageInvalidArchiveError, match=r"stores every package again \(--fix"):
        director.upload(without_runtime, fix=True)

    assert director.stored_blob_ids() == rows and director.blobs() == blobs
    director.upload(tarballs.v1, fix=True)  # the whole tarball, as the CLI sends it
    assert counts(director) == [1, 1, 2, 2, 0] and not director.stored_blob_ids() & rows


def test_left_out_compiled_packages_are_copied_for_the_same_stemcell(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    director.upload(tarballs.compiled)
    other = repack(tarballs.compiled, tmp_path / "other.tgz", leave_out=COMPILED, name="other")

    assert director.upload(other) == "Created release 'other/0+dev.1'"

    compiled = compiled_by_release(director)
    for name in ("runtime", "webapp"):
        original, copy = compiled["fixture"][name], compiled["other"][name]
        assert copy.sha1 == original.sha1 and copy.blobstore_id != original.blobstore_id
        assert (copy.stemcell_os, copy.stemcell_version) == tuple(STEMCELL.split("/"))
        assert copy.dependency_key == original.dependency_key
    assert counts(director) == [2, 2, 4, 4, 4]
    assert director.blobs() == director.stored_blob_ids() and len(director.blobs()) == 8


def test_a_left_out_compiled_package_the_director_lacks_fails_and_leaves_nothing(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    director.upload(tarballs.v1)  # the sources are there, not compiled
    blobs = director.blobs()
    other = repack(
        tarballs.compiled,
        tmp_path / "other.tgz",
        leave_out={"compiled_packages/webapp.tgz"},
        name="other",
    )

    with pytest.raises(PackageInvalidArchiveError) as failure:
        director.upload(other)

    assert str(failure.value).startswith("Extracting compiled package 'webapp/")
    assert f"compiled package with fingerprint '{_fingerprint(director, 'webapp')}'" in str(
        failure.value
    )
    assert f"for stemcell '{STEMCELL}' to copy" in str(failure.value)
    assert counts(director) == [1, 1, 2, 2, 0]
    assert director.blobs() == blobs


def test_a_source_left_out_is_not_taken_from_a_compiled_upload(
    director: Director, tarballs: Tarballs, tmp_path: Path
) -> None:
    director.upload(tarballs.compiled)  # package rows without source blobs
    blobs = director.blobs()
    v1 = repack(tarballs.v1, tmp_path / "v1.tgz", leave_out={"packages/runtime.tgz"})

    with pytest.raises(PackageInvalidArchiveError, match=r"Extracting package 'runtime/"):
        director.upload(v1)

    step = "Processing 2 existing packages"  # where the sources are backfilled
    assert (step, step, "failed") in director.stages()
    assert director.blobs() == blobs
    with director.database.read() as session:
        assert set(session.scalars(select(Package.blobstore_id))) == {None}


def _fingerprint(director: Director, name: str) -> str:
    with director.database.read() as session:
        fingerprint = session.scalar(select(Package.fingerprint).where(Package.name == name))
        assert fingerprint is not None
        return fingerprint
