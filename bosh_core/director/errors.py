"""Errors of the director. Each carries BOSH's error code and HTTP status as class
attributes; the API translates them to ``{"code", "description"}`` at the edge."""

from __future__ import annotations

from typing import ClassVar

from bosh_core.errors import BoshError

__all__ = [
    "DirectorError",
    "QueueError",
    "ReservationLostError",
    "UnauthorizedToAccessDeploymentError",
]


class DirectorError(BoshError):
    """Root of the director's errors (BOSH's ``Bosh::Director::DirectorError``: 100, 500)."""

    error_code: ClassVar[int] = 100
    http_status: ClassVar[int] = 500


class QueueError(DirectorError):
    """The task queue cannot take, hand out or account for a job."""


class ReservationLostError(QueueError):
    """A reserved job is no longer held by its worker: its lease expired and
    ``recover_expired`` took it back (the task is reported as timed out or requeued)."""


class UnauthorizedToAccessDeploymentError(DirectorError):
    """The caller may not read this resource; also an unknown task output type
    (BOSH's ``UnauthorizedToAccessDeployment``: 600000, 401)."""

    error_code = 600000
    http_status = 401


__all__ += [
    "LockLostError",
    "LockTimeoutError",
    "ValidationInvalidType",
]


class LockTimeoutError(TimeoutError, DirectorError):
    """A named lock stayed held by another task past the acquire timeout
    (BOSH's ``Lock::TimeoutError``; the task fails with the director's code 100)."""


class LockLostError(DirectorError):
    """A held lock could not be renewed or released: it expired and another holder
    took it over (BOSH then marks the task ``cancelling``)."""


class ValidationInvalidType(DirectorError):
    """A request value has the wrong type or form (BOSH's 40000, 400)."""

    error_code = 40000
    http_status = 400


__all__ += [
    "ContextIdViolatedMaxError",
    "TaskNotFoundError",
    "TaskUnexpectedStateError",
]


class TaskNotFoundError(DirectorError):
    """No task has that id (BOSH's ``TaskNotFound``: 10000, 404)."""

    error_code = 10000
    http_status = 404


class TaskUnexpectedStateError(DirectorError):
    """The task is in a state that does not allow the action, e.g. cancelling a finished
    task (BOSH's ``TaskUnexpectedState``: 10002, 400)."""

    error_code = 10002
    http_status = 400


class ContextIdViolatedMaxError(DirectorError):
    """``X-Bosh-Context-Id`` is longer than 64 characters (BOSH's 70010, 400)."""

    error_code = 70010
    http_status = 400


__all__ += [
    "JobMissingMonitError",
    "JobMissingTemplateFileError",
    "ReleaseExistingJobFingerprintMismatchError",
    "ReleaseInvalidArchiveError",
    "ReleaseInvalidPackageError",
    "ReleasePackageDependencyError",
    "ReleasePackageDependencyKeyMismatchError",
    "ReleaseVersionCommitHashMismatchError",
    "ReleaseVersionInvalidError",
    "ValidationInvalidValue",
]


class ReleaseInvalidArchiveError(DirectorError):
    """An uploaded release tarball cannot be read or fails verification (BOSH's
    ``ReleaseInvalidArchive``: 30002, 400)."""

    error_code = 30002
    http_status = 400


class ReleaseVersionInvalidError(DirectorError):
    """``release.MF`` has a version that is not a release version (30010, 400)."""

    error_code = 30010
    http_status = 400


class ReleaseInvalidPackageError(DirectorError):
    """A package differs from the one of the same name in the already uploaded release
    version (BOSH's ``ReleaseInvalidPackage``: 30012, 400)."""

    error_code = 30012
    http_status = 400


class ReleaseExistingJobFingerprintMismatchError(DirectorError):
    """A job differs from the one of the same name in the already uploaded release
    version (30013, 400)."""

    error_code = 30013
    http_status = 400


class ReleaseVersionCommitHashMismatchError(DirectorError):
    """The release version exists with another commit hash (30014, 400)."""

    error_code = 30014
    http_status = 400


class ReleasePackageDependencyKeyMismatchError(DirectorError):
    """A compiled package's dependencies differ from the stored package's (30016, 400)."""

    error_code = 30016
    http_status = 400


class ReleasePackageDependencyError(DirectorError):
    """Packages depend on each other in a cycle, or on a package the release lacks (the
    reference raises a plain error for both: code 100)."""


class ValidationInvalidValue(DirectorError):
    """A value has the right type but a wrong form, e.g. a name with a space in a release
    manifest (BOSH's 40005, 400)."""

    error_code = 40005
    http_status = 400


class JobMissingTemplateFileError(DirectorError):
    """A job's spec names a template its archive lacks (BOSH's 80002, 400)."""

    error_code = 80002
    http_status = 400


class JobMissingMonitError(DirectorError):
    """A job archive has neither ``monit`` nor ``*.monit`` (BOSH's 80004, 400)."""

    error_code = 80004
    http_status = 400


__all__ += ["EventNotFoundError"]


class EventNotFoundError(DirectorError):
    """``GET /events/:id`` names no stored event. The reference controller has no code of
    its own for this; the director's generic 100 is kept, with 404."""

    error_code = 100
    http_status = 404
