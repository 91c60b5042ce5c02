"""The local CPI's properties, read once into a frozen object.

```yaml
dir: /var/lib/bosh-local-cpi      # required: stemcells, VMs, disks and their state
agent_command: [bosh-agent, -C, /var/vcap/bosh/agent.json]   # default: the venv's agent
network_mode: bridge              # default bridge as root, loopback otherwise
bridge: boshbr0                   # bridge mode: the bridge the CPI owns
network_cidr: 10.244.0.0/16       # host (bridge) address = first host unless given (10.244.0.1/16)
disk_images: false                # true (root): persistent disks are loop-mounted ext4 images
agent:
  mbus: nats://10.244.0.1:4222    # default: nats://<host address>:4222
  blobstore: {provider: local, options: {blobstore_path: ...}}   # default: <dir>/blobstore
  ntp: []
registry: {endpoint: http://127.0.0.1:25777, user: admin, password: ...}   # v1 path, optional
```
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from bosh_core.errors import ManifestError, Problem

__all__ = [
    "AGENT_CONFIG_PATH",
    "AgentProperties",
    "LocalCPIProperties",
    "RegistryProperties",
    "parse_properties",
]

AGENT_CONFIG_PATH = "/var/vcap/bosh/agent.json"
_BRIDGE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")  # Linux interface names: 15 bytes
NetworkMode = Literal["bridge", "loopback"]


@attrs.frozen(kw_only=True)
class AgentProperties:
    """What every VM's agent is told about the director side."""

    mbus: str = attrs.field(repr=False)  # may carry user:password
    blobstore: Mapping[str, Any] = attrs.field(repr=False)  # options hold credentials
    ntp: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class RegistryProperties:
    """The registry the CPI writes settings to (CPI API v1 path)."""

    endpoint: str
    user: str
    password: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class LocalCPIProperties:
    dir: Path
    agent_command: tuple[str, ...]
    network_mode: NetworkMode
    bridge: str
    network: ipaddress.IPv4Interface
    """The host's address on the VMs' network, with the network's prefix."""
    disk_images: bool
    agent: AgentProperties
    registry: RegistryProperties | None


def _default_agent_command() -> tuple[str, ...]:
    # The console script next to this interpreter: an external CPI runs with a minimal PATH.
    script = Path(sys.executable).with_name("bosh-agent")
    return (str(script) if script.exists() else "bosh-agent", "-C", AGENT_CONFIG_PATH)


def _host_interface(text: str, mode: NetworkMode) -> ipaddress.IPv4Interface:
    interface = ipaddress.IPv4Interface(text)
    network = interface.network
    if network.prefixlen > 29:
        raise ValueError(f"{text} leaves no room for VMs (use a /29 or larger)")
    if interface.ip == network.network_address:
        return ipaddress.IPv4Interface(f"{next(network.hosts())}/{network.prefixlen}")
    if mode == "loopback" and not interface.ip.is_loopback:
        raise ValueError(f"{text} is not a loopback range (loopback mode: e.g. 127.244.0.0/24)")
    return interface


def parse_properties(properties: Mapping[str, Any]) -> LocalCPIProperties:
    """Properties from the director's mapping; ManifestError names every problem."""
    problems: list[Problem] = []

    def text(key: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            problems.append(Problem(f"$.{key}", "must be a non-empty string"))
            return ""
        return value

    directory = text("dir", properties.get("dir"))
    command_value = properties.get("agent_command")
    if command_value is None:
        command = _default_agent_command()
    elif isinstance(command_value, str):
        command = tuple(shlex.split(command_value))
    elif isinstance(command_value, list) and all(isinstance(x, str) for x in command_value):
        command = tuple(command_value)
    else:
        problems.append(Problem("$.agent_command", "must be a string or a list of strings"))
        command = ()
    if command_value is not None and not command:
        problems.append(Problem("$.agent_command", "must name a program"))

    mode_value = properties.get("network_mode", "bridge" if os.geteuid() == 0 else "loopback")
    mode: NetworkMode = "bridge"
    if mode_value == "loopback":
        mode = "loopback"
    elif mode_value != "bridge":
        problems.append(Problem("$.network_mode", "must be 'bridge' or 'loopback'"))

    bridge = text("bridge", properties.get("bridge", "boshbr0"))
    if bridge and not _BRIDGE_NAME.match(bridge):
        problems.append(Problem("$.bridge", "must be an interface name of 1 to 15 characters"))

    default_cidr = "10.244.0.0/16" if mode == "bridge" else "127.244.0.0/24"
    network = ipaddress.IPv4Interface("10.244.0.1/16")
    try:
        network = _host_interface(str(properties.get("network_cidr", default_cidr)), mode)
    except ValueError as exc:
        problems.append(Problem("$.network_cidr", str(exc)))

    disk_images = properties.get("disk_images", False)
    if not isinstance(disk_images, bool):
        problems.append(Problem("$.disk_images", "must be true or false"))
        disk_images = False

    agent_value = properties.get("agent", {})
    if not isinstance(agent_value, Mapping):
        problems.append(Problem("$.agent", "must be a map"))
        agent_value = {}
    mbus = text("agent.mbus", agent_value.get("mbus", f"nats://{network.ip}:4222"))
    blobstore = agent_value.get(
        "blobstore",
        {"provider": "local", "options": {"blobstore_path": f"{directory}/blobstore"}},
    )
    if not isinstance(blobstore, Mapping) or not isinstance(blobstore.get("provider"), str):
        problems.append(Problem("$.agent.blobstore", "must be a map with a 'provider'"))
        blobstore = {}
    ntp = agent_value.get("ntp", [])
    if not isinstance(ntp, list) or not all(isinstance(x, str) for x in ntp):
        problems.append(Problem("$.agent.ntp", "must be a list of strings"))
        ntp = []

    registry = None
    registry_value = properties.get("registry")
    if registry_value is not None:
        if isinstance(registry_value, Mapping):
            registry = RegistryProperties(
                endpoint=text("registry.endpoint", registry_value.get("endpoint")).rstrip("/"),
                user=text("registry.user", registry_value.get("user")),
                password=text("registry.password", registry_value.get("password")),
            )
        else:
            problems.append(Problem("$.registry", "must be a map (endpoint, user, password)"))

    if problems:
        raise ManifestError("local CPI properties", problems)
    return LocalCPIProperties(
        dir=Path(directory),
        agent_command=command,
        network_mode=mode,
        bridge=bridge,
        network=network,
        disk_images=disk_images,
        agent=AgentProperties(mbus=mbus, blobstore=dict(blobstore), ntp=tuple(ntp)),
        registry=registry,
    )
