"""The local CPI: VMs are namespaced process trees on this host, like bosh-lite's containers.

Layout under the ``dir`` property (state is plain JSON, so a new instance, e.g. in a
restarted director or one external CPI call, knows every VM, disk and stemcell)::

    .lock                         flock: one mutation at a time, across threads and processes
    stemcells/<cid>/image.tgz     the stemcell's /var/vcap skeleton; stemcell.json
    vms/<cid>/state.json          agent id, network namespace, veths, addresses, process, disks
    vms/<cid>/settings.json       the agent's settings (mode 0600: they hold the mbus key)
    vms/<cid>/vcap/               bind-mounted on /var/vcap inside the VM
    disks/<cid>.json              size, kind, attached VM, metadata
    disks/<cid>/ | disks/<cid>.img   the data: a directory, or an ext4 image (disk_images)
    snapshots/<cid>/              a copy of a disk

Persistent disks are mounted inside the VM's mount namespace at
``/var/vcap/bosh/disks/<disk_cid>`` (a bind of the directory, or the loop-mounted image)
and attach_disk returns ``{"path": "/var/vcap/bosh/disks/<disk_cid>"}``: the agent
bind-mounts that directory on ``/var/vcap/store``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from bosh_core.cpi.base import CPI
from bosh_core.cpi.errors import (
    CloudError,
    DiskNotAttachedError,
    DiskNotFoundError,
    VMCreationFailedError,
    VMNotFoundError,
)
from bosh_core.cpi.local import host
from bosh_core.cpi.local.properties import AGENT_CONFIG_PATH, LocalCPIProperties, parse_properties
from bosh_core.cpi.local.stemcell import STEMCELL_FORMAT
from bosh_core.cpi.types import (
    VMCID,
    CloudProperties,
    CPIContext,
    CPIInfo,
    CreatedVM,
    DiskCID,
    DiskHint,
    Environment,
    Metadata,
    Networks,
    SnapshotCID,
    StemcellCID,
)

__all__ = ["DISK_MOUNT_ROOT", "LocalCPI"]

DISK_MOUNT_ROOT = "/var/vcap/bosh/disks"
"""Where attached persistent disks appear inside a VM (``<root>/<disk_cid>``)."""
_SETTINGS_PATH = "/var/vcap/bosh/settings.json"
_CID = re.compile(r"^[a-z]+-[0-9a-f-]{36}$")
_REGISTRY_TIMEOUT_S = 10.0


def _write_json(path: Path, data: Any, *, mode: int = 0o644) -> None:
    """Atomically, so a crash never leaves half a state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as stream:
            os.fchmod(stream.fileno(), mode)
            json.dump(data, stream, indent=1)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _checked_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Only plain files and directories with relative names: a skeleton needs no more."""
    members = archive.getmembers()
    for member in members:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise CloudError(
                f"The stemcell image holds '{member.name}', which is not a plain file or"
                " directory inside the image"
            )
    return members


def _extract(archive: tarfile.TarFile, destination: Path) -> None:
    members = _checked_members(archive)
    if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 also clears unsafe modes
        archive.extractall(destination, members, filter="data")
    else:
        archive.extractall(destination, members)


def _new_cid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


class LocalCPI(CPI):
    """CPI API v2 over namespaced process trees; see the module docstring and properties."""

    def __init__(self, properties: Mapping[str, Any], *, context: CPIContext) -> None:
        super().__init__(properties, context=context)
        self.config: LocalCPIProperties = parse_properties(properties)
        self._root = self.config.dir
        self._user_namespace = os.geteuid() != 0
        if self.config.disk_images and self._user_namespace:
            raise CloudError("disk_images: true needs root (loop devices); use directory disks")

    # -- paths, lock, state ------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self._root.mkdir(parents=True, exist_ok=True)
        with (self._root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _vm_dir(self, vm_cid: str) -> Path:
        if not _CID.match(vm_cid):
            raise VMNotFoundError(f"VM '{vm_cid}' not found")
        return self._root / "vms" / vm_cid

    def _vm_state(self, vm_cid: str) -> dict[str, Any]:
        try:
            state: dict[str, Any] = _read_json(self._vm_dir(vm_cid) / "state.json")
        except FileNotFoundError:
            raise VMNotFoundError(f"VM '{vm_cid}' not found") from None
        return state

    def _save_vm(self, state: Mapping[str, Any]) -> None:
        _write_json(self._vm_dir(state["vm_cid"]) / "state.json", state)

    def _disk_file(self, disk_cid: str) -> Path:
        if not _CID.match(disk_cid):
            raise DiskNotFoundError(f"Disk '{disk_cid}' not found")
        return self._root / "disks" / f"{disk_cid}.json"

    def _disk_state(self, disk_cid: str) -> dict[str, Any]:
        try:
            state: dict[str, Any] = _read_json(self._disk_file(disk_cid))
        except FileNotFoundError:
            raise DiskNotFoundError(f"Disk '{disk_cid}' not found") from None
        return state

    def _disk_data(self, disk: Mapping[str, Any]) -> Path:
        suffix = ".img" if disk["kind"] == "image" else ""
        return self._root / "disks" / f"{disk['disk_cid']}{suffix}"

    def _all_vms(self) -> Iterator[dict[str, Any]]:
        for path in sorted((self._root / "vms").glob("*/state.json")):
            with contextlib.suppress(FileNotFoundError):
                yield _read_json(path)

    def _process(self, state: Mapping[str, Any]) -> host.VMProcess | None:
        process = state.get("process")
        return host.VMProcess(**process) if process else None

    # -- info and stemcells ------------------------------------------------------------

    def info(self) -> CPIInfo:
        return CPIInfo(stemcell_formats=(STEMCELL_FORMAT,), api_version=2)

    def create_stemcell(self, image_path: str, cloud_properties: CloudProperties) -> StemcellCID:
        cid = StemcellCID(_new_cid("sc"))
        directory = self._root / "stemcells" / cid
        try:
            with tarfile.open(image_path, "r:gz") as image:
                _checked_members(image)
        except (OSError, tarfile.TarError) as exc:
            raise CloudError(f"Stemcell image '{image_path}' is not a tar.gz: {exc}") from None
        directory.mkdir(parents=True)
        shutil.copyfile(image_path, directory / "image.tgz")
        _write_json(
            directory / "stemcell.json",
            {"stemcell_cid": cid, "cloud_properties": dict(cloud_properties)},
        )
        return cid

    def delete_stemcell(self, stemcell_cid: StemcellCID) -> None:
        if _CID.match(stemcell_cid):
            shutil.rmtree(self._root / "stemcells" / stemcell_cid, ignore_errors=True)

    # -- VMs -------------------------------------------------------------------------

    def create_vm(
        self,
        agent_id: str,
        stemcell_cid: StemcellCID,
        cloud_properties: CloudProperties,
        networks: Networks,
        disk_cids: list[DiskCID],
        environment: Environment,
    ) -> CreatedVM:
        image = self._root / "stemcells" / stemcell_cid / "image.tgz"
        if not _CID.match(stemcell_cid) or not image.exists():
            raise VMCreationFailedError(f"Stemcell '{stemcell_cid}' not found")
        vm_cid = VMCID(_new_cid("vm"))
        with self._lock():
            disks = [self._disk_state(cid) for cid in disk_cids]
            for disk in disks:
                if disk.get("vm_cid"):
                    raise CloudError(
                        f"Disk '{disk['disk_cid']}' is attached to VM '{disk['vm_cid']}'"
                    )
            placed = self._place(networks)
            vm_dir = self._vm_dir(vm_cid)
            state: dict[str, Any] = {
                "vm_cid": vm_cid,
                "agent_id": agent_id,
                "stemcell_cid": stemcell_cid,
                "cloud_properties": dict(cloud_properties),
                "netns": f"bosh-{vm_cid}" if self.config.network_mode == "bridge" else None,
                "interfaces": [],
                "ips": [spec["ip"] for spec in placed.values() if spec.get("ip")],
                "process": None,
                "disks": [disk["disk_cid"] for disk in disks],
                "metadata": {},
                "user_namespace": self._user_namespace,
                "registry": self._uses_registry(),
            }
            try:
                self._save_vm(state)  # reserves the addresses
                with tarfile.open(image, "r:gz") as skeleton:
                    _extract(skeleton, vm_dir / "vcap")
                if state["netns"]:  # first: a registry may listen on the bridge
                    state["interfaces"] = self._plumb(state["netns"], vm_cid, placed)
                self._write_settings(state, placed, environment)
                for disk in disks:
                    disk["vm_cid"] = vm_cid
                    _write_json(self._disk_file(disk["disk_cid"]), disk)
                self._start(state)
            except BaseException as exc:
                self._destroy(state)
                if isinstance(exc, VMCreationFailedError):
                    raise
                if isinstance(exc, CloudError | OSError | tarfile.TarError):
                    raise VMCreationFailedError(f"Cannot create a VM: {exc}") from exc
                raise
        return CreatedVM(vm_cid, placed)

    def _place(self, networks: Networks) -> dict[str, dict[str, Any]]:
        """Networks with every address decided (dynamic ones allocated), checked for clashes."""
        network = self.config.network
        used = {ip for vm in self._all_vms() for ip in vm.get("ips", [])}
        used.add(str(network.ip))
        placed: dict[str, dict[str, Any]] = {}
        for name, spec in networks.items():
            entry = dict(spec)
            kind = entry.get("type", "manual")
            if kind == "vip":
                placed[name] = entry
                continue
            if kind == "dynamic":
                free = next((ip for ip in network.network.hosts() if str(ip) not in used), None)
                if free is None:
                    raise VMCreationFailedError(f"No free address left in {network.network}")
                entry.update(ip=str(free), netmask=str(network.netmask), gateway=str(network.ip))
            else:
                try:
                    address = ipaddress.IPv4Address(entry.get("ip", ""))
                except ValueError:
                    raise VMCreationFailedError(
                        f"Network '{name}' has no valid IPv4 'ip': {entry.get('ip')!r}"
                    ) from None
                if address not in network.network:
                    raise VMCreationFailedError(
                        f"Network '{name}': {address} is outside the local CPI's network"
                        f" {network.network} (property network_cidr)"
                    )
                if str(address) in used:
                    raise VMCreationFailedError(
                        f"Network '{name}': {address} is already used by another VM or the host"
                    )
            used.add(entry["ip"])
            entry["preconfigured"] = True  # the CPI configured the VM's interfaces
            placed[name] = entry
        return placed

    def _plumb(
        self, netns: str, vm_cid: str, placed: Mapping[str, Mapping[str, Any]]
    ) -> list[dict[str, str]]:
        network = self.config.network
        host.ensure_bridge(self.config.bridge, network)
        host.create_netns(netns)
        addressed = [(name, spec) for name, spec in placed.items() if spec.get("type") != "vip"]
        default = next(
            (name for name, spec in addressed if "gateway" in spec.get("default", [])),
            addressed[0][0] if addressed else None,
        )
        stem = "bv" + hashlib.sha1(vm_cid.encode()).hexdigest()[:10]
        interfaces = []
        for index, (name, spec) in enumerate(addressed):
            interface = host.GuestInterface(
                host_name=f"{stem}{index}",
                guest_name=f"eth{index}",
                address=ipaddress.IPv4Interface(f"{spec['ip']}/{network.network.prefixlen}"),
            )
            interfaces.append({"host_name": interface.host_name, "network": name})
            host.add_guest_interface(
                netns,
                interface,
                bridge=self.config.bridge,
                gateway=network.ip if name == default else None,
            )
        return interfaces

    def _disk_mount(self, disk_cid: str) -> host.DiskMount:
        disk = self._disk_state(disk_cid)
        return host.DiskMount(
            kind=disk["kind"],
            source=str(self._disk_data(disk)),
            target=f"{DISK_MOUNT_ROOT}/{disk_cid}",
        )

    def _start(self, state: dict[str, Any]) -> None:
        vm_dir = self._vm_dir(state["vm_cid"])
        process = host.start_vm(
            vm_dir=vm_dir / "vcap",
            hostname=state["vm_cid"],
            command=self.config.agent_command,
            netns=state["netns"],
            user_namespace=state["user_namespace"],
            disks=[self._disk_mount(cid) for cid in state["disks"]],
            log=vm_dir / "vcap" / "bosh" / "log" / "current",
        )
        state["process"] = {
            "pid": process.pid,
            "start_time": process.start_time,
            "init_pid": process.init_pid,
        }
        self._save_vm(state)

    def _destroy(self, state: Mapping[str, Any]) -> None:
        """Kill the VM, unplug it and remove its files; its disks stay."""
        process = self._process(state)
        if process is not None:
            host.kill_vm(process)
        if state.get("netns"):
            host.delete_netns(
                state["netns"], [interface["host_name"] for interface in state["interfaces"]]
            )
        for disk_cid in state.get("disks", []):
            with contextlib.suppress(DiskNotFoundError):
                disk = self._disk_state(disk_cid)
                if disk.get("vm_cid") == state["vm_cid"]:
                    disk["vm_cid"] = None
                    _write_json(self._disk_file(disk_cid), disk)
        if state.get("registry"):
            self._registry("DELETE", state["vm_cid"], None)
        shutil.rmtree(self._vm_dir(state["vm_cid"]), ignore_errors=True)

    def delete_vm(self, vm_cid: VMCID) -> None:
        with self._lock():
            try:
                state = self._vm_state(vm_cid)
            except VMNotFoundError:
                return
            self._destroy(state)

    def has_vm(self, vm_cid: VMCID) -> bool:
        try:
            process = self._process(self._vm_state(vm_cid))
        except VMNotFoundError:
            return False
        return process is not None and host.process_alive(process.pid, process.start_time)

    def reboot_vm(self, vm_cid: VMCID) -> None:
        with self._lock():
            state = self._vm_state(vm_cid)
            process = self._process(state)
            if process is not None:
                host.kill_vm(process)
            if state["netns"] and not Path(f"/run/netns/{state['netns']}").exists():
                # The host rebooted: namespaces are gone, the addresses are still ours.
                placed = self._settings(vm_cid)["networks"]
                state["interfaces"] = self._plumb(state["netns"], vm_cid, placed)
            self._start(state)

    def set_vm_metadata(self, vm_cid: VMCID, metadata: Metadata) -> None:
        with self._lock():
            state = self._vm_state(vm_cid)
            state["metadata"] = dict(metadata)
            self._save_vm(state)

    def calculate_vm_cloud_properties(self, requirements: Mapping[str, Any]) -> CloudProperties:
        return {}  # a local VM shares the host's CPUs, memory and disk: nothing to size

    # -- settings ----------------------------------------------------------------------

    def _settings(self, vm_cid: str) -> dict[str, Any]:
        settings: dict[str, Any] = _read_json(self._vm_dir(vm_cid) / "settings.json")
        return settings

    def _write_settings(
        self,
        state: Mapping[str, Any],
        networks: Mapping[str, Any],
        environment: Environment,
    ) -> None:
        agent = self.config.agent
        settings = {
            "agent_id": state["agent_id"],
            "vm": {"name": state["vm_cid"]},
            "mbus": agent.mbus,
            "blobstore": dict(agent.blobstore),
            "networks": dict(networks),
            "disks": {
                "system": "",
                "ephemeral": "",
                "persistent": {cid: self._hint(cid) for cid in state["disks"]},
                "raw_ephemeral": [],
            },
            "env": dict(environment),
            "ntp": list(agent.ntp),
            "trusted_certs": "",
        }
        self._publish(state, settings)
        registry = self.config.registry
        if not state["registry"] or registry is None:
            source = {"Type": "File", "SettingsPath": _SETTINGS_PATH}
        else:
            parts = urllib.parse.urlsplit(registry.endpoint)
            user = urllib.parse.quote(registry.user, safe="")
            password = urllib.parse.quote(registry.password, safe="")
            netloc = f"{user}:{password}@{parts.netloc.rpartition('@')[2]}"
            source = {
                "Type": "Registry",
                "URI": urllib.parse.urlunsplit(parts._replace(netloc=netloc)),
                "InstanceID": state["vm_cid"],
            }
        agent_json = self._vm_dir(state["vm_cid"]) / "vcap" / AGENT_CONFIG_PATH[len("/var/vcap/") :]
        _write_json(agent_json, {"Infrastructure": {"Settings": {"Sources": [source]}}}, mode=0o600)

    def _uses_registry(self) -> bool:
        """The v1 path: a registry is configured and the caller or stemcell predates v2."""
        context = self.context
        direct = context.api_version >= 2 and (context.stemcell_api_version or 1) >= 2
        return self.config.registry is not None and not direct

    def _publish(self, state: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
        """Keep the host's copy and hand the settings to the agent (file or registry)."""
        vm_cid = state["vm_cid"]
        vm_dir = self._vm_dir(vm_cid)
        _write_json(vm_dir / "settings.json", settings, mode=0o600)
        if not state["registry"]:
            _write_json(vm_dir / "vcap" / _SETTINGS_PATH[len("/var/vcap/") :], settings, mode=0o600)
        else:
            self._registry("PUT", vm_cid, json.dumps(settings).encode())

    def _registry(self, method: str, vm_cid: str, body: bytes | None) -> None:
        registry = self.config.registry
        assert registry is not None
        url = f"{registry.endpoint}/instances/{vm_cid}/settings"
        request = urllib.request.Request(url, data=body, method=method)
        token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=_REGISTRY_TIMEOUT_S):
                pass
        except urllib.error.HTTPError as exc:
            if not (method == "DELETE" and exc.code == 404):
                raise CloudError(f"Registry {method} {url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CloudError(f"Cannot reach the registry at {url}: {exc}") from None

    def _hint(self, disk_cid: str) -> dict[str, str]:
        return {"path": f"{DISK_MOUNT_ROOT}/{disk_cid}"}

    def _set_persistent(self, state: Mapping[str, Any], disk_cid: str, attached: bool) -> None:
        settings = self._settings(state["vm_cid"])
        persistent = settings["disks"]["persistent"]
        if attached:
            persistent[disk_cid] = self._hint(disk_cid)
        else:
            persistent.pop(disk_cid, None)
        self._publish(state, settings)

    # -- disks -----------------------------------------------------------------------

    def create_disk(
        self, size_mib: int, cloud_properties: CloudProperties, vm_cid: VMCID | None
    ) -> DiskCID:
        if not isinstance(size_mib, int) or size_mib <= 0:
            raise CloudError(f"Disk size must be a positive number of MiB, not {size_mib!r}")
        cid = DiskCID(_new_cid("disk"))
        disk: dict[str, Any] = {
            "disk_cid": cid,
            "size_mib": size_mib,
            "kind": "image" if self.config.disk_images else "bind",
            "cloud_properties": dict(cloud_properties),
            "vm_cid": None,
            "metadata": {},
        }
        data = self._disk_data(disk)
        data.parent.mkdir(parents=True, exist_ok=True)
        if disk["kind"] == "image":
            with data.open("xb") as image:
                image.truncate(size_mib << 20)
            try:
                host.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(data)], what="format the disk")
            except CloudError:
                data.unlink()
                raise
        else:
            data.mkdir()
        _write_json(self._disk_file(cid), disk)
        return cid

    def delete_disk(self, disk_cid: DiskCID) -> None:
        with self._lock():
            disk = self._disk_state(disk_cid)
            if disk.get("vm_cid"):
                raise CloudError(f"Disk '{disk_cid}' is attached to VM '{disk['vm_cid']}'")
            data = self._disk_data(disk)
            if data.is_dir():
                shutil.rmtree(data)
            else:
                data.unlink(missing_ok=True)
            self._disk_file(disk_cid).unlink()

    def attach_disk(self, vm_cid: VMCID, disk_cid: DiskCID) -> DiskHint:
        with self._lock():
            state = self._vm_state(vm_cid)
            disk = self._disk_state(disk_cid)
            if disk.get("vm_cid") not in (None, vm_cid):
                raise CloudError(f"Disk '{disk_cid}' is attached to VM '{disk['vm_cid']}'")
            if disk_cid not in state["disks"]:
                process = self._process(state)
                if process is not None and host.process_alive(process.pid, process.start_time):
                    host.mount_in_vm(
                        process, self._disk_mount(disk_cid), user_namespace=state["user_namespace"]
                    )
                state["disks"].append(disk_cid)
                self._save_vm(state)
                disk["vm_cid"] = vm_cid
                _write_json(self._disk_file(disk_cid), disk)
                self._set_persistent(state, disk_cid, attached=True)
            return self._hint(disk_cid)

    def detach_disk(self, vm_cid: VMCID, disk_cid: DiskCID) -> None:
        with self._lock():
            state = self._vm_state(vm_cid)
            disk = self._disk_state(disk_cid)
            if disk_cid not in state["disks"]:
                raise DiskNotAttachedError(f"Disk '{disk_cid}' is not attached to VM '{vm_cid}'")
            process = self._process(state)
            if process is not None and host.process_alive(process.pid, process.start_time):
                host.unmount_in_vm(
                    process, f"{DISK_MOUNT_ROOT}/{disk_cid}", user_namespace=state["user_namespace"]
                )
            state["disks"].remove(disk_cid)
            self._save_vm(state)
            disk["vm_cid"] = None
            _write_json(self._disk_file(disk_cid), disk)
            self._set_persistent(state, disk_cid, attached=False)

    def has_disk(self, disk_cid: DiskCID) -> bool:
        try:
            self._disk_state(disk_cid)
        except DiskNotFoundError:
            return False
        return True

    def get_disks(self, vm_cid: VMCID) -> list[DiskCID]:
        return [DiskCID(cid) for cid in self._vm_state(vm_cid)["disks"]]

    def set_disk_metadata(self, disk_cid: DiskCID, metadata: Metadata) -> None:
        with self._lock():
            disk = self._disk_state(disk_cid)
            disk["metadata"] = dict(metadata)
            _write_json(self._disk_file(disk_cid), disk)

    def resize_disk(self, disk_cid: DiskCID, new_size_mib: int) -> None:
        with self._lock():
            disk = self._disk_state(disk_cid)
            if new_size_mib < disk["size_mib"]:
                raise CloudError(
                    f"Disk '{disk_cid}' cannot shrink from {disk['size_mib']} to {new_size_mib} MiB"
                )
            if disk["kind"] == "image" and new_size_mib != disk["size_mib"]:
                if disk.get("vm_cid"):
                    raise CloudError(f"Disk '{disk_cid}' must be detached to be resized")
                image = self._disk_data(disk)
                os.truncate(image, new_size_mib << 20)
                host.run(["e2fsck", "-f", "-p", str(image)], what="check the disk")
                host.run(["resize2fs", "-f", str(image)], what="grow the disk's filesystem")
            disk["size_mib"] = new_size_mib
            _write_json(self._disk_file(disk_cid), disk)

    def update_disk(
        self, disk_cid: DiskCID, new_size_mib: int, cloud_properties: CloudProperties
    ) -> DiskCID:
        self.resize_disk(disk_cid, new_size_mib)
        with self._lock():
            disk = self._disk_state(disk_cid)
            disk["cloud_properties"] = dict(cloud_properties)
            _write_json(self._disk_file(disk_cid), disk)
        return disk_cid

    def snapshot_disk(self, disk_cid: DiskCID, metadata: Metadata) -> SnapshotCID:
        with self._lock():
            disk = self._disk_state(disk_cid)
            cid = SnapshotCID(_new_cid("snap"))
            directory = self._root / "snapshots" / cid
            directory.mkdir(parents=True)
            data = self._disk_data(disk)
            host.run(
                ["cp", "-a", "--sparse=always", str(data), str(directory / data.name)],
                what="copy the disk",
            )
            _write_json(
                directory / "snapshot.json",
                {"snapshot_cid": cid, "disk_cid": disk_cid, "metadata": dict(metadata)},
            )
            return cid

    def delete_snapshot(self, snapshot_cid: SnapshotCID) -> None:
        if _CID.match(snapshot_cid):
            shutil.rmtree(self._root / "snapshots" / snapshot_cid, ignore_errors=True)
