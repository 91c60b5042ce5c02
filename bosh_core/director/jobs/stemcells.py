"""Stemcells into and out of the clouds: the jobs behind ``bosh upload-stemcell`` and
``bosh delete-stemcell``.

Uploading follows the reference's ``UpdateStemcell``: one stage, "Update stemcell", whose
steps extract the tarball, verify ``stemcell.MF``, then under
``lock:stemcells:<name>:<version>``, for every CPI (each of a cpi-config, else the
director's one): check whether the stemcell exists for it, create it in that cloud with
``create_stemcell`` and save the row, which names the CPI. A CPI whose ``info`` lists
stemcell formats none of the stemcell's is skipped; if every CPI is, the upload fails.
A stemcell already stored for a CPI is skipped (``(already exists, skipped)``) unless
`fix` asks to create it in the cloud again.

Only ``stemcell.MF`` and ``image`` are taken from the tarball (streamed, never written
where a member's name says): real stemcells carry package lists and more, which the
director does not need.

Deleting follows ``DeleteStemcell``: every row of that name and version (one per CPI) is
deleted from its cloud and the database under the stemcell's lock; a stemcell a
deployment still uses is refused, even with `force`, which only carries on past CPI
errors (as the reference's does).
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs
from sqlalchemy import select

from bosh_core.cpi.base import CPI
from bosh_core.cpi.errors import CPIResponseError, NotImplementedError_, NotSupportedError
from bosh_core.cpi.types import StemcellCID
from bosh_core.digest import MultipleDigest, file_digest
from bosh_core.director.cloud import Clouds
from bosh_core.director.db import Database
from bosh_core.director.db.models import Deployment, Stemcell
from bosh_core.director.errors import (
    StemcellImageNotFoundError,
    StemcellInUseError,
    StemcellInvalidArchiveError,
    StemcellNotFoundError,
    StemcellNotSupportedError,
    StemcellSha1DoesNotMatchError,
    ValidationInvalidType,
    ValidationInvalidValue,
    ValidationMissingField,
)
from bosh_core.director.jobs.upload_release import VALID_ID
from bosh_core.director.locks import Locks, stemcell_lock
from bosh_core.director.tasks.events import EventLog, Stage
from bosh_core.errors import BoshError, ReleaseError
from bosh_core.serialization import load_yaml

__all__ = [
    "DELETE_LOCK_TIMEOUT",
    "UPLOAD_LOCK_TIMEOUT_PER_CPI",
    "delete_stemcell",
    "upload_stemcell",
]

_log = logging.getLogger(__name__)

#: An upload waits this long per CPI for the stemcell's lock (the reference's 900 s).
UPLOAD_LOCK_TIMEOUT_PER_CPI: Final = 900.0
#: A delete waits this long for the stemcell's lock (the reference's default 10 s).
DELETE_LOCK_TIMEOUT: Final = 10.0
_MANIFEST = "stemcell.MF"
_IMAGE = "image"
_MANIFEST_LIMIT: Final = 1 << 20  # stemcell.MF is a few hundred bytes
_COPY_BLOCK: Final = 1 << 20
Result = TypeVar("Result")


@attrs.frozen
class _StemcellManifest:
    name: str
    version: str
    operating_system: str
    sha1: str
    api_version: int | None
    stemcell_formats: tuple[str, ...] | None
    cloud_properties: Mapping[str, Any]


def upload_stemcell(
    database: Database,
    clouds: Clouds,
    tarball_path: Path,
    *,
    event_log: EventLog,
    locks: Locks,
    task_id: int | str,
    user: str = "admin",
    fix: bool = False,
    sha1: str | None = None,
    scratch_dir: Path | None = None,
) -> str:
    """Create the stemcell of the tarball at `tarball_path` in every cloud; returns the
    task's result, ``/stemcells/<name>/<version>``.

    `sha1` (a BOSH digest string, as ``upload-stemcell --sha1`` sends it) is checked
    against the tarball first. The tarball's ``stemcell.MF`` and ``image`` are written
    under a new directory in `scratch_dir` (the system's temporary directory by default),
    removed at the end; the tarball itself is left to the caller.
    """
    names = clouds.names
    steps = 2 + (1 if sha1 else 0) + 3 * len(names)
    stage = event_log.stage("Update stemcell", total=steps)
    with tempfile.TemporaryDirectory(prefix="upload-stemcell-", dir=scratch_dir) as scratch:
        if sha1:
            _step(stage, "Verifying remote stemcell", lambda: _verify_digest(tarball_path, sha1))
        _step(
            stage,
            "Extracting stemcell archive",
            lambda: _extract(tarball_path, Path(scratch)),
        )
        manifest = _step(
            stage, "Verifying stemcell manifest", lambda: _verify(Path(scratch) / _MANIFEST)
        )
        image = Path(scratch) / _IMAGE
        with locks.acquire(
            stemcell_lock(manifest.name, manifest.version),
            timeout=UPLOAD_LOCK_TIMEOUT_PER_CPI * len(names),
            task_id=task_id,
            user=user,
        ):
            uploaded = [
                _upload_to(database, clouds, cpi, manifest, image, stage=stage, fix=fix)
                for cpi in names
            ]
    if not any(uploaded):
        raise StemcellNotSupportedError(
            f"uploaded stemcell with formats {_ruby_list(manifest.stemcell_formats or ())}"
            f" are not supported by available cpi formats: {_ruby_list(_all_formats(clouds))}"
        )
    return f"/stemcells/{manifest.name}/{manifest.version}"


def delete_stemcell(
    database: Database,
    clouds: Clouds,
    name: str,
    version: str,
    *,
    force: bool = False,
    event_log: EventLog,
    locks: Locks,
    task_id: int | str,
    user: str = "admin",
) -> str:
    """Delete stemcell `name`/`version` from every cloud that has it and from the
    database; returns ``/stemcells/<name>/<version>``.

    With `force` a CPI error (a CPI no longer configured included) does not stop the
    deletion: it is reported as a warning in the task's event log and the row goes.
    """
    with database.read() as session:
        rows = list(
            session.scalars(
                select(Stemcell)
                .where(Stemcell.name == name, Stemcell.version == version)
                .order_by(Stemcell.id)
            )
        )
    if not rows:
        raise StemcellNotFoundError(f"Stemcell '{name}/{version}' doesn't exist")
    for row in rows:
        with locks.acquire(
            stemcell_lock(name, version), timeout=DELETE_LOCK_TIMEOUT, task_id=task_id, user=user
        ):
            _delete_one(database, clouds, row.id, force=force, event_log=event_log)
    return f"/stemcells/{name}/{version}"


# --------------------------------------------------------------------------- upload


def _step(stage: Stage, name: str, step: Callable[[], Result]) -> Result:
    with stage.track(name):
        _log.info("%s", name)
        return step()


def _verify_digest(tarball: Path, expected: str) -> None:
    try:
        digest = MultipleDigest.parse(expected)
        digest.verify(file_digest(tarball, digest.strongest.algorithm), what="stemcell")
    except ReleaseError as error:  # a malformed digest or a mismatch
        raise StemcellSha1DoesNotMatchError(str(error)) from None


def _extract(tarball: Path, into: Path) -> None:
    """Write the tarball's ``stemcell.MF`` and ``image`` into `into`, streaming once."""
    found: set[str] = set()
    try:
        with tarfile.open(tarball, mode="r|*") as tar:
            for member in tar:
                name = "/".join(part for part in member.name.split("/") if part not in ("", "."))
                if name not in (_MANIFEST, _IMAGE):
                    continue
                if not member.isreg():
                    raise StemcellInvalidArchiveError(
                        f"Extracting stemcell archive failed: '{member.name}' is not a regular file"
                    )
                if name in found:
                    raise StemcellInvalidArchiveError(
                        f"Extracting stemcell archive failed: '{name}' appears twice"
                    )
                if name == _MANIFEST and member.size > _MANIFEST_LIMIT:
                    raise StemcellInvalidArchiveError(
                        f"Extracting stemcell archive failed: {_MANIFEST} is {member.size}"
                        f" bytes, more than {_MANIFEST_LIMIT}"
                    )
                found.add(name)
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                with source, (into / name).open("xb") as target:
                    shutil.copyfileobj(source, target, _COPY_BLOCK)
    except (OSError, tarfile.TarError, EOFError) as error:
        _log.error("Extracting stemcell archive %s failed: %s", tarball, error)
        raise StemcellInvalidArchiveError(
            f"Extracting stemcell archive failed: {error}. Is it a stemcell tarball (.tgz)?"
        ) from None


def _verify(manifest_path: Path) -> _StemcellManifest:
    try:
        document = load_yaml(manifest_path.read_bytes(), source=_MANIFEST)
    except FileNotFoundError:
        raise StemcellInvalidArchiveError(
            f"Stemcell archive has no {_MANIFEST}: is it a stemcell tarball?"
        ) from None
    except BoshError as error:
        raise StemcellInvalidArchiveError(f"Invalid {_MANIFEST}: {error}") from None
    if not isinstance(document, Mapping):
        raise ValidationInvalidType(f"{_MANIFEST} is not a map of properties")
    name = _text(document, "name")
    manifest = _StemcellManifest(
        name=name,
        version=_text(document, "version"),
        operating_system=_text(document, "operating_system", default=name),
        sha1=_text(document, "sha1"),
        api_version=_optional(document, "api_version", int, "Integer"),
        stemcell_formats=_formats(document),
        cloud_properties=_optional(document, "cloud_properties", Mapping, "Hash") or {},
    )
    for value, label in ((manifest.name, "name"), (manifest.version, "version")):
        if not VALID_ID.fullmatch(value):
            raise ValidationInvalidValue(f"Invalid stemcell {label} in {_MANIFEST}: {value!r}")
    _log.info(
        "Found stemcell image '%s/%s', cloud properties are %s",
        manifest.name,
        manifest.version,
        json.dumps(dict(manifest.cloud_properties)),
    )
    if not (manifest_path.parent / _IMAGE).is_file():
        raise StemcellImageNotFoundError("Stemcell image not found")
    return manifest


def _text(document: Mapping[str, Any], key: str, *, default: str | None = None) -> str:
    """A string property; numbers are taken as text (``version: 1.18``), as the reference
    does."""
    if key not in document:
        if default is not None:
            return default
        raise ValidationMissingField(
            f"Required property '{key}' was not specified in object ({_MANIFEST})"
        )
    value = document[key]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _wrong_type(key, value, "String")
    return value


def _optional(document: Mapping[str, Any], key: str, kind: type, kind_name: str) -> Any:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _wrong_type(key, value, kind_name)
    return value


def _formats(document: Mapping[str, Any]) -> tuple[str, ...] | None:
    value = _optional(document, "stemcell_formats", list, "Array")
    return None if value is None else tuple(str(item) for item in value)


def _wrong_type(key: str, value: Any, kind: str) -> ValidationInvalidType:
    return ValidationInvalidType(
        f"Property '{key}' value ({json.dumps(value, default=str)}) did not match the"
        f" required type '{kind}'"
    )


def _upload_to(
    database: Database,
    clouds: Clouds,
    cpi_name: str,
    manifest: _StemcellManifest,
    image: Path,
    *,
    stage: Stage,
    fix: bool,
) -> bool:
    """Create the stemcell in the cloud of CPI `cpi_name` and save its row; False when
    that CPI takes none of the stemcell's formats."""
    cloud = clouds.get(cpi_name)
    suffix = f" (cpi: {cpi_name})" if cpi_name else ""
    if not _supports(cloud, manifest.stemcell_formats):
        _log.info("CPI%s does not support the stemcell's formats", suffix)
        return False
    title = f"{manifest.name}/{manifest.version}"
    existing = _step(
        stage,
        f"Checking if this stemcell already exists{suffix}",
        lambda: _find(database, manifest, clouds.aliases(cpi_name)),
    )
    needs_upload = fix or existing is None
    skipped = "" if needs_upload else " (already exists, skipped)"
    cid = existing.cid if existing is not None else ""
    with stage.track(f"Uploading stemcell {title} to the cloud{suffix}{skipped}"):
        if needs_upload:
            cid = cloud.create_stemcell(str(image), manifest.cloud_properties)
            _log.info("Cloud created stemcell%s: %s", suffix, cid)
    with stage.track(f"Save stemcell {title} ({cid}){suffix}{skipped}"):
        if needs_upload:
            _save(database, manifest, cpi_name, cid, existing)
    return True


def _supports(cloud: CPI, formats: Sequence[str] | None) -> bool:
    """Whether the CPI takes one of `formats`; yes when either side says nothing."""
    try:
        offered = cloud.info().stemcell_formats
    except (NotImplementedError_, NotSupportedError, CPIResponseError) as error:
        _log.info("Cannot tell whether the CPI takes the stemcell's formats: %s", error)
        return True
    if not formats or not offered:
        return True
    return bool(set(formats) & set(offered))


def _all_formats(clouds: Clouds) -> list[str]:
    formats: list[str] = []
    for name in clouds.names:
        for item in clouds.get(name).info().stemcell_formats:
            if item not in formats:
                formats.append(item)
    return formats


def _find(
    database: Database, manifest: _StemcellManifest, cpi_names: Iterable[str]
) -> Stemcell | None:
    with database.read() as session:
        return session.scalars(
            select(Stemcell)
            .where(
                Stemcell.name == manifest.name,
                Stemcell.version == manifest.version,
                Stemcell.cpi.in_(list(cpi_names)),
            )
            .order_by(Stemcell.id)
        ).first()


def _save(
    database: Database,
    manifest: _StemcellManifest,
    cpi_name: str,
    cid: str,
    existing: Stemcell | None,
) -> None:
    with database.write() as session:
        row = session.get(Stemcell, existing.id) if existing is not None else None
        if row is None:
            row = Stemcell(
                name=manifest.name,
                version=manifest.version,
                operating_system=manifest.operating_system,
                cpi=cpi_name,
                api_version=manifest.api_version,
            )
            session.add(row)
        row.cid = cid


def _ruby_list(items: Iterable[str]) -> str:
    """A list of strings as the reference's messages show one: ``["a", "b"]``."""
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


# --------------------------------------------------------------------------- delete


def _delete_one(
    database: Database, clouds: Clouds, stemcell_id: int, *, force: bool, event_log: EventLog
) -> None:
    with database.read() as session:
        row = session.get(Stemcell, stemcell_id)
        if row is None:  # deleted meanwhile by another task
            return
        title, cid, cpi_name = f"{row.name}/{row.version}", row.cid, row.cpi
        users = sorted(
            session.scalars(
                select(Deployment.name).join(Deployment.stemcells).where(Stemcell.id == stemcell_id)
            )
        )
    _log.info("Checking for any deployments still using the stemcell")
    if users:
        raise StemcellInUseError(f"Stemcell '{title}' is still in use by: {', '.join(users)}")
    try:
        clouds.get(cpi_name).delete_stemcell(StemcellCID(cid))
    except Exception as error:  # a plugin CPI may raise its IaaS library's errors
        if not force:
            raise
        event_log.warn(f"Force deleting is set, ignoring exception: {error}")
        _log.info("Force deleting is set, ignoring exception: %s", error)
    with database.write() as session:
        stale = session.get(Stemcell, stemcell_id)
        if stale is not None:
            session.delete(stale)
