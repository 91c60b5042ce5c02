"""What a template rendering needs: a job's templates, its bound properties, links and spec.

Everything here is already decided by planning (properties bound to the job spec, links
resolved, IPs reserved); rendering only evaluates ERB against it. ``InstanceSpec.template_spec``
builds the hash the reference director gives templates as ``spec`` (its TemplateSpec), so
``spec.networks.<net>.dns_record_name``, ``spec.ip`` and the dynamic-network placeholders match.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bosh_core import serialization
from bosh_core.errors import ReleaseError
from bosh_core.models.release import JobSpec
from bosh_core.models.validation import canonical_name

__all__ = [
    "InstanceJob",
    "InstanceSpec",
    "InstanceToRender",
    "JobTemplates",
    "Link",
    "LinkInstance",
    "ProvidedLink",
    "ReleaseRef",
]

# A job archive holds a few small text files; anything bigger is not a template.
_MAX_TEMPLATE_BYTES = 16 << 20
# Templates may render before the agent reports a dynamic IP: the reference fills these so
# templates need no nil checks.
_DYNAMIC_PLACEHOLDER = "127.0.0.1"


@attrs.frozen
class JobTemplates:
    """The renderable part of a release job: its spec, ``monit`` and template sources.

    ``templates`` maps the source path under ``templates/`` (a key of ``spec.templates``) to
    its ERB text; ``monit`` is ERB too.
    """

    spec: JobSpec
    monit: str
    templates: dict[str, str]

    @property
    def name(self) -> str:
        return self.spec.name

    @classmethod
    def from_archive(cls, path: Path) -> JobTemplates:
        """Read a job archive (``jobs/<name>.tgz`` of a release, or a job blob)."""
        files: dict[str, bytes] = {}
        try:
            with tarfile.open(path, "r:gz") as tar:
                for member in tar:
                    name = posixpath.normpath(member.name)
                    if not member.isfile() or not _is_job_file(name):
                        continue
                    if member.size > _MAX_TEMPLATE_BYTES:
                        raise ReleaseError(
                            f"Job archive '{path}': '{member.name}' is {member.size} bytes,"
                            f" more than the {_MAX_TEMPLATE_BYTES} a template may have"
                        )
                    content = tar.extractfile(member)
                    assert content is not None  # a regular file, checked above
                    files[name] = content.read()
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise ReleaseError(f"Cannot read job archive '{path}': {exc}") from exc
        return cls._from_files(files, origin=f"job archive '{path}'")

    @classmethod
    def from_directory(cls, path: Path) -> JobTemplates:
        """Read a job of a release directory (``jobs/<name>`` with spec, monit, templates/)."""
        files = {"job.MF": _read(path / "spec"), "monit": _read(path / "monit")}
        templates = path / "templates"
        if templates.is_dir():
            files |= {
                str(file.relative_to(path)): _read(file)
                for file in templates.rglob("*")
                if file.is_file()
            }
        return cls._from_files(files, origin=f"job directory '{path}'")

    @classmethod
    def _from_files(cls, files: Mapping[str, bytes], *, origin: str) -> JobTemplates:
        if "job.MF" not in files:
            raise ReleaseError(f"The {origin} has no job spec (job.MF)")
        source = f"job.MF of the {origin}"
        spec = serialization.structure(
            serialization.load_yaml(files["job.MF"], source=source), JobSpec, source=source
        )
        missing = sorted(src for src in spec.templates if f"templates/{src}" not in files)
        if missing or "monit" not in files:
            names = ", ".join(
                ["monit"] if "monit" not in files else [f"templates/{m}" for m in missing]
            )
            raise ReleaseError(f"The {origin} lacks files its spec names: {names}")
        return cls(
            spec=spec,
            monit=_text(files["monit"], "monit", origin),
            templates={
                src: _text(files[f"templates/{src}"], f"templates/{src}", origin)
                for src in spec.templates
            },
        )


def _is_job_file(name: str) -> bool:
    return name in ("job.MF", "monit") or name.startswith("templates/")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReleaseError(f"Cannot read '{path}': {exc.strerror}") from exc


def _text(data: bytes, name: str, origin: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseError(f"'{name}' of the {origin} is not UTF-8 text: {exc}") from exc


@attrs.frozen
class ReleaseRef:
    """The release a job comes from; templates see it as ``spec.release.{name,version}``."""

    name: str
    version: str


@attrs.frozen(kw_only=True)
class LinkInstance:
    """One provider instance as a consumer sees it: ``link("x").instances[i].address``."""

    name: str
    id: str
    index: int
    az: str | None = None
    address: str | None = None
    bootstrap: bool = False
    properties: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Link:
    """A consumed link: its provider's instances and declared link properties.

    ``address`` is the link's single DNS name when the director has one (local DNS);
    ``link(...).address`` fails without it, as the reference CLI's renderer does.
    """

    instances: tuple[LinkInstance, ...] = ()
    properties: dict[str, Any] = attrs.field(factory=dict)
    address: str | None = None
    instance_group: str | None = None
    deployment_name: str | None = None
    default_network: str | None = None
    domain: str | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = serialization.converter.unstructure(self)
        return {key: value for key, value in document.items() if value is not None}


@attrs.frozen
class ProvidedLink:
    """A link a job provides, written to the job's ``.bosh/links.json`` for the agent."""

    name: str
    type: str
    group: str


