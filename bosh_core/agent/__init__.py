"""The BOSH agent: the process on every VM that the director talks to over NATS.

``settings`` reads what the CPI left for the agent (a file or the registry), ``protocol``
is the message envelope, ``actions`` the work (apply, compile_package, drain, disks...),
``runtime`` the asyncio shell (NATS, agent tasks, heartbeats) and ``main`` the console
script ``bosh-agent``. Every path on the VM is taken relative to a base directory
(``/var/vcap`` on a real VM) so the agent can run unprivileged in a scratch directory.
"""

from __future__ import annotations

__all__: list[str] = []
