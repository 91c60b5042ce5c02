"""URLs shown to people: without the credentials they may carry."""

from __future__ import annotations

import re

__all__ = ["redact_url"]

_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def redact_url(url: str) -> str:
    """`url` with its ``user:password@`` part replaced by ``<redacted>@`` (what the
    reference's ``RedactBasicAuth`` keeps out of messages), else unchanged."""
    return _USERINFO.sub("<redacted>@", url, count=1)
