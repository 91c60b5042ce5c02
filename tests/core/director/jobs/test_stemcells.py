"""upload_stemcell and delete_stemcell with real local CPIs, on SQLite and PostgreSQL:
rows, clouds, event-log stages, several CPIs, failures, in-use and force."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bosh_core.cpi.local import make_stemcell
from bosh_core.cpi.local.stemcell import write_image
from bosh_core.director.cloud import Clouds
from bosh_core.director.db import Database
from bosh_core.director.db.models import Deployment, Stemcell
from bosh_core.director.errors import (
    CpiNotConfiguredError,
    StemcellImageNotFoundError,
    StemcellInUseError,
    StemcellInvalidArchiveError,
    StemcellNotFoundError,
    StemcellNotSupportedError,
    StemcellSha1DoesNotMatchError,
    ValidationInvalidType,
    ValidationMissingField,
)
from bosh_core.director.jobs.stemcells import delete_stemcell, upload_stemcell
from bosh_core.director.locks import Locks
from bosh_core.director.tasks.events import EventLog
from tests.core.director.jobs.local_cloud import (
    DIRECTOR_UUID,
    Lines,
    default_clouds,
    store_cpi_config,
)

NAME = "bosh-local-ubuntu-jammy-go_agent"


class Director:
    """What a worker hands the stemcell jobs, with one event log per task."""

    def __init__(self, database: Database, clouds: Clouds, scratch: Path) -> None:
        self.database = database
        self.clouds = clouds
        self.scratch = scratch
        self.locks = Locks(database, poll_interval=0.05)
        self.lines = Lines()

    def upload(self, tarball: Path, **options: Any) -> str:
        self.lines = Lines()
        return upload_stemcell(
            self.database,
            self.clouds,
            tarball,
            event_log=EventLog(self.lines),
            locks=self.locks,
            task_id=1,
            scratch_dir=self.scratch,
            **options,
        )

    def delete(self, name: str, version: str, **options: Any) -> str:
        self.lines = Lines()
        return delete_stemcell(
            self.database,
            self.clouds,
            name,
            version,
            event_log=EventLog(self.lines),
            locks=self.locks,
            task_id=2,
            **options,
        )

    def rows(self) -> list[tuple[str, str, str, str, str, int | None]]:
        with self.database.read() as session:
            return [
                (s.name, s.version, s.operating_system, s.cpi, s.cid, s.api_version)
                for s in session.scalars(select(Stemcell).order_by(Stemcell.cpi, Stemcell.id))
            ]


@pytest.fixture
def director(database: Database, tmp_path: Path) -> Director:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Director(database, default_clouds(tmp_path / "cloud"), scratch)


@pytest.fixture
def stemcell(tmp_path: Path) -> Path:
    return make_stemcell(tmp_path / "stemcell.tgz", version="1.18")


def _cloud_stemcells(directory: Path) -> set[str]:
    root = directory / "stemcells"
    return {path.name for path in root.iterdir()} if root.exists() else set()


IMAGE = write_image(version="1", operating_system="ubuntu-jammy")


def _tarball(path: Path, manifest: Any, *, image: bytes | None = IMAGE) -> Path:
    """A stemcell tarball with this manifest (a dict, or raw bytes) and image."""
    members = {
        "stemcell.MF": manifest
        if isinstance(manifest, bytes)
        else yaml.safe_dump(manifest).encode()
    }
    if image is not None:
        members["image"] = image
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_upload_creates_the_stemcell_in_the_cloud_and_saves_it(
    director: Director, stemcell: Path, tmp_path: Path
) -> None:
    assert director.upload(stemcell) == f"/stemcells/{NAME}/1.18"
    [(name, version, os, cpi, cid, api_version)] = director.rows()
    assert (name, version, os, cpi, api_version) == (NAME, "1.18", "ubuntu-jammy", "", 3)
    assert _cloud_stemcells(tmp_path / "cloud") == {cid}
    assert director.lines.finished() == [
        ("Update stemcell", "Extracting stemcell archive"),
        ("Update stemcell", "Verifying stemcell manifest"),
        ("Update stemcell", "Checking if this stemcell already exists"),
        ("Update stemcell", f"Uploading stemcell {NAME}/1.18 to the cloud"),
        ("Update stemcell", f"Save stemcell {NAME}/1.18 ({cid})"),
    ]
    assert {entry["total"] for entry in director.lines.entries()} == {5}
    assert list(director.scratch.iterdir()) == []
    assert stemcell.exists()  # the caller's to remove


def test_uploading_again_skips_unless_fix(
    director: Director, stemcell: Path, tmp_path: Path
) -> None:
    director.upload(stemcell)
    [first] = director.rows()
    assert director.upload(stemcell) == f"/stemcells/{NAME}/1.18"
    assert director.rows() == [first]
    skipped = " (already exists, skipped)"
    assert director.lines.finished()[-2:] == [
        ("Update stemcell", f"Uploading stemcell {NAME}/1.18 to the cloud{skipped}"),
        ("Update stemcell", f"Save stemcell {NAME}/1.18 ({first[4]}){skipped}"),
    ]
    director.upload(stemcell, fix=True)
    [fixed] = director.rows()
    assert fixed[4] != first[4]
    assert fixed[4] in _cloud_stemcells(tmp_path / "cloud")


def test_with_a_cpi_config_each_cpi_gets_the_stemcell(
    database: Database, tmp_path: Path, stemcell: Path
) -> None:
    store_cpi_config(database, {"a": tmp_path / "a", "b": tmp_path / "b"})
    clouds = Clouds.from_database(database, director_uuid=DIRECTOR_UUID, default=None)
    director = Director(database, clouds, tmp_path)
    director.upload(stemcell)
    rows = director.rows()
    assert [row[3] for row in rows] == ["a", "b"]
    assert _cloud_stemcells(tmp_path / "a") == {rows[0][4]}
    assert _cloud_stemcells(tmp_path / "b") == {rows[1][4]}
    tasks = [task for _, task in director.lines.finished()]
    assert "Checking if this stemcell already exists (cpi: a)" in tasks
    assert f"Save stemcell {NAME}/1.18 ({rows[1][4]}) (cpi: b)" in tasks
    assert {entry["total"] for entry in director.lines.entries()} == {2 + 3 * 2}

    director.delete(NAME, "1.18")
    assert director.rows() == []
    assert _cloud_stemcells(tmp_path / "a") == _cloud_stemcells(tmp_path / "b") == set()


def test_a_stemcell_no_cpi_takes_is_refused(director: Director, tmp_path: Path) -> None:
    manifest = {"name": "aws", "version": "1", "sha1": "x", "stemcell_formats": ["aws-light"]}
    with pytest.raises(StemcellNotSupportedError) as raised:
        director.upload(_tarball(tmp_path / "aws.tgz", manifest))
    assert str(raised.value) == (
        'uploaded stemcell with formats ["aws-light"] are not supported by available'
        ' cpi formats: ["local-tgz"]'
    )
    assert raised.value.error_code == 50008
    assert director.rows() == []


def test_manifest_defaults_and_numbers(director: Director, tmp_path: Path) -> None:
    manifest = {"name": "plain", "version": 3.5, "sha1": "x"}
    director.upload(_tarball(tmp_path / "plain.tgz", manifest))
    [(name, version, os, _, _, api_version)] = director.rows()
    assert (name, version, os, api_version) == ("plain", "3.5", "plain", None)


@pytest.mark.parametrize(
    ("manifest", "image", "error", "message"),
    [
        ({"version": "1", "sha1": "x"}, b"i", ValidationMissingField, "Required property 'name'"),
        ({"name": "s", "version": "1"}, b"i", ValidationMissingField, "'sha1'"),
        (
            {"name": "s", "version": "1", "sha1": "x", "cloud_properties": []},
            b"i",
            ValidationInvalidType,
            "Property 'cloud_properties' value ([]) did not match the required type 'Hash'",
        ),
        ({"name": "s", "version": "1", "sha1": "x"}, None, StemcellImageNotFoundError, "image"),
        (b"name: [unclosed", b"i", StemcellInvalidArchiveError, "Invalid stemcell.MF"),
    ],
)
def test_bad_manifests_are_refused(
    director: Director,
    tmp_path: Path,
    manifest: Any,
    image: bytes | None,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        director.upload(_tarball(tmp_path / "bad.tgz", manifest, image=image))
    assert director.rows() == []
    assert list(director.scratch.iterdir()) == []


def test_not_a_tarball_and_links_are_refused(director: Director, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"not a tarball at all")
    with pytest.raises(StemcellInvalidArchiveError, match="Extracting stemcell archive failed"):
        director.upload(junk)
    linked = tmp_path / "linked.tgz"
    with tarfile.open(linked, "w:gz") as tar:
        info = tarfile.TarInfo("image")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(StemcellInvalidArchiveError, match="'image' is not a regular file"):
        director.upload(linked)


def test_the_digest_is_checked_when_given(director: Director, stemcell: Path) -> None:
    with pytest.raises(StemcellSha1DoesNotMatchError):
        director.upload(stemcell, sha1="0" * 40)
    digest = hashlib.sha256(stemcell.read_bytes()).hexdigest()
    director.upload(stemcell, sha1=f"sha256:{digest}")
    assert director.lines.finished()[0] == ("Update stemcell", "Verifying remote stemcell")


def test_delete_removes_the_cloud_stemcell_and_the_row(
    director: Director, stemcell: Path, tmp_path: Path
) -> None:
    director.upload(stemcell)
    assert director.delete(NAME, "1.18") == f"/stemcells/{NAME}/1.18"
    assert director.rows() == []
    assert _cloud_stemcells(tmp_path / "cloud") == set()
    with pytest.raises(StemcellNotFoundError, match=f"Stemcell '{NAME}/1.18' doesn't exist"):
        director.delete(NAME, "1.18")


def test_a_stemcell_in_use_is_kept_even_with_force(director: Director, stemcell: Path) -> None:
    director.upload(stemcell)
    with director.database.write() as session:
        used = session.scalars(select(Stemcell)).one()
        session.add(Deployment(name="cf", stemcells=[used]))
        session.add(Deployment(name="app", stemcells=[used]))
    for force in (False, True):
        with pytest.raises(StemcellInUseError, match="still in use by: app, cf"):
            director.delete(NAME, "1.18", force=force)
    assert len(director.rows()) == 1


def test_force_deletes_a_stemcell_whose_cpi_is_gone(
    database: Database, tmp_path: Path, stemcell: Path
) -> None:
    store_cpi_config(database, {"gone": tmp_path / "gone"})
    clouds = Clouds.from_database(database, director_uuid=DIRECTOR_UUID, default=None)
    Director(database, clouds, tmp_path).upload(stemcell)
    without = Director(database, default_clouds(tmp_path / "cloud"), tmp_path)
    with pytest.raises(CpiNotConfiguredError, match="CPI 'gone' not found"):
        without.delete(NAME, "1.18")
    assert len(without.rows()) == 1
    without.delete(NAME, "1.18", force=True)
    assert without.rows() == []
    assert without.lines.warnings() == [
        "Force deleting is set, ignoring exception: CPI 'gone' not found in cpi-config"
        " (because cpi-config is not set)"
    ]
