"""Archives of a release directory's files: a file edited mid-build fails the build."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bosh_core.errors import ReleaseError
from bosh_core.release.artifacts import staged_package_files, write_artifact
from bosh_core.release.source import PackageSource, read_release_source


def runtime(release_dir: Path) -> PackageSource:
    return {p.name: p for p in read_release_source(release_dir).packages}["runtime"]


def test_a_file_edited_after_fingerprinting_fails_the_archive(fixture_release: Path) -> None:
    package = runtime(fixture_release)
    notes = fixture_release / "src" / "runtime" / "NOTES"
    notes.write_text("edited\n")
    with (
        pytest.raises(ReleaseError, match=rf"^File '{notes}' changed while the release"),
        staged_package_files(package, fixture_release) as (files, expected),
    ):
        write_artifact(files, io.BytesIO(), expected=expected)


def test_with_pre_packaging_the_copy_is_checked_before_the_script_runs(
    fixture_release: Path,
) -> None:
    script = fixture_release / "packages" / "runtime" / "pre_packaging"
    script.write_text('touch "$BUILD_DIR/ran"\n')
    package = runtime(fixture_release)
    notes = fixture_release / "src" / "runtime" / "NOTES"
    notes.write_text("edited\n")
    with (
        pytest.raises(ReleaseError, match=rf"^File '{notes}' changed while the release"),
        staged_package_files(package, fixture_release),
    ):
        pass


def test_what_pre_packaging_leaves_is_archived_unchecked(fixture_release: Path) -> None:
    script = fixture_release / "packages" / "runtime" / "pre_packaging"
    script.write_text('echo more >> "$BUILD_DIR/runtime/NOTES"\n')
    package = runtime(fixture_release)
    with staged_package_files(package, fixture_release) as (files, expected):
        assert expected == {}
        assert sorted(f.name for f in files) == ["packaging", "runtime/NOTES", "runtime/run.sh"]
        staged_notes = next(f.path for f in files if f.name == "runtime/NOTES")
        assert staged_notes.read_text() == "runtime notes\nmore\n"
        write_artifact(files, io.BytesIO(), expected=expected)
