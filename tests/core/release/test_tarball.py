"""Reading release tarballs: a round trip, then one hostile tarball per kind of refusal."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from bosh_core import serialization
from bosh_core.errors import (
    DigestMismatchError,
    ManifestError,
    ReleaseError,
    ReleaseTarballError,
)
from bosh_core.models.release import JobSpec, ReleaseManifest
from bosh_core.release.index import QuietReporter
from bosh_core.release.releasedir import ReleaseDir, write_release_tarball
from bosh_core.release.tarball import TarballLimits, read_release_tarball


@attrs.frozen
class Entry:
    """One tar member to write: a file unless `kind` says otherwise."""

    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    linkname: str = ""


def tar_bytes(entries: list[Entry], *, compress: bool = True) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if compress else "w") as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = entry.kind
            info.linkname = entry.linkname
            info.size = len(entry.data) if entry.kind == tarfile.REGTYPE else 0
            archive.addfile(info, io.BytesIO(entry.data) if info.size else None)
    return out.getvalue()


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def job_tgz(name: str = "web", *extra: Entry) -> bytes:
    spec = serialization.dump_yaml({"name": name, "templates": {}, "packages": ["pkg"]})
    return tar_bytes([Entry("./", kind=tarfile.DIRTYPE), Entry("./job.MF", spec.encode()), *extra])


PACKAGE_TGZ = tar_bytes([Entry("./", kind=tarfile.DIRTYPE), Entry("./packaging", b"echo hi\n")])


def manifest_for(artifacts: dict[str, bytes], **changes: Any) -> dict[str, Any]:
    """A release.MF document listing the jobs and packages in `artifacts` by their bytes."""
    document: dict[str, Any] = {
        "name": "demo",
        "version": "0+dev.1",
        "commit_hash": "abc123",
        "uncommitted_changes": False,
        "jobs": [],
        "packages": [],
    }
    for member, data in artifacts.items():
        directory, _, file_name = member.partition("/")
        name = file_name.removesuffix(".tgz")
        ref = {"name": name, "version": "f1", "fingerprint": "f1", "sha1": sha256(data)}
        if directory == "jobs":
            document["jobs"].append({**ref, "packages": ["pkg"]})
        else:
            document["packages"].append({**ref, "dependencies": []})
    document.update(changes)
    return document


def release_entries(**changes: Any) -> list[Entry]:
    artifacts = {"jobs/web.tgz": job_tgz(), "packages/pkg.tgz": PACKAGE_TGZ}
    manifest = serialization.dump_yaml(manifest_for(artifacts, **changes)).encode()
    return [
        Entry("release.MF", manifest),
        Entry("jobs/", kind=tarfile.DIRTYPE),
        *(Entry(name, data) for name, data in artifacts.items()),
    ]


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    def write_tarball(entries: list[Entry], *, compress: bool = True) -> Path:
        path = tmp_path / "release.tgz"
        path.write_bytes(tar_bytes(entries, compress=compress))
        return path

    return write_tarball


def read(path: Path, **limits: int) -> Any:
    return read_release_tarball(path, into=path.parent / "out", limits=TarballLimits(**limits))


# --- reading good tarballs ---------------------------------------------------------------


def test_round_trip_of_the_fixture_release(fixture_release: Path, tmp_path: Path) -> None:
    release_dir = ReleaseDir(
        fixture_release, cache_dir=tmp_path / "cache", reporter=QuietReporter()
    )
    release = release_dir.build_release(
        name="fixture", version=release_dir.next_dev_version("fixture"), force=True
    )
    tarball = tmp_path / "fixture.tgz"
    write_release_tarball(release, tarball)

    archive = read_release_tarball(tarball, into=tmp_path / "out")

    assert archive.manifest == release.manifest
    for name, built in release.jobs.items():
        assert archive.job_archive(name).read_bytes() == built.read_bytes()
    for name, built in release.packages.items():
        assert archive.package_archive(name).read_bytes() == built.read_bytes()
    assert archive.license_archive() is None
    assert archive.job_specs["web"].packages == ("webapp", "runtime")
    assert archive.job_specs["worker"].templates == {"run.erb": "bin/run"}
    assert all(path.is_relative_to(tmp_path / "out") for path in (tmp_path / "out").rglob("*"))


def test_license_and_notices_are_accepted(write: Callable[..., Path]) -> None:
    license_tgz = tar_bytes([Entry("./LICENSE", b"MIT\n")])
    license_ref = {"version": "l1", "fingerprint": "l1", "sha1": sha256(license_tgz)}
    entries = [
        *release_entries(license=license_ref),
        Entry("license.tgz", license_tgz),
        Entry("LICENSE", b"MIT\n"),
        Entry("NOTICE.md", b"notice\n"),
    ]
    archive = read(write(entries))
    license_path = archive.license_archive()
    assert license_path is not None
    assert license_path.read_bytes() == license_tgz
    assert not (license_path.parent / "LICENSE").exists()


def test_plain_sha1_and_multiple_digests_are_verified(write: Callable[..., Path]) -> None:
    entries = release_entries()
    manifest = serialization.load_yaml(entries[0].data)
    job = job_tgz()
    manifest["jobs"][0]["sha1"] = hashlib.sha1(job).hexdigest()
    manifest["packages"][0]["sha1"] = (
        f"{sha256(PACKAGE_TGZ)};sha512:{hashlib.sha512(PACKAGE_TGZ).hexdigest()}"
    )
    entries[0] = Entry("release.MF", serialization.dump_yaml(manifest).encode())
    archive = read(write(entries))
    assert archive.manifest.jobs[0].sha1 == hashlib.sha1(job).hexdigest()


def test_release_mf_may_come_last_and_members_may_start_with_dot_slash(
    write: Callable[..., Path],
) -> None:
    manifest, *artifacts = release_entries()
    entries = [
        Entry("./", kind=tarfile.DIRTYPE),
        *(attrs.evolve(e, name=f"./{e.name}") for e in artifacts),
        manifest,
    ]
    archive = read(write(entries))
    assert archive.package_archive("pkg").read_bytes() == PACKAGE_TGZ


def test_a_plain_tar_is_read(write: Callable[..., Path]) -> None:
    archive = read(write(release_entries(), compress=False))
    assert archive.manifest.name == "demo"


def test_concatenated_gzip_members_are_read(tmp_path: Path) -> None:
    data = tar_bytes(release_entries(), compress=False)
    path = tmp_path / "release.tgz"
    path.write_bytes(gzip.compress(data[:1000]) + gzip.compress(data[1000:]))
    assert read(path).manifest.version == "0+dev.1"


def test_unknown_artifact_names_are_refused(write: Callable[..., Path]) -> None:
    archive = read(write(release_entries()))
    with pytest.raises(ReleaseError, match="has no job 'nope'"):
        archive.job_archive("nope")
    with pytest.raises(ReleaseError, match="has no compiled package 'pkg'"):
        archive.compiled_package_archive("pkg")


# --- unsafe members -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (Entry("../evil", b"x"), r"'\.\./evil' that climbs out of the archive"),
        (Entry("jobs/../../evil", b"x"), r"'jobs/\.\./\.\./evil' that climbs out"),
        (Entry("/etc/evil", b"x"), r"'/etc/evil' that has an absolute path"),
        (
            Entry("jobs/web.tgz", kind=tarfile.SYMTYPE, linkname="/etc/passwd"),
            r"'jobs/web.tgz' that is a symbolic link to '/etc/passwd'",
        ),
        (
            Entry("LICENSE", kind=tarfile.LNKTYPE, linkname="release.MF"),
            r"'LICENSE' that is a hard link to 'release.MF'",
        ),
        (Entry("jobs/dev", kind=tarfile.CHRTYPE), r"'jobs/dev' that is a character device"),
        (Entry("disk", kind=tarfile.BLKTYPE), r"'disk' that is a block device"),
        (Entry("pipe", kind=tarfile.FIFOTYPE), r"'pipe' that is a fifo"),
        (Entry("bin/run", b"#!/bin/sh\n"), r"'bin/run' that is not part of a release"),
        (Entry("jobs/web", b"x"), r"'jobs/web' that is not part of a release"),
        (Entry("jobs/a/b.tgz", b"x"), r"'jobs/a/b.tgz' that is not part of a release"),
        (Entry("src/", kind=tarfile.DIRTYPE), r"'src' that is not part of a release"),
        (Entry("jobs/extra.tgz", b"x"), r"'jobs/extra.tgz' that is not listed in .*release.MF"),
        (Entry("jobs/web.tgz", job_tgz()), r"'jobs/web.tgz' that appears twice"),
    ],
    ids=lambda value: value.name if isinstance(value, Entry) else None,
)
def test_unsafe_or_foreign_members_are_refused(
    write: Callable[..., Path], tmp_path: Path, entry: Entry, problem: str
) -> None:
    path = write([*release_entries(), entry])
    with pytest.raises(
        ReleaseTarballError, match=f"^Release tarball '{re.escape(str(path))}' has member {problem}"
    ):
        read(path)
    assert not (tmp_path / "evil").exists()
    assert not Path("/etc/evil").exists()


def test_a_member_before_release_mf_that_it_does_not_list_is_refused(
    write: Callable[..., Path],
) -> None:
    manifest, *artifacts = release_entries()
    path = write([Entry("packages/other.tgz", b"x"), *artifacts, manifest])
    with pytest.raises(ReleaseTarballError, match=r"'packages/other.tgz' that is not listed"):
        read(path)


def test_existing_symlinks_in_the_target_are_not_written_through(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    path = write(release_entries())
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (tmp_path / "out" / "jobs").mkdir(parents=True)
    (tmp_path / "out" / "jobs" / "web.tgz").symlink_to(victim)
    with pytest.raises(OSError):
        read(path)
    assert victim.read_bytes() == b"keep"


# --- limits -------------------------------------------------------------------------------


def test_an_oversized_member_is_refused_before_it_is_read(write: Callable[..., Path]) -> None:
    path = write(release_entries())
    with pytest.raises(
        ReleaseTarballError, match=r"'jobs/web.tgz' that is \d+ bytes, more than the limit of 100"
    ):
        read(path, member_bytes=100)


def test_an_oversized_release_mf_is_refused(write: Callable[..., Path]) -> None:
    path = write(release_entries())
    with pytest.raises(
        ReleaseTarballError, match=r"'release.MF' that is \d+ bytes, more than the limit of 64"
    ):
        read(path, manifest_bytes=64)


def test_total_size_and_member_count_are_bounded(write: Callable[..., Path]) -> None:
    path = write(release_entries())
    with pytest.raises(ReleaseTarballError, match="holds more than 300 bytes, the limit"):
        read(path, total_bytes=300)
    with pytest.raises(ReleaseTarballError, match="has more than 2 members, the limit"):
        read(path, members=2)


# --- release.MF and digests ---------------------------------------------------------------


def test_missing_release_mf(write: Callable[..., Path]) -> None:
    path = write(release_entries()[1:])
    with pytest.raises(
        ReleaseTarballError, match=f"^Release tarball '{re.escape(str(path))}' has no release.MF"
    ):
        read(path)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"name: [unclosed\n", r"YAML in release.MF in release tarball '.*': line \d"),
        (b"name: a\nname: b\nversion: 1\n", "duplicate key 'name'"),
        (b"- a list\n", r"release.MF in release tarball"),
        (b"name: demo\nversion: 1\njobs: nope\n", r"\$\.jobs"),
    ],
)
def test_malformed_release_mf(write: Callable[..., Path], document: bytes, problem: str) -> None:
    path = write([Entry("release.MF", document)])
    with pytest.raises(ManifestError, match=problem):
        read(path)


def test_every_bad_reference_in_release_mf_is_named(write: Callable[..., Path]) -> None:
    entries = release_entries()
    manifest = serialization.load_yaml(entries[0].data)
    manifest["jobs"][0]["name"] = "../web"
    manifest["packages"][0]["sha1"] = "sha256:abc"
    manifest["packages"].append(dict(manifest["packages"][0], sha1=sha256(b"")))
    entries[0] = Entry("release.MF", serialization.dump_yaml(manifest).encode())
    with pytest.raises(ManifestError) as caught:
        read(write(entries))
    assert [problem.path for problem in caught.value.problems] == [
        "$.jobs[0].name",
        "$.packages[0].sha1",
        "$.packages[1].name",
    ]
    assert "'../web' is not a valid name" in str(caught.value)
    assert "Malformed sha256 digest 'abc'" in str(caught.value)
    assert "'pkg' is listed twice" in str(caught.value)


def test_a_listed_member_that_is_absent(write: Callable[..., Path]) -> None:
    path = write(release_entries()[:-1])
    with pytest.raises(
        ReleaseTarballError, match=r"lacks 'packages/pkg.tgz', listed in its release.MF"
    ):
        read(path)


def test_a_listed_license_that_is_absent(write: Callable[..., Path]) -> None:
    license_ref = {"version": "l1", "fingerprint": "l1", "sha1": sha256(b"")}
    path = write(release_entries(license=license_ref))
    with pytest.raises(ReleaseTarballError, match=r"lacks 'license.tgz'"):
        read(path)


@pytest.mark.parametrize("manifest_first", [True, False])
def test_a_digest_mismatch_names_the_member(
    write: Callable[..., Path], manifest_first: bool
) -> None:
    manifest, directory, job, package = release_entries()
    tampered = attrs.evolve(package, data=tar_bytes([Entry("./packaging", b"rm -rf /\n")]))
    order = [manifest, directory, job, tampered] if manifest_first else [tampered, job, manifest]
    path = write(order)
    with pytest.raises(
        DigestMismatchError,
        match=rf"member 'packages/pkg.tgz' of release tarball '{re.escape(str(path))}'"
        rf" to have digest '{sha256(PACKAGE_TGZ)}' but was '{sha256(tampered.data)}'",
    ):
        read(path)


# --- damaged files ------------------------------------------------------------------------


def test_not_a_tarball(tmp_path: Path) -> None:
    path = tmp_path / "release.tgz"
    path.write_bytes(b"PK\x03\x04 a zip file" + bytes(600))
    with pytest.raises(
        ReleaseTarballError, match=f"'{re.escape(str(path))}' is not gzip-compressed"
    ):
        read(path)


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "release.tgz"
    path.write_bytes(b"")
    with pytest.raises(ReleaseTarballError, match="is not gzip-compressed"):
        read(path)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"Cannot read release tarball .*: No such file"):
        read(tmp_path / "absent.tgz")


def zero_bytes_20_to_40(data: bytes) -> bytes:
    return data[:20] + bytes(20) + data[40:]


def flip_crc(data: bytes) -> bytes:
    return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]  # the gzip trailer's CRC32


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data: data[:-200], r"is truncated \(its gzip stream ends early\)"),
        (zero_bytes_20_to_40, r"is corrupted \(gzip: .*\)"),
        (flip_crc, r"is corrupted \(gzip: .*incorrect data check\)"),
        (lambda data: data + b"trailing garbage", r"is corrupted \(gzip: .*\)"),
    ],
    ids=["truncated", "corrupted", "wrong-crc", "trailing-garbage"],
)
def test_a_damaged_gzip_stream(
    write: Callable[..., Path], damage: Callable[[bytes], bytes], problem: str
) -> None:
    path = write(release_entries())
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(
        ReleaseTarballError, match=f"^Release tarball '{re.escape(str(path))}' {problem}"
    ):
        read(path)


def test_a_gzip_bomb_after_the_archive_is_not_inflated(tmp_path: Path) -> None:
    data = tar_bytes(release_entries(), compress=False) + bytes(8 << 20)
    path = tmp_path / "release.tgz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(ReleaseTarballError, match="more than 1048576 bytes after the end"):
        read(path)


def test_a_broken_tar_header(tmp_path: Path) -> None:
    data = bytearray(tar_bytes(release_entries(), compress=False))
    data[148:156] = b"9999999\x00"  # the first header's checksum
    path = tmp_path / "release.tgz"
    path.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(ReleaseTarballError, match="is corrupted or truncated"):
        read(path)


# --- job archives -------------------------------------------------------------------------


def with_job(write: Callable[..., Path], job: bytes) -> Path:
    artifacts = {"jobs/web.tgz": job}
    return write(
        [
            Entry("release.MF", serialization.dump_yaml(manifest_for(artifacts)).encode()),
            Entry("jobs/web.tgz", job),
        ]
    )


def test_job_specs_are_read(write: Callable[..., Path]) -> None:
    archive = read(with_job(write, job_tgz()))
    assert archive.job_specs == {"web": JobSpec(name="web", packages=("pkg",))}


@pytest.mark.parametrize(
    ("job", "problem"),
    [
        (
            tar_bytes([Entry("./monit", b"")]),
            r"'jobs/web.tgz' in release tarball '.*' has no job.MF",
        ),
        (job_tgz("db"), r"holds the job.MF of job 'db', not of 'web'"),
        (
            job_tgz("web", Entry("./job.MF", b"name: web\n")),
            r"member './job.MF' that appears twice",
        ),
        (job_tgz("web", Entry("../x", b"")), r"member '../x' that climbs out"),
        (
            job_tgz("web", Entry("./templates/a", kind=tarfile.SYMTYPE, linkname="../../x")),
            r"member './templates/a' that is a link to '../../x', outside the archive",
        ),
        (
            job_tgz("web", Entry("./a", kind=tarfile.SYMTYPE, linkname="/etc/shadow")),
            r"'./a' that is a link to the absolute path '/etc/shadow'",
        ),
        (
            job_tgz("web", Entry("./a", kind=tarfile.LNKTYPE, linkname="../x")),
            r"'./a' that is a link to '../x', outside",
        ),
        (
            job_tgz("web", Entry("./tty", kind=tarfile.CHRTYPE)),
            r"'./tty' that is a character device",
        ),
        (
            b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 20,
            r"^Job archive 'jobs/web.tgz' in release tarball '.*' is corrupted",
        ),
        (job_tgz()[:-30], r"^Job archive 'jobs/web.tgz' in release tarball '.*' is truncated"),
    ],
)
def test_bad_job_archives(write: Callable[..., Path], job: bytes, problem: str) -> None:
    with pytest.raises(ReleaseTarballError, match=problem):
        read(with_job(write, job))


def test_a_malformed_job_mf_names_the_job(write: Callable[..., Path]) -> None:
    job = tar_bytes([Entry("./job.MF", b"name: web\ntemplates: [a]\n")])
    with pytest.raises(
        ManifestError, match=r"job.MF of job 'web' in release tarball .*\$\.templates"
    ):
        read(with_job(write, job))


def test_what_a_job_archive_inflates_to_is_bounded(write: Callable[..., Path]) -> None:
    path = with_job(write, job_tgz("web", Entry("./big", bytes(100_000))))
    assert path.stat().st_size < 2000
    with pytest.raises(ReleaseTarballError, match=r"^Job archive .* holds more than 5000 bytes"):
        read(path, member_bytes=5000)
    with pytest.raises(ReleaseTarballError, match=r"^Job archive .* has more than 2 members"):
        read(path, members=2)


def test_links_inside_a_job_archive_are_allowed(write: Callable[..., Path]) -> None:
    job = job_tgz(
        "web",
        Entry("./templates/", kind=tarfile.DIRTYPE),
        Entry("./templates/a", kind=tarfile.SYMTYPE, linkname="../monit"),
        Entry("./b", kind=tarfile.LNKTYPE, linkname="./job.MF"),
    )
    assert read(with_job(write, job)).job_specs["web"].name == "web"


def test_release_manifest_model_is_what_the_tarball_lists(write: Callable[..., Path]) -> None:
    entries = release_entries()
    expected = serialization.structure(
        serialization.load_yaml(entries[0].data), ReleaseManifest, source="test"
    )
    assert read(write(entries)).manifest == expected
