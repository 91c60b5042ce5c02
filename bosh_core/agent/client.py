"""The director's side of the agent protocol: requests over the bus, tasks polled.

A request is the envelope ``{"protocol": 3, "method", "arguments", "reply_to"}`` sent to
``agent.<agent_id>``; the reply is ``{"value"}`` or ``{"exception": {"message"}}``. An
asynchronous action answers ``{"agent_task_id", "state": "running"}`` at once and is then
polled with ``get_task`` every second until it ends, as the director polls it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bosh_core.agent.errors import AgentError, AgentTaskError, AgentTimeoutError
from bosh_core.bus import BusTimeoutError, MessageBus

__all__ = ["DEFAULT_TIMEOUT", "AgentClient"]

DEFAULT_TIMEOUT = 45.0
"""Seconds the director waits for one reply (``stop`` and long tasks are polled)."""


class AgentClient:
    """Talks to one agent through `bus` (connected as the director)."""

    def __init__(self, bus: MessageBus, agent_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.bus = bus
        self.agent_id = agent_id
        self.timeout = timeout

    async def send(self, method: str, *arguments: Any, timeout: float | None = None) -> Any:
        """One request; the reply's value, or AgentError with the agent's message."""
        wait = self.timeout if timeout is None else timeout
        reply_to = self.bus.reply_subject(self.agent_id)
        payload = json.dumps(
            {"protocol": 3, "method": method, "arguments": list(arguments), "reply_to": reply_to}
        ).encode()
        try:
            message = await self.bus.request(
                f"agent.{self.agent_id}", payload, timeout=wait, reply_to=reply_to
            )
        except BusTimeoutError:
            raise AgentTimeoutError(
                f"Timed out sending '{method}' to instance '{self.agent_id}' after {wait:g} seconds"
            ) from None
        try:
            reply = json.loads(message.data)
        except ValueError:
            raise AgentError(
                f"Agent '{self.agent_id}' answered '{method}' with something that is not JSON"
            ) from None
        if isinstance(reply, dict) and isinstance(reply.get("exception"), dict):
            raise AgentError(str(reply["exception"].get("message", "unknown agent error")))
        if not isinstance(reply, dict) or "value" not in reply:
            raise AgentError(f"Agent '{self.agent_id}' answered '{method}' without a value")
        return reply["value"]

    async def run(
        self, method: str, *arguments: Any, poll_interval: float = 1.0, timeout: float = 600.0
    ) -> Any:
        """An action that may run as an agent task: wait for its end and return its value."""
        value = await self.send(method, *arguments)
        if not _is_running_task(value):
            return value
        task_id = value["agent_task_id"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await asyncio.sleep(poll_interval)
            try:
                value = await self.send("get_task", task_id)
            except AgentError as error:
                raise AgentTaskError(f"Agent task '{method}' ({task_id}) failed: {error}") from None
            if not _is_running_task(value):
                return value
            if loop.time() > deadline:
                raise AgentTimeoutError(
                    f"Agent task '{method}' ({task_id}) on '{self.agent_id}'"
                    f" still running after {timeout:g} seconds"
                )

    async def wait_until_ready(self, *, within: float, ping_timeout: float = 1.0) -> None:
        """Ping until the agent answers, as the director waits for a new VM's agent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            attempt = loop.time()
            try:
                if await self.send("ping", timeout=ping_timeout) == "pong":
                    return
            except AgentTimeoutError:
                # Before the agent subscribes NATS answers "no responders" at once: wait
                # out the rest of the ping's time rather than spin.
                await asyncio.sleep(max(0.0, attempt + ping_timeout - loop.time()))
            if loop.time() > deadline:
                raise AgentTimeoutError(
                    f"Timed out pinging to '{self.agent_id}' after {within:g} seconds"
                )


def _is_running_task(value: Any) -> bool:
    return isinstance(value, dict) and "agent_task_id" in value and value.get("state") == "running"
