"""The local CPI with real namespaces, veths on a real bridge and real processes (as root)."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bosh_core.cpi import CPI, CPIContext, ExternalCPI, VMNotFoundError
from bosh_core.cpi.errors import CloudError, DiskNotAttachedError, VMCreationFailedError
from bosh_core.cpi.local import (
    DISK_MOUNT_ROOT,
    STEMCELL_FORMAT,
    LocalCPI,
    make_stemcell,
    parse_properties,
)
from bosh_core.cpi.local.stemcell import main as stemcell_main
from bosh_core.cpi.local.stemcell import write_image
from bosh_core.cpi.types import VMCID, StemcellCID
from bosh_core.errors import ManifestError
from bosh_core.registry.server import RegistryServer, SQLiteRegistryStore
from bosh_core.testing import CPIContract
from tests.conftest import REPO_ROOT
from tests.core.cpi.conftest import write_executable

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and bridges need root")

PROGRAM = Path(__file__).with_name("local_vm_program.py")
PORT = 8080


def _subnet() -> str:
    # A /24 of its own per test process, so parallel runs do not share a bridge's routes.
    pid = os.getpid()
    return f"10.{200 + pid % 50}.{(pid // 50) % 250}.0/24"


def _prefix() -> str:
    return _subnet().rsplit(".", 1)[0]


@pytest.fixture
def properties(tmp_path: Path) -> Iterator[dict[str, Any]]:
    bridge = f"tbr{os.getpid() % 100000}"
    props = {
        "dir": str(tmp_path / "cpi"),
        "bridge": bridge,
        "network_cidr": _subnet(),
        "agent_command": [sys.executable, str(PROGRAM), "0.0.0.0", str(PORT)],
        "agent": {"mbus": "nats://10.0.0.1:4222", "blobstore": {"provider": "local",
                  "options": {"blobstore_path": str(tmp_path / "blobs")}}},
    }  # fmt: skip
    yield props
    cleaner = LocalCPI(props, context=CPIContext())
    for state in (tmp_path / "cpi" / "vms").glob("*/state.json"):
        cleaner.delete_vm(VMCID(state.parent.name))
    subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


@pytest.fixture
def cpi(properties: Mapping[str, Any]) -> LocalCPI:
    return LocalCPI(properties, context=CPIContext(director_uuid="d-1"))


@pytest.fixture
def image(tmp_path: Path) -> str:
    path = tmp_path / "image"
    path.write_bytes(write_image(version="7.5", operating_system="ubuntu-jammy"))
    return str(path)


@pytest.fixture
def stemcell(cpi: LocalCPI, image: str) -> StemcellCID:
    return cpi.create_stemcell(image, {})


def manual(ip: str) -> dict[str, Any]:
    return {"default": {"type": "manual", "ip": ip, "netmask": "255.255.255.0",
                        "gateway": f"{_prefix()}.1", "dns": [], "default": ["dns", "gateway"],
                        "cloud_properties": {}}}  # fmt: skip


def environment() -> dict[str, Any]:
    cert = {"ca": "CA", "certificate": "CERT", "private_key": "SECRET-KEY"}
    return {"bosh": {"group": "g", "mbus": {"cert": cert}}}


def ask(ip: str, path: str = "/", *, method: str = "GET", body: bytes | None = None) -> Any:
    deadline = time.monotonic() + 10
    while True:
        try:
            connection = http.client.HTTPConnection(ip, PORT, timeout=2)
            connection.request(method, path, body=body)
            response = connection.getresponse()
            data = response.read()
            connection.close()
            assert response.status < 300, data
            return json.loads(data) if path == "/" else data
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def pid_namespace_members(namespace: str) -> list[int]:
    """Live processes in a PID namespace (zombies are dead, waiting for their reaper)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                zombie = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
                if not zombie and str((entry / "ns" / "pid").readlink()) == namespace:
                    members.append(int(entry.name))
            except OSError:
                pass
    return members


