"""Agent settings (bosh-agent's settings.json) and where the agent finds them.

The CPI either writes the settings into the VM (CPI v2: a ``File`` source) or puts them
in the registry (v1: a ``Registry`` source); ``agent.json`` lists the sources, as for the
real agent. Settings name paths as the VM sees them (``/var/vcap/...``): `vm_path` maps
them under the agent's base directory.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from bosh_core.agent.errors import AgentError
from bosh_core.bus.certs import MbusCert
from bosh_core.serialization import register_renames, structure

__all__ = [
    "AgentConfig",
    "BlobstoreSettings",
    "BoshEnv",
    "Disks",
    "Env",
    "FileSource",
    "MbusEnv",
    "Network",
    "RegistrySource",
    "Settings",
    "VMSettings",
    "load_agent_config",
    "load_settings",
    "parse_settings",
    "vm_path",
]

VCAP = PurePosixPath("/var/vcap")
_MAX_SETTINGS_BYTES = 4 << 20


def vm_path(base_dir: Path, path: str) -> Path:
    """`path` as named on the VM (``/var/vcap/bosh/x``), under `base_dir` on this host."""
    pure = PurePosixPath(path)
    if pure == VCAP or VCAP in pure.parents:
        return base_dir / pure.relative_to(VCAP)
    return Path(path)


@attrs.frozen
class MbusEnv:
    cert: MbusCert | None = None
    urls: list[str] = attrs.field(factory=list)


@attrs.frozen
class BlobstoreSettings:
    provider: str
    # Options hold credentials (a DAV password, S3 keys): never shown.
    options: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class BoshEnv:
    password: str = attrs.field(default="", repr=False)
    keep_root_password: bool = False
    remove_dev_tools: bool = False
    authorized_keys: list[str] = attrs.field(factory=list)
    mbus: MbusEnv = attrs.field(factory=MbusEnv)
    ntp: list[str] = attrs.field(factory=list)
    parallel: int | None = None
    # The director's blobstores for this agent: they win over the settings' own.
    blobstores: list[BlobstoreSettings] = attrs.field(factory=list)


@attrs.frozen
class Env:
    bosh: BoshEnv = attrs.field(factory=BoshEnv)


@attrs.frozen
class Network:
    type: str = ""
    ip: str = ""
    netmask: str = ""
    gateway: str = ""
    dns: list[str] = attrs.field(factory=list)
    default: list[str] = attrs.field(factory=list)
    mac: str = ""
    preconfigured: bool = False
    use_dhcp: bool = False
    routes: list[dict[str, Any]] = attrs.field(factory=list)
    cloud_properties: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Disks:
    system: str = ""
    # A device path or a CPI-specific hint ({"path": ...}, {"volume_id": ...}).
    ephemeral: Any = None
    persistent: dict[str, Any] = attrs.field(factory=dict)
    raw_ephemeral: list[Any] = attrs.field(factory=list)


@attrs.frozen
class VMSettings:
    name: str = ""


@attrs.frozen
class Settings:
    agent_id: str
    mbus: str = attrs.field(repr=False)  # may carry user:password
    blobstore: BlobstoreSettings
    networks: dict[str, Network] = attrs.field(factory=dict)
    disks: Disks = attrs.field(factory=Disks)
    env: Env = attrs.field(factory=Env)
    ntp: list[str] = attrs.field(factory=list)
    vm: VMSettings = attrs.field(factory=VMSettings)
    trusted_certs: str = ""

    @property
    def mbus_cert(self) -> MbusCert | None:
        return self.env.bosh.mbus.cert

    @property
    def active_blobstore(self) -> BlobstoreSettings:
        """The first of the director's ``env.bosh.blobstores`` (what a director hands its
        agents in create_vm's env), else the settings' ``blobstore``."""
        return next(iter(self.env.bosh.blobstores), self.blobstore)


@attrs.frozen
class FileSource:
    settings_path: str


@attrs.frozen
class RegistrySource:
    uri: str = attrs.field(repr=False)  # http://user:password@host:port
    instance_id: str


@attrs.frozen
class AgentConfig:
    """agent.json: where the settings come from (``Infrastructure.Settings.Sources``)."""

    sources: tuple[FileSource | RegistrySource, ...]


def parse_settings(document: Any, *, source: str) -> Settings:
    """Settings from plain JSON data; every problem is named by its path."""
    return structure(document, Settings, source=source)


def load_agent_config(path: Path) -> AgentConfig:
    document = _read_json(path, what="agent config")
    raw = (
        document.get("Infrastructure", {}).get("Settings", {}).get("Sources")
        if isinstance(document, dict)
        else None
    )
    if not isinstance(raw, list) or not raw:
        raise AgentError(
            f"Agent config '{path}' lists no settings sources"
            ' (expected Infrastructure.Settings.Sources: [{"Type": "File", ...}])'
        )
    sources: list[FileSource | RegistrySource] = []
    for index, entry in enumerate(raw):
        where = f"$.Infrastructure.Settings.Sources[{index}]"
        kind = entry.get("Type") if isinstance(entry, dict) else None
        if kind == "File":
            sources.append(structure(entry, FileSource, source=f"agent config {where}"))
        elif kind == "Registry":
            sources.append(structure(entry, RegistrySource, source=f"agent config {where}"))
        else:
            raise AgentError(
                f"Agent config '{path}': {where}.Type is {kind!r}; expected 'File' or 'Registry'"
            )
    return AgentConfig(tuple(sources))


def load_settings(config: AgentConfig, *, base_dir: Path) -> Settings:
    """Settings from the first source that has them; AgentError lists every failure."""
    failures = []
    for source in config.sources:
        try:
            if isinstance(source, FileSource):
                path = vm_path(base_dir, source.settings_path)
                return parse_settings(
                    _read_json(path, what="settings"), source=f"agent settings '{path}'"
                )
            return _registry_settings(source)
        except AgentError as exc:
            failures.append(str(exc))
    raise AgentError("No settings source answered: " + "; ".join(failures))


def _registry_settings(source: RegistrySource) -> Settings:
    from bosh_core.registry import RegistryError
    from bosh_core.registry.client import RegistryClient

    client = RegistryClient(source.uri)
    try:
        document = client.get(source.instance_id)
    except RegistryError as exc:
        raise AgentError(str(exc)) from None
    return parse_settings(
        document, source=f"agent settings from {client.url} for {source.instance_id}"
    )


def _read_json(path: Path, *, what: str) -> Any:
    try:
        with path.open("rb") as stream:
            data = stream.read(_MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise AgentError(f"Cannot read {what} '{path}': {exc.strerror}") from None
    if len(data) > _MAX_SETTINGS_BYTES:
        raise AgentError(f"The {what} file '{path}' is larger than {_MAX_SETTINGS_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise AgentError(f"The {what} file '{path}' is not JSON: {exc}") from None


register_renames(FileSource, {"settings_path": "SettingsPath"})
register_renames(RegistrySource, {"uri": "URI", "instance_id": "InstanceID"})
