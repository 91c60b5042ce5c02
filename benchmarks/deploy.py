"""Deploy wall time by stage, the director's peak memory and its CPI calls (local CPI, root).

Brings up an embedded local BOSH (`LocalEnvironment`) in a scratch directory and deploys
the sample (examples/hello-deployment.yml as deployment `hello-bench`, max_in_flight 10,
one canary) at each size in turn - 1 instance, scaled to 10, then to 50 - then the last
size again with nothing changed. One line per deploy:

- the instances whose VMs it created, and the wall time measured here (deploy request
  to the task's end, polled every 50 ms);
- the time of each stage, first start to last finish in the task's event log (1 s
  resolution): prepare ("Preparing deployment"), compile ("Preparing package
  compilation" and "Compiling packages"), create VMs ("Creating missing vms"), update
  ("Updating instance", all groups); `-` when the deploy had no such stage;
- the director process's CPU time during the deploy and its peak RSS so far (VmHWM: its
  in-process workers are threads; ruby and nats-server are processes of their own);
- the CPI calls in the task's CPI log, by method.

`up` itself deploys the sample (as `hello`, compiling its packages, which the benchmark's
deploys then reuse): its deploy is shown first, with the same task figures.

Its environment claims a network of its own (bosh_core.local.networks), but the figures
are best taken on an otherwise quiet machine.

    .venv/bin/python benchmarks/deploy.py [--sizes 1,10,50] [--keep]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml
from _director import process_cpu_seconds, process_memory_mib

from bosh_core.client import Director
from bosh_core.client.director import TaskEvent
from bosh_core.director.jobs.compile_packages import COMPILE_STAGE, PREPARE_STAGE
from bosh_core.director.jobs.update_deployment import UPDATE_STAGE
from bosh_core.director.vms import CREATE_MISSING_VMS_STAGE
from bosh_core.local import LocalEnvironment
from bosh_core.local.state import load_state

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello-deployment.yml"
DEPLOYMENT = "hello-bench"
MAX_IN_FLIGHT = 10
POLL_S = 0.05
#: Figure name -> the event-log stages it spans.
STAGES: Mapping[str, tuple[str, ...]] = {
    "prepare": ("Preparing deployment",),
    "compile": (PREPARE_STAGE, COMPILE_STAGE),
    "create VMs": (CREATE_MISSING_VMS_STAGE,),
    "update": (UPDATE_STAGE,),
}
#: How the director's CPI log starts the line of each call's request.
CPI_REQUEST = "] request: "


class DeployFailed(Exception):
    """A deploy task did not end `done`; the message has its result and debug log's end."""


@attrs.frozen
class TaskFigures:
    """What a finished deploy task's logs tell: VMs created, stage times, CPI calls."""

    created: int
    stages_s: Mapping[str, float | None]
    cpi_calls: Mapping[str, int]

    @classmethod
    def of(cls, director: Director, task_id: int) -> TaskFigures:
        events = [
            TaskEvent.from_line(line)
            for line in director.task_output(task_id, "event").data.decode().splitlines()
            if line.strip()
        ]
        created = [
            event
            for event in events
            if event.stage == CREATE_MISSING_VMS_STAGE and event.state == "finished"
        ]
        return cls(
            created=len(created),
            stages_s={name: stage_seconds(events, stages) for name, stages in STAGES.items()},
            cpi_calls=cpi_calls(director.task_output(task_id, "cpi").data.decode()),
        )

    def text(self) -> str:
        stages = "  ".join(
            f"{name} {'-' if seconds is None else f'{seconds:.0f} s'}"
            for name, seconds in self.stages_s.items()
        )
        calls = ", ".join(f"{method} {count}" for method, count in sorted(self.cpi_calls.items()))
        return (
            f"({self.created:2} VMs created)  [{stages}]"
            f"  CPI calls {sum(self.cpi_calls.values())}{f' ({calls})' if calls else ''}"
        )


