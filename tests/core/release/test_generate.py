from __future__ import annotations

from pathlib import Path

import pytest

from bosh_core import serialization
from bosh_core.errors import ReleaseError
from bosh_core.models.release import JobSpec, PackageSpec
from bosh_core.release.config import load_release_config
from bosh_core.release.generate import (
    generate_job,
    generate_package,
    init_release,
    release_name_for,
    reset_release,
)
from bosh_core.release.source import read_release_source

# The reference CLI's skeletons (releasedir/fs_generator.go), written out here on purpose:
# comparing against the module's own constants would not catch a changed byte.
REFERENCE_JOB_SPEC = "---\nname: web\n\ntemplates: {}\n\npackages: []\n\nproperties: {}\n"
REFERENCE_PACKAGE_SPEC = "---\nname: runtime\n\ndependencies: []\n\nfiles: []\n"


def tree(root: Path) -> list[str]:
    return sorted(
        str(path.relative_to(root)) + ("/" if path.is_dir() else "")
        for path in root.rglob("*")
        if ".git" not in path.relative_to(root).parts
    )


@pytest.fixture
def release_dir(tmp_path: Path) -> Path:
    return tmp_path / "hello-release"


def test_init_release_lays_out_the_reference_directories(release_dir: Path) -> None:
    init_release(release_dir, git=False)

    assert tree(release_dir) == [
        "config/",
        "config/blobs.yml",
        "config/final.yml",
        "jobs/",
        "packages/",
        "src/",
    ]
    assert (release_dir / "config" / "final.yml").read_text() == "name: hello\n"
    assert (release_dir / "config" / "blobs.yml").read_text() == "--- {}\n"
    assert load_release_config(release_dir).release_name() == "hello"


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("cf-release", "cf"),
        ("release-tools", "release-tools"),
        ("plain", "plain"),
        ("a-release-release", "a-release"),
    ],
)
def test_release_name_drops_only_a_trailing_release(
    tmp_path: Path, directory: str, expected: str
) -> None:
    assert release_name_for(tmp_path / directory) == expected


def test_release_name_of_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dns-release").mkdir()
    monkeypatch.chdir(tmp_path / "dns-release")
    assert release_name_for(Path()) == "dns"


def test_init_release_again_renames_and_keeps_blobs_and_blobstore(release_dir: Path) -> None:
    config = release_dir / "config"
    config.mkdir(parents=True)
    (config / "final.yml").write_text(
        "---\nfinal_name: old\nblobstore:\n  provider: local\n"
        "  options:\n    blobstore_path: /tmp/blobs\n"
    )
    blobs_yml = "---\nlib.tgz:\n  size: 3\n  sha: abc\n"
    (config / "blobs.yml").write_text(blobs_yml)

    init_release(release_dir, git=False)

    assert (config / "final.yml").read_text() == (
        "name: hello\nblobstore:\n  provider: local\n  options:\n    blobstore_path: /tmp/blobs\n"
    )
    assert (config / "blobs.yml").read_text() == blobs_yml


def test_init_release_with_git(release_dir: Path) -> None:
    init_release(release_dir, git=True)

    assert (release_dir / ".git").is_dir()
    assert (release_dir / ".gitignore").read_text() == (
        "config/private.yml\nblobs\ndev_releases\nreleases/*.tgz\nreleases/**/*.tgz\n"
        ".dev_builds\n.final_builds/jobs/**/*.tgz\n.final_builds/packages/**/*.tgz\n"
        ".DS_Store\n.idea\n*.swp\n*~\n*#\n#*\n"
    )


def test_init_release_keeps_an_existing_gitignore(release_dir: Path) -> None:
    release_dir.mkdir()
    (release_dir / ".gitignore").write_text("mine\n")
    init_release(release_dir, git=True)
    assert (release_dir / ".gitignore").read_text() == "mine\n"


def test_init_release_where_a_file_is_in_the_way(release_dir: Path) -> None:
    release_dir.mkdir()
    (release_dir / "src").write_text("not a directory")
    with pytest.raises(ReleaseError, match=r"Creating src/ '.*hello-release/src': File exists"):
        init_release(release_dir, git=False)


def test_generate_job_writes_the_reference_skeleton(release_dir: Path) -> None:
    init_release(release_dir, git=False)
    generate_job(release_dir, "web")

    job = release_dir / "jobs" / "web"
    assert tree(job) == ["monit", "spec", "templates/"]
    assert (job / "spec").read_text() == REFERENCE_JOB_SPEC
    assert (job / "monit").read_bytes() == b""
    spec = serialization.structure(
        serialization.load_yaml((job / "spec").read_bytes(), source="spec"), JobSpec, source="spec"
    )
    assert spec == JobSpec(name="web")


