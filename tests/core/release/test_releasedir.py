"""Building, versioning, finalizing and writing releases of a release directory."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bosh_core import serialization
from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.errors import ReleaseError
from bosh_core.models.version import Version
from bosh_core.release.blobs import BlobsDir
from bosh_core.release.generate import init_release
from bosh_core.release.releasedir import Release, ReleaseDir, write_release_tarball
from tests.core.release.conftest import OpenReleaseDir, use_local_blobstore

GZIP_MAGIC = b"\x1f\x8b"


def build(release_dir: ReleaseDir, version: str | None = None) -> Release:
    return release_dir.build_release(
        name="fixture",
        version=Version.parse(version) if version else release_dir.next_dev_version("fixture"),
        force=True,
    )


def archive_files(path: Path) -> dict[str, bytes]:
    """Regular files of a (maybe gzipped) tar, by member name."""
    with tarfile.open(path, "r:*") as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive
            if member.isfile()
        }


@pytest.fixture
def final_ready(fixture_release: Path, tmp_path: Path) -> Path:
    """The fixture release with its final builds going to a local blobstore in tmp_path."""
    use_local_blobstore(fixture_release, tmp_path / "store")
    return fixture_release


# --- versions ----------------------------------------------------------------------------


def test_timestamp_version_replaces_the_dev_number_with_the_time(
    final_ready: Path, open_release_dir: OpenReleaseDir
) -> None:
    release_dir = open_release_dir(final_ready, clock=lambda: 1_700_000_000.75)
    assert str(release_dir.next_dev_version("fixture", timestamp=True)) == "0+dev.1700000000"

    build(release_dir, "0+dev.1700000000")
    release_dir.finalize_release(
        build(release_dir).renamed(name="fixture", version="1"), force=True
    )

    assert str(release_dir.next_dev_version("fixture", timestamp=True)) == "1+dev.1700000000"
    assert (final_ready / "dev_releases" / "fixture" / "fixture-0+dev.1700000000.yml").is_file()


def test_next_dev_version_follows_the_last_final_one(
    final_ready: Path, open_release_dir: OpenReleaseDir
) -> None:
    release_dir = open_release_dir(final_ready)
    assert str(release_dir.next_dev_version("fixture")) == "0+dev.1"
    assert str(release_dir.next_final_version("fixture")) == "1"
    release = build(release_dir)
    release_dir.finalize_release(release.renamed(name="fixture", version="1"), force=True)

    assert str(release_dir.next_dev_version("fixture")) == "1+dev.1"
    assert str(release_dir.next_final_version("fixture")) == "2"
    build(release_dir)
    assert str(release_dir.next_dev_version("fixture")) == "1+dev.2"


def test_an_existing_dev_version_is_refused_with_the_reference_text(
    fixture_release: Path, open_release_dir: OpenReleaseDir
) -> None:
    release_dir = open_release_dir(fixture_release)
    build(release_dir, "2.1")
    index = fixture_release / "dev_releases" / "fixture" / "index.yml"
    before = index.read_text()

    with pytest.raises(ReleaseError) as caught:
        build(release_dir, "2.1")
    assert str(caught.value) == "Release version '2.1' already exists"
    assert index.read_text() == before


def test_an_existing_final_version_is_refused_with_the_reference_text(
    final_ready: Path, open_release_dir: OpenReleaseDir
) -> None:
    release_dir = open_release_dir(final_ready)
    release = build(release_dir).renamed(name="fixture", version="3")
    release_dir.finalize_release(release, force=True)

    with pytest.raises(ReleaseError) as caught:
        release_dir.finalize_release(release, force=True)
    assert str(caught.value) == "Release 'fixture' version '3' already exists"


# --- release names -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escaped", "a/b", "..", " padded"])
def test_release_names_must_be_one_directory_name(
    fixture_release: Path, open_release_dir: OpenReleaseDir, tmp_path: Path, name: str
) -> None:
    release_dir = open_release_dir(fixture_release)
    with pytest.raises(ReleaseError, match=r"^Release name '.*' is not valid: "):
        release_dir.next_dev_version(name)
    with pytest.raises(ReleaseError, match=r"^Release name '.*' is not valid: "):
        release_dir.build_release(name=name, version=Version.parse("1"), force=True)
    assert not (fixture_release / "dev_releases").exists()
    assert not (tmp_path / "escaped").exists()
    assert not (fixture_release / "escaped").exists()


# --- pre_packaging -----------------------------------------------------------------------


def test_pre_packaging_may_change_the_staged_files(
    fixture_release: Path, open_release_dir: OpenReleaseDir
) -> None:
    (fixture_release / "packages" / "runtime" / "pre_packaging").write_text(
        'echo patched >> "$BUILD_DIR/runtime/NOTES"\n'
        'rm "$BUILD_DIR/runtime/run.sh"\n'
        'echo "$RELEASE_DIR" > "$BUILD_DIR/runtime/made"\n'
    )
    release = build(open_release_dir(fixture_release))

    files = archive_files(release.packages["runtime"])
    assert files["./runtime/NOTES"] == b"runtime notes\npatched\n"
    assert files["./runtime/made"] == f"{fixture_release}\n".encode()
    assert "./runtime/run.sh" not in files
    assert "./pre_packaging" not in files
    assert (fixture_release / "src" / "runtime" / "NOTES").read_text() == "runtime notes\n"


def test_a_failing_pre_packaging_script_stops_the_build(
    fixture_release: Path, open_release_dir: OpenReleaseDir
) -> None:
    (fixture_release / "packages" / "runtime" / "pre_packaging").write_text("echo no >&2\nexit 3\n")
    with pytest.raises(ReleaseError, match=r"pre_packaging of package 'runtime' exited with 3"):
        build(open_release_dir(fixture_release))


# --- no_compression ----------------------------------------------------------------------


def test_a_package_spec_without_compression_while_final_yml_compresses(
    fixture_release: Path, open_release_dir: OpenReleaseDir, tmp_path: Path
) -> None:
    spec = fixture_release / "packages" / "webapp" / "spec"
    spec.write_text(spec.read_text() + "no_compression: true\n")
    release_dir = open_release_dir(fixture_release)

    assert release_dir.no_compression_mismatch() == ["webapp"]
    release = build(release_dir)
    assert release.packages["webapp"].read_bytes()[:2] != GZIP_MAGIC
    assert release.packages["runtime"].read_bytes()[:2] == GZIP_MAGIC
    write_release_tarball(release, tmp_path / "release.tgz")
    assert (tmp_path / "release.tgz").read_bytes()[:2] == GZIP_MAGIC


def test_no_compression_in_final_yml_leaves_the_release_tarball_uncompressed(
    fixture_release: Path, open_release_dir: OpenReleaseDir, tmp_path: Path
) -> None:
    final = fixture_release / "config" / "final.yml"
    final.write_text(final.read_text() + "no_compression: true\n")
    spec = fixture_release / "packages" / "webapp" / "spec"
    spec.write_text(spec.read_text() + "no_compression: true\n")
    release_dir = open_release_dir(fixture_release)

    assert release_dir.no_compression_mismatch() == []
    release = build(release_dir)
    assert release.manifest.no_compression is True
    manifest = fixture_release / "dev_releases" / "fixture" / "fixture-0+dev.1.yml"
    assert "no_compression: true\n" in manifest.read_text()
    write_release_tarball(release, tmp_path / "release.tgz")
    assert (tmp_path / "release.tgz").read_bytes()[:2] != GZIP_MAGIC
    assert tarfile.is_tarfile(tmp_path / "release.tgz")


def test_no_compression_check_skips_packages_without_a_valid_spec(
    fixture_release: Path, open_release_dir: OpenReleaseDir
) -> None:
    (fixture_release / "packages" / "vendored").mkdir()
    (fixture_release / "packages" / "vendored" / "spec.lock").write_text("name: vendored\n")
    (fixture_release / "packages" / "broken").mkdir()
    (fixture_release / "packages" / "broken" / "spec").write_text("name: [\n")
    assert open_release_dir(fixture_release).no_compression_mismatch() == []


# --- file modes --------------------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o027])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_written_with_the_umask_as_the_reference_writes_them(
    final_ready: Path, open_release_dir: OpenReleaseDir, tmp_path: Path, umask: int
) -> None:
    init_release(final_ready, git=False)
    (tmp_path / "blob").write_bytes(b"blob")
    BlobsDir(final_ready).track(tmp_path / "blob", "blob")
    release_dir = open_release_dir(final_ready)
    release = build(release_dir)
    release_dir.finalize_release(release.renamed(name="fixture", version="1"), force=True)
    write_release_tarball(release, tmp_path / "release.tgz")

    user_file = 0o666 & ~umask
    for written in (
        "config/final.yml",
        "config/blobs.yml",
        "dev_releases/fixture/index.yml",
        "dev_releases/fixture/fixture-0+dev.1.yml",
        "releases/fixture/index.yml",
        "releases/fixture/fixture-1.yml",
        ".dev_builds/jobs/web/index.yml",
        ".final_builds/packages/runtime/index.yml",
    ):
        assert mode(final_ready / written) == user_file, written
    # The tarball and the archives in it are the owner's only, as the reference's.
    assert mode(tmp_path / "release.tgz") == 0o600
    with tarfile.open(tmp_path / "release.tgz") as archive:
        members = {member.name: member.mode for member in archive if member.isfile()}
    assert members["release.MF"] == 0o644
    assert {name: m for name, m in members.items() if name.endswith(".tgz")} == {
        "jobs/web.tgz": 0o600,
        "jobs/worker.tgz": 0o600,
        "packages/runtime.tgz": 0o600,
        "packages/webapp.tgz": 0o600,
    }


# --- final builds ------------------------------------------------------------------------


def test_parallel_finalize_makes_one_blobstore(
    final_ready: Path,
    open_release_dir: OpenReleaseDir,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Path] = []
    original = LocalBlobstore.__init__

    def slow_init(self: LocalBlobstore, path: Path) -> None:
        made.append(path)
        time.sleep(0.2)  # long enough for every finalize thread to ask for it meanwhile
        original(self, path)

    monkeypatch.setattr(LocalBlobstore, "__init__", slow_init)
    release_dir = open_release_dir(final_ready, parallel=4)
    release = build(release_dir)
    release_dir.finalize_release(release.renamed(name="fixture", version="1"), force=True)
    assert len(made) == 1


def test_a_release_manifest_listing_compiled_packages_cannot_be_written(
    fixture_release: Path, open_release_dir: OpenReleaseDir, tmp_path: Path
) -> None:
    release_dir = open_release_dir(fixture_release)
    build(release_dir)
    path = fixture_release / "dev_releases" / "fixture" / "fixture-0+dev.1.yml"
    document: dict[str, Any] = serialization.load_yaml(path.read_bytes())
    document["compiled_packages"] = [
        {
            "name": "runtime",
            "version": "abc",
            "fingerprint": "abc",
            "sha1": "sha256:" + "0" * 64,
            "stemcell": "ubuntu-jammy/1.18",
        }
    ]
    path.write_text(serialization.dump_yaml(document))
    release = release_dir.release_from_manifest(path)

    with pytest.raises(ReleaseError) as caught:
        write_release_tarball(release, tmp_path / "release.tgz")
    assert str(caught.value) == (
        f"Cannot write release tarball '{tmp_path / 'release.tgz'}': release"
        " 'fixture/0+dev.1' lists archives it does not have: compiled_packages/runtime/abc;"
        " a release directory keeps no compiled packages, only release tarballs carry them"
    )
    assert not (tmp_path / "release.tgz").exists()


def test_a_release_from_its_manifest_writes_the_same_tarball(
    fixture_release: Path, open_release_dir: OpenReleaseDir, tmp_path: Path
) -> None:
    release_dir = open_release_dir(fixture_release)
    built = build(release_dir)
    write_release_tarball(built, tmp_path / "built.tgz")
    manifest = fixture_release / "dev_releases" / "fixture" / "fixture-0+dev.1.yml"
    write_release_tarball(release_dir.release_from_manifest(manifest), tmp_path / "read.tgz")
    assert (tmp_path / "read.tgz").read_bytes() == (tmp_path / "built.tgz").read_bytes()


# --- vendor-package ----------------------------------------------------------------------


@pytest.fixture
def vendoring(
    fixture_release: Path, open_release_dir: OpenReleaseDir, tmp_path: Path
) -> tuple[ReleaseDir, Path]:
    """The built fixture release to vendor from, and a new release directory to vendor into."""
    source = open_release_dir(fixture_release)
    build(source)
    consumer = tmp_path / "consumer"
    init_release(consumer, git=False)
    use_local_blobstore(consumer, tmp_path / "store")
    return source, consumer


def test_vendor_package_reports_a_package_dir_it_cannot_remove(
    vendoring: tuple[ReleaseDir, Path],
    open_release_dir: OpenReleaseDir,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, consumer = vendoring
    stuck = consumer / "packages" / "runtime"
    stuck.mkdir()
    (stuck / "spec").write_text("name: runtime\n")
    real_rmtree = shutil.rmtree

    def rmtree(path: Any, ignore_errors: bool = False, **options: Any) -> None:
        # What rmtree does where a file cannot be deleted (as root, nothing else fails).
        if Path(path) == stuck:
            if not ignore_errors:
                raise PermissionError(errno.EACCES, "Permission denied", str(stuck / "spec"))
            return
        real_rmtree(path, ignore_errors=ignore_errors, **options)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    with pytest.raises(ReleaseError) as caught:
        open_release_dir(consumer).vendor_package(source, "webapp")
    assert str(caught.value) == (
        f"Removing package 'runtime' dir '{stuck}' to vendor it: Permission denied"
        f" ('{stuck / 'spec'}')"
    )


def test_vendored_packages_replace_the_package_dir_with_a_spec_lock(
    vendoring: tuple[ReleaseDir, Path], open_release_dir: OpenReleaseDir, umask: int
) -> None:
    source, consumer = vendoring
    (consumer / "packages" / "v-runtime").mkdir()
    (consumer / "packages" / "v-runtime" / "spec").write_text("name: v-runtime\n")

    open_release_dir(consumer).vendor_package(source, "webapp", prefix="v")

    assert sorted(p.name for p in (consumer / "packages").iterdir()) == ["v-runtime", "v-webapp"]
    assert [p.name for p in (consumer / "packages" / "v-runtime").iterdir()] == ["spec.lock"]
    lock = consumer / "packages" / "v-webapp" / "spec.lock"
    assert serialization.load_yaml(lock.read_bytes())["dependencies"] == ["v-runtime"]
    assert mode(lock) == 0o666 & ~umask