def manifest(instances: int) -> str:
    """The sample deployment with `instances` instances, rolled out MAX_IN_FLIGHT at once."""
    document: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    document["name"] = DEPLOYMENT
    document["update"] = {**document["update"], "canaries": 1, "max_in_flight": MAX_IN_FLIGHT}
    [group] = document["instance_groups"]
    group["instances"] = instances
    return yaml.safe_dump(document, sort_keys=False)


def stage_seconds(events: Sequence[TaskEvent], stages: tuple[str, ...]) -> float | None:
    """First start to last finish of the steps of `stages`; None when there were none."""
    times = [event.time for event in events if event.stage in stages]
    return max(times) - min(times) if times else None


def cpi_calls(log: str) -> dict[str, int]:
    """How many requests of each CPI method the task's CPI log has."""
    methods = (
        json.loads(line.split(CPI_REQUEST, 1)[1])["method"]
        for line in log.splitlines()
        if CPI_REQUEST in line
    )
    return dict(collections.Counter(methods))


def deploy(director: Director, director_pid: int, instances: int) -> str:
    """Deploy `instances` instances; the figure line."""
    text = manifest(instances)
    cpu_before = process_cpu_seconds(director_pid)
    started = time.perf_counter()
    task = director.follow_task(director.deploy(text).id)
    wall = time.perf_counter() - started
    cpu = process_cpu_seconds(director_pid) - cpu_before
    if not task.succeeded:
        debug = director.task_output(task.id, "debug").data.decode(errors="replace")
        tail = "\n".join(debug.splitlines()[-40:])
        raise DeployFailed(
            f"Deploy of {instances} instances: task {task.id} {task.state}: {task.result}\n"
            f"Its debug log ends with:\n{tail}"
        )
    return (
        f"{instances:3} instances  wall {wall:6.1f} s  {TaskFigures.of(director, task.id).text()}"
        f"  director CPU {cpu:5.1f} s, peak RSS {process_memory_mib(director_pid)[1]:4.0f} MiB"
    )


def earlier_deploys(director: Director) -> list[str]:
    """A line for each deploy already run (by `up`, which deploys the sample): its wall
    time from the task's start and end (1 s resolution) and its task figures."""
    lines = []
    for task in reversed(director.tasks()):
        if task.description == "create deployment" and task.started_at and task.finished_at:
            wall = (task.finished_at - task.started_at).total_seconds()
            lines.append(
                f"  by up: {task.deployment}, wall {wall:4.0f} s (task times)"
                f"  {TaskFigures.of(director, task.id).text()}"
            )
    return lines


def run(local: LocalEnvironment, sizes: Sequence[int]) -> None:
    target = local.up()
    state = load_state(local.directory)
    assert state is not None  # up saved it
    pid = state.processes["director"].pid
    with Director(
        target.environment,
        ca_cert=str(target.ca_cert),
        client=target.client,
        client_secret=target.client_secret,
        poll_interval=POLL_S,
    ) as director:
        print(f"Deploying {DEPLOYMENT} (max_in_flight {MAX_IN_FLIGHT}) on {target.environment}")
        for line in earlier_deploys(director):
            print(line)
        print(f"  director peak RSS after up: {process_memory_mib(pid)[1]:.0f} MiB")
        for instances in sizes:
            print(f"deploy        {deploy(director, pid, instances)}", flush=True)
        print(f"no-op deploy  {deploy(director, pid, sizes[-1])}", flush=True)


def sizes_option(text: str) -> list[int]:
    """The --sizes option: instance counts, comma-separated, each at least 1."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected instance counts like 1,10,50, not {text!r}")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=sizes_option,
        default=[1, 10, 50],
        help="instance counts deployed in turn (default 1,10,50); the last one twice",
    )
    parser.add_argument("--keep", action="store_true", help="leave the local environment up")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bosh-deploy-bench-"))
    local = LocalEnvironment(directory, progress=lambda line: print(line, file=sys.stderr))
    try:
        run(local, args.sizes)
    except DeployFailed as failure:
        sys.exit(str(failure))
    finally:
        if args.keep:
            print(f"Kept the local environment: bosh local delete --dir {directory}")
        else:
            local.delete()


if __name__ == "__main__":
    main()
