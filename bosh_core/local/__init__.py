"""``bosh local``: an embedded local BOSH (director, NATS, registry, local CPI) whose
whole state lives under one directory. See `bosh_core.local.environment`."""

from __future__ import annotations

from bosh_core.local.environment import LocalEnvironment, LocalEnvironmentError, LocalTarget
from bosh_core.local.processes import ProcessError

__all__ = ["LocalEnvironment", "LocalEnvironmentError", "LocalTarget", "ProcessError"]
