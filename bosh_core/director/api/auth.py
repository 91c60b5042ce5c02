"""Basic authentication against the config's local users, as the reference's
``LocalIdentityProvider``: every local user is an admin."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from typing import Final

from bosh_core.director.api.config import LocalUser

__all__ = ["REALM_HEADER", "BasicAuthenticator", "not_authorized_body"]

REALM_HEADER: Final = 'Basic realm="BOSH Director"'
"""The ``WWW-Authenticate`` value the reference sends."""


def not_authorized_body(path: str) -> str:
    """The reference's 401 body."""
    return f"Not authorized: '{path}'\n"


class BasicAuthenticator:
    """Checks ``Authorization: Basic ...`` headers against local users."""

    def __init__(self, users: Iterable[LocalUser]) -> None:
        self._passwords = {user.name: user.password.encode() for user in users}

    def __repr__(self) -> str:
        return f"BasicAuthenticator(users={sorted(self._passwords)!r})"

    def client_info(self) -> dict[str, object]:
        """``user_authentication`` of ``GET /info``."""
        return {"type": "basic", "options": {}}

    def authenticate(self, header: str | None) -> str | None:
        """The user name if `header` holds a local user's right credentials, else None."""
        if not header:
            return None
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        name_bytes, colon, password = decoded.partition(b":")
        if not colon:
            return None
        try:
            name = name_bytes.decode()
        except UnicodeDecodeError:
            return None
        expected = self._passwords.get(name)
        # Compare against something even for unknown users, so timing tells nothing.
        if not hmac.compare_digest(password, expected if expected is not None else b"\0" * 32):
            return None
        return name if expected is not None else None
