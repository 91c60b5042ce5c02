"""Reading release tarballs that leave out package archives, as ``bosh upload-release``
sends them to a director that already has those packages: allowed only when asked
(``allow_missing_packages``), reported, and everything else as strict as ever."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import pytest

from bosh_core import serialization
from bosh_core.errors import DigestMismatchError, ReleaseError, ReleaseTarballError
from bosh_core.release.tarball import ReleaseArchive, read_release_tarball
from tests.core.release.test_tarball import (
    PACKAGE_TGZ,
    Entry,
    job_tgz,
    manifest_for,
    sha256,
    tar_bytes,
)

OTHER_PACKAGE_TGZ = tar_bytes([Entry("./packaging", b"echo other\n")])
ARTIFACTS = {
    "jobs/web.tgz": job_tgz(),
    "packages/pkg.tgz": PACKAGE_TGZ,
    "packages/other.tgz": OTHER_PACKAGE_TGZ,
}


def tarball(
    tmp_path: Path, manifest: dict[str, Any], artifacts: dict[str, bytes], *, leave_out: set[str]
) -> Path:
    """A release tarball of `manifest` holding `artifacts` except the members `leave_out`."""
    path = tmp_path / "release.tgz"
    path.write_bytes(
        tar_bytes(
            [
                Entry("release.MF", serialization.dump_yaml(manifest).encode()),
                Entry("packages/", kind=tarfile.DIRTYPE),
                *(Entry(name, data) for name, data in artifacts.items() if name not in leave_out),
            ]
        )
    )
    return path


def source_tarball(tmp_path: Path, *, leave_out: set[str], **changes: Any) -> Path:
    return tarball(tmp_path, manifest_for(ARTIFACTS, **changes), ARTIFACTS, leave_out=leave_out)


def compiled_tarball(tmp_path: Path, *, leave_out: set[str]) -> Path:
    """A compiled release (``compiled_packages`` only) of the same artifacts."""
    document = manifest_for(ARTIFACTS)
    document["compiled_packages"] = [
        {**ref, "stemcell": "ubuntu-jammy/1.18"} for ref in document.pop("packages")
    ]
    artifacts = {
        name.replace("packages/", "compiled_packages/", 1)
        if name.startswith("packages/")
        else name: data
        for name, data in ARTIFACTS.items()
    }
    return tarball(tmp_path, document, artifacts, leave_out=leave_out)


def read(path: Path, **options: Any) -> ReleaseArchive:
    return read_release_tarball(path, into=path.parent / "out", **options)


def test_left_out_packages_are_refused_unless_allowed(tmp_path: Path) -> None:
    path = source_tarball(tmp_path, leave_out={"packages/pkg.tgz", "packages/other.tgz"})

    with pytest.raises(
        ReleaseTarballError,
        match=r"lacks 'packages/other.tgz', 'packages/pkg.tgz', listed in its release.MF",
    ):
        read(path)

    archive = read(path, allow_missing_packages=True)
    assert archive.missing_packages == {"pkg", "other"}
    assert archive.missing_compiled_packages == frozenset()
    with pytest.raises(ReleaseError, match=r"leaves out the archive of package 'pkg'"):
        archive.package_archive("pkg")


def test_present_packages_are_written_and_verified(tmp_path: Path) -> None:
    archive = read(
        source_tarball(tmp_path, leave_out={"packages/pkg.tgz"}), allow_missing_packages=True
    )

    assert archive.missing_packages == {"pkg"}
    assert archive.package_archive("other").read_bytes() == OTHER_PACKAGE_TGZ
    assert not (archive.directory / "packages" / "pkg.tgz").exists()


def test_a_whole_tarball_reports_nothing_missing(tmp_path: Path) -> None:
    archive = read(source_tarball(tmp_path, leave_out=set()), allow_missing_packages=True)

    assert archive.missing_packages == archive.missing_compiled_packages == frozenset()
    assert archive.package_archive("pkg").read_bytes() == PACKAGE_TGZ


def test_left_out_compiled_packages_are_reported(tmp_path: Path) -> None:
    path = compiled_tarball(tmp_path, leave_out={"compiled_packages/other.tgz"})

    with pytest.raises(ReleaseTarballError, match=r"lacks 'compiled_packages/other.tgz'"):
        read(path)
    archive = read(path, allow_missing_packages=True)

    assert archive.missing_compiled_packages == {"other"}
    assert archive.missing_packages == frozenset()
    assert archive.compiled_package_archive("pkg").read_bytes() == PACKAGE_TGZ
    with pytest.raises(ReleaseError, match=r"leaves out the archive of compiled package 'other'"):
        archive.compiled_package_archive("other")


def test_jobs_must_all_be_there(tmp_path: Path) -> None:
    path = source_tarball(tmp_path, leave_out={"jobs/web.tgz", "packages/pkg.tgz"})

    with pytest.raises(ReleaseTarballError, match=r"lacks 'jobs/web.tgz', listed") as caught:
        read(path, allow_missing_packages=True)
    assert "packages/pkg.tgz" not in str(caught.value)


def test_the_license_must_be_there(tmp_path: Path) -> None:
    license_ref = {"version": "l1", "fingerprint": "l1", "sha1": sha256(b"")}
    path = source_tarball(tmp_path, leave_out={"packages/pkg.tgz"}, license=license_ref)

    with pytest.raises(ReleaseTarballError, match=r"lacks 'license.tgz', listed"):
        read(path, allow_missing_packages=True)


def test_a_present_package_with_another_digest_is_refused(tmp_path: Path) -> None:
    document = manifest_for(ARTIFACTS)
    document["packages"][1]["sha1"] = sha256(b"something else")  # other.tgz
    path = tarball(tmp_path, document, ARTIFACTS, leave_out={"packages/pkg.tgz"})

    with pytest.raises(DigestMismatchError, match=r"packages/other.tgz"):
        read(path, allow_missing_packages=True)


def test_an_unlisted_package_is_still_refused(tmp_path: Path) -> None:
    listed = {name: data for name, data in ARTIFACTS.items() if name != "packages/other.tgz"}
    path = tarball(tmp_path, manifest_for(listed), ARTIFACTS, leave_out={"packages/pkg.tgz"})

    with pytest.raises(ReleaseTarballError, match=r"'packages/other.tgz' that is not listed"):
        read(path, allow_missing_packages=True)
