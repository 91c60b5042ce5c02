"""A real TLS nats-server, an agent running in-process on it, and a director client."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from bosh_core.agent.actions import Actions, blobstore_from_settings
from bosh_core.agent.runtime import AgentRuntime
from bosh_core.agent.settings import Settings, parse_settings
from bosh_core.agent.supervisor import JobSupervisor
from bosh_core.bus.certs import MbusCert, agent_environment, client_ssl_context
from bosh_core.bus.embedded import EmbeddedNats


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    with EmbeddedNats(tmp_path_factory.mktemp("nats") / "state") as server:
        yield server


def settings_document(
    agent_id: str, *, url: str, cert: MbusCert, blobstore: Path
) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "mbus": url,
        "blobstore": {"provider": "local", "options": {"blobstore_path": str(blobstore)}},
        "networks": {"default": {"type": "manual", "ip": "10.244.0.2", "default": ["dns"]}},
        "disks": {"system": "/dev/sda", "persistent": {}},
        "env": agent_environment(cert),
        "vm": {"name": f"vm-{agent_id}"},
    }


class Director:
    """The director's side of the agent protocol, over its own TLS connection."""

    def __init__(self, nc: Any, agent_id: str) -> None:
        self.nc = nc
        self.agent_id = agent_id
        self.prefix = f"director.{uuid.uuid4()}"
        self._replies: dict[str, asyncio.Future[Any]] = {}

    async def listen(self) -> None:
        async def on_reply(msg: Any) -> None:
            future = self._replies.pop(msg.subject.rsplit(".", 1)[-1], None)
            if future is not None and not future.done():
                future.set_result(json.loads(msg.data))

        await self.nc.subscribe(f"{self.prefix}.>", cb=on_reply)

    async def send(self, payload: bytes | dict[str, Any], *, timeout: float = 10) -> Any:
        token = str(uuid.uuid4())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[token] = future
        if isinstance(payload, dict):
            payload = json.dumps(
                {**payload, "reply_to": f"{self.prefix}.{self.agent_id}.{token}"}
            ).encode()
        else:
            payload = payload.replace(b"REPLY", f"{self.prefix}.{self.agent_id}.{token}".encode())
        await self.nc.publish(f"agent.{self.agent_id}", payload)
        return await asyncio.wait_for(future, timeout)

    async def call(self, method: str, *arguments: Any) -> Any:
        return await self.send({"protocol": 3, "method": method, "arguments": list(arguments)})

    async def run_task(self, method: str, *arguments: Any, timeout: float = 60) -> Any:
        """Start an asynchronous action and poll get_task until it ends, as the director."""
        reply = await self.call(method, *arguments)
        if "exception" in reply:
            return reply
        task_id = reply["value"]["agent_task_id"]
        assert reply["value"]["state"] == "running"
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            reply = await self.call("get_task", task_id)
            value = reply.get("value")
            if not (isinstance(value, dict) and value.get("state") == "running"):
                return reply
            assert asyncio.get_running_loop().time() < deadline, f"{method} still running"
            await asyncio.sleep(0.05)


class RunningAgent:
    def __init__(self, runtime: AgentRuntime, director: Director, base_dir: Path) -> None:
        self.runtime = runtime
        self.director = director
        self.base_dir = base_dir
        self.settings: Settings = runtime.settings
        self.blobstore = runtime.actions.blobstore


async def director_for(nats_server: EmbeddedNats, agent_id: str) -> Director:
    nc = await nats.connect(nats_server.url, tls=client_ssl_context(nats_server.director_cert()))
    director = Director(nc, agent_id)
    await director.listen()
    return director


@pytest.fixture
async def agent(nats_server: EmbeddedNats, tmp_path: Path) -> AsyncIterator[RunningAgent]:
    agent_id = f"agent-{uuid.uuid4().hex[:8]}"
    cert = nats_server.add_agent(agent_id)
    base_dir = tmp_path / "vcap"
    document = settings_document(
        agent_id, url=nats_server.url, cert=cert, blobstore=tmp_path / "blobstore"
    )
    settings = parse_settings(document, source="test settings")
    supervisor = JobSupervisor(base_dir, log_dir=base_dir / "sys" / "log", poll_interval=0.2)
    actions = Actions(
        settings,
        base_dir=base_dir,
        blobstore=blobstore_from_settings(settings.blobstore, base_dir=base_dir),
        supervisor=supervisor,
        on_shutdown=lambda: runtime.stop(),
    )
    runtime = AgentRuntime(settings, actions=actions, base_dir=base_dir, heartbeat_interval=0.5)
    running = asyncio.create_task(runtime.run())
    director = await director_for(nats_server, agent_id)
    for _ in range(100):  # until the agent has subscribed
        try:
            if (await director.send({"method": "ping", "arguments": []}, timeout=0.2)) == {
                "value": "pong"
            }:
                break
        except TimeoutError:
            continue
    try:
        yield RunningAgent(runtime, director, base_dir)
    finally:
        await supervisor.stop()
        await supervisor.close()
        runtime.stop()
        await running
        await director.nc.close()
        nats_server.remove_agent(agent_id)
