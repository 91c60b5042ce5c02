"""A release directory: build dev releases, finalize them, write release tarballs.

This is the library behind ``bosh create-release``, ``finalize-release`` and friends.
Artifacts are built in parallel; each is looked up by fingerprint in the dev index, then
the final index, and only built when neither has it.
"""

from __future__ import annotations

import functools
import shutil
import tarfile
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TypeVar

import attrs

from bosh_core import serialization
from bosh_core.blobstore import Blobstore
from bosh_core.digest import Digest
from bosh_core.errors import ReleaseError
from bosh_core.models.release import (
    CompiledPackageRef,
    JobRef,
    LicenseRef,
    PackageLock,
    PackageRef,
    ReleaseManifest,
)
from bosh_core.models.version import Version
from bosh_core.release.artifacts import staged_package_files, write_artifact
from bosh_core.release.blobs import BlobsDir, BlobsReporter
from bosh_core.release.config import ReleaseDirConfig, load_release_config
from bosh_core.release.files import check_name, remove_path, write_atomically, write_yaml
from bosh_core.release.git import GitRepo
from bosh_core.release.index import (
    Artifact,
    ArtifactCache,
    ArtifactIndexStore,
    IndexReporter,
    ReleaseIndexStore,
    read_release_manifest,
)
from bosh_core.release.source import (
    JobSource,
    LicenseSource,
    PackageSource,
    no_compression_packages,
    read_release_source,
)
from bosh_core.release.tarball import ReleaseArchive
from bosh_core.release.targz import TarGzWriter

__all__ = ["Release", "ReleaseDir", "write_release_tarball"]

DEFAULT_FINAL_VERSION = Version.parse("1")
DEFAULT_DEV_VERSION = Version.parse("0+dev.0")

Built = TypeVar("Built")


@attrs.frozen
class Release:
    """A release's manifest and where each of its archives is on disk."""

    manifest: ReleaseManifest
    jobs: dict[str, Path]
    packages: dict[str, Path]
    compiled_packages: dict[str, Path] = attrs.field(factory=dict)
    license: Path | None = None

    def renamed(self, *, name: str, version: str) -> Release:
        return attrs.evolve(self, manifest=attrs.evolve(self.manifest, name=name, version=version))

    @classmethod
    def from_archive(cls, archive: ReleaseArchive) -> Release:
        """The release of a tarball read with `read_release_tarball`, its archives where
        the reader wrote them."""
        manifest = archive.manifest
        return cls(
            manifest,
            jobs={ref.name: archive.job_archive(ref.name) for ref in manifest.jobs},
            packages={ref.name: archive.package_archive(ref.name) for ref in manifest.packages},
            compiled_packages={
                ref.name: archive.compiled_package_archive(ref.name)
                for ref in manifest.compiled_packages
            },
            license=archive.license_archive(),
        )


@attrs.frozen
class _Indexes:
    jobs: ArtifactIndexStore
    packages: ArtifactIndexStore
    license: ArtifactIndexStore


