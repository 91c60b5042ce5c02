"""Deleting a release, or one version of it: the job behind ``bosh delete-release``.

As the reference's ``DeleteRelease`` (and its ``NameVersionReleaseDeleter``,
``ReleaseVersionDeleter``, ``ReleaseDeleter``), under ``lock:release:<name>``:

- a whole release: refused while a deployment uses any version (``ReleaseInUse``);
  then stages "Deleting packages", "Deleting jobs" and "Deleting release versions".
- one version: refused while a deployment uses it (``ReleaseVersionInUse``); packages
  and jobs no other version of the release has are deleted ("Deleting packages",
  "Deleting jobs"), the others only lose the version. A release left without versions
  is deleted as a whole.

Deleting a package deletes its compiled packages first; each blob is deleted before
its row, and each row in a transaction of its own, so an interrupted deletion leaves
rows whose blobs are all still there (run it again to finish). `force` carries on past
blobstore errors (the blob is then left behind); it does not override "in use", as in
the reference.
"""

from __future__ import annotations

import logging
from typing import Final

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.orm import Session

from bosh_core.blobstore import Blobstore
from bosh_core.director.db import Database
from bosh_core.director.db.models import (
    Base,
    CompiledPackage,
    Deployment,
    Package,
    Release,
    ReleaseVersion,
    Template,
    packages_release_versions,
    release_versions_templates,
)
from bosh_core.director.errors import (
    ReleaseInUseError,
    ReleaseNotFoundError,
    ReleaseVersionInUseError,
    ReleaseVersionInvalidError,
    ReleaseVersionNotFoundError,
)
from bosh_core.director.locks import Locks, release_lock
from bosh_core.director.tasks.events import EventLog
from bosh_core.errors import BoshError
from bosh_core.models.version import Version, VersionError

__all__ = ["DELETE_LOCK_TIMEOUT", "delete_release"]

_log = logging.getLogger(__name__)

#: How long a delete waits for the release's lock (the reference's 10 s).
DELETE_LOCK_TIMEOUT: Final = 10.0


def delete_release(
    database: Database,
    blobstore: Blobstore,
    name: str,
    version: str | None = None,
    *,
    force: bool = False,
    event_log: EventLog,
    locks: Locks,
    task_id: int | str,
    user: str = "admin",
    lock_timeout: float = DELETE_LOCK_TIMEOUT,
) -> str:
    """Delete release `name` (every version, or only `version`) with the blobs only it
    uses; returns the task's result, ``/release/<name>`` (the reference's, singular).
    """
    with locks.acquire(release_lock(name), timeout=lock_timeout, task_id=task_id, user=user):
        deleter = _Deleter(database, blobstore, event_log=event_log, force=force)
        release_id = deleter.find_release(name)
        if version is None:
            deleter.delete_release(release_id, name)
        else:
            deleter.delete_version(release_id, name, version)
    return f"/release/{name}"