@attrs.frozen(kw_only=True)
class InstanceJob:
    """A job placed on an instance: its templates with everything planning bound for it."""

    templates: JobTemplates
    release: ReleaseRef
    properties: dict[str, Any] = attrs.field(factory=dict)
    links: dict[str, Link] = attrs.field(factory=dict)
    provided_links: tuple[ProvidedLink, ...] = ()

    @property
    def name(self) -> str:
        return self.templates.name


@attrs.frozen(kw_only=True)
class InstanceSpec:
    """The instance facts templates read through ``spec``.

    ``networks`` is the instance's network settings per network name (``ip``, ``netmask``,
    ``gateway``, ``type``, ``default``...), as the director sends them to the agent.
    ``persistent_disk`` is the disk size in MiB (0 without a disk).
    """

    deployment: str
    name: str
    index: int
    id: str
    az: str | None = None
    bootstrap: bool = False
    address: str | None = None
    networks: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    persistent_disk: int = 0
    dns_domain_name: str = "bosh"
    job: dict[str, Any] | None = None

    def template_spec(self) -> dict[str, Any]:
        """The reference's template spec (instance_spec.rb TemplateSpec), without properties."""
        networks: dict[str, dict[str, Any]] = {}
        ip = None
        for network_name, settings in self.networks.items():
            network = dict(settings)
            network["dns_record_name"] = ".".join(
                [
                    str(self.index),
                    canonical_name(self.name),
                    canonical_name(network_name),
                    canonical_name(self.deployment),
                    self.dns_domain_name,
                ]
            )
            defaults = network.get("default") or []
            if "addressable" in defaults or (ip is None and "gateway" in defaults):
                ip = network.get("ip")
            if network.get("type") == "dynamic":
                for key in ("ip", "netmask", "gateway"):
                    network[key] = network.get(key) or _DYNAMIC_PLACEHOLDER
            networks[network_name] = network
        return {
            "deployment": self.deployment,
            "job": self.job if self.job is not None else {"name": self.name},
            "index": self.index,
            "bootstrap": self.bootstrap,
            "name": self.name,
            "id": self.id,
            "az": self.az,
            "networks": networks,
            "properties_need_filtering": True,
            "dns_domain_name": self.dns_domain_name,
            "persistent_disk": self.persistent_disk,
            "address": self.address,
            "ip": ip,
        }


@attrs.frozen
class InstanceToRender:
    """One instance and the jobs on it, in the instance group's job order."""

    spec: InstanceSpec
    jobs: tuple[InstanceJob, ...]
