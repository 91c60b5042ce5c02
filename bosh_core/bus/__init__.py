"""The message bus between the director, the health monitor and agents (NATS).

``MessageBus`` is the protocol code depends on; ``NatsBus`` (bosh_core.bus.nats) is its
implementation over nats-py, and ``EmbeddedNats`` (bosh_core.bus.embedded) runs a real
nats-server with TLS and per-agent permissions, as a BOSH director's VM does. Importing
this package stays light: nats-py and cryptography load with those modules.

Subjects, as in real BOSH: requests go to ``agent.<agent_id>``; replies come back on
``director.<process uuid>.<agent_id>.<request uuid>``; agents publish
``hm.agent.{heartbeat,alert,shutdown}.<agent_id>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

from bosh_core.errors import BoshError
from bosh_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from bosh_core.bus.certs import CertificateAuthority, MbusCert
    from bosh_core.bus.embedded import EmbeddedNats
    from bosh_core.bus.nats import NatsBus


__all__ = [
    "BusConnectionError",
    "BusError",
    "BusNoRespondersError",
    "BusPermissionError",
    "BusTimeoutError",
    "CertificateAuthority",
    "EmbeddedNats",
    "MbusCert",
    "Message",
    "MessageBus",
    "MessageHandler",
    "NatsBus",
    "Subscription",
    "agent_subject",
    "alert_subject",
    "heartbeat_subject",
    "shutdown_subject",
]


class BusError(BoshError):
    """The message bus failed: connection, permissions, server start or reload."""


class BusConnectionError(BusError):
    """The bus cannot be reached (or the TLS handshake failed)."""


class BusPermissionError(BusError):
    """The server refused a publish or subscribe this client's identity is not allowed."""


class BusTimeoutError(TimeoutError, BusError):
    """No reply came within the request's timeout."""


class BusNoRespondersError(BusTimeoutError):
    """Nothing is subscribed to a request's subject (NATS said so at once).

    A timeout too, so code that retries timed-out requests treats both alike.
    """


class Message(NamedTuple):
    subject: str
    data: bytes
    reply: str = ""


MessageHandler = Callable[[Message], Awaitable[None]]


class Subscription(Protocol):
    async def unsubscribe(self) -> None: ...


class MessageBus(Protocol):
    """Publish, subscribe and request/reply on subjects; payloads are bytes."""

    async def publish(self, subject: str, data: bytes, *, reply: str = "") -> None: ...

    async def subscribe(self, subject: str, handler: MessageHandler) -> Subscription:
        """Call `handler` for each message on `subject` (wildcards allowed)."""

    def reply_subject(self, token: str) -> str:
        """A fresh reply subject ``<prefix>.<process uuid>.<token>.<request uuid>``.

        For an agent request `token` is the agent id: an agent may only publish replies
        whose third token is its own id.
        """

    async def request(
        self, subject: str, data: bytes, *, timeout: float, reply_to: str | None = None
    ) -> Message:
        """Publish `data` and wait for the first message on `reply_to` (a fresh
        ``reply_subject`` when None); raises BusTimeoutError after `timeout` seconds, or
        BusNoRespondersError at once when the server knows no subscriber."""

    async def flush(self, timeout: float = 5.0) -> None:
        """Return once the server has processed everything sent so far."""

    async def close(self) -> None: ...


def agent_subject(agent_id: str) -> str:
    return f"agent.{agent_id}"


def heartbeat_subject(agent_id: str) -> str:
    return f"hm.agent.heartbeat.{agent_id}"


def alert_subject(agent_id: str) -> str:
    return f"hm.agent.alert.{agent_id}"


def shutdown_subject(agent_id: str) -> str:
    return f"hm.agent.shutdown.{agent_id}"


_LAZY = {
    "CertificateAuthority": "bosh_core.bus.certs",
    "MbusCert": "bosh_core.bus.certs",
    "EmbeddedNats": "bosh_core.bus.embedded",
    "NatsBus": "bosh_core.bus.nats",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
