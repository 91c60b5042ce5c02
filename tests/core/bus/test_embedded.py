"""The embedded nats-server enforces BOSH's per-identity permissions (real server, TLS)."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from bosh_core.bus import (
    BusConnectionError,
    BusError,
    BusPermissionError,
    Message,
    agent_subject,
    heartbeat_subject,
)
from bosh_core.bus.certs import CertificateAuthority
from bosh_core.bus.embedded import EmbeddedNats
from bosh_core.bus.nats import NatsBus


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)


async def test_an_agent_cannot_read_or_impersonate_another(nats_server: EmbeddedNats) -> None:
    certs = nats_server.add_agents(["agent-1", "agent-2"])
    errors: list[BusError] = []
    monitor = await NatsBus.connect(nats_server.url, tls=nats_server.health_monitor_cert())
    director = await NatsBus.connect(nats_server.url, tls=nats_server.director_cert())
    agent_1 = await NatsBus.connect(nats_server.url, tls=certs["agent-1"], on_error=errors.append)
    agent_2 = await NatsBus.connect(nats_server.url, tls=certs["agent-2"])
    try:
        heartbeats, own, stolen = Inbox(), Inbox(), Inbox()
        await monitor.subscribe("hm.agent.heartbeat.*", heartbeats)
        await agent_2.subscribe(agent_subject("agent-2"), own)
        await agent_1.subscribe(agent_subject("agent-2"), stolen)
        await monitor.flush()
        await agent_2.flush()
        await agent_1.flush()

        await agent_1.publish(heartbeat_subject("agent-2"), b"spoofed")
        await agent_1.publish(heartbeat_subject("agent-1"), b"genuine")
        await director.publish(agent_subject("agent-2"), b"for agent-2 only")
        await until(lambda: len(errors) == 2 and own.messages and heartbeats.messages)
        await director.flush()
        await agent_1.flush()

        assert sorted(str(error) for error in errors) == [
            'permissions violation for publish to "hm.agent.heartbeat.agent-2"',
            'permissions violation for subscription to "agent.agent-2"',
        ]
        assert all(isinstance(error, BusPermissionError) for error in errors)
        assert [m.data for m in heartbeats.messages] == [b"genuine"]
        assert [m.data for m in own.messages] == [b"for agent-2 only"]
        assert stolen.messages == []
    finally:
        for bus in (monitor, director, agent_1, agent_2):
            await bus.close()


async def test_director_and_monitor_are_limited_too(nats_server: EmbeddedNats) -> None:
    director_errors: list[BusError] = []
    monitor_errors: list[BusError] = []
    director = await NatsBus.connect(
        nats_server.url, tls=nats_server.director_cert(), on_error=director_errors.append
    )
    monitor = await NatsBus.connect(
        nats_server.url, tls=nats_server.health_monitor_cert(), on_error=monitor_errors.append
    )
    try:
        await director.publish(heartbeat_subject("x"), b"forged")
        await monitor.publish(agent_subject("x"), b"not allowed")
        await monitor.subscribe(agent_subject("x"), Inbox())
        await until(lambda: len(director_errors) == 1 and len(monitor_errors) == 2)
        assert "publish" in str(director_errors[0])
    finally:
        await director.close()
        await monitor.close()


async def test_an_agent_unknown_to_the_server_cannot_connect(nats_server: EmbeddedNats) -> None:
    # Issued by the right CA, but never added: verify_and_map finds no user.
    cert = nats_server.issue_agent_cert("never-added")
    with pytest.raises(BusConnectionError, match="Authorization Violation"):
        await NatsBus.connect(nats_server.url, tls=cert, max_reconnect_attempts=0)


async def test_a_certificate_from_another_ca_is_refused(nats_server: EmbeddedNats) -> None:
    nats_server.add_agent("imposter")
    foreign = CertificateAuthority.generate().issue_agent("imposter")
    # It trusts the right server, but presents a certificate the server cannot verify.
    presented = attrs.evolve(foreign, ca=nats_server.ca_certificate)
    with pytest.raises(BusConnectionError):
        await NatsBus.connect(nats_server.url, tls=presented, max_reconnect_attempts=0)


async def test_removing_an_agent_disconnects_it_and_adding_it_back_restores_it(
    nats_server: EmbeddedNats,
) -> None:
    cert = nats_server.add_agent("comes-and-goes")
    agent = await NatsBus.connect(
        nats_server.url, tls=cert, max_reconnect_attempts=0, on_error=lambda error: None
    )
    try:
        assert agent.connected
        await asyncio.to_thread(nats_server.remove_agent, "comes-and-goes")
        assert "comes-and-goes" not in nats_server.agents
        await until(lambda: not agent.connected)
    finally:
        await agent.close()
    with pytest.raises(BusConnectionError):
        await NatsBus.connect(nats_server.url, tls=cert, max_reconnect_attempts=0)

    await asyncio.to_thread(nats_server.add_agent, "comes-and-goes")
    again = await NatsBus.connect(nats_server.url, tls=cert, max_reconnect_attempts=0)
    await again.close()


def test_state_survives_a_restart(state_dir: Path) -> None:
    with EmbeddedNats(state_dir) as server:
        cert = server.add_agent("survivor")
        port = server.port
        ca = server.ca_certificate
    assert not server.running
    with EmbeddedNats(state_dir) as server:
        assert (server.port, server.ca_certificate) == (port, ca)
        assert server.agents == {"survivor"}

        async def connect() -> None:
            bus = await NatsBus.connect(server.url, tls=cert, max_reconnect_attempts=0)
            await bus.close()

        asyncio.run(connect())
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    for secret in ("ca.key", "server.key"):
        assert stat.S_IMODE((state_dir / secret).stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in (state_dir / "nats-server.log").read_text()


def test_a_server_that_cannot_start_says_why(state_dir: Path) -> None:
    with EmbeddedNats(state_dir / "a") as first:
        # The same port twice: the second server exits and its log is in the error.
        second = EmbeddedNats(state_dir / "b", port=first.port)
        with pytest.raises(BusError, match="exited at start"):
            second.start()
        assert not second.running


async def test_async_context_manager(state_dir: Path) -> None:
    async with EmbeddedNats(state_dir) as server:
        bus = await NatsBus.connect(server.url, tls=server.director_cert())
        await bus.close()
    assert not server.running
