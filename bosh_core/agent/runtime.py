"""The agent's asyncio shell: NATS in and out, agent tasks, heartbeats and alerts.

One `AgentRuntime` per VM. Each message is handled in its own task, so a long action
never delays a ``ping``; asynchronous actions become agent tasks the director polls
with ``get_task``. Nothing a message contains can stop the runtime: every failure is an
``exception`` reply (or, with no usable ``reply_to``, a log line).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import inspect
import json
import logging
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bosh_core.agent.actions import Actions
from bosh_core.agent.errors import AgentError, AgentTaskError
from bosh_core.agent.protocol import (
    Request,
    decode_request,
    encode_exception,
    encode_value,
    reply_subject_of,
)
from bosh_core.agent.settings import Settings
from bosh_core.errors import BoshError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from bosh_core.agent.supervisor import MonitAlert

__all__ = ["DEFAULT_HEARTBEAT_INTERVAL", "AgentRuntime"]

DEFAULT_HEARTBEAT_INTERVAL = 30.0
_KEPT_TASKS = 1000  # finished agent tasks remembered for get_task
_CONNECT_ATTEMPTS = 60
_ALERT_EVENTS = {"does not exist", "failed to start"}

log = logging.getLogger(__name__)


class _Tasks:
    """Agent tasks by id; finished ones are kept (up to a bound) for get_task."""

    def __init__(self) -> None:
        self._tasks: OrderedDict[str, asyncio.Task[Any]] = OrderedDict()

    def start(self, work: Any) -> str:
        task_id = str(uuid.uuid4())
        self._tasks[task_id] = asyncio.create_task(work)
        while len(self._tasks) > _KEPT_TASKS:
            oldest = next(iter(self._tasks))
            if not self._tasks[oldest].done():
                break
            del self._tasks[oldest]
        return task_id

    def get(self, task_id: str) -> asyncio.Task[Any]:
        task = self._tasks.get(task_id)
        if task is None:
            raise AgentTaskError(f"Task with id {task_id} could not be found")
        return task

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()


class AgentRuntime:
    """Connects to NATS, answers ``agent.<agent_id>``, heartbeats until stopped."""

    def __init__(
        self,
        settings: Settings,
        *,
        actions: Actions,
        base_dir: Path,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    ) -> None:
        self.settings = settings
        self.actions = actions
        self.base_dir = base_dir
        self.heartbeat_interval = heartbeat_interval
        self._tasks = _Tasks()
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._nc: Client | None = None

    @property
    def agent_id(self) -> str:
        return self.settings.agent_id

    def stop(self) -> None:
        """Ask `run` to finish (the ``shutdown`` action and signal handlers call this)."""
        self._stopped.set()

    async def run(self) -> None:
        nc = await self._connect()
        self._nc = nc
        try:
            await nc.subscribe(f"agent.{self.agent_id}", cb=self._on_message)
            await nc.flush()
            log.info("agent %s listening on agent.%s", self.agent_id, self.agent_id)
            heartbeats = asyncio.create_task(self._heartbeats())
            await self._stopped.wait()
            heartbeats.cancel()
            # Replies already being written (the shutdown's own "ok") go out first.
            await asyncio.gather(*self._handlers, return_exceptions=True)
            self._tasks.cancel_all()
            with contextlib.suppress(Exception):
                await nc.publish(f"hm.agent.shutdown.{self.agent_id}", b"{}")
        finally:
            with contextlib.suppress(Exception):
                await nc.drain()
            self._nc = None

    async def _connect(self) -> Client:
        import nats  # the agent's shell only: bosh_core stays light to import

        from bosh_core.bus.certs import client_ssl_context

        cert = self.settings.mbus_cert
        # Without certificate material (a test bus, a plain nats:// URL) the agent dials
        # in clear, as the reference agent does for a nats:// URL without a CA.
        tls = client_ssl_context(cert) if cert is not None and cert.ca else None
        last: Exception | None = None
        for _ in range(_CONNECT_ATTEMPTS):
            try:
                return await nats.connect(
                    self.settings.mbus,
                    tls=tls,
                    name=f"agent.{self.agent_id}",
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                )
            except Exception as exc:  # nats-py raises OSError, TimeoutError, its own errors
                last = exc
                await asyncio.sleep(1)
        raise AgentError(f"Cannot connect to the message bus: {last}")

    async def _publish(self, subject: str, payload: bytes) -> None:
        if self._nc is not None:
            await self._nc.publish(subject, payload)

    # -- messages -------------------------------------------------------------------

    async def _on_message(self, msg: Msg) -> None:
        handler = asyncio.create_task(self._handle(msg.data))
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)

    async def _handle(self, data: bytes) -> None:
        try:
            request = decode_request(data)
        except AgentError as exc:
            log.warning("agent %s: %s", self.agent_id, exc)
            reply_to = reply_subject_of(data)
            if reply_to:
                await self._publish(reply_to, encode_exception(str(exc)))
            return
        log.info("agent %s: %s", self.agent_id, request.method)
        reply = await self.dispatch(request)
        await self._publish(request.reply_to, reply)

    async def dispatch(self, request: Request) -> bytes:
        """The encoded reply to one request."""
        try:
            return encode_value(await self._answer(request))
        except BoshError as exc:
            log.warning("agent %s: %s failed: %s", self.agent_id, request.method, exc)
            return encode_exception(str(exc))
        except Exception as exc:
            log.exception("agent %s: %s failed", self.agent_id, request.method)
            return encode_exception(f"{request.method}: {type(exc).__name__}: {exc}")

    async def _answer(self, request: Request) -> Any:
        method, arguments = request.method, request.arguments
        if method == "get_task":
            return self._task_value(*_one_string(method, arguments))
        if method == "cancel_task":
            self._tasks.get(*_one_string(method, arguments)).cancel()
            return "canceled"
        entry = self.actions.table.get(method)
        if entry is None:
            raise AgentError(f"unknown message {method}")
        action, is_task = entry
        try:
            inspect.signature(action).bind(*arguments)
        except TypeError as exc:
            raise AgentError(f"Action '{method}' called with wrong arguments: {exc}") from None
        if not is_task:
            return await action(*arguments)
        task_id = self._tasks.start(action(*arguments))
        return {"agent_task_id": task_id, "state": "running"}

    def _task_value(self, task_id: str) -> Any:
        task = self._tasks.get(task_id)
        if not task.done():
            return {"agent_task_id": task_id, "state": "running"}
        if task.cancelled():
            raise AgentTaskError(f"Task {task_id} was canceled")
        error = task.exception()
        if error is not None:
            if isinstance(error, BoshError):
                raise error
            raise AgentTaskError(f"Task {task_id} failed: {type(error).__name__}: {error}")
        return task.result()

    # -- heartbeats and alerts ------------------------------------------------------

    async def _heartbeats(self) -> None:
        while True:
            try:
                await self.heartbeat()
            except Exception:
                log.exception("agent %s: heartbeat failed", self.agent_id)
            await asyncio.sleep(self.heartbeat_interval)

    async def heartbeat(self) -> dict[str, Any]:
        """Publish one heartbeat (and an alert when the jobs start failing); returns it."""
        spec = self.actions.spec
        job_state, processes = await self.actions.job_state(spec)
        payload = {
            "deployment": spec.get("deployment", ""),
            "job": (spec.get("job") or {}).get("name", ""),
            "index": spec.get("index"),
            "job_state": job_state,
            "vitals": await asyncio.to_thread(self.actions.vitals.sample),
            "number_of_processes": len(processes),
            "node_id": spec.get("id", ""),
        }
        await self._publish(f"hm.agent.heartbeat.{self.agent_id}", json.dumps(payload).encode())
        return payload

    def forward_alert(self, alert: MonitAlert) -> None:
        """Send a supervisor alert to the health monitor (a JobSupervisor on_alert hook)."""
        task = asyncio.create_task(self.alert(alert))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def alert(self, alert: MonitAlert) -> None:
        payload = {
            "id": alert.id,
            # The reference agent's mapping: a process that died or failed to start is an
            # alert (1); other events (started again, ...) are warnings (4).
            "severity": 1 if alert.event.lower() in _ALERT_EVENTS else 4,
            "title": f"{alert.service} ({self.agent_id}) - {alert.event} - {alert.action}",
            "summary": alert.description,
            "created_at": _epoch(alert.date),
        }
        await self._publish(f"hm.agent.alert.{self.agent_id}", json.dumps(payload).encode())


def _epoch(date: str) -> int:
    try:
        return int(email.utils.parsedate_to_datetime(date).timestamp())
    except (TypeError, ValueError):
        return int(time.time())


def _one_string(method: str, arguments: list[Any]) -> tuple[str]:
    if len(arguments) != 1 or not isinstance(arguments[0], str):
        raise AgentError(f"{method} takes one argument: the agent task id")
    return (arguments[0],)
