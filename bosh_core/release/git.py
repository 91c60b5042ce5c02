"""The git facts a release records: the commit it was built from and local modifications.

A release directory need not be a git repository: the commit is then ``non-git`` and the
directory is never dirty, as with the reference CLI. Git runs as a subprocess (the
user's own git, with their configuration), so every answer matches what ``git`` prints.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bosh_core.errors import ReleaseError

__all__ = ["GITIGNORE", "GitRepo"]

# What `init-release --git` ignores: credentials, blob contents and every build output.
GITIGNORE = """\
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

_STATUS = ("status", "--porcelain=1")
_SHORT_HEAD = ("rev-parse", "--short", "HEAD")


class GitRepo:
    """The git repository (if any) that holds a release directory."""

    def __init__(self, release_dir: Path) -> None:
        self.release_dir = release_dir

    def init(self) -> None:
        """``git init`` the release directory and give it the release .gitignore.

        An existing .gitignore is kept: it may hold the user's own entries.
        """
        arguments = ("init", str(self.release_dir))
        result = _run(arguments, cwd=None)
        if result is None or result.returncode != 0:
            raise _failure(f"Initing git repo in '{self.release_dir}'", arguments, result)
        ignore = self.release_dir / ".gitignore"
        if ignore.exists():
            return
        try:
            ignore.write_text(GITIGNORE)
        except OSError as exc:
            raise ReleaseError(f"Creating .gitignore file '{ignore}': {exc.strerror}") from None

    def last_commit_sha(self) -> str:
        """HEAD's short sha; ``non-git`` outside a repository, ``empty`` before a commit."""
        result = self._git(_SHORT_HEAD)
        if result is not None and result.returncode == 0:
            return result.stdout.strip()
        if not self._in_repository():
            return "non-git"
        if result is not None and "Needed a single revision" in result.stderr:
            return "empty"
        raise _failure(f"Checking last commit SHA of '{self.release_dir}'", _SHORT_HEAD, result)

    def must_not_be_dirty(self, *, force: bool) -> bool:
        """Refuse local modifications unless `force`; return whether there are any.

        Modifications are what ``git status`` lists: changed, staged or untracked paths,
        not ignored files. Outside a repository nothing is modified.
        """
        modifications = self._local_modifications()
        if modifications and not force:
            raise ReleaseError(
                f"Git repository has local modifications:\n\n{modifications}\n\n"
                "Commit them, or pass --force to build from the working tree as it is."
            )
        return bool(modifications)

    def _local_modifications(self) -> str:
        """``git status --porcelain=1`` without its trailing newline."""
        result = self._git(_STATUS)
        if result is not None and result.returncode == 0:
            return result.stdout.strip()
        if not self._in_repository():
            return ""
        raise _failure(f"Checking status of '{self.release_dir}'", _STATUS, result)

    def _in_repository(self) -> bool:
        """A .git here, or a repository above that git itself finds."""
        if (self.release_dir / ".git").exists():
            return True
        result = self._git(("rev-parse", "--git-dir"))
        return result is not None and result.returncode == 0

    def _git(self, arguments: tuple[str, ...]) -> subprocess.CompletedProcess[str] | None:
        return _run(arguments, cwd=self.release_dir)


def _run(
    arguments: tuple[str, ...], *, cwd: Path | None
) -> subprocess.CompletedProcess[str] | None:
    """Run git; None when it cannot start (git not installed, or `cwd` missing)."""
    try:
        return subprocess.run(
            ["git", *arguments],
            cwd=cwd,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except OSError:
        return None


def _failure(
    action: str,
    arguments: tuple[str, ...],
    result: subprocess.CompletedProcess[str] | None,
) -> ReleaseError:
    command = " ".join(("git", *arguments))
    if result is None:
        return ReleaseError(
            f"{action}: could not run '{command}'; install git and make sure it is on PATH"
        )
    detail = result.stderr.strip() or result.stdout.strip() or "no output"
    return ReleaseError(f"{action}: '{command}' exited with status {result.returncode}: {detail}")
