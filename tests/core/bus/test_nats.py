"""NatsBus against the embedded TLS server and the machine's plain NATS on 4222."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bosh_core.bus import (
    BusConnectionError,
    BusNoRespondersError,
    BusTimeoutError,
    Message,
    MessageBus,
    agent_subject,
)
from bosh_core.bus.certs import CertificateAuthority
from bosh_core.bus.embedded import EmbeddedNats, find_nats_server
from bosh_core.bus.nats import NatsBus

PLAIN_NATS = ("127.0.0.1", 4222)


def _plain_nats_is_up() -> bool:
    try:
        socket.create_connection(PLAIN_NATS, timeout=0.5).close()
    except OSError:
        return False
    return True


class Pair:
    """A director-side bus and an agent-side bus for one agent id."""

    def __init__(self, director: MessageBus, agent: MessageBus, agent_id: str) -> None:
        self.director, self.agent, self.agent_id = director, agent, agent_id


@pytest.fixture(params=["embedded-tls", "plain-4222"])
async def pair(request: pytest.FixtureRequest, nats_server: EmbeddedNats) -> AsyncIterator[Pair]:
    agent_id = f"agent-{uuid.uuid4().hex[:8]}"
    if request.param == "embedded-tls":
        cert = await asyncio.to_thread(nats_server.add_agent, agent_id)
        director = await NatsBus.connect(nats_server.url, tls=nats_server.director_cert())
        agent = await NatsBus.connect(nats_server.url, tls=cert)
    else:
        if not _plain_nats_is_up():
            pytest.skip("no NATS server listening on 127.0.0.1:4222 on this machine")
        director = await NatsBus.connect("nats://127.0.0.1:4222")
        agent = await NatsBus.connect("nats://127.0.0.1:4222")
    try:
        yield Pair(director, agent, agent_id)
    finally:
        await director.close()
        await agent.close()


async def serve_ping(pair: Pair) -> None:
    """The agent's side of BOSH's envelope: reply on the request's reply_to."""

    async def handle(message: Message) -> None:
        request = json.loads(message.data)
        value = "pong" if request["method"] == "ping" else None
        await pair.agent.publish(request["reply_to"], json.dumps({"value": value}).encode())

    await pair.agent.subscribe(agent_subject(pair.agent_id), handle)
    await pair.agent.flush()


async def test_request_reply_with_the_bosh_envelope(pair: Pair) -> None:
    await serve_ping(pair)
    reply_to = pair.director.reply_subject(pair.agent_id)
    assert reply_to.startswith("director.") and reply_to.split(".")[2] == pair.agent_id
    body = {"protocol": 3, "method": "ping", "arguments": [], "reply_to": reply_to}
    replies = await asyncio.gather(
        *(
            pair.director.request(
                agent_subject(pair.agent_id),
                json.dumps({**body, "reply_to": subject}).encode(),
                timeout=5,
                reply_to=subject,
            )
            for subject in [
                reply_to,
                *(pair.director.reply_subject(pair.agent_id) for _ in range(9)),
            ]
        )
    )
    assert [json.loads(reply.data) for reply in replies] == [{"value": "pong"}] * 10
    # Each request got the reply sent to its own subject.
    assert replies[0].subject == reply_to
    assert len({reply.subject for reply in replies}) == 10


async def test_a_request_nobody_subscribes_to_fails_at_once(pair: Pair) -> None:
    subject = agent_subject(pair.agent_id)
    with pytest.raises(BusNoRespondersError, match=rf"nothing is subscribed to {subject}"):
        await asyncio.wait_for(pair.director.request(subject, b"{}", timeout=30), 5)


async def test_a_request_without_an_answer_times_out(pair: Pair) -> None:
    async def ignore(message: Message) -> None:
        pass

    await pair.agent.subscribe(agent_subject(pair.agent_id), ignore)
    await pair.agent.flush()
    with pytest.raises(BusTimeoutError, match=r"no reply to agent\.\S+ within 0\.2s") as caught:
        await pair.director.request(agent_subject(pair.agent_id), b"{}", timeout=0.2)
    assert isinstance(caught.value, TimeoutError)


async def test_a_reply_subject_must_be_the_bus_own(pair: Pair) -> None:
    with pytest.raises(ValueError, match="reply_subject"):
        await pair.director.request("agent.x", b"{}", timeout=1, reply_to="director.other.x.y")


async def test_unsubscribe_stops_delivery(pair: Pair) -> None:
    received: list[bytes] = []

    async def handle(message: Message) -> None:
        received.append(message.data)

    subscription = await pair.agent.subscribe(agent_subject(pair.agent_id), handle)
    await pair.agent.flush()
    # Publish until the subscription is seen working (a busy machine may be slow to route).
    async with asyncio.timeout(15):
        while not received:
            await pair.director.publish(agent_subject(pair.agent_id), b"one")
            await pair.director.flush()
            await asyncio.sleep(0.1)
    await subscription.unsubscribe()
    await pair.agent.flush()
    await pair.director.publish(agent_subject(pair.agent_id), b"two")
    await pair.director.flush()
    await asyncio.sleep(0.1)
    assert set(received) == {b"one"}


async def test_a_failing_handler_does_not_stop_the_subscription(pair: Pair) -> None:
    received: list[bytes] = []
    failures = 0

    async def handle(message: Message) -> None:
        nonlocal failures
        if message.data == b"bad":
            failures += 1
            raise RuntimeError("malformed")
        received.append(message.data)

    await pair.agent.subscribe(agent_subject(pair.agent_id), handle)
    await pair.agent.flush()
    # A "good" after each "bad", until one arrives: a loaded machine (a whole CI run) has
    # been seen to deliver the first ones after several seconds.
    async with asyncio.timeout(30):
        while not received:
            for data in (b"bad", b"good"):
                await pair.director.publish(agent_subject(pair.agent_id), data)
            await pair.director.flush()
            await asyncio.sleep(0.1)
    # Messages of one publisher arrive in order: the "bad" before it failed in the handler.
    assert failures >= 1
    assert set(received) == {b"good"}


async def test_no_server_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BusConnectionError, match=rf"127\.0\.0\.1:{port}") as caught:
        await NatsBus.connect(f"nats://user:s3cret@127.0.0.1:{port}", connect_timeout=1)
    assert "s3cret" not in str(caught.value)


async def test_a_server_without_a_bosh_name_is_refused(tmp_path: Path) -> None:
    # A real agent accepts only a server named *.nats.bosh-internal, whatever the CA.
    ca = CertificateAuthority.generate()
    server = ca.issue_server(["127.0.0.1"], common_name="nats.example.com")
    for name, text in {
        "ca.pem": server.ca,
        "server.pem": server.certificate,
        "server.key": server.private_key,
    }.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "nats.conf").write_text(
        f"""listen: "127.0.0.1:-1"
ports_file_dir: "{tmp_path}"
tls {{ cert_file: "{tmp_path}/server.pem", key_file: "{tmp_path}/server.key" }}
"""
    )
    process = subprocess.Popen(
        [find_nats_server(), "-c", tmp_path / "nats.conf"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(10):
            while not list(tmp_path.glob("*.ports")):
                await asyncio.sleep(0.02)
        url = json.loads(next(tmp_path.glob("*.ports")).read_text())["nats"][0]
        with pytest.raises(BusConnectionError, match=r"\*\.nats\.bosh-internal"):
            await NatsBus.connect(url, tls=ca.issue_agent("a1"), max_reconnect_attempts=0)
    finally:
        process.terminate()
        process.wait()
