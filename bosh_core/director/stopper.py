"""Stopping an instance's jobs through its agent (the reference's ``Stopper``).

Unless drain is skipped: ``run_script pre-stop`` with the ``BOSH_*_NEXT_STATE`` variables
(what becomes of the VM, the instance and the deployment: ``keep`` or ``delete``), then
``drain`` — type ``update`` with the next apply spec, or ``shutdown`` when the VM or
its disks go — whose answer is waited out: n > 0 seconds, or for n < 0, |n| seconds and
``drain status`` again until it is not negative. Then the agent's ``stop`` and
``run_script post-stop``. Each step is a ``data.status`` of the instance's event-log task.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from bosh_core.director.agents import BlockingAgentClient
    from bosh_core.director.tasks.events import TrackedTask

__all__ = ["AGENT_TASK_TIMEOUT", "NextState", "Stopper"]

#: How long one agent task of an update (drain, stop, apply, scripts) may run.
AGENT_TASK_TIMEOUT: Final = 3600.0


@attrs.frozen(kw_only=True)
class NextState:
    """What follows the stop, as pre-stop scripts see it."""

    vm: str = "keep"
    instance: str = "keep"
    deployment: str = "keep"

    def environment(self) -> dict[str, str]:
        return {
            "BOSH_VM_NEXT_STATE": self.vm,
            "BOSH_INSTANCE_NEXT_STATE": self.instance,
            "BOSH_DEPLOYMENT_NEXT_STATE": self.deployment,
        }


class Stopper:
    """Stops jobs; `checkpoint` raises when the task is cancelled; `sleep` waits drains."""

    def __init__(
        self,
        *,
        checkpoint: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._checkpoint = checkpoint
        self._sleep = sleep

    def stop(
        self,
        agent: BlockingAgentClient,
        task: TrackedTask | None,
        *,
        drain: bool,
        shutdown: bool,
        next_state: NextState,
        apply_spec: Mapping[str, Any],
    ) -> None:
        def status(text: str) -> None:
            if task is not None:
                task.advance(data={"status": text})

        if drain:
            status("executing pre-stop")
            agent.run(
                "run_script",
                "pre-stop",
                {"env": next_state.environment()},
                timeout=AGENT_TASK_TIMEOUT,
            )
            status("executing drain")
            self._drain(agent, "shutdown" if shutdown else "update", apply_spec)
        status("stopping jobs")
        agent.run("stop", timeout=AGENT_TASK_TIMEOUT)
        status("executing post-stop")
        agent.run("run_script", "post-stop", {}, timeout=AGENT_TASK_TIMEOUT)

    def _drain(self, agent: BlockingAgentClient, kind: str, apply_spec: Mapping[str, Any]) -> None:
        answer = int(agent.run("drain", kind, dict(apply_spec), timeout=AGENT_TASK_TIMEOUT))
        while answer < 0:
            self._sleep(-answer)
            self._checkpoint()
            answer = int(agent.run("drain", "status", timeout=AGENT_TASK_TIMEOUT))
        self._sleep(answer)