class ReleaseDir:
    def __init__(
        self,
        path: Path,
        *,
        cache_dir: Path,
        reporter: IndexReporter,
        blobs_reporter: BlobsReporter | None = None,
        parallel: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._cache = ArtifactCache(cache_dir)
        self._reporter = reporter
        self._parallel = max(1, parallel)
        self._clock = clock
        # Blob syncing and the final builds share one blobstore, made (under a lock) when
        # first needed: parallel finalize threads would otherwise race to create it.
        self._blobs = BlobsDir(path, reporter=blobs_reporter)
        self.dev_releases = ReleaseIndexStore(path / "dev_releases", label="dev", reporter=reporter)
        self.final_releases = ReleaseIndexStore(path / "releases", label="final", reporter=reporter)
        self._dev = self._indexes(path / ".dev_builds", blobstore=None)
        self._final = self._indexes(path / ".final_builds", blobstore=self._blobs.blobstore)

    def _indexes(self, root: Path, *, blobstore: Callable[[], Blobstore] | None) -> _Indexes:
        def store(kind: str, directory: str, *, per_name: bool) -> ArtifactIndexStore:
            return ArtifactIndexStore(
                root / directory,
                kind=kind,
                per_name=per_name,
                cache=self._cache,
                reporter=self._reporter,
                blobstore=blobstore,
            )

        return _Indexes(
            store("job", "jobs", per_name=True),
            store("package", "packages", per_name=True),
            store("license", "license", per_name=False),
        )

    @functools.cached_property
    def config(self) -> ReleaseDirConfig:
        return load_release_config(self.path)

    def default_name(self) -> str:
        return self.config.release_name()

    def no_compression_mismatch(self) -> list[str]:
        """Packages whose spec says ``no_compression: true`` while config/final.yml does
        not (so the release tarball is still compressed); empty when final.yml says it.

        create-release warns about them, as the reference does.
        """
        return [] if self.config.no_compression else no_compression_packages(self.path)

    def next_final_version(self, name: str) -> Version:
        last = self.final_releases.last_version(name)
        return last.increment_release() if last else DEFAULT_FINAL_VERSION

    def next_dev_version(self, name: str, *, timestamp: bool = False) -> Version:
        last = max(
            (
                v
                for v in (
                    self.dev_releases.last_version(name),
                    self.final_releases.last_version(name),
                )
                if v
            ),
            default=DEFAULT_DEV_VERSION,
        )
        version = last.increment_post_release()
        if timestamp:
            version = Version(version.release, version.pre_release, ("dev", int(self._clock())))
        return version

    def build_release(self, *, name: str, version: Version, force: bool) -> Release:
        """Build a dev release from the directory (create-release without a manifest)."""
        check_name(name, kind="Release")
        git = GitRepo(self.path)
        dirty = git.must_not_be_dirty(force=force)
        commit_hash = git.last_commit_sha()
        self._blobs.sync(parallel=1)
        source = read_release_source(self.path)
        jobs, packages = self._in_parallel_groups(
            [
                [functools.partial(self._build, "jobs", job.name, job) for job in source.jobs],
                [functools.partial(self._build, "packages", p.name, p) for p in source.packages],
            ]
        )
        license_artifact = None
        if source.license:
            license_artifact = self._build("license", "license", source.license)
        manifest = ReleaseManifest(
            name=name,
            version=str(version),
            commit_hash=commit_hash,
            uncommitted_changes=dirty,
            jobs=tuple(
                JobRef(j.name, a.fingerprint, a.fingerprint, a.digest, j.spec.packages)
                for j, a in zip(source.jobs, jobs, strict=True)
            ),
            packages=tuple(
                PackageRef(p.name, a.fingerprint, a.fingerprint, a.digest, p.dependencies)
                for p, a in zip(source.packages, packages, strict=True)
            ),
            license=_license_ref(license_artifact),
            no_compression=self.config.no_compression,
        )
        self.dev_releases.add(manifest)
        return Release(
            manifest,
            jobs={a.name: a.path for a in jobs},
            packages={a.name: a.path for a in packages},
            license=license_artifact.path if license_artifact else None,
        )

    def _in_parallel_groups(
        self, groups: Sequence[Sequence[Callable[[], Built]]]
    ) -> list[list[Built]]:
        """Run every task of every group on one pool; the results, grouped as given."""
        tasks = [task for group in groups for task in group]
        if self._parallel == 1 or len(tasks) < 2:
            results = [task() for task in tasks]
        else:
            with ThreadPoolExecutor(max_workers=self._parallel) as pool:
                results = [future.result() for future in [pool.submit(task) for task in tasks]]
        grouped, start = [], 0
        for group in groups:
            grouped.append(results[start : start + len(group)])
            start += len(group)
        return grouped

    def _existing(self, kind: str, name: str, fingerprint: str) -> Artifact | None:
        for indexes in (self._dev, self._final):
            store: ArtifactIndexStore = getattr(indexes, kind)
            found = store.find(name, fingerprint)
            if found is not None:
                return found
        return None

    def _build(
        self, kind: str, name: str, source: JobSource | PackageSource | LicenseSource
    ) -> Artifact:
        """The dev or final build of `source`, else a new dev build of it."""
        found = self._existing(kind, name, source.fingerprint)
        if found:
            return found
        with self._cache.writing() as (stream, store):
            digest = self._write(source, stream)
            path = store(str(digest))
        dev_index: ArtifactIndexStore = getattr(self._dev, kind)
        return dev_index.add(name, source.fingerprint, path, str(digest))

    def _write(self, source: JobSource | PackageSource | LicenseSource, out: IO[bytes]) -> Digest:
        if not isinstance(source, PackageSource):
            return write_artifact(source.files, out, expected=source.content_digests)
        if source.vendored:
            raise ReleaseError(
                f"Expected to find vendored package '{source.name}/{source.fingerprint}'"
                " in the final builds (.final_builds) of this release directory"
            )
        with staged_package_files(source, self.path) as (files, expected):
            return write_artifact(files, out, expected=expected, compress=not source.no_compression)

    def finalize_release(self, release: Release, *, force: bool) -> Release:
        """Record `release` (already named and versioned) as a final release."""
        GitRepo(self.path).must_not_be_dirty(force=force)
        manifest = release.manifest
        if self.final_releases.contains(manifest.name, manifest.version):
            raise ReleaseError(
                f"Release '{manifest.name}' version '{manifest.version}' already exists"
            )
        groups: list[tuple[ArtifactIndexStore, Sequence[JobRef | PackageRef], dict[str, Path]]] = [
            (self._final.jobs, manifest.jobs, release.jobs),
            (self._final.packages, manifest.packages, release.packages),
        ]
        final_jobs, final_packages = self._in_parallel_groups(
            [
                [
                    functools.partial(
                        self._finalize,
                        store,
                        ref.name,
                        ref.fingerprint,
                        archives[ref.name],
                        ref.sha1,
                    )
                    for ref in refs
                ]
                for store, refs, archives in groups
            ]
        )
        license_artifact = None
        if manifest.license and release.license:
            license_artifact = self._finalize(
                self._final.license,
                "license",
                manifest.license.fingerprint,
                release.license,
                manifest.license.sha1,
            )
        final_manifest = attrs.evolve(
            manifest,
            jobs=tuple(
                attrs.evolve(ref, sha1=a.digest)
                for ref, a in zip(manifest.jobs, final_jobs, strict=True)
            ),
            packages=tuple(
                attrs.evolve(ref, sha1=a.digest)
                for ref, a in zip(manifest.packages, final_packages, strict=True)
            ),
            license=_license_ref(license_artifact) if license_artifact else manifest.license,
        )
        self.final_releases.add(final_manifest)
        return attrs.evolve(
            release,
            manifest=final_manifest,
            jobs={a.name: a.path for a in final_jobs},
            packages={a.name: a.path for a in final_packages},
            license=license_artifact.path if license_artifact else release.license,
        )

    def _finalize(
        self, store: ArtifactIndexStore, name: str, fingerprint: str, archive: Path, digest: str
    ) -> Artifact:
        found = store.find(name, fingerprint)
        if found:
            return found
        cached = self._cache.verified(digest)
        if cached is None:
            with self._cache.writing() as (stream, keep), archive.open("rb") as source:
                shutil.copyfileobj(source, stream)
                cached = keep(digest)
        return store.add(name, fingerprint, cached, digest)

    def latest_release(self) -> Release:
        """The newest dev or final release of the directory's default name."""
        return self.find_release()

    def find_release(self, *, name: str | None = None, version: Version | None = None) -> Release:
        """Final release `version` of `name` (the directory's default name unless given);
        without `version`, the newest dev or final one. As the reference's FindRelease
        (``bosh upload-release`` without a path), a given version is a final one."""
        name = name or self.default_name()
        if version is not None:
            return self.release_from_manifest(self.final_releases.manifest_path(name, str(version)))
        dev, final = self.dev_releases.last_version(name), self.final_releases.last_version(name)
        if dev is None and final is None:
            raise ReleaseError(
                f"Expected to find at least one dev or final version of release '{name}'"
                f" in '{self.path}'"
            )
        index = self.final_releases if dev is None or (final and final > dev) else self.dev_releases
        version = final if index is self.final_releases else dev
        return self.release_from_manifest(index.manifest_path(name, str(version)))

    def vendor_package(self, source: ReleaseDir, package_name: str, *, prefix: str = "") -> None:
        """Copy a package (and what it depends on) of `source`'s newest release as final
        builds of this directory, leaving a ``spec.lock`` for each in ``packages/``."""
        release = source.latest_release()
        refs = {ref.name: ref for ref in release.manifest.packages}
        if package_name not in refs:
            raise ReleaseError(f"Expected to find package '{package_name}'")
        wanted: dict[str, PackageRef] = {}
        pending = [package_name]
        while pending:
            ref = refs[pending.pop()]
            if ref.name not in wanted:
                wanted[ref.name] = ref
                pending.extend(ref.dependencies)

        def renamed(name: str) -> str:
            return f"{prefix}-{name}" if prefix else name

        for ref in wanted.values():
            self._finalize(
                self._final.packages,
                renamed(ref.name),
                ref.fingerprint,
                release.packages[ref.name],
                ref.sha1,
            )
        for ref in wanted.values():
            package_dir = self.path / "packages" / renamed(ref.name)
            try:
                remove_path(package_dir)
            except OSError as exc:
                raise ReleaseError(
                    f"Removing package '{renamed(ref.name)}' dir '{package_dir}' to vendor it:"
                    f" {exc.strerror} ('{exc.filename}')"
                ) from None
            lock = PackageLock(
                renamed(ref.name), ref.fingerprint, tuple(renamed(d) for d in ref.dependencies)
            )
            write_yaml(package_dir / "spec.lock", lock, what=f"spec lock of package '{lock.name}'")

    def release_from_manifest(self, manifest_path: Path) -> Release:
        """The release a ``dev_releases``/``releases`` manifest describes, from the indexes.

        Compiled packages it lists are not looked up: as in the reference, the indexes
        hold none, and such a release cannot be written as a tarball.
        """
        manifest = read_release_manifest(manifest_path)

        def located(kind: str, name: str, fingerprint: str) -> Path:
            found = self._existing(kind, name, fingerprint)
            if found is None:
                raise ReleaseError(f"Expected to find '{name}/{fingerprint}'")
            return found.path

        return Release(
            manifest,
            jobs={ref.name: located("jobs", ref.name, ref.fingerprint) for ref in manifest.jobs},
            packages={
                ref.name: located("packages", ref.name, ref.fingerprint)
                for ref in manifest.packages
            },
            license=(
                located("license", "license", manifest.license.fingerprint)
                if manifest.license
                else None
            ),
        )


def _license_ref(artifact: Artifact | None) -> LicenseRef | None:
    if artifact is None:
        return None
    return LicenseRef(artifact.fingerprint, artifact.fingerprint, artifact.digest)


_ARCHIVE_MODE = 0o600
"""Mode of a release tarball and of the job, package and license archives in it.

The reference builds both in temporary files (0600) and moves them into place.
"""


def write_release_tarball(
    release: Release, destination: Path, *, skip_fingerprints: Collection[str] = frozenset()
) -> None:
    """Write the release tarball: release.MF, jobs/, packages/, compiled_packages/, license.

    Every archive the manifest lists must be in `release`: a release read from a
    ``dev_releases``/``releases`` manifest has no compiled packages (the reference
    stops on those too), so one that lists some cannot be written.

    Package and compiled package archives whose fingerprint is in `skip_fingerprints`
    are left out, while release.MF still lists them: ``bosh upload-release`` leaves out
    what the director says it has (``POST /packages/matches``), as the reference does.
    """
    manifest = release.manifest
    document = serialization.dump_yaml(serialization.unstructure(manifest)).encode()
    groups: list[
        tuple[str, Sequence[JobRef | PackageRef | CompiledPackageRef], dict[str, Path]]
    ] = [
        ("jobs", manifest.jobs, release.jobs),
        ("packages", manifest.packages, release.packages),
        ("compiled_packages", manifest.compiled_packages, release.compiled_packages),
    ]

    def skipped(directory: str, ref: JobRef | PackageRef | CompiledPackageRef) -> bool:
        return directory != "jobs" and ref.fingerprint in skip_fingerprints

    missing = [
        f"{directory}/{ref.name}/{ref.fingerprint}"
        for directory, refs, archives in groups
        for ref in refs
        if ref.name not in archives and not skipped(directory, ref)
    ]
    if manifest.license is not None and release.license is None:
        missing.append(f"license/{manifest.license.fingerprint}")
    if missing:
        hint = (
            "; a release directory keeps no compiled packages, only release tarballs carry them"
            if manifest.compiled_packages
            else ""
        )
        raise ReleaseError(
            f"Cannot write release tarball '{destination}': release"
            f" '{manifest.name}/{manifest.version}' lists archives it does not have:"
            f" {', '.join(missing)}{hint}"
        )
    with (
        write_atomically(destination, mode=_ARCHIVE_MODE) as stream,
        TarGzWriter(stream, compress=not manifest.no_compression) as writer,
    ):
        writer.add_bytes("release.MF", document)
        for directory, refs, archives in groups:
            if not refs:
                continue
            writer.add_directory(f"{directory}/")
            for ref in refs:
                if not skipped(directory, ref):
                    writer.add_file(
                        f"{directory}/{ref.name}.tgz", archives[ref.name], mode=_ARCHIVE_MODE
                    )
        if release.license is not None:
            writer.add_file("license.tgz", release.license, mode=_ARCHIVE_MODE)
            _add_license_files(writer, release.license)


def _add_license_files(writer: TarGzWriter, license_archive: Path) -> None:
    """Copy LICENSE*/NOTICE* out of the license archive to the top of the release tarball."""
    with tarfile.open(license_archive, "r:*") as archive:
        for member in archive:
            name = member.name.removeprefix("./")
            if member.isfile() and "/" not in name and name.startswith(("LICENSE", "NOTICE")):
                extracted = archive.extractfile(member)
                if extracted is not None:
                    writer.add_bytes(name, extracted.read())
