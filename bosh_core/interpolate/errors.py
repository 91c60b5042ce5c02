"""Errors of interpolation: their text is the reference CLI's, word for word."""

from __future__ import annotations

from bosh_core.errors import BoshError

__all__ = ["InterpolateError"]


class InterpolateError(BoshError):
    """An ops file, a variable or a path could not be applied; ``str()`` is what bosh prints."""
