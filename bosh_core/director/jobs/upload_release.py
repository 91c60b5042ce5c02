"""Importing a release tarball into the director: the job behind ``bosh upload-release``.

What the reference director's ``UpdateRelease`` job does, in its stages and with its
error codes: the tarball is read and verified into a scratch directory ("Extracting
release"), its manifest checked ("Verifying manifest"), then under ``lock:release:<name>``
the package graph is checked ("Resolving package dependencies"), each new job and
package archive is stored in the blobstore ("Creating new packages", "Creating new
jobs", "Creating new compiled packages"), and the rows are written ("Release has been
created").

Two things differ on purpose:

- The reference writes rows as it goes and marks the release version complete at the
  end (an interrupted upload is finished by ``--fix``). Here every row is written in
  one transaction after the blobs are stored, and a failed upload deletes the blobs it
  stored: a failure leaves nothing behind, so there is nothing to fix.
- Job archives are checked (templates present, a monit file) for every job of the
  release before anything is stored, not only for new jobs while they are stored.

Uploading a release version that exists changes nothing unless something is missing
(a source package that came only compiled gets its source) or ``fix`` asks to store
every archive again; its jobs and packages must have the fingerprints already stored.
A package whose fingerprint another release already stored is not uploaded again: its
blob is copied inside the blobstore, as the reference does, so deleting either release
leaves the other whole. The copy is checked against the digest recorded for the stored
blob: a corrupt blob fails the upload rather than spread. That is also why ``bosh
upload-release`` leaves such packages out of the tarball (it asks ``/packages/matches``
first): a package archive release.MF lists but the tarball lacks is taken from the
stored package (or compiled package, for the same stemcell) with its fingerprint, and
fails the upload when there is none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bosh_core import serialization
from bosh_core.blobstore import Blobstore
from bosh_core.blobstore.verified import get_verified
from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    CompiledPackage,
    Package,
    Release,
    ReleaseVersion,
    Template,
)
from bosh_core.director.errors import (
    JobMissingMonitError,
    JobMissingTemplateFileError,
    PackageInvalidArchiveError,
    ReleaseExistingJobFingerprintMismatchError,
    ReleaseInvalidArchiveError,
    ReleaseInvalidPackageError,
    ReleasePackageDependencyError,
    ReleasePackageDependencyKeyMismatchError,
    ReleaseVersionCommitHashMismatchError,
    ReleaseVersionInvalidError,
    ValidationInvalidValue,
)
from bosh_core.director.locks import RELEASE_LOCK_TIMEOUT, Locks, release_lock
from bosh_core.director.tasks.events import EventLog
from bosh_core.errors import BoshError, ManifestError, ReleaseError
from bosh_core.models.release import (
    CompiledPackageRef,
    JobRef,
    JobSpec,
    PackageRef,
    ReleaseManifest,
)
from bosh_core.models.version import Version, VersionError
from bosh_core.planning.compilation import dependency_key
from bosh_core.release.tarball import ReleaseArchive, TarballLimits, read_release_tarball

__all__ = ["VALID_ID", "upload_release"]

_log = logging.getLogger(__name__)

#: Names and versions in a release manifest (the reference's ``Models::VALID_ID``).
VALID_ID: Final = re.compile(r"[-0-9A-Za-z_+.]+")
#: A release version stored without a commit hash has this one (the column's default).
_UNKNOWN_COMMIT: Final = "unknown"

Item = TypeVar("Item")
Model = TypeVar("Model", Package, Template)
_DEFAULT_LIMITS: Final = TarballLimits()


def upload_release(
    database: Database,
    blobstore: Blobstore,
    tarball_path: Path,
    *,
    event_log: EventLog,
    locks: Locks,
    task_id: int | str,
    user: str = "admin",
    fix: bool = False,
    rebase: bool = False,
    scratch_dir: Path | None = None,
    lock_timeout: float = RELEASE_LOCK_TIMEOUT,
    limits: TarballLimits = _DEFAULT_LIMITS,
) -> str:
    """Import the release tarball at `tarball_path`; returns the task's result text,
    ``Created release 'name/version'``.

    `fix` stores every job and package archive again (replacing the blobs, and dropping
    the compiled packages of a re-stored source package), as ``upload-release --fix``
    does to repair a blobstore. The tarball is unpacked under a new directory in
    `scratch_dir` (the system's temporary directory by default), removed at the end.
    `rebase` (``upload-release --rebase``) stores a dev release as the next dev version
    of its release on this director (`_rebased_version`), whatever its own says.
    Raises a `DirectorError` subclass with the reference's error code.
    """
    with tempfile.TemporaryDirectory(prefix="upload-release-", dir=scratch_dir) as scratch:
        with event_log.single_step("Extracting release"):
            archive = _extract(tarball_path, Path(scratch) / "release", limits)
        with event_log.single_step("Verifying manifest"):
            release = _verify(archive)
        with locks.acquire(
            release_lock(release.name), timeout=lock_timeout, task_id=task_id, user=user
        ):
            if rebase:
                release = attrs.evolve(release, version=_rebased_version(database, release))
            _Import(
                database,
                blobstore,
                release,
                event_log=event_log,
                fix=fix,
                scratch=Path(scratch) / "copies",
            ).run()
    return f"Created release '{release.name}/{release.version}'"


# --------------------------------------------------------------- reading and checking


@attrs.frozen
class _PackageMeta:
    """A package of ``release.MF``: a source package, or a compiled one (`stemcell`)."""

    name: str
    version: str
    fingerprint: str
    sha1: str
    dependencies: tuple[str, ...]
    archive: Path | None  # None: the tarball left it out, the director should have it
    stemcell: tuple[str, str] | None = None

    @property
    def description(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def kind(self) -> str:
        return "package" if self.stemcell is None else "compiled package"


@attrs.frozen
class _VerifiedRelease:
    name: str
    version: str
    commit_hash: str
    uncommitted_changes: bool
    compiled: bool
    packages: tuple[_PackageMeta, ...]
    jobs: tuple[tuple[JobRef, JobSpec, Path], ...]


def _extract(tarball: Path, into: Path, limits: TarballLimits) -> ReleaseArchive:
    try:
        return read_release_tarball(tarball, into=into, limits=limits, allow_missing_packages=True)
    except (ReleaseError, ManifestError) as error:
        raise ReleaseInvalidArchiveError(f"Extracting release archive failed: {error}") from None


def _rebased_version(database: Database, release: _VerifiedRelease) -> str:
    """The version a rebased upload of `release` gets (the reference's
    ``ReleaseVersionList#rebase``): after the newest stored version with the same release
    and pre-release segments, its post-release segment incremented (``+dev.1`` when it
    has none); without one, the release's own version with ``+dev.1``. Only dev versions
    (with a post-release segment) can be rebased."""
    version = Version.parse(release.version)
    if not version.post_release:
        raise ReleaseVersionInvalidError(
            f"Failed to rebase release '{release.name}/{release.version}': only a dev"
            " version (with a post-release segment, as 1+dev.3) can be rebased"
        )
    with database.read() as session:
        stored = session.scalars(
            select(ReleaseVersion.version).join(Release).where(Release.name == release.name)
        ).all()
    same_base = [
        parsed
        for parsed in (_parsed_or_none(text) for text in stored)
        if parsed is not None
        and (parsed.release, parsed.pre_release) == (version.release, version.pre_release)
    ]
    base = max(same_base, default=Version(version.release, version.pre_release))
    return str(base.increment_post_release())


def _parsed_or_none(text: str) -> Version | None:
    try:
        return Version.parse(text)
    except VersionError:
        return None


def _verify(archive: ReleaseArchive) -> _VerifiedRelease:
    manifest = archive.manifest
    _check_identifiers(manifest)
    try:
        version = str(Version.parse(manifest.version))
    except VersionError:
        raise ReleaseVersionInvalidError(f"Release version invalid: {manifest.version}") from None
    compiled = bool(manifest.compiled_packages)
    packages = (
        tuple(_compiled_meta(ref, archive) for ref in manifest.compiled_packages)
        if compiled
        else tuple(_source_meta(ref, archive) for ref in manifest.packages)
    )
    jobs = []
    for ref in manifest.jobs:
        job_archive = archive.job_archive(ref.name)
        spec = archive.job_specs[ref.name]
        _check_job_archive(ref, spec, job_archive)
        jobs.append((ref, spec, job_archive))
    return _VerifiedRelease(
        name=manifest.name,
        version=version,
        commit_hash=manifest.commit_hash or _UNKNOWN_COMMIT,
        uncommitted_changes=manifest.uncommitted_changes,
        compiled=compiled,
        packages=packages,
        jobs=tuple(jobs),
    )


def _check_identifiers(manifest: ReleaseManifest) -> None:
    checks: list[tuple[str, str]] = [
        (manifest.name, "release name"),
        (manifest.version, "release version"),
    ]
    package_refs: Sequence[PackageRef | CompiledPackageRef] = (
        manifest.compiled_packages or manifest.packages
    )
    for number, package in enumerate(package_refs, start=1):
        checks += [
            (package.name, f"package {number} name"),
            (package.version, f"package {number} version"),
        ]
    for number, job in enumerate(manifest.jobs, start=1):
        checks += [(job.name, f"job {number} name"), (job.version, f"job {number} version")]
    for value, label in checks:
        if not VALID_ID.fullmatch(value):
            raise ValidationInvalidValue(
                f"Invalid {label} in release manifest: {json.dumps(value)}"
            )


def _source_meta(ref: PackageRef, archive: ReleaseArchive) -> _PackageMeta:
    return _PackageMeta(
        ref.name,
        ref.version,
        ref.fingerprint,
        ref.sha1,
        ref.dependencies,
        None if ref.name in archive.missing_packages else archive.package_archive(ref.name),
    )


def _compiled_meta(ref: CompiledPackageRef, archive: ReleaseArchive) -> _PackageMeta:
    stemcell_os, slash, stemcell_version = ref.stemcell.partition("/")
    if not (slash and stemcell_os and stemcell_version):
        raise ReleaseInvalidArchiveError(
            f"Compiled package '{ref.name}' has stemcell '{ref.stemcell}': expected"
            " '<os>/<version>'"
        )
    return _PackageMeta(
        ref.name,
        ref.version,
        ref.fingerprint,
        ref.sha1,
        ref.dependencies,
        None
        if ref.name in archive.missing_compiled_packages
        else archive.compiled_package_archive(ref.name),
        (stemcell_os, stemcell_version),
    )


def _check_job_archive(ref: JobRef, spec: JobSpec, job_archive: Path) -> None:
    """Templates the spec names and a monit file must be in the job's archive (its
    members were checked for safety when the tarball was read)."""
    with tarfile.open(job_archive, "r:*") as tar:
        names = {
            "/".join(part for part in member.name.split("/") if part not in ("", "."))
            for member in tar
            if not member.isdir()
        }
    for template in spec.templates:
        if f"templates/{template}" not in names:
            raise JobMissingTemplateFileError(
                f"Missing template file '{template}' for job '{ref.name}'"
            )
    if "monit" not in names and not any("/" not in n and n.endswith(".monit") for n in names):
        raise JobMissingMonitError(f"Job '{ref.name}' is missing monit file")


def _resolve_dependencies(release: _VerifiedRelease) -> None:
    """Every dependency is a package of the release, and there is no cycle."""
    by_name = {meta.name: meta for meta in release.packages}
    for meta in release.packages:
        for dependency in meta.dependencies:
            if dependency not in by_name:
                raise ReleasePackageDependencyError(
                    f"Package '{meta.name}' depends on '{dependency}', which release"
                    f" '{release.name}/{release.version}' does not have"
                )
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise ReleasePackageDependencyError(f"Cycle: {'=>'.join([*path, name])}")
        if name in done:
            return
        for dependency in by_name[name].dependencies:
            visit(dependency, [*path, name])
        done.add(name)

    for meta in release.packages:
        visit(meta.name, [])


# ---------------------------------------------------------------------------- import


@attrs.define
class _Blob:
    """A blob to point a row at: stored by this upload, or already the row's."""

    blobstore_id: str
    sha1: str


@attrs.define
class _PackageWork:
    meta: _PackageMeta
    existing_id: int | None = None
    registered: bool = False  # already a package of the release version
    blob: _Blob | None = None  # a new source blob for the row
    drop_compiled: bool = False  # --fix re-stored the source: compiled builds are stale


@attrs.define
class _JobWork:
    ref: JobRef
    spec: JobSpec
    archive: Path
    existing_id: int | None = None
    registered: bool = False
    blob: _Blob | None = None


@attrs.define
class _CompiledWork:
    package: _PackageWork
    stemcell_os: str
    stemcell_version: str
    dependency_key: str
    existing_id: int | None = None
    blob: _Blob | None = None


class _Import:
    """One release version into the database; the caller holds the release's lock."""

    def __init__(
        self,
        database: Database,
        blobstore: Blobstore,
        release: _VerifiedRelease,
        *,
        event_log: EventLog,
        fix: bool,
        scratch: Path,
    ) -> None:
        self._db = database
        self._blobstore = blobstore
        self._release = release
        self._events = event_log
        self._fix = fix
        self._scratch = scratch
        self._stored: list[str] = []  # blobs this upload put: deleted if it fails
        self._replaced: list[str] = []  # blobs the rows stop using: deleted once committed
        self._release_id: int | None = None
        self._version_id: int | None = None

    def run(self) -> None:
        release = self._release
        try:
            with self._db.read() as session:
                self._find_release_version(session)
                with self._events.single_step("Resolving package dependencies"):
                    _resolve_dependencies(release)
                packages = self._plan_packages(session)
                jobs = self._plan_jobs(session)
                compiled = self._plan_compiled(session, packages) if release.compiled else []
            self._store_packages(packages)
            self._store_jobs(jobs)
            self._store_compiled(compiled)
            title = (
                "Compiled Release has been created"
                if release.compiled
                else "Release has been created"
            )
            with self._events.stage(title, total=1).track(f"{release.name}/{release.version}"):
                self._record(packages, jobs, compiled)
        except BaseException:
            self._delete(self._stored, why="of the failed upload")
            raise
        self._delete(self._replaced, why="replaced by --fix")

    # --- planning: what exists, what is new (reads only) --------------------------

    def _find_release_version(self, session: Session) -> None:
        release = self._release
        self._release_id = session.scalar(select(Release.id).where(Release.name == release.name))
        if self._release_id is None:
            return
        version = session.scalar(
            select(ReleaseVersion).where(
                ReleaseVersion.release_id == self._release_id,
                ReleaseVersion.version == release.version,
            )
        )
        if version is None:
            return
        if (version.commit_hash, version.uncommitted_changes) != (
            release.commit_hash,
            release.uncommitted_changes,
        ):
            raise ReleaseVersionCommitHashMismatchError(
                f"release '{release.name}/{release.version}' has already been uploaded with"
                f" commit_hash as '{version.commit_hash}' and uncommitted_changes as"
                f" '{str(version.uncommitted_changes).lower()}'"
            )
        # A version another director process left half-written: store everything again.
        self._fix = self._fix or not version.update_completed
        self._version_id = version.id

    def _version_rows(
        self, session: Session, model: type[Package] | type[Template]
    ) -> dict[str, Any]:
        if self._version_id is None:
            return {}
        version = session.get(ReleaseVersion, self._version_id)
        assert version is not None
        rows: Iterable[Package | Template] = (
            version.packages if model is Package else version.templates
        )
        return {row.name: row for row in rows}

    def _plan_packages(self, session: Session) -> list[_PackageWork]:
        release = self._release
        registered = self._version_rows(session, Package)
        work = []
        for meta in release.packages:
            known = registered.get(meta.name)
            if known is not None and known.fingerprint != meta.fingerprint:
                raise ReleaseInvalidPackageError(
                    f"package '{meta.name}' had different fingerprint in previously uploaded"
                    f" release '{release.name}/{release.version}'"
                )
            item = _PackageWork(meta)
            existing = self._find_existing(
                session, Package, meta.name, meta.version, meta.fingerprint
            )
            if existing is not None:
                item.existing_id, item.registered = existing.id, known is not None
                if release.compiled and sorted(existing.dependency_set) != sorted(
                    meta.dependencies
                ):
                    raise ReleasePackageDependencyKeyMismatchError(
                        "The uploaded release contains package dependencies in"
                        f" '{meta.name}' that do not match database records."
                    )
            work.append(item)
        return work

    def _plan_jobs(self, session: Session) -> list[_JobWork]:
        release = self._release
        registered = self._version_rows(session, Template)
        work = []
        for ref, spec, archive in release.jobs:
            known = registered.get(ref.name)
            if known is not None and known.fingerprint != ref.fingerprint:
                raise ReleaseExistingJobFingerprintMismatchError(
                    f"job '{ref.name}' had different fingerprint in previously uploaded"
                    f" release '{release.name}/{release.version}'"
                )
            item = _JobWork(ref, spec, archive)
            existing = self._find_existing(
                session, Template, ref.name, ref.version, ref.fingerprint
            )
            if existing is not None:
                item.existing_id, item.registered = existing.id, known is not None
            work.append(item)
        return work

    def _find_existing(
        self,
        session: Session,
        model: type[Model],
        name: str,
        version: str,
        fingerprint: str,
    ) -> Model | None:
        if self._release_id is None:
            return None
        return session.scalar(
            select(model).where(
                model.release_id == self._release_id,
                model.name == name,
                model.version == version,
                model.fingerprint == fingerprint,
            )
        )

    def _plan_compiled(self, session: Session, packages: list[_PackageWork]) -> list[_CompiledWork]:
        by_name = {item.meta.name: item.meta for item in packages}
        work = []
        for item in packages:
            assert item.meta.stemcell is not None  # a compiled release's packages
            stemcell_os, stemcell_version = item.meta.stemcell
            compiled = _CompiledWork(
                item, stemcell_os, stemcell_version, dependency_key(item.meta, by_name)
            )
            if item.existing_id is not None:
                compiled.existing_id = session.scalar(
                    select(CompiledPackage.id).where(
                        CompiledPackage.package_id == item.existing_id,
                        CompiledPackage.stemcell_os == stemcell_os,
                        CompiledPackage.stemcell_version == stemcell_version,
                        CompiledPackage.dependency_key_sha1 == _sha1(compiled.dependency_key),
                    )
                )
            if compiled.existing_id is None and not self._fix:
                compiled.blob = self._similar_compiled_blob(session, compiled)
            work.append(compiled)
        return work

    def _similar_compiled_blob(self, session: Session, work: _CompiledWork) -> _Blob | None:
        """The blob of the same package compiled for the same stemcell in another release."""
        similar = session.scalars(
            select(CompiledPackage)
            .join(Package)
            .where(
                Package.name == work.package.meta.name,
                Package.fingerprint == work.package.meta.fingerprint,
                CompiledPackage.stemcell_os == work.stemcell_os,
                CompiledPackage.stemcell_version == work.stemcell_version,
                CompiledPackage.dependency_key_sha1 == _sha1(work.dependency_key),
            )
            .order_by(Package.id)
        ).first()
        return None if similar is None else _Blob(similar.blobstore_id, similar.sha1)

    def _reusable_source_blob(self, fingerprint: str) -> _Blob | None:
        """A stored source blob with this fingerprint (any release's), to copy: the
        packages ``/packages/matches`` names, which the CLI leaves out of the tarball."""
        with self._db.read() as session:
            package = session.scalars(
                select(Package)
                .where(
                    Package.fingerprint == fingerprint,
                    Package.blobstore_id.is_not(None),
                    Package.sha1.is_not(None),
                )
                .order_by(Package.id)
            ).first()
            if package is None or package.blobstore_id is None or package.sha1 is None:
                return None
            return _Blob(package.blobstore_id, package.sha1)

    # --- storing blobs (no rows yet) ------------------------------------------------

    def _store_packages(self, packages: list[_PackageWork]) -> None:
        new = [item for item in packages if item.existing_id is None]
        if new:
            stage = self._events.stage("Creating new packages", total=len(new))
            for item in new:
                with stage.track(item.meta.description):
                    if not self._release.compiled:
                        item.blob = self._source_blob(item.meta, reuse=not self._fix)
        if self._release.compiled:
            existing = [
                item for item in packages if item.existing_id is not None and not item.registered
            ]
            self._existing_stage("package", existing, lambda item: None)
            return
        # Existing packages not yet in the version, then those already in it (the
        # reference's two stages): both get their source blob when it is missing.
        for registered in (False, True):
            batch = [
                i for i in packages if i.existing_id is not None and i.registered is registered
            ]
            self._existing_stage("package", batch, self._backfill_source)

    def _backfill_source(self, item: _PackageWork) -> None:
        with self._db.read() as session:
            assert item.existing_id is not None
            row = session.get(Package, item.existing_id)
            assert row is not None
            current = row.blobstore_id
        if current is None:
            item.blob = self._source_blob(item.meta, reuse=not self._fix)
        elif self._fix:
            item.blob = self._source_blob(item.meta, reuse=False)
            item.drop_compiled = True
            self._replaced.append(current)

    def _source_blob(self, meta: _PackageMeta, *, reuse: bool) -> _Blob:
        found = self._reusable_source_blob(meta.fingerprint) if reuse else None
        if found is not None:
            _log.info(
                "Creating package '%s' from existing blob %s", meta.description, found.blobstore_id
            )
            return _Blob(self._copy(found, meta=meta), found.sha1)
        return _Blob(self._put_package(meta), meta.sha1)

    def _store_jobs(self, jobs: list[_JobWork]) -> None:
        new = [item for item in jobs if item.existing_id is None]
        if new:
            stage = self._events.stage("Creating new jobs", total=len(new))
            for item in new:
                with stage.track(f"{item.ref.name}/{item.ref.version}"):
                    item.blob = _Blob(self._put(item.archive), item.ref.sha1)
        self._existing_stage("job", [i for i in jobs if i.existing_id is not None], self._fix_job)

    def _fix_job(self, item: _JobWork) -> None:
        if not self._fix:
            return
        with self._db.read() as session:
            assert item.existing_id is not None
            row = session.get(Template, item.existing_id)
            assert row is not None
            self._replaced.append(row.blobstore_id)
        item.blob = _Blob(self._put(item.archive), item.ref.sha1)

    def _store_compiled(self, compiled: list[_CompiledWork]) -> None:
        if not compiled:
            return
        stage = self._events.stage("Creating new compiled packages", total=len(compiled))
        for item in compiled:
            meta = item.package.meta
            if item.existing_id is not None:
                if self._fix:
                    with self._db.read() as session:
                        row = session.get(CompiledPackage, item.existing_id)
                        assert row is not None
                        self._replaced.append(row.blobstore_id)
                    item.blob = _Blob(self._put_package(meta), meta.sha1)
                continue
            with stage.track(f"{meta.description} for {item.stemcell_os}/{item.stemcell_version}"):
                if item.blob is not None:
                    item.blob = _Blob(self._copy(item.blob, meta=meta), item.blob.sha1)
                else:
                    item.blob = _Blob(self._put_package(meta), meta.sha1)

    def _existing_stage(
        self, kind: str, items: Sequence[Item], handle: Callable[[Item], None]
    ) -> None:
        if not items:
            return
        plural = "s" if len(items) > 1 else ""
        with self._events.single_step(f"Processing {len(items)} existing {kind}{plural}"):
            for item in items:
                handle(item)

    def _put_package(self, meta: _PackageMeta) -> str:
        """Store the package's archive from the tarball. One the tarball left out (the CLI
        does when the director says it has the fingerprint) can only be copied, which the
        caller tried first: failing here leaves the release unchanged."""
        if meta.archive is not None:
            return self._put(meta.archive)
        if self._fix:
            why = (
                "this upload stores every package again (--fix, or a release version left"
                " half-uploaded)"
            )
        else:
            why = f"the director has no {meta.kind} with fingerprint '{meta.fingerprint}'"
            if meta.stemcell is not None:
                why += f" for stemcell '{'/'.join(meta.stemcell)}'"
            why += " to copy"
        raise PackageInvalidArchiveError(
            f"Extracting {meta.kind} '{meta.description}' archive failed: the release"
            f" tarball leaves it out but {why}; upload the release again with"
            " 'bosh upload-release --fix', which sends every package archive"
        )

    def _put(self, path: Path) -> str:
        blob_id = self._blobstore.put(path)
        self._stored.append(blob_id)
        return blob_id

    def _copy(self, blob: _Blob, *, meta: _PackageMeta) -> str:
        """A new blob with the content of `blob`, checked against its recorded digest: a
        corrupt stored blob fails the upload instead of spreading to this release."""
        self._scratch.mkdir(parents=True, exist_ok=True)
        copy = self._scratch / blob.blobstore_id
        stemcell = "" if meta.stemcell is None else f" for stemcell '{'/'.join(meta.stemcell)}'"
        get_verified(
            self._blobstore,
            blob_id=blob.blobstore_id,
            destination=copy,
            digest=blob.sha1,
            what=f"the stored {meta.kind} '{meta.description}'{stemcell} this upload copies",
            remedy="upload this release again with 'bosh upload-release --fix', which"
            " sends every package archive and stores it instead of copying, and do the"
            " same for the release that stored the blob to replace its copy",
        )
        try:
            return self._put(copy)
        finally:
            copy.unlink(missing_ok=True)

    def _delete(self, blob_ids: list[str], *, why: str) -> None:
        for blob_id in blob_ids:
            try:
                self._blobstore.delete(blob_id)
            except BoshError as error:
                # The task's outcome stands; an orphaned blob only costs space.
                _log.warning("Cannot delete blob %s %s: %s", blob_id, why, error)

    # --- recording: every row in one transaction --------------------------------------

    def _record(
        self, packages: list[_PackageWork], jobs: list[_JobWork], compiled: list[_CompiledWork]
    ) -> None:
        release = self._release
        with self._db.write() as session:
            release_row = (
                session.get(Release, self._release_id) if self._release_id is not None else None
            ) or Release(name=release.name)
            version = (
                session.get(ReleaseVersion, self._version_id)
                if self._version_id is not None
                else None
            ) or ReleaseVersion(
                release=release_row,
                version=release.version,
                commit_hash=release.commit_hash,
                uncommitted_changes=release.uncommitted_changes,
            )
            session.add(version)
            version.update_completed = True
            package_rows = {
                item.meta.name: self._package_row(session, release_row, item) for item in packages
            }
            for row in package_rows.values():
                if row not in version.packages:
                    version.packages.append(row)
            for item in jobs:
                job = self._job_row(session, release_row, item)
                if job not in version.templates:
                    version.templates.append(job)
            session.flush()
            for work in compiled:
                self._compiled_row(session, package_rows[work.package.meta.name], work)

    def _package_row(self, session: Session, release: Release, item: _PackageWork) -> Package:
        meta = item.meta
        if item.existing_id is None:
            row = Package(
                release=release,
                name=meta.name,
                version=meta.version,
                fingerprint=meta.fingerprint,
                dependency_set=list(meta.dependencies),
            )
            session.add(row)
        else:
            found = session.get(Package, item.existing_id)
            assert found is not None
            row = found
        if item.blob is not None:
            row.blobstore_id, row.sha1 = item.blob.blobstore_id, item.blob.sha1
        if item.drop_compiled:
            for stale in list(row.compiled_packages):
                self._replaced.append(stale.blobstore_id)
                row.compiled_packages.remove(stale)
        return row

    def _job_row(self, session: Session, release: Release, item: _JobWork) -> Template:
        if item.existing_id is not None:
            row = session.get(Template, item.existing_id)
            assert row is not None
            if item.blob is not None:
                row.blobstore_id, row.sha1 = item.blob.blobstore_id, item.blob.sha1
            return row
        assert item.blob is not None
        row = Template(
            release=release,
            name=item.ref.name,
            version=item.ref.version,
            fingerprint=item.ref.fingerprint,
            blobstore_id=item.blob.blobstore_id,
            sha1=item.blob.sha1,
            spec=serialization.unstructure(item.spec),
            package_names=list(item.ref.packages),
        )
        session.add(row)
        return row

    def _compiled_row(self, session: Session, package: Package, work: _CompiledWork) -> None:
        if work.existing_id is not None:
            row = session.get(CompiledPackage, work.existing_id)
            assert row is not None
            if work.blob is not None:
                row.blobstore_id, row.sha1 = work.blob.blobstore_id, work.blob.sha1
            return
        assert work.blob is not None
        last_build = session.scalar(
            select(func.max(CompiledPackage.build)).where(
                CompiledPackage.package_id == package.id,
                CompiledPackage.stemcell_os == work.stemcell_os,
                CompiledPackage.stemcell_version == work.stemcell_version,
            )
        )
        session.add(
            CompiledPackage(
                package=package,
                stemcell_os=work.stemcell_os,
                stemcell_version=work.stemcell_version,
                dependency_key=work.dependency_key,
                dependency_key_sha1=_sha1(work.dependency_key),
                blobstore_id=work.blob.blobstore_id,
                sha1=work.blob.sha1,
                build=(last_build or 0) + 1,
            )
        )


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()
