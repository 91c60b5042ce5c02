"""The director's access to agents: NATS credentials for new VMs, and RPC clients.

`Agents` is one per director process (``Director.agents``). With an embedded bus
(``mbus: {embedded: true}``) ``start()`` runs the nats-server and the director owns it:
``credentials_for(agent_id)`` authorizes a new VM's agent (its own user, config reload)
and returns the ``env`` for the CPI's create_vm. Only the process that started
nats-server can reload it, so an embedded bus needs the task workers inside the
director; ``bosh-director worker`` processes need an external NATS (``mbus: {url}``),
whose agents' certificates the operator provides (``credentials_for`` adds nothing).

Every client shares one NATS connection, served by an asyncio loop on a background
thread: task workers are threads and block on ``blocking_client(...)`` calls, while
async code (``call``) awaits the `AgentClient` of ``client(...)`` on that loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bosh_core.agent.client import DEFAULT_TIMEOUT, AgentClient
from bosh_core.bus import BusError, MessageBus

if TYPE_CHECKING:
    from bosh_core.bus.certs import MbusCert
    from bosh_core.bus.embedded import EmbeddedNats
    from bosh_core.director.api.config import MbusConfig

__all__ = ["DEFAULT_AGENT_WAIT_TIMEOUT", "Agents", "AgentsUnavailableError", "BlockingAgentClient"]

DEFAULT_AGENT_WAIT_TIMEOUT = 600.0
"""Seconds to wait for a new VM's agent to answer (the reference's agent_wait_timeout)."""

_T = TypeVar("_T")


class AgentsUnavailableError(BusError):
    """This process cannot reach agents: no bus configured, or an embedded one it does
    not own."""


class BlockingAgentClient:
    """`AgentClient`'s methods for threads: each call runs on the shared bus loop and
    blocks until it ends."""

    def __init__(self, agents: Agents, client: AgentClient) -> None:
        self._agents = agents
        self.client = client

    @property
    def agent_id(self) -> str:
        return self.client.agent_id

    def send(self, method: str, *arguments: Any, timeout: float | None = None) -> Any:
        return self._agents.call(self.client.send(method, *arguments, timeout=timeout))

    def run(
        self, method: str, *arguments: Any, poll_interval: float = 1.0, timeout: float = 600.0
    ) -> Any:
        return self._agents.call(
            self.client.run(method, *arguments, poll_interval=poll_interval, timeout=timeout)
        )

    def wait_until_ready(self, *, within: float, ping_timeout: float = 1.0) -> None:
        self._agents.call(self.client.wait_until_ready(within=within, ping_timeout=ping_timeout))


class Agents:
    """The director's agents over `config`'s bus (None: the director has no bus).

    `state_dir` keeps an embedded server's CA and agent users across restarts; it
    listens on `bind`. `wait_timeout` bounds ``wait_for_agent``.
    """

    def __init__(
        self,
        config: MbusConfig | None,
        *,
        state_dir: Path,
        bind: str = "127.0.0.1",
        wait_timeout: float = DEFAULT_AGENT_WAIT_TIMEOUT,
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self.bind = bind
        self.wait_timeout = wait_timeout
        self._lock = threading.RLock()
        self._nats: EmbeddedNats | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bus: MessageBus | None = None

    def __repr__(self) -> str:
        return f"Agents({self.config!r}, connected={self._bus is not None})"

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> Agents:
        """Start the embedded nats-server (when configured) and connect to the bus."""
        config = self._require_config()
        with self._lock:
            if config.embedded and self._nats is None:
                from bosh_core.bus.embedded import EmbeddedNats

                self._nats = EmbeddedNats(
                    self.state_dir,
                    host=self.bind,
                    port=config.port,
                    addresses=[self.address],
                ).start()
            self._connected_bus()
        return self

    def stop(self) -> None:
        """Close the connection, end the loop thread, stop an embedded server."""
        with self._lock:
            bus, self._bus = self._bus, None
            loop, self._loop = self._loop, None
            thread, self._thread = self._thread, None
            if loop is not None and thread is not None:
                if bus is not None:
                    asyncio.run_coroutine_threadsafe(bus.close(), loop).result()
                loop.call_soon_threadsafe(loop.stop)
                thread.join()
                loop.close()
            nats, self._nats = self._nats, None
            if nats is not None:
                nats.stop()

    # -- where agents connect, and as whom ------------------------------------------

    @property
    def address(self) -> str:
        """The host agents dial: ``mbus.address``, else the bind address (loopback when
        the director listens on every address)."""
        config = self._require_config()
        if config.address:
            return config.address
        return "127.0.0.1" if self.bind in ("0.0.0.0", "::") else self.bind

    @property
    def agent_url(self) -> str:
        """The ``mbus`` URL for agent settings (the CPI's ``agent.mbus``)."""
        config = self._require_config()
        if config.url is not None:
            return config.url
        return self._embedded().url_for(self.address)

    def credentials_for(self, agent_id: str) -> dict[str, Any]:
        """The create_vm ``env`` that lets `agent_id` onto the bus; see
        `credentials_for_all`."""
        return self.credentials_for_all([agent_id])[agent_id]

    def credentials_for_all(self, agent_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each agent's ``env`` (``bosh.mbus.cert``), authorized with one server reload.
        With an external bus the operator provides agents' credentials: empty envs."""
        from bosh_core.bus.certs import agent_environment

        ids = list(agent_ids)
        if not self._require_config().embedded:
            return {agent_id: {} for agent_id in ids}
        certs = self._embedded().add_agents(ids)
        return {agent_id: agent_environment(cert) for agent_id, cert in certs.items()}

    def revoke(self, agent_ids: Iterable[str]) -> None:
        """Take deleted VMs' agents off an embedded bus (nothing for an external one)."""
        if self._require_config().embedded:
            self._embedded().remove_agents(agent_ids)

    # -- talking to agents -------------------------------------------------------

    def client(self, agent_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> AgentClient:
        """An async client on the shared connection; await it through ``call``."""
        return AgentClient(self._connected_bus(), agent_id, timeout=timeout)

    def blocking_client(
        self, agent_id: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> BlockingAgentClient:
        """The client for task workers (threads)."""
        return BlockingAgentClient(self, self.client(agent_id, timeout=timeout))

    def wait_for_agent(self, agent_id: str, *, timeout: float | None = None) -> None:
        """Ping `agent_id` until it answers; AgentTimeoutError after `timeout` seconds
        (default `wait_timeout`)."""
        within = self.wait_timeout if timeout is None else timeout
        self.blocking_client(agent_id).wait_until_ready(within=within)

    def call(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run `work` on the bus loop and return its result (from any thread but the
        loop's own, which would wait for itself)."""
        self._connected_bus()
        loop = self._loop
        if loop is None:  # stopped meanwhile
            work.close()
            raise AgentsUnavailableError("the director's message bus connection is closed")
        if threading.current_thread() is self._thread:
            work.close()
            raise RuntimeError("Agents.call from the bus loop: await the coroutine instead")
        return asyncio.run_coroutine_threadsafe(work, loop).result()

    # -- internals ----------------------------------------------------------------

    def _require_config(self) -> MbusConfig:
        if self.config is None:
            raise AgentsUnavailableError(
                "The director has no message bus to reach agents: configure 'mbus' in the"
                " director config (embedded: true, or the url of a NATS server)"
            )
        return self.config

    def _embedded(self) -> EmbeddedNats:
        if self._nats is None or not self._nats.running:
            raise AgentsUnavailableError(
                "The embedded NATS (mbus.embedded) runs in the director process and only it"
                " can authorize agents: run the task workers in the director (workers > 0),"
                " or use an external NATS (mbus.url) with 'bosh-director worker' processes"
            )
        return self._nats

    def _connected_bus(self) -> MessageBus:
        with self._lock:
            if self._bus is not None:
                return self._bus
            config = self._require_config()
            cert: MbusCert | None
            if config.embedded:
                nats = self._embedded()
                url, cert = nats.url, nats.director_cert()
            else:
                assert config.url is not None  # load_config requires embedded or url
                url, cert = config.url, _external_cert(config)
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="bosh-director-mbus", daemon=True
            )
            thread.start()
            try:
                self._bus = asyncio.run_coroutine_threadsafe(_connect(url, cert), loop).result()
            except BaseException:
                loop.call_soon_threadsafe(loop.stop)
                thread.join()
                loop.close()
                raise
            self._loop, self._thread = loop, thread
            return self._bus


async def _connect(url: str, cert: MbusCert | None) -> MessageBus:
    from bosh_core.bus.nats import NatsBus

    return await NatsBus.connect(url, tls=cert, name="bosh-director")


def _external_cert(config: MbusConfig) -> MbusCert | None:
    from bosh_core.bus.certs import MbusCert

    if config.ca_cert is None or config.client_cert is None or config.client_key is None:
        return None
    try:
        return MbusCert(
            ca=config.ca_cert.read_text(),
            certificate=config.client_cert.read_text(),
            private_key=config.client_key.read_text(),
        )
    except OSError as error:
        raise AgentsUnavailableError(
            f"Cannot read the mbus TLS files: {error.filename}: {error.strerror}"
        ) from None
