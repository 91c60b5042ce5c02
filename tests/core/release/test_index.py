"""Artifact and release indexes, and the archive cache: broken files are named, not lost."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.digest import Digest, MultipleDigest
from bosh_core.errors import ManifestError, ReleaseError
from bosh_core.models.release import ReleaseManifest
from bosh_core.models.version import Version
from bosh_core.release.index import (
    ArtifactCache,
    ArtifactIndexStore,
    QuietReporter,
    ReleaseIndexStore,
    read_release_manifest,
)
from tests.core.release.conftest import OpenReleaseDir

ARCHIVE = b"archive bytes"
ARCHIVE_DIGEST = str(Digest.of_bytes(ARCHIVE))


@pytest.fixture
def cache(tmp_path: Path) -> ArtifactCache:
    return ArtifactCache(tmp_path / "cache")


def job_index(
    directory: Path, cache: ArtifactCache, blobstore: LocalBlobstore | None = None
) -> ArtifactIndexStore:
    return ArtifactIndexStore(
        directory,
        kind="job",
        per_name=True,
        cache=cache,
        reporter=QuietReporter(),
        blobstore=None if blobstore is None else lambda: blobstore,
    )


@pytest.fixture
def jobs(tmp_path: Path, cache: ArtifactCache) -> ArtifactIndexStore:
    return job_index(tmp_path / ".dev_builds" / "jobs", cache)


@pytest.fixture
def releases(tmp_path: Path) -> ReleaseIndexStore:
    return ReleaseIndexStore(tmp_path / "dev_releases", label="dev", reporter=QuietReporter())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cached(cache: ArtifactCache) -> Path:
    with cache.writing() as (stream, store):
        stream.write(ARCHIVE)
        return store(ARCHIVE_DIGEST)


# --- documents that are not maps ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "a number")],
)
def test_a_release_index_that_is_not_a_map_is_refused_and_kept(
    fixture_release: Path, open_release_dir: OpenReleaseDir, text: str, found: str
) -> None:
    index = write(fixture_release / "dev_releases" / "fixture" / "index.yml", text)
    release_dir = open_release_dir(fixture_release)

    for attempt in (
        lambda: release_dir.next_dev_version("fixture"),
        lambda: release_dir.build_release(name="fixture", version=Version.parse("9"), force=True),
    ):
        with pytest.raises(ManifestError) as caught:
            attempt()
        assert str(caught.value) == (
            f"Invalid dev release index '{index}': $: expected a map, found {found}"
        )
    assert index.read_text() == text


def test_an_artifact_index_that_is_not_a_map_is_refused_and_kept(
    fixture_release: Path, open_release_dir: OpenReleaseDir
) -> None:
    index = write(fixture_release / ".dev_builds" / "jobs" / "web" / "index.yml", "- builds\n")
    with pytest.raises(ManifestError, match=r"^Invalid job index '.*/web/index.yml': \$: expected"):
        open_release_dir(fixture_release).build_release(
            name="fixture", version=Version.parse("1"), force=True
        )
    assert index.read_text() == "- builds\n"


def test_an_entry_that_is_not_a_map_is_named_by_its_path(
    jobs: ArtifactIndexStore, tmp_path: Path
) -> None:
    write(
        tmp_path / ".dev_builds" / "jobs" / "web" / "index.yml",
        "builds:\n  abc: [1]\nformat-version: '2'\n",
    )
    with pytest.raises(ManifestError, match=r"\$\.builds\['abc'\]: expected a map, found a list"):
        jobs.find("web", "abc")


def test_a_release_manifest_that_is_not_a_map(tmp_path: Path) -> None:
    path = tmp_path / "r-1.yml"
    path.write_text("[]\n")
    with pytest.raises(ManifestError) as caught:
        read_release_manifest(path)
    assert (
        str(caught.value) == f"Invalid release manifest '{path}': $: expected a map, found a list"
    )


def test_an_empty_index_is_an_empty_index(releases: ReleaseIndexStore, tmp_path: Path) -> None:
    write(tmp_path / "dev_releases" / "r" / "index.yml", "")
    assert releases.last_version("r") is None


# --- files that cannot be read or written ------------------------------------------------


def test_an_index_that_is_a_directory(releases: ReleaseIndexStore, tmp_path: Path) -> None:
    index = tmp_path / "dev_releases" / "r" / "index.yml"
    index.mkdir(parents=True)
    with pytest.raises(ReleaseError) as caught:
        releases.last_version("r")
    assert str(caught.value) == f"Cannot read dev release index '{index}': Is a directory"


def test_an_index_that_is_not_utf8(jobs: ArtifactIndexStore, tmp_path: Path) -> None:
    index = tmp_path / ".dev_builds" / "jobs" / "web" / "index.yml"
    index.parent.mkdir(parents=True)
    index.write_bytes(b"builds: {}\n# \xff\xfe\n")
    with pytest.raises(ReleaseError) as caught:
        jobs.find("web", "abc")
    assert str(caught.value) == f"Cannot read job index '{index}': it is not UTF-8 text (byte 13)"


def test_an_artifact_index_that_cannot_be_written(
    jobs: ArtifactIndexStore, cache: ArtifactCache, tmp_path: Path
) -> None:
    (tmp_path / ".dev_builds" / "jobs").mkdir(parents=True)
    (tmp_path / ".dev_builds" / "jobs" / "web").write_text("a file where a directory goes")
    with pytest.raises(ReleaseError) as caught:
        jobs.add("web", "abc", cached(cache), ARCHIVE_DIGEST)
    web = tmp_path / ".dev_builds" / "jobs" / "web"
    assert str(caught.value) == (
        f"Cannot write job index '{web / 'index.yml'}': File exists ('{web}')"
    )


def test_a_release_that_cannot_be_written(releases: ReleaseIndexStore, tmp_path: Path) -> None:
    (tmp_path / "dev_releases").mkdir()
    (tmp_path / "dev_releases" / "r").write_text("a file where a directory goes")
    with pytest.raises(ReleaseError) as caught:
        releases.add(ReleaseManifest(name="r", version="1"))
    directory = tmp_path / "dev_releases" / "r"
    assert str(caught.value) == (
        f"Cannot write release manifest '{directory / 'r-1.yml'}': File exists ('{directory}')"
    )


def test_a_cache_under_a_file(tmp_path: Path) -> None:
    (tmp_path / ".bosh").write_text("not a directory")
    cache = ArtifactCache(tmp_path / ".bosh" / "cache")
    with pytest.raises(ReleaseError) as caught, cache.writing():
        pass
    assert str(caught.value).startswith(
        f"Cannot write to the archive cache '{tmp_path / '.bosh' / 'cache'}': Not a directory"
    )


def test_create_release_with_bosh_home_a_file(
    fixture_release: Path, open_release_dir: OpenReleaseDir, tmp_path: Path
) -> None:
    (tmp_path / "cache").write_text("not a directory")
    with pytest.raises(ReleaseError, match=r"^Cannot write to the archive cache "):
        open_release_dir(fixture_release).build_release(
            name="fixture", version=Version.parse("1"), force=True
        )


def test_a_malformed_digest_names_the_index(jobs: ArtifactIndexStore, tmp_path: Path) -> None:
    index = write(
        tmp_path / ".dev_builds" / "jobs" / "web" / "index.yml",
        "builds:\n  abc:\n    version: abc\n    sha1: not-hex\nformat-version: '2'\n",
    )
    with pytest.raises(ReleaseError) as caught:
        jobs.find("web", "other")
    assert str(caught.value) == (
        f"Invalid job index '{index}': build 'abc': Malformed sha1 digest 'not-hex' in 'not-hex'"
    )


def test_artifact_names_must_be_one_directory_name(
    jobs: ArtifactIndexStore, cache: ArtifactCache
) -> None:
    with pytest.raises(ReleaseError, match=r"^Job name '\.\./x' is not valid"):
        jobs.add("../x", "abc", cached(cache), ARCHIVE_DIGEST)


# --- finding builds ----------------------------------------------------------------------


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file whose digest is verified."""
    verified: list[Path] = []
    original: Callable[..., None] = MultipleDigest.verify_file

    def verify_file(self: MultipleDigest, path: Path, **options: Any) -> None:
        verified.append(path)
        original(self, path, **options)

    monkeypatch.setattr(MultipleDigest, "verify_file", verify_file)
    return verified


