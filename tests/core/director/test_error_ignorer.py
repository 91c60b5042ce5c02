"""A forced deletion's errors become warnings of the task; without force they are raised."""

from __future__ import annotations

import pytest

from bosh_core.director.error_ignorer import ignored_if_forced
from bosh_core.director.tasks.events import EventLog
from tests.core.director.jobs.local_cloud import Lines


def test_without_force_the_error_is_raised_and_nothing_is_warned() -> None:
    lines = Lines()
    with pytest.raises(OSError, match="blobstore down"), ignored_if_forced(False, EventLog(lines)):
        raise OSError("blobstore down")
    assert lines.warnings() == []


def test_with_force_the_error_is_a_warning_and_the_caller_carries_on() -> None:
    lines = Lines()
    with ignored_if_forced(True, EventLog(lines)):
        raise OSError("blobstore down")
    with ignored_if_forced(True, None):  # no task event log: logged only
        raise OSError("blobstore down")
    assert lines.warnings() == ["Force deleting is set, ignoring exception: blobstore down"]


def test_force_does_not_swallow_an_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt), ignored_if_forced(True, None):
        raise KeyboardInterrupt