def test_generate_package_writes_the_reference_skeleton(release_dir: Path) -> None:
    init_release(release_dir, git=False)
    generate_package(release_dir, "runtime")

    package = release_dir / "packages" / "runtime"
    assert tree(package) == ["packaging", "spec"]
    assert (package / "spec").read_text() == REFERENCE_PACKAGE_SPEC
    assert (package / "packaging").read_text() == "set -e\n"
    spec = serialization.structure(
        serialization.load_yaml((package / "spec").read_bytes(), source="spec"),
        PackageSpec,
        source="spec",
    )
    assert spec == PackageSpec(name="runtime")


def test_generated_skeletons_make_a_buildable_release(release_dir: Path) -> None:
    init_release(release_dir, git=False)
    generate_job(release_dir, "web")
    generate_package(release_dir, "runtime")

    source = read_release_source(release_dir)

    assert [job.name for job in source.jobs] == ["web"]
    assert [package.name for package in source.packages] == ["runtime"]


def test_generate_job_outside_an_initialised_release_creates_jobs(tmp_path: Path) -> None:
    generate_job(tmp_path, "web")
    assert (tmp_path / "jobs" / "web" / "spec").is_file()


@pytest.mark.parametrize(
    ("generate", "folder", "kind"),
    [(generate_job, "jobs", "Job"), (generate_package, "packages", "Package")],
)
def test_generating_an_existing_artifact_fails_untouched(
    release_dir: Path, generate: object, folder: str, kind: str
) -> None:
    assert callable(generate)
    existing = release_dir / folder / "web"
    existing.mkdir(parents=True)
    (existing / "spec").write_text("mine\n")

    with pytest.raises(ReleaseError) as caught:
        generate(release_dir, "web")

    assert str(caught.value) == f"{kind} 'web' at '{existing}' already exists"
    assert [path.name for path in existing.iterdir()] == ["spec"]
    assert (existing / "spec").read_text() == "mine\n"


def test_a_dangling_symlink_counts_as_existing(release_dir: Path) -> None:
    (release_dir / "jobs").mkdir(parents=True)
    (release_dir / "jobs" / "web").symlink_to(release_dir / "missing")
    with pytest.raises(ReleaseError, match=r"Job 'web' at .* already exists"):
        generate_job(release_dir, "web")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        ("  ", "it is empty"),
        (".", "it names a directory"),
        ("..", "it names a directory"),
        ("a/b", "path separator"),
        ("../escape", "path separator"),
        ("a\\b", "path separator"),
        ("a\0b", "NUL"),
        (" web", "whitespace"),
    ],
)
@pytest.mark.parametrize("generate", [generate_job, generate_package])
def test_invalid_names_are_refused_before_anything_is_written(
    release_dir: Path, name: str, problem: str, generate: object
) -> None:
    assert callable(generate)
    release_dir.mkdir()
    with pytest.raises(ReleaseError, match=problem) as caught:
        generate(release_dir, name)
    assert "is not valid" in str(caught.value)
    assert list(release_dir.iterdir()) == []


def test_reset_release_removes_only_local_build_state(release_dir: Path, tmp_path: Path) -> None:
    init_release(release_dir, git=False)
    generate_job(release_dir, "web")
    for name in (".dev_builds/jobs/web", "dev_releases/hello", ".blobs", "blobs/lib"):
        (release_dir / name).mkdir(parents=True)
        (release_dir / name / "file").write_text("x")
    for name in (".final_builds/jobs/web", "releases/hello"):
        (release_dir / name).mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (release_dir / ".blobs").rename(tmp_path / "old-blobs")
    (release_dir / ".blobs").symlink_to(outside)

    reset_release(release_dir)

    assert tree(release_dir) == [
        ".final_builds/",
        ".final_builds/jobs/",
        ".final_builds/jobs/web/",
        "config/",
        "config/blobs.yml",
        "config/final.yml",
        "jobs/",
        "jobs/web/",
        "jobs/web/monit",
        "jobs/web/spec",
        "jobs/web/templates/",
        "packages/",
        "releases/",
        "releases/hello/",
        "src/",
    ]
    assert (outside / "keep").exists(), "a symlinked .blobs is unlinked, not followed"


def test_reset_release_of_a_clean_directory_is_a_no_op(release_dir: Path) -> None:
    init_release(release_dir, git=False)
    reset_release(release_dir)
    reset_release(release_dir)
    assert (release_dir / "config" / "final.yml").exists()


def test_generate_job_where_jobs_is_a_file(release_dir: Path) -> None:
    release_dir.mkdir()
    (release_dir / "jobs").write_text("not a directory")
    with pytest.raises(ReleaseError, match=r"Creating job 'web' dir '.*jobs/web': Not a directory"):
        generate_job(release_dir, "web")
