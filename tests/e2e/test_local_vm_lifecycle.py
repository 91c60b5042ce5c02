"""Steps 3-8 of "create a VM", without a director: local CPI -> VM -> agent -> NATS -> jobs.

Real pieces only: the TLS nats-server of bosh_core.bus, VMs in namespaces with their own
network stacks on a bridge, the bosh-agent in each, the sample release built, its
packages compiled on a VM, its job rendered with ruby, applied, started and served on
each VM's own address; then a persistent disk outlives its VM.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tarfile
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bosh_core.agent.client import AgentClient
from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.bus import EmbeddedNats
from bosh_core.bus.certs import agent_environment
from bosh_core.bus.nats import NatsBus
from bosh_core.cpi import CPIContext
from bosh_core.cpi.local import LocalCPI, make_stemcell
from bosh_core.release.index import QuietReporter
from bosh_core.release.releasedir import Release, ReleaseDir
from bosh_core.templates import (
    InstanceJob,
    InstanceSpec,
    InstanceToRender,
    JobTemplates,
    Link,
    LinkInstance,
    ReleaseRef,
    RenderedInstance,
    render_instance,
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="VMs with their own network need root"),
    pytest.mark.skipif(shutil.which("ruby") is None, reason="job templates are rendered by ruby"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOST_ADDRESS = "10.245.0.1"
NETWORK = {"type": "manual", "netmask": "255.255.255.0", "gateway": HOST_ADDRESS}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("e2e")
    nats = EmbeddedNats(root / "nats", host="0.0.0.0", addresses=[HOST_ADDRESS]).start()
    blobstore_dir = root / "blobstore"
    cpi = LocalCPI(
        {
            "dir": str(root / "cpi"),
            "bridge": "boshe2e0",
            "network_cidr": f"{HOST_ADDRESS}/24",
            "agent": {
                "mbus": nats.url_for(HOST_ADDRESS),
                "blobstore": {
                    "provider": "local",
                    "options": {"blobstore_path": str(blobstore_dir)},
                },
            },
        },
        context=CPIContext(),
    )
    made = make_stemcell(root / "stemcell.tgz", name="bosh-local-ubuntu", version="1")
    unpacked = root / "stemcell"
    with tarfile.open(made) as archive:
        archive.extractall(unpacked, filter="data")
    stemcell_cid = cpi.create_stemcell(str(unpacked / "image"), {})
    try:
        yield {
            "root": root,
            "nats": nats,
            "cpi": cpi,
            "stemcell": stemcell_cid,
            "blobstore": LocalBlobstore(blobstore_dir),
        }
    finally:
        for vm_cid in list(_vms(cpi)):
            cpi.delete_vm(vm_cid)
        nats.stop()
        subprocess.run(["ip", "link", "delete", "boshe2e0"], check=False, capture_output=True)


def _vms(cpi: LocalCPI) -> list[str]:
    vms_dir = Path(cpi.properties["dir"]) / "vms"
    return [path.name for path in vms_dir.iterdir()] if vms_dir.is_dir() else []


@pytest.fixture
async def director(world: dict[str, Any]) -> AsyncIterator[NatsBus]:
    nats: EmbeddedNats = world["nats"]
    async with await NatsBus.connect(nats.url, tls=nats.director_cert()) as bus:
        yield bus


async def create_vm(world: dict[str, Any], bus: NatsBus, ip: str) -> tuple[str, AgentClient]:
    agent_id = str(uuid.uuid4())
    cert = world["nats"].add_agent(agent_id)
    environment = agent_environment(cert)
    created = await asyncio.to_thread(
        world["cpi"].create_vm,
        agent_id,
        world["stemcell"],
        {},
        {"default": {**NETWORK, "ip": ip, "default": ["dns", "gateway"]}},
        [],
        environment,
    )
    agent = AgentClient(bus, agent_id)
    await agent.wait_until_ready(within=30)
    return created.vm_cid, agent


def build_sample_release(root: Path) -> Release:
    release_dir = root / "hello-release"
    shutil.copytree(EXAMPLES / "hello-release", release_dir)
    release = ReleaseDir(release_dir, cache_dir=root / "cache", reporter=QuietReporter())
    name = release.default_name()
    return release.build_release(name=name, version=release.next_dev_version(name), force=True)


async def compile_packages(
    world: dict[str, Any], release: Release, compiler: AgentClient
) -> dict[str, dict[str, str]]:
    """Compile every package on `compiler`, dependencies first, as the director does."""
    blobstore: LocalBlobstore = world["blobstore"]
    compiled: dict[str, dict[str, str]] = {}
    pending = list(release.manifest.packages)
    while pending:
        package = next(p for p in pending if set(p.dependencies) <= set(compiled))
        pending.remove(package)
        source_id = blobstore.put(release.packages[package.name])
        result = await compiler.run(
            "compile_package",
            source_id,
            package.sha1,
            package.name,
            package.version,
            {dep: compiled[dep] for dep in package.dependencies},
            timeout=300,
        )
        compiled[package.name] = {
            "name": package.name,
            "version": package.version,
            "blobstore_id": result["result"]["blobstore_id"],
            "sha1": result["result"]["sha1"],
        }
    return compiled


def rendered_templates(*, index: int, address: str, peers: list[str]) -> RenderedInstance:
    """The hello job rendered for one instance, as the director renders it."""
    job = InstanceJob(
        templates=JobTemplates.from_directory(EXAMPLES / "hello-release" / "jobs" / "hello"),
        release=ReleaseRef("hello", "dev"),
        properties={
            "port": 8080,
            "message": f"hello from {index}",
            "listen_address": "0.0.0.0",
            "store_dir": "/var/vcap/store/hello",
        },
        links={
            "peers": Link(
                instances=tuple(
                    LinkInstance(name="hello", id=f"id-{i}", index=i, address=peer)
                    for i, peer in enumerate(peers)
                ),
                properties={"port": 8080},
            )
        },
    )
    spec = InstanceSpec(
        deployment="hello", name="hello", index=index, id=f"id-{index}", az="z1", address=address
    )
    return render_instance(InstanceToRender(spec, (job,)))


def apply_spec(
    world: dict[str, Any],
    release: Release,
    packages: dict[str, Any],
    *,
    index: int,
    ip: str,
    peers: list[str],
) -> dict[str, Any]:
    blobstore: LocalBlobstore = world["blobstore"]
    rendered = rendered_templates(index=index, address=ip, peers=peers)
    [job] = [ref for ref in release.manifest.jobs if ref.name == "hello"]
    return {
        "deployment": "hello",
        "name": "hello",
        "index": index,
        "id": f"id-{index}",
        "az": "z1",
        "job": {"name": "hello", "templates": [{"name": "hello", "version": job.version}]},
        "packages": {name: packages[name] for name in job.packages},
        "networks": {"default": {**NETWORK, "ip": ip, "default": ["dns", "gateway"]}},
        "configuration_hash": rendered.configuration_hash,
        "rendered_templates_archive": rendered.archive().persist(blobstore).to_spec(),
        "properties": {},
    }


async def get(url: str) -> str:
    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    for _ in range(50):
        try:
            return await asyncio.to_thread(fetch)
        except OSError:
            await asyncio.sleep(0.2)
    return await asyncio.to_thread(fetch)


def vm_root(world: dict[str, Any], agent: AgentClient) -> Path:
    """The VM's own view of its files, from the host (/proc/<pid>/root of its agent)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                command = (proc / "cmdline").read_bytes()
                environ = (proc / "root" / "var" / "vcap" / "bosh" / "settings.json").read_text()
            except OSError:
                continue
            if b"bosh-agent" in command and agent.agent_id in environ:
                return proc / "root"
    raise AssertionError(f"no agent process for {agent.agent_id}")


