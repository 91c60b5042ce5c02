"""``POST /packages/matches`` and ``/packages/matches_compiled`` against releases the
real upload job imported: what ``upload-release`` may leave out of its tarball."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any, TypeAlias

import pytest
import yaml
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import update

from bosh_core.director.api.app import Director
from bosh_core.director.db.models import ReleaseVersion
from tests.core.director.records import import_release
from tests.core.director.release_tarballs import Tarballs

Client: TypeAlias = TestClient[Litestar]
YAML = {"Content-Type": "text/yaml"}


def release_manifest(tarball: Path) -> dict[str, Any]:
    with tarfile.open(tarball) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("release.MF"))
        stream = archive.extractfile(member)
        assert stream is not None
        manifest: dict[str, Any] = yaml.safe_load(stream)
    return manifest


def _director(client: Client) -> Director:
    director: Director = client.app.state.director
    return director


def _import(client: Client, tarball: Path, tmp_path: Path) -> None:
    director = _director(client)
    import_release(director.database, director.blobstore, tarball, scratch=tmp_path / "s")


def _match(client: Client, manifest: Any, *, compiled: bool = False) -> Any:
    path = "/packages/matches_compiled" if compiled else "/packages/matches"
    response = client.post(path, content=yaml.safe_dump(manifest), headers=YAML)
    assert response.status_code == 200, response.text
    return response.json()


def test_source_packages_the_director_has(
    admin: Client, tarballs: Tarballs, tmp_path: Path
) -> None:
    manifest = release_manifest(tarballs.v1)
    assert _match(admin, manifest) == []

    _import(admin, tarballs.v1, tmp_path)

    fingerprints = {package["name"]: package["fingerprint"] for package in manifest["packages"]}
    assert sorted(_match(admin, manifest)) == sorted(fingerprints.values())
    # Another release with the same package contents matches too: fingerprints count.
    renamed = {**release_manifest(tarballs.renamed), "version": "7"}
    assert sorted(_match(admin, renamed)) == sorted(fingerprints.values())
    only_new = {**manifest, "packages": [{"name": "x", "fingerprint": "f" * 40}]}
    assert _match(admin, only_new) == []


def test_an_unfinished_version_matches_nothing(
    admin: Client, tarballs: Tarballs, tmp_path: Path
) -> None:
    _import(admin, tarballs.v1, tmp_path)
    with _director(admin).database.write() as session:
        session.execute(update(ReleaseVersion).values(update_completed=False))
    assert _match(admin, release_manifest(tarballs.v1)) == []


def test_compiled_packages_match_on_stemcell_and_dependencies(
    admin: Client, tarballs: Tarballs, tmp_path: Path
) -> None:
    manifest = release_manifest(tarballs.compiled)
    assert _match(admin, manifest, compiled=True) == []

    _import(admin, tarballs.compiled, tmp_path)

    by_name = {package["name"]: package for package in manifest["compiled_packages"]}
    assert sorted(_match(admin, manifest, compiled=True)) == sorted(
        package["fingerprint"] for package in by_name.values()
    )
    # Another stemcell: nothing compiled for it yet.
    other_stemcell = {
        **manifest,
        "compiled_packages": [
            {**package, "stemcell": "ubuntu-noble/1.0"} for package in by_name.values()
        ],
    }
    assert _match(admin, other_stemcell, compiled=True) == []
    # The runtime dependency at another version changes webapp's dependency key only.
    changed = {
        **manifest,
        "compiled_packages": [
            {**package, "version": "other"} if name == "runtime" else package
            for name, package in by_name.items()
        ],
    }
    assert _match(admin, changed, compiled=True) == [by_name["runtime"]["fingerprint"]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/packages/matches", "name: x\n"),
        ("/packages/matches", "- a list\n"),
        ("/packages/matches_compiled", "packages: []\n"),
        ("/packages/matches", "packages: [\n"),
    ],
)
def test_a_manifest_without_packages_is_440001(admin: Client, path: str, body: str) -> None:
    response = admin.post(path, content=body, headers=YAML)
    assert response.status_code == 400
    assert response.json()["code"] == 440001


def test_other_content_types_are_not_routed(admin: Client) -> None:
    response = admin.post(
        "/packages/matches", content="packages: []\n", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 404
