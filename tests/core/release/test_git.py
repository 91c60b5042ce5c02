from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bosh_core.errors import ReleaseError
from bosh_core.release.git import GitRepo

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def git_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Commits need an identity (HOME is empty), and repository discovery must stop at
    # tmp_path so a checkout around the temporary directory cannot change the answers.
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def git(directory: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=directory, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    directory = tmp_path / "repo"
    GitRepo(directory).init()
    (directory / "README").write_text("hello\n")
    git(directory, "add", ".")
    git(directory, "commit", "-q", "-m", "first")
    return directory


def test_init_makes_a_repository_that_ignores_build_outputs(tmp_path: Path) -> None:
    directory = tmp_path / "new-release"
    GitRepo(directory).init()
    for path in (
        "dev_releases/x/x-0+dev.1.yml",
        ".dev_builds/jobs/a/b.tgz",
        "blobs/lib.tgz",
        "config/private.yml",
        "releases/x/x-1.tgz",
        ".final_builds/jobs/a/b.tgz",
        "jobs/a/spec~",
        "config/final.yml",
        "releases/x/x-1.yml",
    ):
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text("x")

    untracked = git(directory, "status", "--porcelain=1", "-uall").splitlines()

    assert sorted(untracked) == [
        "?? .gitignore",
        "?? config/final.yml",
        "?? releases/x/x-1.yml",
    ]


def test_last_commit_sha_is_the_short_head(repo: Path) -> None:
    expected = git(repo, "rev-parse", "--short", "HEAD").strip()
    assert GitRepo(repo).last_commit_sha() == expected
    assert len(expected) >= 7


def test_last_commit_sha_from_a_subdirectory_of_the_repository(repo: Path) -> None:
    (repo / "sub-release").mkdir()
    assert GitRepo(repo / "sub-release").last_commit_sha() == GitRepo(repo).last_commit_sha()


def test_outside_git(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert GitRepo(plain).last_commit_sha() == "non-git"
    assert GitRepo(plain).must_not_be_dirty(force=False) is False


def test_missing_directory_is_not_a_repository(tmp_path: Path) -> None:
    assert GitRepo(tmp_path / "missing").last_commit_sha() == "non-git"


def test_repository_without_commits_is_empty(tmp_path: Path) -> None:
    GitRepo(tmp_path / "fresh").init()
    assert GitRepo(tmp_path / "fresh").last_commit_sha() == "empty"


def test_clean_repository(repo: Path) -> None:
    assert GitRepo(repo).must_not_be_dirty(force=False) is False


@pytest.mark.parametrize("change", ["modified", "untracked", "staged"])
def test_local_modifications_are_refused_unless_forced(repo: Path, change: str) -> None:
    if change == "modified":
        (repo / "README").write_text("changed\n")
    else:
        (repo / "new").write_text("x")
        if change == "staged":
            git(repo, "add", "new")
    status = git(repo, "status", "--porcelain=1").strip()

    with pytest.raises(ReleaseError) as caught:
        GitRepo(repo).must_not_be_dirty(force=False)
    assert str(caught.value).startswith(
        f"Git repository has local modifications:\n\n{status}\n\nCommit them, or pass --force"
    )
    assert GitRepo(repo).must_not_be_dirty(force=True) is True


def test_ignored_files_do_not_make_it_dirty(repo: Path) -> None:
    (repo / "dev_releases").mkdir()
    (repo / "dev_releases" / "index.yml").write_text("x")
    assert GitRepo(repo).must_not_be_dirty(force=False) is False


def test_without_git_on_path(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))

    assert GitRepo(plain).last_commit_sha() == "non-git"
    assert GitRepo(plain).must_not_be_dirty(force=True) is False
    with pytest.raises(ReleaseError, match=r"could not run 'git rev-parse --short HEAD'; install"):
        GitRepo(repo).last_commit_sha()
    with pytest.raises(ReleaseError, match=r"Initing git repo in .*install git"):
        GitRepo(tmp_path / "new").init()


def test_a_broken_repository_is_an_error_not_non_git(repo: Path) -> None:
    (repo / ".git" / "HEAD").write_text("garbage\n")
    with pytest.raises(ReleaseError, match=r"Checking status of .*'git status --porcelain=1'"):
        GitRepo(repo).must_not_be_dirty(force=True)
