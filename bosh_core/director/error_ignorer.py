"""A forced deletion carries on past errors: the reference's ``ErrorIgnorer``.

``bosh delete-deployment --force`` (and the other forced deletions) must get rid of the
director's records even when the cloud, the blobstore or the message bus fails: each
failing step is reported as a warning of the task and the deletion goes on.

    with ignored_if_forced(force, event_log):
        cpi.delete_vm(cid)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bosh_core.director.tasks.events import EventLog

__all__ = ["ignored_if_forced"]

_log = logging.getLogger(__name__)


@contextlib.contextmanager
def ignored_if_forced(force: bool, event_log: EventLog | None) -> Iterator[None]:
    """Without `force`, the block's error is raised. With it, the error is logged and
    added to `event_log` (the task's, when there is one) as a warning, and the caller
    carries on after the block."""
    try:
        yield
    except Exception as error:  # a plugin CPI may raise its IaaS library's errors
        if not force:
            raise
        message = f"Force deleting is set, ignoring exception: {error}"
        _log.warning("%s", message)
        if event_log is not None:
            event_log.warn(message)
