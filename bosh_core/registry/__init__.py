"""The BOSH registry: where CPIs on the v1 path leave each VM's agent settings.

The API is the legacy bosh-registry's: ``PUT``/``GET``/``DELETE
/instances/<instance_id>/settings`` with HTTP basic auth for writers; ``GET`` answers
``{"settings": "<settings JSON as a string>", "status": "ok"}``. An unauthenticated
``GET`` is allowed only from one of the instance's own IP addresses (the addresses in
the stored settings' networks, or loopback), as the real registry checks the caller's IP
against the instance's.

``RegistryServer`` and ``SQLiteRegistryStore`` are in bosh_core.registry.server,
``RegistryClient`` in bosh_core.registry.client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bosh_core.errors import BoshError
from bosh_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from bosh_core.registry.client import RegistryClient
    from bosh_core.registry.server import RegistryServer, SQLiteRegistryStore


__all__ = [
    "RegistryClient",
    "RegistryError",
    "RegistryNotFoundError",
    "RegistryServer",
    "SQLiteRegistryStore",
]


class RegistryError(BoshError):
    """The registry refused or failed a request."""


class RegistryNotFoundError(RegistryError):
    """The registry has no settings for the instance."""


_LAZY = {
    "RegistryClient": "bosh_core.registry.client",
    "RegistryServer": "bosh_core.registry.server",
    "SQLiteRegistryStore": "bosh_core.registry.server",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
