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
