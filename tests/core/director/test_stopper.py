"""Stopping a job through a real agent (Stopper): pre-stop sees what comes next, a
negative drain is asked again after waiting, then the job stops and post-stop runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bosh_core.director.stopper import NextState, Stopper
from bosh_core.director.vms import VMFactory
from tests.core.director.agent_world import (
    AZS,
    AgentWorld,
    agent_world,
    needs_root,
    planned_instance,
    start_tiny_job,
)

pytestmark = needs_root

DEPLOYMENT = "stops"
NETWORK_PREFIX = "127.244.36"  # loopback mode: VMs share the host's network stack
DATA = "/var/vcap/data/tiny"
SCRIPTS = {
    # Writes what it was told, then waits twice: -2 means "ask again in 2 seconds".
    "drain": (
        f'#!/bin/sh\nmkdir -p {DATA}\necho "$*" >> {DATA}/drain-args\n'
        f"if [ -e {DATA}/drained ]; then echo 3; else touch {DATA}/drained; echo -2; fi\n"
    ),
    "pre-stop": f"#!/bin/sh\nmkdir -p {DATA}\nenv | grep BOSH_ | sort > {DATA}/pre-stop-env\n",
    "post-stop": f"#!/bin/sh\ntouch {DATA}/post-stopped\n",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentWorld]:
    with agent_world(
        tmp_path_factory.mktemp("stops"), deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX
    ) as made:
        yield made


def test_stop_drains_waits_as_told_and_runs_the_stop_scripts(
    world: AgentWorld, tmp_path: Path
) -> None:
    director = world.director
    factory = VMFactory(director, clouds=world.clouds, azs=AZS, agent_wait_timeout=30)
    instance = planned_instance(
        director, deployment=DEPLOYMENT, network_prefix=NETWORK_PREFIX, index=0, env={}
    )
    vm = factory.create(instance, deployment=DEPLOYMENT, stemcell_cid=world.stemcell)
    assert vm.agent_id is not None
    spec = start_tiny_job(director, vm.agent_id, tmp_path, deployment=DEPLOYMENT, scripts=SCRIPTS)
    agent = director.agents.blocking_client(vm.agent_id)
    slept: list[float] = []

    Stopper(sleep=slept.append).stop(
        agent,
        None,
        drain=True,
        shutdown=False,
        next_state=NextState(vm="delete"),
        apply_spec=spec,
    )

    data = world.cpi.config.dir / "vms" / str(vm.cid) / "vcap" / "data" / "tiny"
    assert slept == [2, 3]
    assert (data / "drain-args").read_text().splitlines() == [
        "job_unchanged hash_unchanged",
        "job_check_status hash_unchanged",
    ]
    assert (data / "pre-stop-env").read_text().splitlines() == [
        "BOSH_DEPLOYMENT_NEXT_STATE=keep",
        "BOSH_INSTANCE_NEXT_STATE=keep",
        "BOSH_VM_NEXT_STATE=delete",
    ]
    assert (data / "post-stopped").exists()
    assert agent.send("get_state")["job_state"] == "stopped"
    state = json.loads((world.cpi.config.dir / "vms" / str(vm.cid) / "state.json").read_text())
    assert state["agent_id"] == vm.agent_id
