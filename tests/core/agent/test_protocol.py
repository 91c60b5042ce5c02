"""The envelope: what is refused, and how replies are capped."""

from __future__ import annotations

import json

import pytest

from bosh_core.agent.errors import AgentError
from bosh_core.agent.protocol import (
    MAX_MESSAGE_BYTES,
    Request,
    decode_request,
    encode_exception,
    encode_value,
    reply_subject_of,
)


def test_a_request_decodes() -> None:
    data = b'{"protocol":3,"method":"ping","arguments":[],"reply_to":"director.x.a.1"}'
    assert decode_request(data) == Request("ping", [], "director.x.a.1", 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "expected a JSON object"),
        (b'{"method":"","arguments":{},"reply_to":"r"}', "'method' must be a non-empty string"),
        (b'{"method":"ping","arguments":{},"reply_to":"r"}', "'arguments' must be a list"),
        (b'{"method":"ping","arguments":[]}', "'reply_to' must be a non-empty string"),
        (b"x" * (MAX_MESSAGE_BYTES + 1), "exceeds the limit"),
    ],
)
def test_bad_requests_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(AgentError, match=message):
        decode_request(data)


def test_the_reply_subject_of_a_partly_valid_message_is_found() -> None:
    assert reply_subject_of(b'{"method": 3, "reply_to": "director.a"}') == "director.a"
    assert reply_subject_of(b"{broken") is None


def test_a_reply_over_one_mebibyte_becomes_an_exception() -> None:
    reply = json.loads(encode_value("x" * MAX_MESSAGE_BYTES))
    assert "exceeded the maximum allowed length" in reply["exception"]["message"]
    assert json.loads(encode_value({"a": 1})) == {"value": {"a": 1}}


def test_an_overlong_error_is_shortened_not_dropped() -> None:
    reply = json.loads(encode_exception("e" * (2 * MAX_MESSAGE_BYTES)))
    assert reply["exception"]["message"].endswith("... (truncated)")
    assert len(encode_exception("e" * (2 * MAX_MESSAGE_BYTES))) < MAX_MESSAGE_BYTES
