"""What a local VM is made of on the host: namespaces, a process tree, veths on a bridge.

A VM is ``unshare --mount --uts --pid --fork --kill-child --mount-proc`` (plus ``--user
--map-root-user`` without root) running a small shell init, optionally entered into a
named network namespace (``ip netns``) first. The init bind-mounts the VM's directory on
``/var/vcap``, mounts the attached persistent disks, marks itself started, and keeps
the agent running (restarting it as runit would on a stemcell). Killing the ``unshare``
process kills the namespace's init (``--kill-child``), and the kernel then kills every
process of the PID namespace: the whole tree goes at once.

Processes are identified by pid *and* start time, so a reused pid is never taken for a
VM after a host reboot or a long pause.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from bosh_core.cpi.errors import CloudError, VMCreationFailedError

__all__ = [
    "DiskMount",
    "GuestInterface",
    "VMProcess",
    "add_guest_interface",
    "create_netns",
    "delete_netns",
    "ensure_bridge",
    "kill_vm",
    "mount_in_vm",
    "process_alive",
    "run",
    "start_vm",
    "unmount_in_vm",
]

STARTED_MARKER = "bosh/local-cpi-started"
_START_TIMEOUT_S = 10.0
_KILL_TIMEOUT_S = 10.0
_VM_PATH = "/var/vcap/bosh/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# $1 = the VM's directory, $2 = hostname, then "bind|image SOURCE TARGET" triples, "--",
# then the agent command. The VM's own PID 1: it reaps orphans while it waits.
_INIT = r"""
set -e
vmdir=$1 name=$2; shift 2
mount --bind "$vmdir" /var/vcap
hostname "$name" 2>/dev/null || true
while [ "$1" != "--" ]; do
  mkdir -p "$3"
  if [ "$1" = image ]; then mount -o loop "$2" "$3"; else mount --bind "$2" "$3"; fi
  shift 3
done
shift
: > /var/vcap/bosh/local-cpi-started
set +e
while :; do
  "$@" &
  wait $!
  echo "local-cpi init: agent exited with status $?; restarting in 1s" >&2
  sleep 1
done
"""
_LAUNCH = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'


@attrs.frozen
class VMProcess:
    """The ``unshare`` process holding a VM (its pid and start time) and the VM's init."""

    pid: int
    start_time: int
    init_pid: int


@attrs.frozen
class DiskMount:
    """A persistent disk the init mounts inside the VM: a directory or an ext4 image."""

    kind: str  # "bind" | "image"
    source: str
    target: str


@attrs.frozen
class GuestInterface:
    host_name: str
    guest_name: str
    address: ipaddress.IPv4Interface


