"""Authoring a release directory: init-release, generate-job, generate-package, reset-release.

The skeletons are the reference CLI's, byte for byte, so a release started with either
tool looks the same and fingerprints the same.
"""

from __future__ import annotations

from pathlib import Path

from bosh_core.errors import ReleaseError
from bosh_core.release.blobs import BlobsDir
from bosh_core.release.config import save_release_name
from bosh_core.release.files import check_name, remove_path
from bosh_core.release.git import GitRepo

__all__ = [
    "BUILD_OUTPUTS",
    "generate_job",
    "generate_package",
    "init_release",
    "release_name_for",
    "reset_release",
]

# Everything create-release and sync-blobs make locally; reset-release removes it.
BUILD_OUTPUTS = (".dev_builds", "dev_releases", ".blobs", "blobs")

_JOB_SPEC = """\
---
name: {name}

templates: {{}}

packages: []

properties: {{}}
"""

_PACKAGE_SPEC = """\
---
name: {name}

dependencies: []

files: []
"""

_PACKAGING = "set -e\n"


def release_name_for(release_dir: Path) -> str:
    """The name init-release gives: the directory's name without a ``-release`` suffix."""
    return release_dir.absolute().name.removesuffix("-release")


def init_release(release_dir: Path, *, git: bool) -> None:
    """Make jobs/, packages/ and src/, name the release in config/final.yml and start
    config/blobs.yml; with `git`, make it a git repository with the release .gitignore.

    Rerunning it on a release directory keeps its blobs.yml (and .gitignore), so it only
    renames the release.
    """
    for name in ("jobs", "packages", "src"):
        _make_dirs(release_dir / name, what=f"{name}/")
    save_release_name(release_dir, release_name_for(release_dir))
    blobs = BlobsDir(release_dir)
    if not blobs.index_path.exists():
        try:
            blobs.init()
        except OSError as exc:
            raise ReleaseError(f"Initing blobs '{blobs.index_path}': {exc.strerror}") from None
    if git:
        GitRepo(release_dir).init()


def generate_job(release_dir: Path, name: str) -> None:
    """Make jobs/`name` with an empty spec, an empty monit file and templates/."""
    job_dir = _new_artifact_dir(release_dir, "jobs", name, kind="Job")
    _make_dirs(job_dir / "templates", what=f"job '{name}' templates dir")
    _write(job_dir / "spec", _JOB_SPEC.format(name=name), what=f"job '{name}' spec file")
    _write(job_dir / "monit", "", what=f"job '{name}' monit file")


def generate_package(release_dir: Path, name: str) -> None:
    """Make packages/`name` with an empty spec and a packaging script that stops on errors."""
    package_dir = _new_artifact_dir(release_dir, "packages", name, kind="Package")
    _write(
        package_dir / "spec", _PACKAGE_SPEC.format(name=name), what=f"package '{name}' spec file"
    )
    _write(package_dir / "packaging", _PACKAGING, what=f"package '{name}' packaging file")


def reset_release(release_dir: Path) -> None:
    """Remove dev builds, dev releases and local blob copies (final builds stay)."""
    for name in BUILD_OUTPUTS:
        try:
            remove_path(release_dir / name)
        except OSError as exc:
            raise ReleaseError(
                f"Removing {name}/ in '{release_dir}': {exc.strerror} ('{exc.filename}')"
            ) from None


def _new_artifact_dir(release_dir: Path, folder: str, name: str, *, kind: str) -> Path:
    check_name(name, kind=kind)
    directory = release_dir / folder / name
    if directory.exists() or directory.is_symlink():
        raise ReleaseError(f"{kind} '{name}' at '{directory}' already exists")
    _make_dirs(directory, what=f"{kind.lower()} '{name}' dir")
    return directory


def _make_dirs(path: Path, *, what: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReleaseError(f"Creating {what} '{path}': {exc.strerror}") from None


def _write(path: Path, text: str, *, what: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise ReleaseError(f"Creating {what} '{path}': {exc.strerror}") from None
