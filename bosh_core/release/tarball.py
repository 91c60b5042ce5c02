"""Reading release tarballs safely (``inspect-local-release``, ``finalize-release``, uploads).

A release tarball comes from anywhere, so it is read as hostile input. It is streamed once:
each member is checked before a byte of it is written, written only to a path this module
builds under the target directory (never to a path taken from the archive), and hashed on
the way through, so digests cost no second pass. What is refused, each time with the
tarball and the member named:

- names that are absolute or climb out with ``..``; links of any kind (a release tarball
  never needs one); devices, fifos and other special members;
- members that are not part of a release (anything but ``release.MF``, ``license.tgz``,
  top-level ``LICENSE*``/``NOTICE*``, ``jobs/``, ``packages/``, ``compiled_packages/``
  and one ``<name>.tgz`` under each), members that appear twice, members over the size
  limits, more members than the limit;
- a missing, oversized or malformed ``release.MF``; a member it lists that is absent or
  whose digest differs, and an artifact it does not list;
- a damaged gzip stream: bad header, corrupted data, a wrong CRC, a truncated file.

One absence is allowed when the director asks (``allow_missing_packages``): ``bosh
upload-release`` leaves out the package and compiled package archives the director said
it has (``/packages/matches``) while release.MF still lists them. Those absences are
reported in the :class:`ReleaseArchive`; jobs and the license must still be there.

``release.MF`` usually comes first (the reference and :mod:`targz` write it first); then
each artifact is hashed with the one algorithm its digest needs. If it comes later, the
artifacts before it are hashed with every supported algorithm and checked once it is read.

Each job archive is small; it is read after the stream to load its ``job.MF`` and is
checked the same way, except that symbolic links inside it may point within the job.
Package archives are not opened here (they can be gigabytes): whoever extracts one must
use ``tarfile``'s ``data`` filter, which also resolves links against the real filesystem.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, BinaryIO

import attrs

from bosh_core import serialization
from bosh_core.digest import ALGORITHMS, Digest, MultipleDigest
from bosh_core.errors import ManifestError, Problem, ReleaseError, ReleaseTarballError
from bosh_core.models.release import (
    CompiledPackageRef,
    JobRef,
    JobSpec,
    PackageRef,
    ReleaseManifest,
)

__all__ = ["ReleaseArchive", "TarballLimits", "read_release_tarball"]

_MIB = 1 << 20
_GIB = 1 << 30
_BLOCK_BYTES = _MIB
# What may follow the tar end-of-archive blocks inside the gzip stream (writers pad to a
# 10 KiB record); it is read only to reach the gzip CRC, so it has to be bounded.
_TRAILING_BYTES = _MIB
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer, CRC and length checked
_TAR_MAGIC_OFFSET = 257
_PACKAGE_DIRECTORIES = ("packages", "compiled_packages")
_ARTIFACT_DIRECTORIES = ("jobs", *_PACKAGE_DIRECTORIES)
_EXPECTED = (
    "release.MF, license.tgz, LICENSE*, NOTICE*, jobs/<name>.tgz, packages/<name>.tgz"
    " or compiled_packages/<name>.tgz"
)


@attrs.frozen(kw_only=True)
class TarballLimits:
    """Bounds on what reading one release tarball may write and hold in memory."""

    member_bytes: int = 50 * _GIB
    manifest_bytes: int = 4 * _MIB  # release.MF and each job.MF, parsed in memory
    total_bytes: int = 200 * _GIB
    members: int = 100_000


@attrs.frozen
class ReleaseArchive:
    """A release tarball read and verified, its artifacts written under ``directory``.

    `missing_packages` and `missing_compiled_packages` name the packages release.MF lists
    whose archives the tarball left out (only when read with ``allow_missing_packages``).
    """

    path: Path
    directory: Path
    manifest: ReleaseManifest
    job_specs: Mapping[str, JobSpec]
    missing_packages: frozenset[str] = frozenset()
    missing_compiled_packages: frozenset[str] = frozenset()

    def job_archive(self, name: str) -> Path:
        return self._artifact("jobs", "job", name, self.manifest.jobs)

    def package_archive(self, name: str) -> Path:
        return self._artifact(
            "packages", "package", name, self.manifest.packages, self.missing_packages
        )

    def compiled_package_archive(self, name: str) -> Path:
        return self._artifact(
            "compiled_packages",
            "compiled package",
            name,
            self.manifest.compiled_packages,
            self.missing_compiled_packages,
        )

    def license_archive(self) -> Path | None:
        return self.directory / "license.tgz" if self.manifest.license else None

    def _artifact(
        self,
        directory: str,
        kind: str,
        name: str,
        refs: Sequence[JobRef | PackageRef | CompiledPackageRef],
        missing: frozenset[str] = frozenset(),
    ) -> Path:
        if name not in {ref.name for ref in refs}:
            raise ReleaseError(f"Release tarball '{self.path}' has no {kind} '{name}'")
        if name in missing:
            raise ReleaseError(
                f"Release tarball '{self.path}' leaves out the archive of {kind} '{name}'"
                " (its release.MF lists it)"
            )
        return self.directory / directory / f"{name}.tgz"


def read_release_tarball(
    path: Path,
    *,
    into: Path,
    limits: TarballLimits = TarballLimits(),
    allow_missing_packages: bool = False,
) -> ReleaseArchive:
    """Verify the release tarball at `path` and write its artifacts under `into`.

    `allow_missing_packages` accepts a tarball that leaves out package or compiled
    package archives its release.MF lists, as ``bosh upload-release`` sends them to a
    director that has those packages; only the director, which can find them by
    fingerprint, passes it. On failure `into` may hold some of the artifacts: pass a
    scratch directory.
    """
    into.mkdir(parents=True, exist_ok=True)
    reader = _OuterReader(path, into=into, limits=limits)
    _read_members(path, reader.archive, reader.take)
    manifest, missing = reader.finish(allow_missing_packages=allow_missing_packages)
    job_specs = {
        ref.name: _read_job_spec(
            into / "jobs" / f"{ref.name}.tgz", job=ref.name, tarball=path, limits=limits
        )
        for ref in manifest.jobs
    }
    return ReleaseArchive(
        path,
        into,
        manifest,
        job_specs,
        missing_packages=missing.get("packages", frozenset()),
        missing_compiled_packages=missing.get("compiled_packages", frozenset()),
    )


class _Archive:
    """Names an archive in error messages: ``release tarball 'x.tgz'``."""

    def __init__(self, label: str) -> None:
        self.label = label

    def error(self, problem: str) -> ReleaseTarballError:
        return ReleaseTarballError(f"{self.label[:1].upper()}{self.label[1:]} {problem}")

    def reject(self, member: str, problem: str) -> ReleaseTarballError:
        return self.error(f"has member '{member}' that {problem}")


_Take = Callable[[tarfile.TarInfo, tarfile.TarFile], None]


def _read_members(path: Path, archive: _Archive, take: _Take) -> None:
    """Stream the (maybe gzipped) tar at `path` once, handing each member to `take`."""
    try:
        source = io.BufferedReader(io.FileIO(path), buffer_size=_BLOCK_BYTES)
    except OSError as exc:
        raise ReleaseError(f"Cannot read {archive.label}: {exc.strerror}") from None
    with source:
        stream = _tar_stream(source, archive)
        try:
            with tarfile.open(fileobj=stream, mode="r|", bufsize=_BLOCK_BYTES) as tar:
                for member in tar:
                    take(member, tar)
        except tarfile.TarError as exc:
            raise archive.error(
                f"is corrupted or truncated ({exc}); download or build it again"
            ) from None
        if isinstance(stream, _GzipStream):
            stream.drain(limit=_TRAILING_BYTES)


def _tar_stream(
    source: io.BufferedReader[io.FileIO], archive: _Archive
) -> _GzipStream | io.BufferedReader[io.FileIO]:
    """Undo the gzip layer; a plain tar (a release built with ``no_compression``) passes."""
    head = source.peek(_TAR_MAGIC_OFFSET + 5)
    if head.startswith(_GZIP_MAGIC):
        return _GzipStream(source, archive)
    if head[_TAR_MAGIC_OFFSET : _TAR_MAGIC_OFFSET + 5] == b"ustar":
        return source
    raise archive.error(
        "is not gzip-compressed (nor a plain tar archive); is it a release tarball?"
    )


class _GzipStream(io.BufferedIOBase):
    """The decompressed bytes of a gzip file, its CRC and length verified at the end.

    ``tarfile``'s own gzip reading neither checks the CRC nor notices a truncated file.
    Concatenated gzip members are read one after the other, as gzip and Go do.
    """

    def __init__(self, source: BinaryIO, archive: _Archive) -> None:
        super().__init__()
        self._source = source
        self._archive = archive
        self._decompressor = zlib.decompressobj(_GZIP_WBITS)
        self._input = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        limit = size if size and size > 0 else _BLOCK_BYTES
        while True:
            if self._decompressor.eof:
                rest = self._decompressor.unused_data or self._source.read(_BLOCK_BYTES)
                if not rest:
                    return b""
                self._decompressor = zlib.decompressobj(_GZIP_WBITS)
                self._input = rest
            if not self._input:
                self._input = self._source.read(_BLOCK_BYTES)
                if not self._input:
                    raise self._archive.error(
                        "is truncated (its gzip stream ends early); download or build it again"
                    )
            try:
                data = self._decompressor.decompress(self._input, limit)
            except zlib.error as exc:
                raise self._archive.error(
                    f"is corrupted (gzip: {exc}); download or build it again"
                ) from None
            self._input = self._decompressor.unconsumed_tail
            if data:
                return data

    def drain(self, *, limit: int) -> None:
        """Read what follows the tar archive, so the CRC of the last gzip member is checked."""
        seen = 0
        while data := self.read(_BLOCK_BYTES):
            seen += len(data)
            if seen > limit:
                raise self._archive.error(
                    f"has more than {limit} bytes after the end of its tar archive"
                )


def _member_path(name: str, archive: _Archive) -> str:
    """`name` without ``./`` and empty parts; refuses absolute names and ``..``."""
    if name.startswith("/"):
        raise archive.reject(name, "has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise archive.reject(name, "climbs out of the archive with '..' (path traversal)")
    return "/".join(parts)


def _special_kind(member: tarfile.TarInfo) -> str | None:
    if member.ischr():
        return "a character device"
    if member.isblk():
        return "a block device"
    if member.isfifo():
        return "a fifo"
    if member.issparse() or not (
        member.isreg() or member.isdir() or member.issym() or member.islnk()
    ):
        return f"a tar entry of unsupported type {member.type!r}"
    return None


def _is_component(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\x00" not in name


class _OuterReader:
    """Checks and writes the members of the release tarball as they stream by."""

    def __init__(self, path: Path, *, into: Path, limits: TarballLimits) -> None:
        self.archive = _Archive(f"release tarball '{path}'")
        self._path = path
        self._into = into
        self._limits = limits
        self._manifest: ReleaseManifest | None = None
        self._expected: dict[str, MultipleDigest] = {}
        # Digests of artifacts streamed before release.MF, by every algorithm.
        self._unverified: dict[str, dict[str, str]] = {}
        self._seen: set[str] = set()
        self._count = 0
        self._total = 0

    def take(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        self._count += 1
        if self._count > self._limits.members:
            raise self.archive.error(f"has more than {self._limits.members} members, the limit")
        name = _member_path(member.name, self.archive)
        if member.issym() or member.islnk():
            kind = "a symbolic link" if member.issym() else "a hard link"
            raise self.archive.reject(
                member.name,
                f"is {kind} to '{member.linkname}'; release tarballs may not contain links",
            )
        special = _special_kind(member)
        if special:
            raise self.archive.reject(
                member.name,
                f"is {special}; release tarballs hold only regular files and directories",
            )
        if member.isdir():
            if name not in ("", *_ARTIFACT_DIRECTORIES):
                raise self.archive.reject(member.name, f"is not part of a release ({_EXPECTED})")
            return
        if name in self._seen:
            raise self.archive.reject(member.name, "appears twice")
        self._seen.add(name)
        is_manifest, is_notice = name == "release.MF", _is_notice(name)
        if not (is_manifest or is_notice or _is_artifact(name)):
            raise self.archive.reject(member.name, f"is not part of a release ({_EXPECTED})")
        self._check_size(member, is_manifest=is_manifest)
        content = tar.extractfile(member)
        assert content is not None  # only links and special members have none
        if is_manifest:
            self._read_manifest(content.read())
        elif is_notice:
            # Kept inside license.tgz too, which is what the release uses.
            while content.read(_BLOCK_BYTES):
                pass
        else:
            self._write_artifact(member.name, name, content)

    def _check_size(self, member: tarfile.TarInfo, *, is_manifest: bool) -> None:
        limit = self._limits.manifest_bytes if is_manifest else self._limits.member_bytes
        if member.size > limit:
            raise self.archive.reject(
                member.name, f"is {member.size} bytes, more than the limit of {limit} bytes"
            )
        self._total += member.size
        if self._total > self._limits.total_bytes:
            raise self.archive.error(
                f"holds more than {self._limits.total_bytes} bytes, the limit"
                f" (reached at member '{member.name}')"
            )

    def _write_artifact(self, member: str, name: str, content: IO[bytes]) -> None:
        expected = self._expected.get(name)
        if self._manifest is not None and expected is None:
            raise self.archive.reject(member, "is not listed in the tarball's release.MF")
        algorithms = [expected.strongest.algorithm] if expected else list(ALGORITHMS)
        hashers = [hashlib.new(algorithm) for algorithm in algorithms]
        target = self._into / name
        target.parent.mkdir(exist_ok=True)
        # O_NOFOLLOW: a symlink already in the target directory is not written through.
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        with os.fdopen(os.open(target, flags, 0o644), "wb") as out:
            while block := content.read(_BLOCK_BYTES):
                for hasher in hashers:
                    hasher.update(block)
                out.write(block)
        digests = {hasher.name: hasher.hexdigest() for hasher in hashers}
        if expected is None:
            self._unverified[name] = digests
        else:
            self._verify(name, digests)

    def _verify(self, name: str, digests: Mapping[str, str]) -> None:
        expected = self._expected[name]
        algorithm = expected.strongest.algorithm
        expected.verify(
            Digest(algorithm, digests[algorithm]),
            what=f"member '{name}' of {self.archive.label}",
        )

    def _read_manifest(self, data: bytes) -> None:
        source = f"release.MF in {self.archive.label}"
        document = serialization.load_yaml(
            data, source=source, max_bytes=self._limits.manifest_bytes
        )
        manifest = serialization.structure(document, ReleaseManifest, source=source)
        self._expected = _expected_members(manifest, source=source)
        self._manifest = manifest
        for name, digests in self._unverified.items():
            if name not in self._expected:
                raise self.archive.reject(name, "is not listed in the tarball's release.MF")
            self._verify(name, digests)
        self._unverified.clear()

    def finish(
        self, *, allow_missing_packages: bool
    ) -> tuple[ReleaseManifest, dict[str, frozenset[str]]]:
        """The manifest, and the names of the absent (compiled) packages by directory."""
        if self._manifest is None:
            raise self.archive.error(
                "has no release.MF; is it a release tarball? (stemcells, job and package"
                " archives are not)"
            )
        allowed: dict[str, set[str]] = {}
        refused = []
        for member in sorted(set(self._expected) - self._seen):
            directory, _, file_name = member.partition("/")
            if allow_missing_packages and directory in _PACKAGE_DIRECTORIES:
                allowed.setdefault(directory, set()).add(file_name.removesuffix(".tgz"))
            else:
                refused.append(member)
        if refused:
            listed = ", ".join(f"'{name}'" for name in refused)
            raise self.archive.error(f"lacks {listed}, listed in its release.MF")
        return self._manifest, {directory: frozenset(names) for directory, names in allowed.items()}


def _is_notice(name: str) -> bool:
    return "/" not in name and name.startswith(("LICENSE", "NOTICE"))


def _is_artifact(name: str) -> bool:
    if name == "license.tgz":
        return True
    directory, _, file_name = name.partition("/")
    stem = file_name.removesuffix(".tgz")
    return directory in _ARTIFACT_DIRECTORIES and file_name != stem and _is_component(stem)


def _expected_members(manifest: ReleaseManifest, *, source: str) -> dict[str, MultipleDigest]:
    """Member name -> digest for every artifact the manifest lists; every problem at once."""
    problems: list[Problem] = []
    expected: dict[str, MultipleDigest] = {}

    def expect(member: str, digest: str, path: str) -> None:
        try:
            expected[member] = MultipleDigest.parse(digest)
        except ReleaseError as exc:
            problems.append(Problem(f"{path}.sha1", str(exc)))

    groups: tuple[tuple[str, Sequence[JobRef | PackageRef | CompiledPackageRef]], ...] = (
        ("jobs", manifest.jobs),
        ("packages", manifest.packages),
        ("compiled_packages", manifest.compiled_packages),
    )
    for directory, refs in groups:
        names: set[str] = set()
        for index, ref in enumerate(refs):
            path = f"$.{directory}[{index}]"
            if not _is_component(ref.name):
                problems.append(Problem(f"{path}.name", f"'{ref.name}' is not a valid name"))
            elif ref.name in names:
                problems.append(Problem(f"{path}.name", f"'{ref.name}' is listed twice"))
            else:
                names.add(ref.name)
                expect(f"{directory}/{ref.name}.tgz", ref.sha1, path)
    if manifest.license is not None:
        expect("license.tgz", manifest.license.sha1, "$.license")
    if problems:
        raise ManifestError(source, problems)
    return expected


def _read_job_spec(
    archive_path: Path, *, job: str, tarball: Path, limits: TarballLimits
) -> JobSpec:
    """The ``job.MF`` of a job archive, after checking every member of the archive."""
    archive = _Archive(f"job archive 'jobs/{job}.tgz' in release tarball '{tarball}'")
    documents: list[bytes] = []
    count = total = 0

    def take(member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        name = _member_path(member.name, archive)
        # Skipped members are still inflated and listed: bound them as the outer ones are.
        nonlocal count, total
        count, total = count + 1, total + member.size
        if count > limits.members:
            raise archive.error(f"has more than {limits.members} members, the limit")
        if total > limits.member_bytes:
            raise archive.error(f"holds more than {limits.member_bytes} bytes, the limit")
        if member.issym() or member.islnk():
            _check_link(member, name, archive)
            return
        special = _special_kind(member)
        if special:
            raise archive.reject(member.name, f"is {special}")
        if name != "job.MF":
            return
        if documents:
            raise archive.reject(member.name, "appears twice")
        if member.size > limits.manifest_bytes:
            raise archive.reject(
                member.name,
                f"is {member.size} bytes, more than the limit of {limits.manifest_bytes} bytes",
            )
        content = tar.extractfile(member)
        assert content is not None  # a regular file, checked above
        documents.append(content.read())

    _read_members(archive_path, archive, take)
    if not documents:
        raise archive.error("has no job.MF")
    source = f"job.MF of job '{job}' in release tarball '{tarball}'"
    spec = serialization.structure(
        serialization.load_yaml(documents[0], source=source, max_bytes=limits.manifest_bytes),
        JobSpec,
        source=source,
    )
    if spec.name != job:
        raise archive.error(f"holds the job.MF of job '{spec.name}', not of '{job}'")
    return spec


def _check_link(member: tarfile.TarInfo, name: str, archive: _Archive) -> None:
    """A link inside an artifact may point anywhere within the artifact, nowhere else."""
    target = member.linkname
    if target.startswith("/"):
        raise archive.reject(member.name, f"is a link to the absolute path '{target}'")
    # A symlink resolves from its own directory, a hard link from the archive root.
    base = posixpath.dirname(name) if member.issym() else ""
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved == ".." or resolved.startswith("../"):
        raise archive.reject(member.name, f"is a link to '{target}', outside the archive")
