"""The agent's errors: what the director sees in an ``exception`` reply, and its own."""

from __future__ import annotations

from bosh_core.errors import BoshError

__all__ = ["AgentError", "AgentTaskError", "AgentTimeoutError"]


class AgentError(BoshError):
    """An agent action or agent message failed; the message is what the director sees."""


class AgentTimeoutError(TimeoutError, AgentError):
    """An agent did not answer in time."""


class AgentTaskError(AgentError):
    """An asynchronous agent task failed, or names a task the agent does not know."""
