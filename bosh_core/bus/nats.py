"""``NatsBus``: the MessageBus over nats-py, plain or with BOSH's mutual TLS.

Requests follow the director's scheme rather than nats-py's ``_INBOX`` one, because the
permissions real BOSH gives allow nothing else: the bus subscribes once to
``<prefix>.<process uuid>.>`` and each request waits for its own
``<prefix>.<process uuid>.<token>.<request uuid>`` subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from bosh_core.bus import (
    BusConnectionError,
    BusError,
    BusNoRespondersError,
    BusPermissionError,
    BusTimeoutError,
    Message,
    MessageHandler,
    Subscription,
)
from bosh_core.bus.certs import MbusCert, client_ssl_context
from bosh_core.urls import redact_url

__all__ = ["NatsBus"]

logger = logging.getLogger(__name__)

# The status NATS sends to a request's reply subject when nothing is subscribed.
_NO_RESPONDERS = "503"

ErrorCallback = Callable[[BusError], None]


def _log_error(error: BusError) -> None:
    logger.warning("%s", error)


class _Subscription:
    def __init__(self, subscription: NatsSubscription) -> None:
        self._subscription = subscription

    async def unsubscribe(self) -> None:
        await self._subscription.unsubscribe()


class NatsBus:
    """A connected nats-py client; build one with ``await NatsBus.connect(...)``."""

    def __init__(self, client: Client, *, url: str, reply_prefix: str) -> None:
        self._client = client
        self.url = url
        self._reply_root = f"{reply_prefix}.{uuid.uuid4()}"
        # reply subject -> (request subject, future of the reply)
        self._pending: dict[str, tuple[str, asyncio.Future[Message]]] = {}
        self._reply_subscription: NatsSubscription | None = None
        self._reply_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"NatsBus({self.url!r})"

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        tls: MbusCert | None = None,
        name: str = "bosh",
        reply_prefix: str = "director",
        connect_timeout: float = 5.0,
        max_reconnect_attempts: int = -1,
        reconnect_wait: float = 1.0,
        on_error: ErrorCallback = _log_error,
    ) -> NatsBus:
        """Connect to `url` (``nats://host:port``; with `tls`, as that certificate's
        identity). The first failure to connect raises BusConnectionError; once connected,
        a lost connection is retried `max_reconnect_attempts` times (-1: forever, 0: not
        at all). `on_error` receives errors the server reports later, such as
        BusPermissionError for a refused subscribe or publish."""
        connecting = True
        first_failure: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

        async def error_cb(error: Exception) -> None:
            if connecting:
                # nats-py would retry a failing first connect forever; we report it.
                if not first_failure.done():
                    first_failure.set_result(error)
                return
            text = str(error) or type(error).__name__
            if "permissions violation" in text.lower():
                on_error(BusPermissionError(text.removeprefix("nats: ")))
            else:
                on_error(BusError(f"NATS {redact_url(url)}: {text}"))

        client = Client()
        connect = asyncio.ensure_future(
            client.connect(
                servers=[url],
                name=name,
                tls=client_ssl_context(tls) if tls is not None else None,
                # nats-py's types say int; it only ever compares and sleeps with these.
                connect_timeout=connect_timeout,  # type: ignore[arg-type]
                reconnect_time_wait=reconnect_wait,  # type: ignore[arg-type]
                max_reconnect_attempts=max_reconnect_attempts,
                allow_reconnect=max_reconnect_attempts != 0,
                error_cb=error_cb,
            )
        )
        waiters: list[asyncio.Future[Any]] = [connect, first_failure]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        connecting = False
        failure: BaseException | None = None
        if connect.done():
            failure = connect.exception()
        else:
            connect.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connect
            failure = first_failure.result()
        if failure is not None:
            # nats-py can wait forever on a TLS transport whose handshake failed.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.close(), 1.0)
            text = str(failure) or type(failure).__name__
            raise BusConnectionError(
                f"cannot connect to NATS at {redact_url(url)}: {text.removeprefix('nats: ')}"
            ) from failure
        return cls(client, url=redact_url(url), reply_prefix=reply_prefix)

    async def __aenter__(self) -> NatsBus:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected)

    async def publish(self, subject: str, data: bytes, *, reply: str = "") -> None:
        try:
            await self._client.publish(subject, data, reply=reply)
        except nats.errors.Error as error:
            raise BusError(f"cannot publish to {subject}: {error}") from error

    async def subscribe(self, subject: str, handler: MessageHandler) -> Subscription:
        async def deliver(msg: Msg) -> None:
            try:
                await handler(Message(msg.subject, msg.data, msg.reply))
            except Exception:
                # One bad message must not stop the subscription.
                logger.exception("handler for %s failed", msg.subject)

        try:
            subscription = await self._client.subscribe(subject, cb=deliver)
        except nats.errors.Error as error:
            raise BusError(f"cannot subscribe to {subject}: {error}") from error
        return _Subscription(subscription)

    def reply_subject(self, token: str) -> str:
        return f"{self._reply_root}.{token}.{uuid.uuid4()}"

    async def request(
        self, subject: str, data: bytes, *, timeout: float, reply_to: str | None = None
    ) -> Message:
        reply = reply_to or self.reply_subject("request")
        if not reply.startswith(f"{self._reply_root}."):
            raise ValueError(f"reply subject {reply!r} is not one of this bus's (reply_subject)")
        await self._ensure_reply_subscription()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[reply] = (subject, future)
        try:
            await self.publish(subject, data, reply=reply)
            return await asyncio.wait_for(future, timeout)
        except BusTimeoutError:
            raise
        except TimeoutError:
            raise BusTimeoutError(f"no reply to {subject} within {timeout:g}s") from None
        finally:
            del self._pending[reply]

    async def _ensure_reply_subscription(self) -> None:
        async with self._reply_lock:
            if self._reply_subscription is not None:
                return

            async def on_reply(msg: Msg) -> None:
                subject, future = self._pending.get(msg.subject, ("", None))
                if future is None or future.done():
                    logger.debug("late or unexpected reply on %s", msg.subject)
                    return
                if msg.headers and msg.headers.get("Status") == _NO_RESPONDERS:
                    future.set_exception(
                        BusNoRespondersError(f"nothing is subscribed to {subject}")
                    )
                else:
                    future.set_result(Message(msg.subject, msg.data, msg.reply))

            self._reply_subscription = await self._client.subscribe(
                f"{self._reply_root}.>", cb=on_reply
            )
            # The subscription must be in place on the server before the first request
            # goes out, or a fast reply would be dropped.
            await self.flush()

    async def flush(self, timeout: float = 5.0) -> None:
        try:
            await self._client.flush(timeout=timeout)  # type: ignore[arg-type]
        except nats.errors.TimeoutError:
            raise BusTimeoutError(f"NATS flush took longer than {timeout:g}s") from None

    async def close(self) -> None:
        await self._client.close()