class _Deleter:
    def __init__(
        self, database: Database, blobstore: Blobstore, *, event_log: EventLog, force: bool
    ) -> None:
        self._db = database
        self._blobstore = blobstore
        self._events = event_log
        self._force = force

    def find_release(self, name: str) -> int:
        _log.info("Looking up release: %s", name)
        with self._db.read() as session:
            release_id = session.scalar(select(Release.id).where(Release.name == name))
        if release_id is None:
            raise ReleaseNotFoundError(f"Release '{name}' doesn't exist")
        return release_id

    # -- a whole release ---------------------------------------------------------------

    def delete_release(self, release_id: int, name: str) -> None:
        _log.info("Checking for any deployments still using the release")
        with self._db.read() as session:
            users = _deployment_names(session, ReleaseVersion.release_id == release_id)
        if users:
            raise ReleaseInUseError(f"Release '{name}' is still in use by: {', '.join(users)}")
        self._delete_whole(release_id, name)

    def _delete_whole(self, release_id: int, name: str) -> None:
        with self._db.read() as session:
            packages = _labels(session, Package, Package.release_id == release_id)
            jobs = _labels(session, Template, Template.release_id == release_id)
            versions = list(
                session.execute(
                    select(ReleaseVersion.id, ReleaseVersion.version)
                    .where(ReleaseVersion.release_id == release_id)
                    .order_by(ReleaseVersion.id)
                )
            )
        self._delete_packages(packages)
        self._delete_jobs(jobs)
        stage = self._events.stage("Deleting release versions", total=len(versions))
        for version_id, version in versions:
            with stage.track(f"{name}/{version}"):
                self._delete_row(ReleaseVersion, version_id)
        self._delete_row(Release, release_id)

    # -- one version ---------------------------------------------------------------------

    def delete_version(self, release_id: int, name: str, version: str) -> None:
        _log.info("Looking up release version '%s/%s'", name, version)
        with self._db.read() as session:
            found = _find_version(session, release_id, name, version)
            version_id, stored_version = found.id, found.version
            users = _deployment_names(session, ReleaseVersion.id == version_id)
            only_here = _only_in(session, version_id)
        _log.info("Found release version: '%s/%s'", name, stored_version)
        if users:
            raise ReleaseVersionInUseError(
                f"ReleaseVersion '{name}/{stored_version}' is still in use by: {', '.join(users)}"
            )
        packages, jobs = only_here
        self._delete_packages(packages)
        self._delete_jobs(jobs)
        # The links of the packages and jobs kept go with it.
        self._delete_row(ReleaseVersion, version_id)
        with self._db.read() as session:
            left = session.scalar(
                select(ReleaseVersion.id).where(ReleaseVersion.release_id == release_id).limit(1)
            )
        if left is None:
            self._delete_whole(release_id, name)

    # -- packages and jobs -----------------------------------------------------------------

    def _delete_packages(self, packages: list[tuple[int, str]]) -> None:
        stage = self._events.stage("Deleting packages", total=len(packages))
        for package_id, label in packages:
            with stage.track(label):
                _log.info("Deleting package %s", label)
                self._delete_package(package_id)

    def _delete_package(self, package_id: int) -> None:
        with self._db.read() as session:
            compiled = list(
                session.execute(
                    select(CompiledPackage.id, CompiledPackage.blobstore_id).where(
                        CompiledPackage.package_id == package_id
                    )
                )
            )
            package = session.get(Package, package_id)
            source_blob = None if package is None else package.blobstore_id
        for compiled_id, blob_id in compiled:
            self._delete_blob(blob_id)
            self._delete_row(CompiledPackage, compiled_id)
        if source_blob is not None:
            self._delete_blob(source_blob)
        self._delete_row(Package, package_id)

    def _delete_jobs(self, jobs: list[tuple[int, str]]) -> None:
        stage = self._events.stage("Deleting jobs", total=len(jobs))
        for job_id, label in jobs:
            with stage.track(label):
                _log.info("Deleting job: %s", label)
                with self._db.read() as session:
                    job = session.get(Template, job_id)
                    blob_id = None if job is None else job.blobstore_id
                if blob_id is not None:
                    self._delete_blob(blob_id)
                self._delete_row(Template, job_id)

    def _delete_blob(self, blob_id: str) -> None:
        try:
            self._blobstore.delete(blob_id)
        except BoshError as error:
            if not self._force:
                raise
            self._events.warn(f"Force deleting is set, ignoring exception: {error}")
            _log.warning("Cannot delete blob %s, ignored (force): %s", blob_id, error)

    def _delete_row(self, model: type[Base], row_id: int) -> None:
        """Delete one row in a transaction of its own (gone already: nothing to do)."""
        with self._db.write() as session:
            row = session.get(model, row_id)
            if row is not None:
                session.delete(row)


def _deployment_names(session: Session, condition: ColumnElement[bool]) -> list[str]:
    """The deployments using a release version that matches `condition`."""
    query = (
        select(Deployment.name)
        .join(Deployment.release_versions)
        .where(condition)
        .distinct()
        .order_by(Deployment.name)
    )
    return list(session.scalars(query))


def _labels(
    session: Session, model: type[Package | Template], condition: ColumnElement[bool]
) -> list[tuple[int, str]]:
    """``(id, "name/version")`` of the packages or jobs matching `condition`, by name."""
    rows = session.execute(
        select(model.id, model.name, model.version)
        .where(condition)
        .order_by(model.name, model.version)
    )
    return [(row_id, f"{name}/{version}") for row_id, name, version in rows]


def _find_version(session: Session, release_id: int, name: str, version: str) -> ReleaseVersion:
    """The version as stored, else a stored version written another way that parses the
    same (the reference also tries the other of its two formats)."""
    stored = select(ReleaseVersion).where(ReleaseVersion.release_id == release_id)
    found = session.scalar(stored.where(ReleaseVersion.version == version))
    if found is not None:
        return found
    try:
        wanted = Version.parse(version)
    except VersionError:
        raise ReleaseVersionInvalidError(f"Release version invalid: {version}") from None
    for candidate in session.scalars(stored):
        try:
            if Version.parse(candidate.version) == wanted:
                return candidate
        except VersionError:
            continue
    raise ReleaseVersionNotFoundError(f"Release version '{name}/{version}' doesn't exist")


def _only_in(
    session: Session, version_id: int
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The packages and the jobs of the version that no other version has."""

    def lonely(
        model: type[Package | Template], link: Table, link_column: str
    ) -> list[tuple[int, str]]:
        columns = link.c
        mine = select(columns[link_column]).where(columns.release_version_id == version_id)
        shared = select(columns[link_column]).where(
            columns[link_column].in_(mine), columns.release_version_id != version_id
        )
        return _labels(session, model, model.id.in_(mine) & model.id.not_in(shared))

    return (
        lonely(Package, packages_release_versions, "package_id"),
        lonely(Template, release_versions_templates, "template_id"),
    )
