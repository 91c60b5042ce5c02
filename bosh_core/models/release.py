"""Release documents: job and package specs, release.MF, and the release directory indexes.

Field order is the reference CLI's order: it is the order the YAML is written in.
"""

from __future__ import annotations

from typing import Any

import attrs

from bosh_core import serialization

__all__ = [
    "ArtifactIndex",
    "ArtifactIndexEntry",
    "CompiledPackageRef",
    "JobRef",
    "JobSpec",
    "LicenseRef",
    "PackageLock",
    "PackageRef",
    "PackageSpec",
    "ReleaseIndex",
    "ReleaseIndexEntry",
    "ReleaseManifest",
]


@attrs.frozen
class JobSpec:
    """A job's ``spec`` file (``job.MF`` inside a job tarball)."""

    name: str
    templates: dict[str, str] = attrs.field(factory=dict)
    packages: tuple[str, ...] = ()
    properties: dict[str, Any] = attrs.field(factory=dict)
    provides: tuple[dict[str, Any], ...] = ()
    consumes: tuple[dict[str, Any], ...] = ()
    description: str | None = None


@attrs.frozen
class PackageSpec:
    """A package's ``spec`` file."""

    name: str
    dependencies: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    excluded_files: tuple[str, ...] = ()
    no_compression: bool = False


@attrs.frozen
class PackageLock:
    """``spec.lock`` of a vendored package: points at a final build by fingerprint."""

    name: str
    fingerprint: str
    dependencies: tuple[str, ...] = ()


@attrs.frozen
class JobRef:
    name: str
    version: str
    fingerprint: str
    sha1: str
    packages: tuple[str, ...] = ()


@attrs.frozen
class PackageRef:
    name: str
    version: str
    fingerprint: str
    sha1: str
    dependencies: tuple[str, ...] = ()


@attrs.frozen
class CompiledPackageRef:
    name: str
    version: str
    fingerprint: str
    sha1: str
    stemcell: str
    dependencies: tuple[str, ...] = ()


@attrs.frozen
class LicenseRef:
    version: str
    fingerprint: str
    sha1: str


@attrs.frozen
class ReleaseManifest:
    """``release.MF`` in a tarball, and ``<name>-<version>.yml`` in a release index."""

    name: str
    version: str
    commit_hash: str = ""
    uncommitted_changes: bool = False
    jobs: tuple[JobRef, ...] = ()
    packages: tuple[PackageRef, ...] = ()
    compiled_packages: tuple[CompiledPackageRef, ...] = ()
    license: LicenseRef | None = None
    no_compression: bool = False


@attrs.frozen
class ReleaseIndexEntry:
    version: str


@attrs.frozen
class ReleaseIndex:
    """``dev_releases/<name>/index.yml`` and ``releases/<name>/index.yml``: id -> version."""

    builds: dict[str, ReleaseIndexEntry] = attrs.field(factory=dict)
    format_version: str = "2"


@attrs.frozen(kw_only=True)
class ArtifactIndexEntry:
    version: str
    blobstore_id: str | None = None
    sha1: str


@attrs.frozen
class ArtifactIndex:
    """``.dev_builds/<kind>/<name>/index.yml`` and ``.final_builds/...``: fingerprint -> build."""

    builds: dict[str, ArtifactIndexEntry] = attrs.field(factory=dict)
    format_version: str = "2"


def _omit(value: Any) -> bool:
    return value is None or value == () or value == []


def _unstructure_omitting(*omitempty: str) -> Any:
    """Unstructure hook that drops the named fields when empty (Go's ``omitempty``)."""

    def hook(instance: Any) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for field in attrs.fields(type(instance)):
            value = getattr(instance, field.name)
            if field.name in omitempty and _omit(value):
                continue
            document[field.name] = serialization.converter.unstructure(value)
        return document

    return hook


def _register() -> None:
    converter = serialization.converter
    converter.register_unstructure_hook(
        ReleaseManifest,
        _unstructure_omitting("jobs", "packages", "compiled_packages", "license"),
    )
    converter.register_unstructure_hook(ArtifactIndexEntry, _unstructure_omitting("blobstore_id"))
    converter.register_unstructure_hook(PackageLock, _unstructure_omitting("dependencies"))
    # After the entry hooks: the generated index functions capture them.
    for cls in (ReleaseIndex, ArtifactIndex):
        serialization.register_renames(cls, {"format_version": "format-version"})


_register()