@pytest.fixture
def final_jobs(tmp_path: Path, cache: ArtifactCache) -> ArtifactIndexStore:
    return job_index(tmp_path / ".final_builds" / "jobs", cache, LocalBlobstore(tmp_path / "store"))


def test_a_cached_build_is_verified_once(
    jobs: ArtifactIndexStore, cache: ArtifactCache, verifications: list[Path]
) -> None:
    path = cached(cache)
    jobs.add("web", "abc", path, ARCHIVE_DIGEST)

    found = jobs.find("web", "abc")

    assert found is not None and found.path == path and found.digest == ARCHIVE_DIGEST
    assert verifications == [path]


def test_a_final_build_missing_from_the_cache_is_downloaded_and_verified_once(
    final_jobs: ArtifactIndexStore, cache: ArtifactCache, verifications: list[Path]
) -> None:
    path = cached(cache)
    final_jobs.add("web", "abc", path, ARCHIVE_DIGEST)
    path.unlink()

    found = final_jobs.find("web", "abc")

    assert found is not None and found.path.read_bytes() == ARCHIVE
    assert verifications == [found.path]


def test_a_dev_build_missing_from_the_cache_counts_as_not_built(
    jobs: ArtifactIndexStore, cache: ArtifactCache
) -> None:
    path = cached(cache)
    jobs.add("web", "abc", path, ARCHIVE_DIGEST)
    path.unlink()
    assert jobs.find("web", "abc") is None


def test_a_corrupted_cached_archive_is_reported(
    jobs: ArtifactIndexStore, cache: ArtifactCache
) -> None:
    path = cached(cache)
    jobs.add("web", "abc", path, ARCHIVE_DIGEST)
    path.write_bytes(b"tampered")
    with pytest.raises(ReleaseError, match=r"^Local copy '.*' of an archive does not match"):
        jobs.find("web", "abc")


def test_indexes_of_the_ruby_cli_with_binary_digests_are_read(
    jobs: ArtifactIndexStore, cache: ArtifactCache, tmp_path: Path
) -> None:
    path = cached(cache)
    encoded = base64.b64encode(ARCHIVE_DIGEST.encode()).decode()
    write(
        tmp_path / ".dev_builds" / "jobs" / "web" / "index.yml",
        f"---\nbuilds:\n  abc:\n    version: abc\n    sha1: !binary |-\n      {encoded}\n"
        "format-version: '2'\n",
    )
    found = jobs.find("web", "abc")
    assert found is not None and found.path == path