def run(command: Sequence[str], *, what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit status {result.returncode}"
        raise CloudError(f"Cannot {what}: {' '.join(command[:4])}: {detail}")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ")".
    return raw[raw.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def process_alive(pid: int, start_time: int) -> bool:
    """The process exists, is the one started then, and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X") and int(fields[19]) == start_time


def _child_of(pid: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                return int(entry.name)
    return None


def _tail(path: Path, size: int = 2000) -> str:
    try:
        data = path.read_bytes()[-size:]
    except OSError:
        return ""
    return data.decode("utf-8", "replace").strip()


def _ensure_mount_point(*, user_namespace: bool) -> None:
    # Each VM's directory is mounted over the host's /var/vcap inside the VM only.
    vcap = Path("/var/vcap")
    if vcap.is_dir():
        return
    if user_namespace:
        raise VMCreationFailedError(
            "The host has no directory /var/vcap for VMs to mount their own over; without"
            " root the local CPI cannot make it: create it once as root (mkdir /var/vcap)"
        )
    vcap.mkdir(parents=True, exist_ok=True)


def start_vm(
    *,
    vm_dir: Path,
    hostname: str,
    command: Sequence[str],
    netns: str | None,
    user_namespace: bool,
    disks: Sequence[DiskMount],
    log: Path,
) -> VMProcess:
    """Start a VM's process tree detached from the caller; wait until its init is ready."""
    _ensure_mount_point(user_namespace=user_namespace)
    marker = vm_dir / STARTED_MARKER
    marker.unlink(missing_ok=True)
    unshare = ["unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if user_namespace:
        unshare[1:1] = ["--user", "--map-root-user"]
    enter = ["nsenter", f"--net=/run/netns/{netns}"] if netns else []
    mounts = [part for disk in disks for part in (disk.kind, disk.source, disk.target)]
    argv = [
        *enter, *unshare, "sh", "-c", _INIT, "init", str(vm_dir), hostname, *mounts, "--",
        *command,
    ]  # fmt: skip
    log.parent.mkdir(parents=True, exist_ok=True)
    # The launcher shell backgrounds the VM and exits: the VM is nobody's child here, so
    # it outlives this process (the director, or one external CPI call).
    launched = subprocess.run(
        ["sh", "-c", _LAUNCH, "launch", str(log), *argv],
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
        env={"PATH": _VM_PATH, "HOME": "/root" if os.geteuid() == 0 else "/", "LANG": "C.UTF-8"},
    )
    if launched.returncode != 0 or not launched.stdout.strip().isdigit():
        raise VMCreationFailedError(f"Cannot start the VM: {launched.stderr.strip()}")
    pid = int(launched.stdout.strip())
    start_time = _start_time(pid)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        if start_time is None or not process_alive(pid, start_time):
            raise VMCreationFailedError(
                f"The VM's process tree exited while starting; its log ({log}) ends with:\n"
                + _tail(log)
            )
        if marker.exists():
            init_pid = _child_of(pid)
            if init_pid is not None:
                return VMProcess(pid, start_time, init_pid)
        if time.monotonic() > deadline:
            kill_vm(VMProcess(pid, start_time, 0))
            raise VMCreationFailedError(
                f"The VM did not start within {_START_TIMEOUT_S:.0f}s; its log ({log}) ends"
                " with:\n" + _tail(log),
                ok_to_retry=True,
            )
        time.sleep(0.005)


def kill_vm(vm: VMProcess) -> None:
    """Kill the VM's whole process tree and wait until its holder is gone."""
    for pid, start_time in ((vm.init_pid, _start_time(vm.init_pid)), (vm.pid, vm.start_time)):
        if pid and start_time is not None and process_alive(pid, start_time):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + _KILL_TIMEOUT_S
    while process_alive(vm.pid, vm.start_time):
        if time.monotonic() > deadline:
            raise CloudError(f"The VM's process {vm.pid} did not die after SIGKILL")
        time.sleep(0.005)


def _nsenter(vm: VMProcess, *, user_namespace: bool) -> list[str]:
    # The PID namespace too: mount(8) reads /proc/self/mountinfo, and /proc is the VM's.
    user = ["--user", "--preserve-credentials"] if user_namespace else []
    return ["nsenter", f"--target={vm.init_pid}", *user, "--mount", "--pid"]


def mount_in_vm(vm: VMProcess, disk: DiskMount, *, user_namespace: bool) -> None:
    """Mount a disk inside a running VM's mount namespace (attach while it runs)."""
    option = ["-o", "loop"] if disk.kind == "image" else ["--bind"]
    run(
        [*_nsenter(vm, user_namespace=user_namespace), "sh", "-c",
         'mkdir -p "$1" && shift && exec mount "$@"', "mount", disk.target,
         *option, disk.source, disk.target],
        what="mount the disk in the VM",
    )  # fmt: skip


def unmount_in_vm(vm: VMProcess, target: str, *, user_namespace: bool) -> None:
    # Lazy: a bind of the disk onto /var/vcap/store made by the agent keeps working.
    run(
        [*_nsenter(vm, user_namespace=user_namespace), "sh", "-c",
         'if mountpoint -q "$1"; then exec umount --lazy "$1"; fi', "umount", target],
        what="unmount the disk in the VM",
    )  # fmt: skip


def ensure_bridge(name: str, address: ipaddress.IPv4Interface) -> None:
    """The CPI's bridge exists, is up and carries the host's address on the VMs' network."""
    if not Path(f"/sys/class/net/{name}").exists():
        add = subprocess.run(
            ["ip", "link", "add", name, "type", "bridge"], capture_output=True, text=True
        )
        if add.returncode != 0 and not Path(f"/sys/class/net/{name}").exists():
            raise CloudError(
                f"Cannot create the bridge {name}: {add.stderr.strip()} (bridge mode needs root"
                " with CAP_NET_ADMIN; without it set network_mode: loopback)"
            )
    run(["ip", "addr", "replace", str(address), "dev", name], what=f"address bridge {name}")
    run(["ip", "link", "set", name, "up"], what=f"bring bridge {name} up")


def create_netns(name: str) -> None:
    run(["ip", "netns", "add", name], what="create a network namespace")
    run(["ip", "-n", name, "link", "set", "lo", "up"], what="bring up the VM's loopback")


def add_guest_interface(
    netns: str, interface: GuestInterface, *, bridge: str, gateway: ipaddress.IPv4Address | None
) -> None:
    """A veth pair: the host end on the bridge, the guest end in the VM with its address."""
    run(
        ["ip", "link", "add", interface.host_name, "type", "veth", "peer", "name",
         interface.guest_name, "netns", netns],
        what="create a veth pair",
    )  # fmt: skip
    run(
        ["ip", "link", "set", interface.host_name, "master", bridge, "up"],
        what="put the veth on the bridge",
    )
    inside = ["ip", "-n", netns]
    run([*inside, "addr", "add", str(interface.address), "dev", interface.guest_name],
         what="address the VM")  # fmt: skip
    run([*inside, "link", "set", interface.guest_name, "up"], what="bring the VM's link up")
    if gateway is not None:
        run([*inside, "route", "replace", "default", "via", str(gateway)],
             what="route the VM")  # fmt: skip
    # The address may have been an earlier VM's: the host must not keep sending to that
    # VM's MAC address until its neighbour entry goes stale.
    subprocess.run(
        ["ip", "neigh", "del", str(interface.address.ip), "dev", bridge],
        capture_output=True,
        check=False,
    )


def delete_netns(name: str, host_interfaces: Sequence[str]) -> None:
    """Remove a VM's network namespace (its veths go with it); missing parts are fine."""
    for interface in host_interfaces:
        if Path(f"/sys/class/net/{interface}").exists():
            subprocess.run(["ip", "link", "del", interface], capture_output=True, check=False)
    if Path(f"/run/netns/{name}").exists():
        run(["ip", "netns", "del", name], what="delete the VM's network namespace")