def state_of(cpi: LocalCPI, vm_cid: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((cpi.config.dir / "vms" / vm_cid / "state.json").read_text())
    return state


# -- stemcells ----------------------------------------------------------------------------


def test_make_stemcell_writes_a_light_stemcell(tmp_path: Path) -> None:
    path = make_stemcell(tmp_path / "stemcell.tgz", version="2.1")
    with tarfile.open(path) as tarball:
        manifest = yaml.safe_load(tarball.extractfile("stemcell.MF").read())  # type: ignore[union-attr]
        image = tarball.extractfile("image").read()  # type: ignore[union-attr]
    assert manifest["stemcell_formats"] == [STEMCELL_FORMAT]
    assert (manifest["version"], manifest["api_version"]) == ("2.1", 3)
    assert manifest["operating_system"] == "ubuntu-jammy"
    assert manifest["sha1"] == hashlib.sha1(image).hexdigest()
    with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(image))) as skeleton:
        assert skeleton.extractfile("./bosh/etc/stemcell_version").read() == b"2.1\n"  # type: ignore[union-attr]
    # The same inputs make the same bytes; the console script writes the same tarball.
    assert stemcell_main([str(tmp_path / "again.tgz"), "--version", "2.1"]) == 0
    assert (tmp_path / "again.tgz").read_bytes() == path.read_bytes()


