"""Many agents on one host: director-side ping round trips and heartbeat CPU per agent.

Starts N real `bosh-agent` processes (no VMs: each with its own base dir and settings
file) on one TLS nats-server, waits until all answer, then has the director ping them
all concurrently, round after round, and prints p50/p99 of the round trip. Heartbeats
run every `--heartbeat` seconds; the agents' CPU time (from /proc) over a quiet window,
divided by agents and heartbeats, is the CPU cost of one heartbeat (vitals included).

    .venv/bin/python benchmarks/agents.py [--agents 200] [--rounds 5] [--heartbeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bosh_core.agent.client import AgentClient
from bosh_core.bus import EmbeddedNats
from bosh_core.bus.certs import agent_environment
from bosh_core.bus.nats import NatsBus

AGENT = Path(sys.executable).with_name("bosh-agent")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def start_agent(
    root: Path, nats: EmbeddedNats, agent_id: str, heartbeat: float
) -> subprocess.Popen[bytes]:
    base = root / agent_id
    (base / "bosh").mkdir(parents=True)
    cert = nats.issue_agent_cert(agent_id)
    settings = {
        "agent_id": agent_id,
        "mbus": nats.url,
        "blobstore": {"provider": "local", "options": {"blobstore_path": str(root / "blobs")}},
        "networks": {"default": {"type": "manual", "ip": "10.0.0.2", "default": ["dns"]}},
        "disks": {"system": "/dev/sda", "persistent": {}},
        "env": agent_environment(cert),
        "vm": {"name": f"vm-{agent_id}"},
    }
    (base / "bosh" / "settings.json").write_text(json.dumps(settings))
    config = {
        "Infrastructure": {
            "Settings": {
                "Sources": [{"Type": "File", "SettingsPath": "/var/vcap/bosh/settings.json"}]
            }
        }
    }
    (base / "bosh" / "agent.json").write_text(json.dumps(config))
    return subprocess.Popen(
        [
            str(AGENT),
            "-C",
            str(base / "bosh" / "agent.json"),
            "--base-dir",
            str(base),
            "--heartbeat-interval",
            str(heartbeat),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> float:
    total = 0
    for process in processes:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


async def measure(root: Path, count: int, rounds: int, heartbeat: float) -> None:
    nats = EmbeddedNats(root / "nats").start()
    agent_ids = [str(uuid.uuid4()) for _ in range(count)]
    nats.add_agents(agent_ids)
    processes = [start_agent(root, nats, agent_id, heartbeat) for agent_id in agent_ids]
    try:
        async with await NatsBus.connect(nats.url, tls=nats.director_cert()) as bus:
            clients = [AgentClient(bus, agent_id) for agent_id in agent_ids]
            started = time.perf_counter()
            await asyncio.gather(*(client.wait_until_ready(within=300) for client in clients))
            ready = time.perf_counter() - started

            async def ping(client: AgentClient) -> float:
                start = time.perf_counter()
                assert await client.send("ping") == "pong"
                return time.perf_counter() - start

            round_trips: list[float] = []
            for _ in range(rounds):
                round_trips += await asyncio.gather(*(ping(client) for client in clients))

            window = max(10.0, 5 * heartbeat)
            before = cpu_seconds(processes)
            await asyncio.sleep(window)
            spent = cpu_seconds(processes) - before
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        nats.stop()

    ordered = sorted(round_trips)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    heartbeats = count * window / heartbeat
    print(f"{count} agents on one host, all answering ping after {ready:.1f} s")
    print(
        f"director ping round trip, {rounds} rounds of {count} concurrent pings:"
        f" p50 {statistics.median(ordered) * 1000:.1f} ms  p99 {p99 * 1000:.1f} ms"
    )
    print(
        f"idle agents with a heartbeat every {heartbeat:g} s: {spent / count / window * 100:.2f} %"
        f" of a core each, {spent / heartbeats * 1000:.1f} ms CPU per heartbeat (vitals included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--heartbeat", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bosh-agents-bench-") as scratch:
        asyncio.run(measure(Path(scratch), args.agents, args.rounds, args.heartbeat))


if __name__ == "__main__":
    main()
