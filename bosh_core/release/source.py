"""Jobs, packages and the license of a release directory, with their fingerprints.

A fingerprint is the reference CLI's "v2" digest: the sha256 of ``"v2"`` followed, for
each file in order of its archive name, by that name, the file's digest string and its
git-like mode (``100644``, ``100755``, ``symlink``; none for a package's ``packaging``
and ``pre_packaging`` or the license files), then the package's sorted dependency names
joined by commas. Jobs follow symlinks; packages archive them as links.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import attrs

from bosh_core import serialization
from bosh_core.digest import Digest, file_digest
from bosh_core.errors import BoshError, ReleaseError
from bosh_core.models.release import JobSpec, PackageLock, PackageSpec
from bosh_core.release.glob import recursive_glob

__all__ = [
    "JobSource",
    "LicenseSource",
    "PackageSource",
    "ReleaseSource",
    "SourceFile",
    "fingerprint",
    "no_compression_packages",
    "read_release_source",
]


@attrs.frozen
class SourceFile:
    """One file of an artifact: where it is on disk and its name inside the archive."""

    path: Path
    name: str
    include_mode: bool = True
    follow_symlinks: bool = True

    def is_link(self) -> bool:
        return not self.follow_symlinks and self.path.is_symlink()

    def archive_mode(self) -> int:
        """0755 when anyone may run it, else 0644 (git's view of modes, as in the fingerprint)."""
        return 0o755 if self.path.stat().st_mode & 0o111 else 0o644

    def fingerprint_chunk(self) -> tuple[str, Digest | None]:
        """The file's part of the fingerprint, and its content digest (None for a link)."""
        info = os.lstat(self.path)
        content: Digest | None = None
        if self.is_link():
            digest = Digest.of_bytes(str(self.path.readlink()).encode())
            mode = "symlink"
        else:
            content = digest = file_digest(self.path)
            target_mode = self.path.stat().st_mode if stat.S_ISLNK(info.st_mode) else info.st_mode
            mode = "100755" if target_mode & 0o111 else "100644"
        chunk = self.name + str(digest)
        return (chunk + mode if self.include_mode else chunk), content


def fingerprint(
    files: Iterable[SourceFile], extra_chunks: Sequence[str] = ()
) -> tuple[str, dict[str, Digest]]:
    """The artifact fingerprint, and each regular file's content digest by archive name."""
    chunks = ["v2"]
    contents: dict[str, Digest] = {}
    for source in sorted(files, key=lambda f: f.name):
        try:
            chunk, content = source.fingerprint_chunk()
        except OSError as exc:
            raise ReleaseError(f"Cannot read '{source.path}': {exc.strerror}") from None
        chunks.append(chunk)
        if content is not None:
            contents[source.name] = content
    if extra_chunks:
        chunks.append(",".join(sorted(extra_chunks)))
    return hashlib.sha256("".join(chunks).encode()).hexdigest(), contents


@attrs.frozen
class JobSource:
    name: str
    spec: JobSpec
    files: tuple[SourceFile, ...]
    fingerprint: str
    content_digests: dict[str, Digest]


@attrs.frozen
class PackageSource:
    name: str
    dependencies: tuple[str, ...]
    fingerprint: str
    files: tuple[SourceFile, ...] = ()
    pre_packaging: SourceFile | None = None
    content_digests: dict[str, Digest] = attrs.field(factory=dict)
    no_compression: bool = False
    vendored: bool = False  # a spec.lock: the archive must come from the final builds


@attrs.frozen
class LicenseSource:
    files: tuple[SourceFile, ...]
    fingerprint: str
    content_digests: dict[str, Digest]


@attrs.frozen
class ReleaseSource:
    jobs: tuple[JobSource, ...]
    packages: tuple[PackageSource, ...]
    license: LicenseSource | None


Loaded = TypeVar("Loaded")


def _load(path: Path, cls: type[Loaded]) -> Loaded:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ReleaseError(f"Cannot read '{path}': {exc.strerror}") from None
    return serialization.load_yaml_as(text, cls, source=str(path))


def _read_job(job_dir: Path) -> JobSource:
    spec_path = job_dir / "spec"
    spec = _load(spec_path, JobSpec)
    if job_dir.name != spec.name:
        raise ReleaseError(
            f"Job directory '{job_dir.name}' does not match job name '{spec.name}'"
            f" in spec '{spec_path}'"
        )
    files = [SourceFile(spec_path, "job.MF")]
    for optional in ("monit", "properties_schema.json"):
        if (job_dir / optional).exists():
            files.append(SourceFile(job_dir / optional, optional))
    missing = []
    for template in spec.templates:
        template_path = job_dir / "templates" / template
        if not template_path.is_file():
            missing.append(template)
        files.append(SourceFile(template_path, f"templates/{template}"))
    if missing:
        raise ReleaseError(
            f"Job '{spec.name}' names templates that do not exist under"
            f" '{job_dir / 'templates'}': {', '.join(sorted(missing))}"
        )
    fp, contents = fingerprint(files)
    return JobSource(spec.name, spec, tuple(files), fp, contents)


def _packageable(path: Path, src_dir: Path) -> bool:
    """A regular file or link that is not reached through a symlinked directory."""
    if path.is_dir() and not path.is_symlink():
        return False
    if path.is_symlink():
        return True
    real_src = os.path.realpath(src_dir)
    return os.path.relpath(os.path.realpath(path), real_src) == os.path.relpath(path, src_dir)


def _matches(pattern: str, roots: Sequence[Path], src_dir: Path) -> list[SourceFile]:
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise ReleaseError(f"File pattern '{pattern}' must stay inside src/ and blobs/")
    found = []
    for root in roots:
        for path in recursive_glob(root, pattern):
            if _packageable(path, src_dir):
                found.append(
                    SourceFile(path, path.relative_to(root).as_posix(), follow_symlinks=False)
                )
    return found


def _read_package(package_dir: Path, release_dir: Path) -> PackageSource:
    lock_path = package_dir / "spec.lock"
    if lock_path.exists():
        lock = _load(lock_path, PackageLock)
        return PackageSource(lock.name, lock.dependencies, lock.fingerprint, vendored=True)
    spec = _load(package_dir / "spec", PackageSpec)
    packaging = package_dir / "packaging"
    if not packaging.is_file():
        raise ReleaseError(f"Expected to find '{packaging}' for package '{spec.name}'")
    special = [SourceFile(packaging, "packaging", include_mode=False)]
    pre_packaging = None
    if (package_dir / "pre_packaging").is_file():
        pre_packaging = SourceFile(
            package_dir / "pre_packaging", "pre_packaging", include_mode=False
        )
        special.append(pre_packaging)

    src_dir, roots = release_dir / "src", (release_dir / "src", release_dir / "blobs")
    by_name: dict[str, SourceFile] = {}
    for pattern in spec.files:
        matches = _matches(pattern, roots, src_dir)
        if not matches:
            raise ReleaseError(
                f"Missing files for pattern '{pattern}' of package '{spec.name}'"
                f" (looked in '{roots[0]}' and '{roots[1]}')"
            )
        for match in matches:
            by_name.setdefault(match.name, match)
    for pattern in spec.excluded_files:
        for match in _matches(pattern, roots, src_dir):
            by_name.pop(match.name, None)
    for name in ("packaging", "pre_packaging"):
        if name in by_name:
            raise ReleaseError(
                f"Expected special '{name}' file to not be included via 'files' key"
                f" for package '{spec.name}'"
            )
    files = (*special, *by_name.values())
    fp, contents = fingerprint(files, spec.dependencies)
    return PackageSource(
        spec.name,
        spec.dependencies,
        fp,
        files=files,
        pre_packaging=pre_packaging,
        content_digests=contents,
        no_compression=spec.no_compression,
    )


def _read_license(release_dir: Path) -> LicenseSource | None:
    paths = sorted(release_dir.glob("LICENSE*")) + sorted(release_dir.glob("NOTICE*"))
    files = [SourceFile(path, path.name, include_mode=False) for path in paths if path.is_file()]
    if not files:
        return None
    fp, contents = fingerprint(files)
    return LicenseSource(tuple(files), fp, contents)


def _subdirectories(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    return sorted(child for child in path.iterdir() if child.is_dir())


def read_release_source(release_dir: Path) -> ReleaseSource:
    """Read every job, package and license file of `release_dir`; all problems at once."""
    problems: list[str] = []
    packages: list[PackageSource] = []
    for package_dir in _subdirectories(release_dir / "packages"):
        try:
            packages.append(_read_package(package_dir, release_dir))
        except BoshError as exc:
            problems.append(f"package '{package_dir.name}': {exc}")
    known = {package.name for package in packages}
    for package in packages:
        for dependency in package.dependencies:
            if dependency not in known:
                problems.append(
                    f"Expected to find package '{dependency}' since it's a dependency"
                    f" of package '{package.name}'"
                )
    jobs: list[JobSource] = []
    for job_dir in _subdirectories(release_dir / "jobs"):
        try:
            job = _read_job(job_dir)
        except BoshError as exc:
            problems.append(f"job '{job_dir.name}': {exc}")
            continue
        jobs.append(job)
        for name in job.spec.packages:
            if name not in known:
                problems.append(
                    f"Expected to find package '{name}' since it's a dependency of job '{job.name}'"
                )
    try:
        license_source = _read_license(release_dir)
    except BoshError as exc:
        problems.append(f"license: {exc}")
        license_source = None
    if problems:
        details = "\n".join("  - " + problem.replace("\n", "\n    ") for problem in problems)
        raise ReleaseError(f"Building a release from directory '{release_dir}':\n{details}")
    return ReleaseSource(
        tuple(sorted(jobs, key=lambda j: j.name)),
        tuple(sorted(packages, key=lambda p: p.name)),
        license_source,
    )


def no_compression_packages(release_dir: Path) -> list[str]:
    """Names of the packages whose spec sets ``no_compression: true``, in directory order.

    This feeds a warning, as the reference's check does, so a package directory without
    a valid spec (a vendored one has only its spec.lock) is skipped, not an error.
    """
    names = []
    for package_dir in _subdirectories(release_dir / "packages"):
        spec_path = package_dir / "spec"
        if not spec_path.is_file():
            continue
        try:
            spec = _load(spec_path, PackageSpec)
        except BoshError:
            continue
        if spec.no_compression:
            names.append(spec.name)
    return names
