"""Release read routes over releases imported by the real upload job: the list with
deployed marks, a release's series, and one version inspected."""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.director import views
from bosh_core.director.api.app import Director
from bosh_core.director.db import Database
from bosh_core.director.db.models import Release, ReleaseVersion
from tests.core.director.records import add_deployment, import_release
from tests.core.director.release_tarballs import STEMCELL, Tarballs

Client: TypeAlias = TestClient[Litestar]


def _director(client: Client) -> Director:
    director: Director = client.app.state.director
    return director


@pytest.fixture
def fixture_releases(admin: Client, tarballs: Tarballs, tmp_path: Path) -> Client:
    """fixture/0+dev.1 (deployed by "cf") and 0+dev.2, and v1 again as release "other"."""
    director = _director(admin)
    for tarball in (tarballs.v2, tarballs.v1, tarballs.renamed):
        import_release(director.database, director.blobstore, tarball, scratch=tmp_path / "s")
    add_deployment(director.database, "cf", releases=[("fixture", "0+dev.1")])
    return admin


def test_releases_by_name_versions_oldest_first(fixture_releases: Client) -> None:
    response = fixture_releases.get("/releases")

    assert response.status_code == 200
    body = response.json()
    assert [release["name"] for release in body] == ["fixture", "other"]
    fixture = body[0]["release_versions"]
    assert [version["version"] for version in fixture] == ["0+dev.1", "0+dev.2"]
    assert fixture[0]["currently_deployed"] is True
    assert fixture[1]["currently_deployed"] is False
    assert sorted(fixture[0]["job_names"]) == ["web", "worker"]
    assert set(fixture[0]) == {
        "version", "commit_hash", "uncommitted_changes", "currently_deployed", "job_names",
    }  # fmt: skip
    assert body[1]["release_versions"][0]["currently_deployed"] is False


def test_old_dev_versions_sort_as_their_new_form(sqlite_database: Database) -> None:
    with sqlite_database.write() as session:
        release = Release(name="legacy")
        release.versions = [
            ReleaseVersion(version=text) for text in ("10", "2.1-dev", "2+dev.3", "2", "1.9")
        ]
        session.add(release)
    with sqlite_database.read() as session:
        versions = views.releases(session)[0]["release_versions"]
    assert [entry["version"] for entry in versions] == ["1.9", "2", "2.1-dev", "2+dev.3", "10"]


def test_release_series_lists_every_package_job_and_version(fixture_releases: Client) -> None:
    body = fixture_releases.get("/releases/fixture").json()

    assert body["versions"] == ["0+dev.2", "0+dev.1"]
    assert sorted(package["name"] for package in body["packages"]) == ["runtime", "webapp"]
    webapp = next(package for package in body["packages"] if package["name"] == "webapp")
    assert webapp["dependencies"] == ["runtime"]
    # The worker job changed in v2: two versions of it.
    assert sorted(job["name"] for job in body["jobs"]) == ["web", "worker", "worker"]
    assert set(body["jobs"][0]) == {"name", "sha1", "version", "packages"}


def test_inspect_release_version(fixture_releases: Client, tarballs: Tarballs) -> None:
    director = _director(fixture_releases)
    import_release(
        director.database, director.blobstore, tarballs.compiled, scratch=director.config.tmp_dir
    )

    body = fixture_releases.get("/releases/fixture?version=0%2Bdev.1").json()

    assert [job["name"] for job in body["jobs"]] == ["web", "worker"]
    web = body["jobs"][0]
    assert set(web) == {"name", "blobstore_id", "sha1", "fingerprint", "consumes", "provides"}
    assert director.blobstore.exists(web["blobstore_id"])
    assert [package["name"] for package in body["packages"]] == ["runtime", "webapp"]
    runtime = body["packages"][0]
    assert runtime["compiled_packages"] == [
        {
            "stemcell": STEMCELL,
            "sha1": runtime["compiled_packages"][0]["sha1"],
            "blobstore_id": runtime["compiled_packages"][0]["blobstore_id"],
        }
    ]
    assert director.blobstore.exists(runtime["compiled_packages"][0]["blobstore_id"])
    # Versions share unchanged packages (compiled ones too) but not changed jobs.
    v2 = fixture_releases.get("/releases/fixture?version=0%2Bdev.2").json()
    assert v2["packages"] == body["packages"]
    assert v2["jobs"][1]["fingerprint"] != body["jobs"][1]["fingerprint"]
    other = fixture_releases.get("/releases/other?version=0%2Bdev.1").json()
    assert [package["compiled_packages"] for package in other["packages"]] == [[], []]


def test_inspect_finds_an_old_dev_version_by_its_new_form(sqlite_database: Database) -> None:
    with sqlite_database.write() as session:
        session.add(Release(name="legacy", versions=[ReleaseVersion(version="2.1-dev")]))
    with sqlite_database.read() as session:
        found = views.find_release_version(
            session, views.find_release(session, "legacy"), "2+dev.1"
        )
    assert found.version == "2.1-dev"


def test_unknown_release_version_and_invalid_version(fixture_releases: Client) -> None:
    missing = fixture_releases.get("/releases/nope")
    assert missing.status_code == 404
    assert missing.json() == {"code": 30005, "description": "Release 'nope' doesn't exist"}

    no_version = fixture_releases.get("/releases/fixture?version=9")
    assert no_version.status_code == 404
    assert no_version.json() == {
        "code": 30006,
        "description": "Release version 'fixture/9' doesn't exist",
    }

    invalid = fixture_releases.get("/releases/fixture?version=1..2")
    assert invalid.status_code == 400
    assert invalid.json() == {"code": 30010, "description": "Release version invalid: 1..2"}


def test_releases_view_on_every_database(
    database: Database, tarballs: Tarballs, tmp_path: Path
) -> None:
    import_release(database, LocalBlobstore(tmp_path / "blobs"), tarballs.v1, scratch=tmp_path)
    with database.read() as session:
        listed = views.releases(session)
        inspected = views.inspect_release(session, "fixture", "0+dev.1")
    assert [entry["version"] for entry in listed[0]["release_versions"]] == ["0+dev.1"]
    assert [package["name"] for package in inspected["packages"]] == ["runtime", "webapp"]