def test_an_unsafe_image_is_refused(cpi: LocalCPI, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tgz"
    with tarfile.open(bad, "w:gz") as tarball:
        member = tarfile.TarInfo("../escape")
        tarball.addfile(member, io.BytesIO(b""))
    with pytest.raises(CloudError, match="not a plain file or directory inside"):
        cpi.create_stemcell(str(bad), {})


# -- properties ---------------------------------------------------------------------------


def test_properties_name_every_problem() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_properties(
            {"network_mode": "wifi", "network_cidr": "10.0.0.0/31", "bridge": "x" * 20}
        )
    paths = {problem.path for problem in caught.value.problems}
    assert paths == {"$.dir", "$.network_mode", "$.network_cidr", "$.bridge"}


def test_properties_defaults(tmp_path: Path) -> None:
    config = parse_properties({"dir": str(tmp_path), "registry": {"endpoint": "http://r:1/",
                               "user": "u", "password": "hunter2"}})  # fmt: skip
    assert config.network_mode == "bridge" and config.bridge == "boshbr0"
    assert str(config.network) == "10.244.0.1/16"
    assert config.agent.mbus == "nats://10.244.0.1:4222"
    assert config.agent_command[1:] == ("-C", "/var/vcap/bosh/agent.json")
    assert config.registry is not None and config.registry.endpoint == "http://r:1"
    assert "hunter2" not in repr(config)


# -- VMs ----------------------------------------------------------------------------------


def test_two_vms_have_their_own_vcap_pids_and_network(cpi: LocalCPI, stemcell: StemcellCID) -> None:
    agents = [str(uuid.uuid4()), str(uuid.uuid4())]
    first = cpi.create_vm(agents[0], stemcell, {}, manual(f"{_prefix()}.10"), [], environment())
    second = cpi.create_vm(agents[1], stemcell, {}, manual(f"{_prefix()}.11"), [], environment())
    dynamic = cpi.create_vm(
        "agent-3", stemcell, {}, {"d": {"type": "dynamic", "cloud_properties": {}}}, [], {}
    )
    assert first.networks["default"]["ip"] == f"{_prefix()}.10"
    assert first.networks["default"]["preconfigured"] is True
    dynamic_ip = dynamic.networks["d"]["ip"]
    assert dynamic_ip.startswith(_prefix()) and dynamic_ip not in (
        f"{_prefix()}.1", f"{_prefix()}.10", f"{_prefix()}.11")  # fmt: skip

    # Both programs bind 0.0.0.0:8080: each VM has its own network stack.
    seen = [ask(f"{_prefix()}.10"), ask(f"{_prefix()}.11"), ask(dynamic_ip)]
    assert [view["agent_id"] for view in seen] == [*agents, "agent-3"]
    assert [view["hostname"] for view in seen] == [first.vm_cid, second.vm_cid, dynamic.vm_cid]
    assert all(view["pid"] < 10 for view in seen)  # a PID namespace of its own
    assert seen[0]["stemcell_version"] == "7.5\n"  # the stemcell's skeleton is its /var/vcap

    vcap = cpi.config.dir / "vms" / first.vm_cid / "vcap"
    settings = json.loads((vcap / "bosh" / "settings.json").read_text())
    assert settings["env"]["bosh"]["mbus"]["cert"]["private_key"] == "SECRET-KEY"
    assert settings["mbus"] == "nats://10.0.0.1:4222"
    assert settings["vm"] == {"name": first.vm_cid}
    assert settings["blobstore"]["provider"] == "local"
    assert (vcap / "bosh" / "settings.json").stat().st_mode & 0o077 == 0
    assert json.loads((vcap / "bosh" / "agent.json").read_text()) == {
        "Infrastructure": {"Settings": {"Sources": [
            {"Type": "File", "SettingsPath": "/var/vcap/bosh/settings.json"}]}}}  # fmt: skip
    assert not list(Path("/var/vcap").iterdir())  # the host's /var/vcap is untouched

    with pytest.raises(VMCreationFailedError, match="already used"):
        cpi.create_vm("x", stemcell, {}, manual(f"{_prefix()}.10"), [], {})
    with pytest.raises(VMCreationFailedError, match="outside"):
        cpi.create_vm("x", stemcell, {}, manual("192.0.2.7"), [], {})


def test_state_survives_a_restart_and_has_vm_tells_the_truth(
    cpi: LocalCPI, properties: Mapping[str, Any], stemcell: StemcellCID
) -> None:
    vm = cpi.create_vm("a", stemcell, {}, manual(f"{_prefix()}.20"), [], {})
    ask(f"{_prefix()}.20")
    state = state_of(cpi, vm.vm_cid)
    namespace = str(Path(f"/proc/{state['process']['init_pid']}/ns/pid").readlink())
    assert len(pid_namespace_members(namespace)) >= 3  # init, the program, its child

    restarted = LocalCPI(properties, context=CPIContext())
    assert restarted.has_vm(vm.vm_cid) is True
    cpi.set_vm_metadata(vm.vm_cid, {"name": "web/0"})
    assert state_of(cpi, vm.vm_cid)["metadata"] == {"name": "web/0"}

    os.kill(state["process"]["init_pid"], signal.SIGKILL)  # the VM crashes
    deadline = time.monotonic() + 5
    while restarted.has_vm(vm.vm_cid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert restarted.has_vm(vm.vm_cid) is False
    assert pid_namespace_members(namespace) == []

    restarted.reboot_vm(vm.vm_cid)  # the process tree comes back on the same address
    assert restarted.has_vm(vm.vm_cid) is True
    assert ask(f"{_prefix()}.20")["agent_id"] == "a"


def test_delete_vm_kills_the_tree_and_unplugs_it(cpi: LocalCPI, stemcell: StemcellCID) -> None:
    vm = cpi.create_vm("a", stemcell, {}, manual(f"{_prefix()}.30"), [], {})
    ask(f"{_prefix()}.30")
    state = state_of(cpi, vm.vm_cid)
    namespace = str(Path(f"/proc/{state['process']['init_pid']}/ns/pid").readlink())
    host_veth = state["interfaces"][0]["host_name"]
    assert Path(f"/sys/class/net/{host_veth}").exists()

    cpi.delete_vm(vm.vm_cid)
    assert pid_namespace_members(namespace) == []
    assert not Path(f"/sys/class/net/{host_veth}").exists()
    assert not Path(f"/run/netns/{state['netns']}").exists()
    assert not (cpi.config.dir / "vms" / vm.vm_cid).exists()
    assert cpi.has_vm(vm.vm_cid) is False
    cpi.delete_vm(vm.vm_cid)  # already gone: fine
    with pytest.raises(VMNotFoundError):
        cpi.reboot_vm(vm.vm_cid)
    with pytest.raises(VMNotFoundError):
        cpi.get_disks(VMCID("../../etc"))


def test_a_vm_that_cannot_start_says_why(properties: dict[str, Any], stemcell: StemcellCID) -> None:
    properties["agent_command"] = ["/nonexistent/agent"]
    cpi = LocalCPI(properties, context=CPIContext())
    vm = cpi.create_vm("a", stemcell, {}, manual(f"{_prefix()}.40"), [], {})
    # The init keeps restarting the agent, as runit would; the log says what is wrong.
    log = cpi.config.dir / "vms" / vm.vm_cid / "vcap" / "bosh" / "log" / "current"
    deadline = time.monotonic() + 5
    while b"/nonexistent/agent" not in log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert b"/nonexistent/agent" in log.read_bytes()
    with pytest.raises(VMCreationFailedError, match="Stemcell 'sc-missing' not found"):
        cpi.create_vm("a", StemcellCID("sc-missing"), {}, {}, [], {})


# -- persistent disks ---------------------------------------------------------------------


@pytest.mark.parametrize("disk_images", [False, True], ids=["directory", "ext4-image"])
def test_a_disk_keeps_its_data_across_vms(
    properties: dict[str, Any], image: str, disk_images: bool
) -> None:
    properties["disk_images"] = disk_images
    cpi = LocalCPI(properties, context=CPIContext())
    stemcell = cpi.create_stemcell(image, {})
    ip = f"{_prefix()}.50"
    vm = cpi.create_vm("a", stemcell, {}, manual(ip), [], {})
    disk = cpi.create_disk(64, {}, vm.vm_cid)
    hint = cpi.attach_disk(vm.vm_cid, disk)
    assert hint == {"path": f"{DISK_MOUNT_ROOT}/{disk}"}
    assert cpi.get_disks(vm.vm_cid) == [disk]
    view = ask(ip)
    assert view["persistent"] == {disk: hint}
    assert view["disk_mounts"] == [f"{DISK_MOUNT_ROOT}/{disk}"]
    ask(ip, f"/disk/{disk}/data.txt", method="PUT", body=b"kept")

    cpi.reboot_vm(vm.vm_cid)  # attached disks come back with the VM
    assert ask(ip, f"/disk/{disk}/data.txt") == b"kept"

    cpi.delete_vm(vm.vm_cid)
    assert cpi.has_disk(disk) is True
    again = cpi.create_vm("b", stemcell, {}, manual(ip), [disk], {})
    assert cpi.get_disks(again.vm_cid) == [disk]
    assert ask(ip)["persistent"] == {disk: hint}
    assert ask(ip, f"/disk/{disk}/data.txt") == b"kept"

    with pytest.raises(CloudError, match="attached"):
        cpi.delete_disk(disk)
    cpi.detach_disk(again.vm_cid, disk)
    assert ask(ip)["persistent"] == {} and ask(ip)["disk_mounts"] == []
    with pytest.raises(DiskNotAttachedError):
        cpi.detach_disk(again.vm_cid, disk)
    cpi.attach_disk(again.vm_cid, disk)  # attaching to a running VM mounts it at once
    assert ask(ip, f"/disk/{disk}/data.txt") == b"kept"
    cpi.detach_disk(again.vm_cid, disk)

    cpi.resize_disk(disk, 128)
    snapshot = cpi.snapshot_disk(disk, {"deployment": "d"})
    cpi.delete_snapshot(snapshot)
    cpi.delete_disk(disk)
    assert cpi.has_disk(disk) is False


# -- the shipped contract, directly and as an external CPI --------------------------------


class TestLocalCPIContract(CPIContract):
    @pytest.fixture(params=["direct", "external"])
    def cpi(
        self, request: pytest.FixtureRequest, properties: dict[str, Any], tmp_path: Path
    ) -> CPI:
        context = CPIContext(director_uuid="director-1")
        if request.param == "direct":
            return LocalCPI(properties, context=context)
        config = tmp_path / "local-cpi.json"
        config.write_text(json.dumps(properties))
        executable = write_executable(
            tmp_path / "local-cpi",
            f"#!/bin/sh\ncd {REPO_ROOT}\nexec {sys.executable} -m bosh_core.cpi.local {config}\n",
        )
        return ExternalCPI(executable, context=context, timeout=30)

    @pytest.fixture
    def stemcell_image(self, image: str) -> str:
        return image


# -- the registry path (CPI API v1) and the loopback network mode -------------------------


def test_settings_go_to_the_registry_on_the_v1_path(
    properties: dict[str, Any], image: str, tmp_path: Path
) -> None:
    store = SQLiteRegistryStore(tmp_path / "registry.db")
    with RegistryServer(store, user="admin", password="p@ss", host="0.0.0.0", port=0) as server:
        properties["registry"] = {
            "endpoint": f"http://{_prefix()}.1:{server.port}",  # the VMs reach the host here
            "user": "admin",
            "password": "p@ss",
        }
        cpi = LocalCPI(properties, context=CPIContext(api_version=1))
        vm = cpi.create_vm("agent-r", cpi.create_stemcell(image, {}), {},
                           manual(f"{_prefix()}.60"), [], environment())  # fmt: skip
        vcap = cpi.config.dir / "vms" / vm.vm_cid / "vcap"
        source = json.loads((vcap / "bosh" / "agent.json").read_text())
        assert source["Infrastructure"]["Settings"]["Sources"] == [
            {"Type": "Registry", "URI": f"http://admin:p%40ss@{_prefix()}.1:{server.port}",
             "InstanceID": vm.vm_cid}]  # fmt: skip
        assert not (vcap / "bosh" / "settings.json").exists()
        assert ask(f"{_prefix()}.60")["agent_id"] == "agent-r"  # read from the registry

        disk = cpi.create_disk(16, {}, None)
        cpi.attach_disk(vm.vm_cid, disk)
        assert ask(f"{_prefix()}.60")["persistent"] == {disk: {"path": f"{DISK_MOUNT_ROOT}/{disk}"}}
        assert json.loads(store.get(vm.vm_cid) or "{}")["agent_id"] == "agent-r"
        cpi.delete_vm(vm.vm_cid)
        assert store.get(vm.vm_cid) is None


def test_loopback_mode_shares_the_host_network(properties: dict[str, Any], image: str) -> None:
    properties.update(network_mode="loopback", network_cidr="127.244.7.0/24")
    properties["agent_command"] = [sys.executable, str(PROGRAM), "own", str(PORT)]
    cpi = LocalCPI(properties, context=CPIContext())
    stemcell = cpi.create_stemcell(image, {})
    first = cpi.create_vm("a", stemcell, {}, {"d": {"type": "dynamic"}}, [], {})
    second = cpi.create_vm("b", stemcell, {}, {"d": {"type": "dynamic"}}, [], {})
    ips = [first.networks["d"]["ip"], second.networks["d"]["ip"]]
    assert ips == ["127.244.7.2", "127.244.7.3"]  # .1 is the host's
    assert [ask(ip)["agent_id"] for ip in ips] == ["a", "b"]
    assert state_of(cpi, first.vm_cid)["netns"] is None


def test_without_root_vms_use_user_namespaces(image: str, tmp_path: Path) -> None:
    # The CPI runs as nobody (as an external CPI): user + mount + PID namespaces, loopback IPs.
    home = Path(tempfile.mkdtemp(prefix="local-cpi-nobody-"))
    os.chown(home, 65534, 65534)
    properties = {
        "dir": str(home / "cpi"),
        "network_cidr": "127.244.9.0/24",
        # The system Python: nobody may not reach the venv's interpreter (under /root).
        "agent_command": ["/usr/bin/python3", str(PROGRAM), "own", str(PORT)],
    }
    config = home / "cpi.json"
    config.write_text(json.dumps(properties))
    executable = write_executable(
        tmp_path / "local-cpi",
        f"#!/bin/sh\ncd {REPO_ROOT}\nexec setpriv --reuid=65534 --regid=65534 --clear-groups"
        f" {sys.executable} -m bosh_core.cpi.local {config}\n",
    )
    shutil.copy(image, home / "image")
    cpi = ExternalCPI(executable, context=CPIContext(), timeout=30)
    try:
        assert LocalCPI(properties, context=CPIContext()).config.network_mode == "bridge"
        vm = cpi.create_vm(
            "nobody-vm", cpi.create_stemcell(str(home / "image"), {}), {},
            {"d": {"type": "dynamic"}}, [], {},
        )  # fmt: skip
        ip = vm.networks["d"]["ip"]
        assert ask(ip)["agent_id"] == "nobody-vm"
        disk = cpi.create_disk(16, {}, None)
        cpi.attach_disk(vm.vm_cid, disk)  # mounted through the VM's user namespace
        ask(ip, f"/disk/{disk}/f", method="PUT", body=b"mine")
        assert (home / "cpi" / "disks" / disk / "f").stat().st_uid == 65534
        cpi.detach_disk(vm.vm_cid, disk)
        cpi.delete_vm(vm.vm_cid)
        assert cpi.has_vm(vm.vm_cid) is False
    finally:
        cleaner = LocalCPI({**properties, "network_mode": "loopback"}, context=CPIContext())
        for state in (home / "cpi" / "vms").glob("*/state.json"):
            cleaner.delete_vm(VMCID(state.parent.name))
        shutil.rmtree(home)
