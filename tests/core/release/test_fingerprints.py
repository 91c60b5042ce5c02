"""Fingerprints must equal the reference CLI's, read from the recorded conformance vectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bosh_core import serialization
from bosh_core.errors import ReleaseError
from bosh_core.release.source import SourceFile, fingerprint, read_release_source


def _expected(conformance_dir: Path) -> dict[str, object]:
    path = conformance_dir / "release-fingerprints" / "expected-dev-release.yml"
    document = serialization.load_yaml(path.read_bytes(), source=str(path))
    assert isinstance(document, dict)
    return document


def test_every_reference_fingerprint_of_the_fixture(conformance_dir: Path) -> None:
    expected = _expected(conformance_dir)
    source = read_release_source(conformance_dir / "release-fingerprints" / "fixture-release")

    jobs = {job.name: job.fingerprint for job in source.jobs}
    packages = {package.name: package.fingerprint for package in source.packages}
    expected_jobs = {job["name"]: job["fingerprint"] for job in expected["jobs"]}  # type: ignore[attr-defined]
    expected_packages = {p["name"]: p["fingerprint"] for p in expected["packages"]}  # type: ignore[attr-defined]
    assert jobs == expected_jobs
    assert packages == expected_packages
    for job in expected["jobs"]:  # type: ignore[attr-defined]
        assert job["version"] == job["fingerprint"]


def test_a_run_bit_changes_the_fingerprint(fixture_release: Path) -> None:
    before = read_release_source(fixture_release).packages[0].fingerprint
    note = fixture_release / "src" / "runtime" / "NOTES"
    note.chmod(0o755)
    assert read_release_source(fixture_release).packages[0].fingerprint != before
    note.chmod(0o644)
    assert read_release_source(fixture_release).packages[0].fingerprint == before


def test_read_and_write_bits_do_not_matter(fixture_release: Path) -> None:
    before = read_release_source(fixture_release).jobs[0].fingerprint
    (fixture_release / "jobs" / "web" / "monit").chmod(0o600)
    assert read_release_source(fixture_release).jobs[0].fingerprint == before


def test_packaging_mode_is_not_part_of_the_fingerprint(fixture_release: Path) -> None:
    before = read_release_source(fixture_release).packages[0].fingerprint
    (fixture_release / "packages" / "runtime" / "packaging").chmod(0o755)
    assert read_release_source(fixture_release).packages[0].fingerprint == before


def test_dependency_order_does_not_matter(tmp_path: Path) -> None:
    file = tmp_path / "packaging"
    file.write_text("true\n")
    files = [SourceFile(file, "packaging", include_mode=False)]
    assert fingerprint(files, ["b", "a"])[0] == fingerprint(files, ["a", "b"])[0]
    assert fingerprint(files, ["a"])[0] != fingerprint(files, [])[0]


def test_package_symlinks_are_fingerprinted_by_target(fixture_release: Path) -> None:
    before = {p.name: p.fingerprint for p in read_release_source(fixture_release).packages}
    (fixture_release / "src" / "runtime" / "alias.sh").symlink_to("run.sh")
    after = {p.name: p.fingerprint for p in read_release_source(fixture_release).packages}
    assert after["runtime"] != before["runtime"]
    (fixture_release / "src" / "runtime" / "alias.sh").unlink()
    (fixture_release / "src" / "runtime" / "alias.sh").symlink_to("NOTES")
    assert {p.name: p.fingerprint for p in read_release_source(fixture_release).packages} not in (
        before,
        after,
    )


def test_every_problem_is_reported_at_once(fixture_release: Path) -> None:
    (fixture_release / "packages" / "webapp" / "spec").write_text(
        "---\nname: webapp\ndependencies: [runtime]\nfiles: [nothing/*]\n"
    )
    (fixture_release / "jobs" / "worker" / "spec").write_text(
        "---\nname: worker\ntemplates: {}\npackages: [ghost]\n"
    )
    (fixture_release / "jobs" / "web" / "spec").write_text("name: [unclosed\n")
    with pytest.raises(ReleaseError) as error:
        read_release_source(fixture_release)
    message = str(error.value)
    assert "Missing files for pattern 'nothing/*'" in message
    assert "Expected to find package 'ghost' since it's a dependency of job 'worker'" in message
    assert "jobs/web/spec: line 2, column 1" in message


def test_job_directory_must_match_its_name(fixture_release: Path) -> None:
    (fixture_release / "jobs" / "worker").rename(fixture_release / "jobs" / "other")
    with pytest.raises(
        ReleaseError, match="Job directory 'other' does not match job name 'worker'"
    ):
        read_release_source(fixture_release)


def test_patterns_may_not_leave_the_release(fixture_release: Path) -> None:
    (fixture_release / "packages" / "runtime" / "spec").write_text(
        "---\nname: runtime\nfiles: [../config/final.yml]\n"
    )
    with pytest.raises(ReleaseError, match="must stay inside src/ and blobs/"):
        read_release_source(fixture_release)
