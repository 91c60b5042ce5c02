"""Time VM create -> agent answers ping on the local CPI (root: VMs with their own network).

Creates VMs one after the other on a TLS nats-server of our own, each with a fresh agent
certificate, and measures from the `create_vm` call until the agent's first `pong`
(pinging every 50 ms). Prints the median and p95, then deletes the VMs.

    .venv/bin/python benchmarks/vm_boot.py [--vms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from bosh_core.agent.client import AgentClient
from bosh_core.bus import EmbeddedNats
from bosh_core.bus.certs import agent_environment
from bosh_core.bus.nats import NatsBus
from bosh_core.cpi import VMCID, CPIContext
from bosh_core.cpi.local import LocalCPI, make_stemcell

HOST = "10.246.0.1"
BRIDGE = "boshbench0"


async def boot_times(root: Path, count: int) -> list[float]:
    nats = EmbeddedNats(root / "nats", host="0.0.0.0", addresses=[HOST]).start()
    cpi = LocalCPI(
        {
            "dir": str(root / "cpi"),
            "bridge": BRIDGE,
            "network_cidr": f"{HOST}/24",
            "agent": {
                "mbus": nats.url_for(HOST),
                "blobstore": {"provider": "local", "options": {"blobstore_path": str(root / "b")}},
            },
        },
        context=CPIContext(),
    )
    with tarfile.open(make_stemcell(root / "stemcell.tgz", name="bench", version="1")) as tar:
        tar.extractall(root / "stemcell", filter="data")
    stemcell = cpi.create_stemcell(str(root / "stemcell" / "image"), {})
    times: list[float] = []
    vms: list[VMCID] = []
    try:
        async with await NatsBus.connect(nats.url, tls=nats.director_cert()) as bus:
            for index in range(count):
                agent_id = str(uuid.uuid4())
                cert = nats.add_agent(agent_id)
                environment = agent_environment(cert)
                network = {
                    "type": "manual",
                    "ip": f"10.246.0.{10 + index}",
                    "netmask": "255.255.255.0",
                }
                start = time.perf_counter()
                created = await asyncio.to_thread(
                    cpi.create_vm, agent_id, stemcell, {}, {"default": network}, [], environment
                )
                await AgentClient(bus, agent_id).wait_until_ready(within=60, ping_timeout=0.05)
                times.append(time.perf_counter() - start)
                vms.append(created.vm_cid)
    finally:
        for vm_cid in vms:
            cpi.delete_vm(vm_cid)
        nats.stop()
        subprocess.run(["ip", "link", "delete", BRIDGE], check=False, capture_output=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bosh-vm-bench-") as scratch:
        times = asyncio.run(boot_times(Path(scratch), args.vms))
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"VM create -> agent answers ping, {len(times)} VMs on the local CPI:")
    print(f"  median {statistics.median(times) * 1000:7.0f} ms   p95 {p95 * 1000:7.0f} ms")
    print(f"  fastest {ordered[0] * 1000:6.0f} ms   slowest {ordered[-1] * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
