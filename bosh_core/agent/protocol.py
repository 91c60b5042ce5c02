"""The agent's NATS envelope (protocol 3): requests in, ``value``/``exception`` out.

Decoding never raises anything but AgentError, so one bad message cannot stop the
agent; a reply larger than the 1 MiB cap becomes an exception reply, as the real agent
does, and an overlong error message is shortened rather than dropped.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from bosh_core.agent.errors import AgentError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Request",
    "decode_request",
    "encode_exception",
    "encode_value",
    "reply_subject_of",
]

MAX_MESSAGE_BYTES = 1 << 20
_MAX_ERROR_CHARS = 64 * 1024


@attrs.frozen
class Request:
    method: str
    arguments: list[Any]
    reply_to: str
    protocol: int = 3


def reply_subject_of(data: bytes) -> str | None:
    """The ``reply_to`` of a message that may be malformed, so its sender hears why."""
    if len(data) > MAX_MESSAGE_BYTES:
        return None
    try:
        document = json.loads(data)
    except ValueError:
        return None
    reply_to = document.get("reply_to") if isinstance(document, dict) else None
    return reply_to if isinstance(reply_to, str) and reply_to else None


def decode_request(data: bytes) -> Request:
    if len(data) > MAX_MESSAGE_BYTES:
        raise AgentError(
            f"Message of {len(data)} bytes exceeds the limit of {MAX_MESSAGE_BYTES} bytes"
        )
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise AgentError(f"Malformed message: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise AgentError("Malformed message: expected a JSON object")
    problems = []
    method = document.get("method")
    if not isinstance(method, str) or not method:
        problems.append("'method' must be a non-empty string")
    arguments = document.get("arguments", [])
    if not isinstance(arguments, list):
        problems.append("'arguments' must be a list")
    reply_to = document.get("reply_to")
    if not isinstance(reply_to, str) or not reply_to:
        problems.append("'reply_to' must be a non-empty string")
    protocol = document.get("protocol", 3)
    if not isinstance(protocol, int) or isinstance(protocol, bool):
        problems.append("'protocol' must be an integer")
    if problems:
        raise AgentError(f"Malformed message: {'; '.join(problems)}")
    assert isinstance(method, str) and isinstance(reply_to, str)
    return Request(method, arguments, reply_to, protocol)


def encode_value(value: Any) -> bytes:
    try:
        data = json.dumps({"value": value}, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        return encode_exception(f"Cannot encode the reply: {exc}")
    if len(data) > MAX_MESSAGE_BYTES:
        return encode_exception(
            f"Response of {len(data)} bytes exceeded the maximum allowed length"
            f" of {MAX_MESSAGE_BYTES} bytes"
        )
    return data


def encode_exception(message: str) -> bytes:
    if len(message) > _MAX_ERROR_CHARS:
        message = message[:_MAX_ERROR_CHARS] + "... (truncated)"
    return json.dumps({"exception": {"message": message}}, separators=(",", ":")).encode()