async def test_vms_boot_serve_a_job_and_keep_a_disk(
    world: dict[str, Any], director: NatsBus
) -> None:
    release = build_sample_release(world["root"])
    ips = ["10.245.0.11", "10.245.0.12"]

    compile_vm, compiler = await create_vm(world, director, "10.245.0.10")
    packages = await compile_packages(world, release, compiler)
    assert set(packages) == {"python-runtime", "hello-app"}
    await asyncio.to_thread(world["cpi"].delete_vm, compile_vm)

    vms = [await create_vm(world, director, ip) for ip in ips]
    for index, ((_, agent), ip) in enumerate(zip(vms, ips, strict=True)):
        spec = apply_spec(world, release, packages, index=index, ip=ip, peers=ips)
        assert await agent.run("apply", spec) == "applied"
        await agent.run("run_script", "pre-start", {})
        assert await agent.send("start") == "started"
    for index, ip in enumerate(ips):
        assert await get(f"http://{ip}:8080/") == f"hello from {index}\n"
        info = json.loads(await get(f"http://{ip}:8080/info"))
        assert info["instance"]["address"] == ip

    # A persistent disk: attached, mounted, written; the VM goes, the data stays.
    cpi: LocalCPI = world["cpi"]
    vm_cid, agent = vms[0]
    disk_cid = await asyncio.to_thread(cpi.create_disk, 64, {}, vm_cid)
    hint = await asyncio.to_thread(cpi.attach_disk, vm_cid, disk_cid)
    await agent.run("add_persistent_disk", disk_cid, hint)
    await agent.run("mount_disk", disk_cid)
    (vm_root(world, agent) / "var" / "vcap" / "store" / "data.txt").write_text("kept")
    await agent.run("unmount_disk", disk_cid)
    await asyncio.to_thread(cpi.detach_disk, vm_cid, disk_cid)
    await asyncio.to_thread(cpi.delete_vm, vm_cid)
    assert not await asyncio.to_thread(cpi.has_vm, vm_cid)

    new_cid, new_agent = await create_vm(world, director, ips[0])
    hint = await asyncio.to_thread(cpi.attach_disk, new_cid, disk_cid)
    await new_agent.run("add_persistent_disk", disk_cid, hint)
    await new_agent.run("mount_disk", disk_cid)
    assert await new_agent.run("list_disk") == [disk_cid]
    store = vm_root(world, new_agent) / "var" / "vcap" / "store" / "data.txt"
    assert store.read_text() == "kept"

    # drain and stop run the job's scripts on the other VM.
    _, other = vms[1]
    assert await other.run("drain", "shutdown", {}) == 0
    assert await other.run("stop") == "stopped"
    with pytest.raises(OSError):
        await asyncio.to_thread(urllib.request.urlopen, f"http://{ips[1]}:8080/", None, 2)
