"""init-release, generate-job, generate-package and reset-release, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bosh_core.release.generate import init_release
from tests.cli.conftest import RunBosh

# The reference's skeletons, spelled out once in the core's tests.
from tests.core.release.test_generate import REFERENCE_JOB_SPEC, REFERENCE_PACKAGE_SPEC, tree


@pytest.fixture
def release(tmp_path: Path, bosh: RunBosh) -> Path:
    directory = tmp_path / "zookeeper-release"
    assert bosh("init-release", "--dir", directory).exit_code == 0
    return directory


def test_init_release_lays_out_a_release_named_after_its_directory(
    tmp_path: Path, bosh: RunBosh
) -> None:
    directory = tmp_path / "zookeeper-release"

    result = bosh("--tty", "init-release", "--dir", directory)

    assert (result.exit_code, result.stdout, result.stderr) == (0, "Succeeded\n", "")
    made_by_the_library = tmp_path / "library" / "zookeeper-release"
    init_release(made_by_the_library, git=False)
    assert tree(directory) == tree(made_by_the_library)
    assert (directory / "config" / "final.yml").read_text() == "name: zookeeper\n"
    assert not (directory / ".git").exists()


def test_init_release_defaults_to_the_current_directory(tmp_path: Path, bosh: RunBosh) -> None:
    directory = tmp_path / "dns"
    directory.mkdir()

    assert bosh("init-release", cwd=directory).exit_code == 0

    assert (directory / "config" / "final.yml").read_text() == "name: dns\n"
    assert (directory / "jobs").is_dir()


# What the reference CLI writes (releasedir/git_repo.go), spelled out to catch any drift.
REFERENCE_GITIGNORE = """\
config/private.yml
blobs
dev_releases
releases/*.tgz
releases/**/*.tgz
.dev_builds
.final_builds/jobs/**/*.tgz
.final_builds/packages/**/*.tgz
.DS_Store
.idea
*.swp
*~
*#
#*
"""


def test_init_release_git_makes_a_repository_that_ignores_build_outputs(
    tmp_path: Path, bosh: RunBosh
) -> None:
    directory = tmp_path / "zookeeper-release"

    result = bosh("init-release", "--git", "--dir", directory)

    assert result.exit_code == 0, result.stderr
    assert (directory / ".gitignore").read_text() == REFERENCE_GITIGNORE
    (directory / "blobs").mkdir()
    (directory / "blobs" / "big.tgz").write_bytes(b"blob")
    (directory / "dev_releases").mkdir()
    (directory / "dev_releases" / "index.yml").write_text("builds: {}\n")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sorted(line[3:] for line in status.splitlines()) == [
        ".gitignore",
        "config/blobs.yml",
        "config/final.yml",
    ]


def test_init_release_again_keeps_tracked_blobs(release: Path, bosh: RunBosh) -> None:
    blobs_index = release / "config" / "blobs.yml"
    blobs_index.write_text("a.tgz:\n  size: 1\n  sha: sha256:aa\n")

    assert bosh("init-release", "--dir", release).exit_code == 0

    assert blobs_index.read_text() == "a.tgz:\n  size: 1\n  sha: sha256:aa\n"


def test_init_release_with_a_broken_final_yml_says_which_file(release: Path, bosh: RunBosh) -> None:
    (release / "config" / "final.yml").write_text("name: [zookeeper\n")

    result = bosh("init-release", "--dir", release)

    assert result.exit_code == 1
    assert str(release / "config" / "final.yml") in result.stderr
    assert "line 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_job_writes_the_reference_skeleton(release: Path, bosh: RunBosh) -> None:
    result = bosh("--tty", "generate-job", "web", "--dir", release)

    assert (result.exit_code, result.stdout, result.stderr) == (0, "Succeeded\n", "")
    job = release / "jobs" / "web"
    assert tree(job) == ["monit", "spec", "templates/"]
    assert (job / "spec").read_text() == REFERENCE_JOB_SPEC
    assert (job / "monit").read_text() == ""


def test_generate_package_writes_the_reference_skeleton(release: Path, bosh: RunBosh) -> None:
    result = bosh("generate-package", "runtime", cwd=release)

    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    package = release / "packages" / "runtime"
    assert tree(package) == ["packaging", "spec"]
    assert (package / "spec").read_text() == REFERENCE_PACKAGE_SPEC
    assert (package / "packaging").read_text() == "set -e\n"


@pytest.mark.parametrize(
    ("command", "folder", "kind"),
    [("generate-job", "jobs", "Job"), ("generate-package", "packages", "Package")],
)
def test_generating_an_existing_one_fails_and_keeps_it(
    release: Path, bosh: RunBosh, command: str, folder: str, kind: str
) -> None:
    existing = release / folder / "web"
    existing.mkdir()
    (existing / "spec").write_text("mine")

    result = bosh("--tty", command, "web", "--dir", release)

    assert result.exit_code == 1
    assert result.stdout == "\n"  # the TTY's blank line between the two error lines
    assert result.stderr == f"{kind} 'web' at '{existing}' already exists\nExit code 1\n"
    assert (existing / "spec").read_text() == "mine"


@pytest.mark.parametrize("command", ["generate-job", "generate-package"])
@pytest.mark.parametrize("name", ["../escape", "a/b", ".."])
def test_a_name_must_be_one_directory_name(
    release: Path, bosh: RunBosh, command: str, name: str
) -> None:
    result = bosh(command, name, "--dir", release)

    assert result.exit_code == 1
    assert f"name '{name}' is not valid" in result.stderr
    assert not (release.parent / "escape").exists()
    assert tree(release / "jobs") == tree(release / "packages") == []


@pytest.mark.parametrize("command", ["generate-job", "generate-package"])
def test_the_name_is_required(release: Path, bosh: RunBosh, command: str) -> None:
    result = bosh(command, "--dir", release)

    assert result.exit_code == 1
    assert "Missing argument 'NAME'" in result.stderr


def test_reset_release_removes_dev_builds_and_blob_copies_only(
    release: Path, bosh: RunBosh
) -> None:
    for output in [".dev_builds/jobs/web", "dev_releases/zookeeper", ".blobs", "blobs/go"]:
        (release / output).mkdir(parents=True)
        (release / output / "file").write_text("built")
    for kept in [".final_builds/jobs/web", "releases/zookeeper"]:
        (release / kept).mkdir(parents=True)
        (release / kept / "index.yml").write_text("builds: {}\n")
    before = tree(release)

    result = bosh("--tty", "reset-release", "--dir", release)

    assert (result.exit_code, result.stdout) == (0, "Succeeded\n")
    assert tree(release) == [
        entry
        for entry in before
        if not entry.startswith((".dev_builds", "dev_releases", ".blobs", "blobs"))
    ]
    assert (release / ".final_builds" / "jobs" / "web" / "index.yml").exists()


def test_reset_release_of_a_clean_release_succeeds(release: Path, bosh: RunBosh) -> None:
    before = tree(release)

    assert bosh("reset-release", "--dir", release).exit_code == 0
    assert tree(release) == before


def test_errors_are_json_lines_with_json(release: Path, bosh: RunBosh) -> None:
    assert bosh("generate-job", "web", "--dir", release).exit_code == 0

    result = bosh("--json", "generate-job", "web", "--dir", release)

    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "Tables": None,
        "Blocks": None,
        "Lines": [f"Job 'web' at '{release / 'jobs' / 'web'}' already exists", "Exit code 1"],
    }


@pytest.mark.parametrize(
    ("command", "short_help", "flags"),
    [
        ("init-release", "Initialize release", ["--dir", "--git"]),
        ("reset-release", "Reset release", ["--dir"]),
        ("generate-job", "Generate job", ["--dir"]),
        ("generate-package", "Generate package", ["--dir"]),
    ],
)
def test_help_lists_the_reference_flags(
    bosh: RunBosh, command: str, short_help: str, flags: list[str]
) -> None:
    listing = bosh("--help").stdout
    assert any(line.split() == [command, *short_help.split()] for line in listing.splitlines())

    result = bosh(command, "--help")

    assert result.exit_code == 0
    for flag in flags:
        assert flag in result.stdout
    assert "Release directory path if not current working directory" in result.stdout


def test_a_generated_release_builds(release: Path, bosh: RunBosh) -> None:
    """The skeletons are a valid release as they are (the reference's are)."""
    for command in (("generate-package", "runtime"), ("generate-job", "web")):
        assert bosh(*command, "--dir", release).exit_code == 0

    result = bosh("create-release", "--dir", release, "--force")

    assert result.exit_code == 0, result.stderr
    assert (release / "dev_releases" / "zookeeper" / "zookeeper-0+dev.1.yml").is_file()


def test_runs_as_a_module_in_a_subprocess(tmp_path: Path) -> None:
    directory = tmp_path / "nats-release"
    environment = {**os.environ, "HOME": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-m", "bosh_cli", "--tty", "init-release", "--dir", str(directory)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "Succeeded\n", "")
    assert (directory / "config" / "final.yml").read_text() == "name: nats\n"
