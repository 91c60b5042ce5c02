from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.errors import (
    BlobNotFoundError,
    BoshError,
    ConfigError,
    DigestMismatchError,
    ManifestError,
    ReleaseError,
)
from bosh_core.release.blobs import EMPTY_BLOBS_INDEX, BlobEntry, BlobsDir
from tests.core.blobstore.moto_s3 import moto_s3_server, new_bucket, s3_options


class Recorder:
    """A BlobsReporter that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def blob_download_started(self, path: str, *, size: int, blob_id: str, digest: str) -> None:
        self.events.append(("download started", path, size, blob_id, digest))

    def blob_download_finished(
        self, path: str, *, blob_id: str, error: BaseException | None
    ) -> None:
        self.events.append(("download finished", path, blob_id, error is None))

    def blob_upload_started(self, path: str, *, size: int, digest: str) -> None:
        self.events.append(("upload started", path, size, digest))

    def blob_upload_finished(self, path: str, *, blob_id: str, error: BaseException | None) -> None:
        self.events.append(("upload finished", path, blob_id, error is None))


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.fixture
def release_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "release"
    (directory / "config").mkdir(parents=True)
    (directory / "config" / "final.yml").write_text(
        "name: r\nblobstore:\n  provider: local\n  options:\n    blobstore_path: ../store\n"
    )
    (directory / "config" / "blobs.yml").write_text(EMPTY_BLOBS_INDEX)
    return directory


@pytest.fixture
def store(release_dir: Path) -> LocalBlobstore:
    return LocalBlobstore(release_dir.parent / "store")


@pytest.fixture
def reporter() -> Recorder:
    return Recorder()


@pytest.fixture
def blobs_dir(release_dir: Path, reporter: Recorder) -> BlobsDir:
    return BlobsDir(release_dir, reporter=reporter)


def source_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "sources" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def index_text(release_dir: Path) -> str:
    return (release_dir / "config" / "blobs.yml").read_text()


# --- blobs.yml ---------------------------------------------------------------------------


def test_blobs_are_read_sorted_by_path(release_dir: Path, blobs_dir: BlobsDir) -> None:
    (release_dir / "config" / "blobs.yml").write_text(
        "bosh-116.tgz:\n  size: 133959511\n  sha: 13ebc5850fcbde216ec32ab4354df53df76e4745\n"
        "dir/file.tgz:\n  size: 133959000\n  object_id: ea50bf88-52ca-4230-4ef3-ff22c3975d04\n"
        "  sha: 2b86b5850fcbde216ec565b4354df53df76e4745\n"
        "a.tgz:\n  size: 1\n  sha: 345\n"
    )
    assert blobs_dir.blobs() == [
        BlobEntry("a.tgz", 1, "345"),
        BlobEntry("bosh-116.tgz", 133959511, "13ebc5850fcbde216ec32ab4354df53df76e4745"),
        BlobEntry(
            "dir/file.tgz",
            133959000,
            "2b86b5850fcbde216ec565b4354df53df76e4745",
            "ea50bf88-52ca-4230-4ef3-ff22c3975d04",
        ),
    ]


@pytest.mark.parametrize("text", ["", "--- {}\n", "---\n"])
def test_empty_index_has_no_blobs(release_dir: Path, blobs_dir: BlobsDir, text: str) -> None:
    (release_dir / "config" / "blobs.yml").write_text(text)
    assert blobs_dir.blobs() == []


def test_missing_index_asks_for_init_release(release_dir: Path, blobs_dir: BlobsDir) -> None:
    (release_dir / "config" / "blobs.yml").unlink()
    with pytest.raises(ReleaseError, match=r"Reading blobs index: .*blobs.yml' does not exist"):
        blobs_dir.blobs()


def test_unparsable_index_names_the_file(release_dir: Path, blobs_dir: BlobsDir) -> None:
    (release_dir / "config" / "blobs.yml").write_text("a.tgz: [\n")
    with pytest.raises(BoshError, match=r"blobs index '.*blobs\.yml'"):
        blobs_dir.blobs()


def test_wrongly_typed_entry_names_its_path(release_dir: Path, blobs_dir: BlobsDir) -> None:
    (release_dir / "config" / "blobs.yml").write_text("a.tgz:\n  size: big\n  sha: x\n")
    with pytest.raises(BoshError, match=r"a\.tgz.*size"):
        blobs_dir.blobs()


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a.tgz\n", "a list"), ("[]\n", "a list"), ("a.tgz\n", "a string")],
)
def test_an_index_that_is_not_a_map_is_refused_and_kept(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path, text: str, found: str
) -> None:
    index = release_dir / "config" / "blobs.yml"
    index.write_text(text)
    for attempt in (
        blobs_dir.blobs,
        lambda: blobs_dir.track(source_file(tmp_path, "b", b"b"), "b"),
    ):
        with pytest.raises(ManifestError) as caught:
            attempt()
        assert (
            str(caught.value) == f"Invalid blobs index '{index}': $: expected a map, found {found}"
        )
    assert index.read_text() == text


def test_an_entry_that_is_not_a_map_names_its_path(release_dir: Path, blobs_dir: BlobsDir) -> None:
    (release_dir / "config" / "blobs.yml").write_text("a.tgz: [1]\n")
    with pytest.raises(ManifestError, match=r"\$\['a\.tgz'\]: expected a map, found a list"):
        blobs_dir.blobs()


@pytest.mark.parametrize("path", ["../../../../home/file", "/etc/file", "a/../../b"])
def test_index_paths_must_stay_in_blobs(release_dir: Path, blobs_dir: BlobsDir, path: str) -> None:
    (release_dir / "config" / "blobs.yml").write_text(f"{path}:\n  size: 1\n  sha: x\n")
    with pytest.raises(ReleaseError) as raised:
        blobs_dir.blobs()
    assert str(raised.value) == f"Invalid blob path '{path}': must be a safe local path"


def test_init_writes_the_reference_empty_index(release_dir: Path, blobs_dir: BlobsDir) -> None:
    (release_dir / "config" / "blobs.yml").unlink()
    blobs_dir.init()
    assert index_text(release_dir) == "--- {}\n"


# --- add-blob / remove-blob ------------------------------------------------------------------


def test_track_copies_the_file_and_records_size_and_sha256(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path
) -> None:
    data = b"go toolchain" * 1000
    entry = blobs_dir.track(source_file(tmp_path, "go.tgz", data), "golang/go.tgz")

    assert entry == BlobEntry("golang/go.tgz", len(data), sha256(data), None)
    assert (release_dir / "blobs" / "golang" / "go.tgz").read_bytes() == data
    assert (
        index_text(release_dir) == f"golang/go.tgz:\n  size: {len(data)}\n  sha: {sha256(data)}\n"
    )
    assert blobs_dir.blobs() == [entry]


def test_index_is_written_in_the_reference_order_and_layout(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path
) -> None:
    (release_dir / "config" / "blobs.yml").write_text(
        "z.tgz:\n  object_id: id-1\n  sha: '345'\n  size: 3\n"
    )
    blobs_dir.track(source_file(tmp_path, "a", b"a"), "file10.tgz")
    blobs_dir.track(source_file(tmp_path, "b", b"b"), "file9.tgz")
    assert index_text(release_dir) == (
        f"file9.tgz:\n  size: 1\n  sha: {sha256(b'b')}\n"
        f"file10.tgz:\n  size: 1\n  sha: {sha256(b'a')}\n"
        'z.tgz:\n  size: 3\n  object_id: id-1\n  sha: "345"\n'
    )


def test_tracking_a_path_again_replaces_the_entry_and_the_file(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path
) -> None:
    (release_dir / "config" / "blobs.yml").write_text(
        "dir/file.tgz:\n  size: 133\n  object_id: old-id\n  sha: 13e\nfile2.tgz:\n  size: 245\n"
        "  sha: '345'\n"
    )
    (release_dir / "blobs" / "dir").mkdir(parents=True)
    (release_dir / "blobs" / "dir" / "file.tgz").write_text("prev-content")

    blobs_dir.track(source_file(tmp_path, "new", b"content"), "dir/file.tgz")

    assert blobs_dir.blobs() == [
        BlobEntry("dir/file.tgz", 7, sha256(b"content"), None),  # no object_id until uploaded
        BlobEntry("file2.tgz", 245, "345"),
    ]
    assert (release_dir / "blobs" / "dir" / "file.tgz").read_text() == "content"


@pytest.mark.parametrize("path", ["../../etc/file", "/etc/file", "", "."])
def test_track_refuses_unsafe_paths(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path, path: str
) -> None:
    with pytest.raises(ReleaseError, match="must be a safe local path"):
        blobs_dir.track(source_file(tmp_path, "x", b"x"), path)
    assert index_text(release_dir) == EMPTY_BLOBS_INDEX


def test_track_of_a_missing_source_changes_nothing(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path
) -> None:
    with pytest.raises(ReleaseError, match=r"Cannot add blob 'x\.tgz' from '.*missing'"):
        blobs_dir.track(tmp_path / "missing", "x.tgz")
    assert index_text(release_dir) == EMPTY_BLOBS_INDEX
    assert not list(release_dir.glob("blobs/**/*"))  # no partial copy left


def test_track_of_a_directory_is_refused(blobs_dir: BlobsDir, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="is a directory"):
        blobs_dir.track(tmp_path, "x.tgz")


def test_untrack_removes_entry_and_file(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path
) -> None:
    blobs_dir.track(source_file(tmp_path, "a", b"a"), "dir/a.tgz")
    blobs_dir.track(source_file(tmp_path, "b", b"b"), "b.tgz")

    blobs_dir.untrack("dir/a.tgz")

    assert [entry.path for entry in blobs_dir.blobs()] == ["b.tgz"]
    assert not (release_dir / "blobs" / "dir" / "a.tgz").exists()
    assert (release_dir / "blobs" / "b.tgz").exists()


def test_untrack_of_an_unknown_path_succeeds_as_in_the_reference(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path
) -> None:
    blobs_dir.track(source_file(tmp_path, "b", b"b"), "b.tgz")
    before = index_text(release_dir)
    (release_dir / "blobs" / "stray.tgz").write_text("untracked file")

    blobs_dir.untrack("stray.tgz")

    assert index_text(release_dir) == before
    assert not (release_dir / "blobs" / "stray.tgz").exists()


@pytest.mark.parametrize("path", ["../../etc/file", "/etc/file"])
def test_untrack_refuses_unsafe_paths(blobs_dir: BlobsDir, path: str) -> None:
    with pytest.raises(ReleaseError, match="must be a safe local path"):
        blobs_dir.untrack(path)


# --- upload-blobs ------------------------------------------------------------------------------


def test_upload_stores_new_blobs_and_records_their_ids(
    release_dir: Path,
    blobs_dir: BlobsDir,
    store: LocalBlobstore,
    reporter: Recorder,
    tmp_path: Path,
) -> None:
    (release_dir / "config" / "blobs.yml").write_text(
        "already.tgz:\n  object_id: existing-id\n  size: 1\n  sha: x\n"
    )
    blobs_dir.track(source_file(tmp_path, "one", b"one"), "one.tgz")
    blobs_dir.track(source_file(tmp_path, "two", b"two"), "dir/two.tgz")

    blobs_dir.upload()

    entries = {entry.path: entry for entry in blobs_dir.blobs()}
    assert entries["already.tgz"].object_id == "existing-id"
    for path, data in (("one.tgz", b"one"), ("dir/two.tgz", b"two")):
        blob_id = entries[path].object_id
        assert blob_id is not None
        assert (store.path / blob_id).read_bytes() == data
    assert reporter.events == [
        ("upload started", "dir/two.tgz", 3, sha256(b"two")),
        ("upload finished", "dir/two.tgz", entries["dir/two.tgz"].object_id, True),
        ("upload started", "one.tgz", 3, sha256(b"one")),
        ("upload finished", "one.tgz", entries["one.tgz"].object_id, True),
    ]

    reporter.events.clear()
    blobs_dir.upload()  # nothing new: nothing uploaded
    assert reporter.events == []
    assert len(list(store.path.iterdir())) == 2


def test_upload_refuses_a_local_file_that_does_not_match_its_digest(
    release_dir: Path, blobs_dir: BlobsDir, reporter: Recorder, tmp_path: Path
) -> None:
    blobs_dir.track(source_file(tmp_path, "a", b"a"), "a.tgz")
    blobs_dir.track(source_file(tmp_path, "b", b"b"), "b.tgz")
    (release_dir / "blobs" / "b.tgz").write_bytes(b"changed after add-blob")

    with pytest.raises(DigestMismatchError, match=r"Creating blob for path 'b\.tgz': Expected"):
        blobs_dir.upload()

    entries = {entry.path: entry for entry in blobs_dir.blobs()}
    assert entries["a.tgz"].object_id is not None  # saved before the failure
    assert entries["b.tgz"].object_id is None
    assert reporter.events[-1] == ("upload finished", "b.tgz", "", False)


def test_upload_of_a_missing_local_file_says_which(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path
) -> None:
    blobs_dir.track(source_file(tmp_path, "a", b"a"), "a.tgz")
    (release_dir / "blobs" / "a.tgz").unlink()
    with pytest.raises(ReleaseError, match=r"Creating blob for path 'a\.tgz': No such file"):
        blobs_dir.upload()


def test_upload_without_a_configured_blobstore_is_the_reference_error(
    release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path
) -> None:
    (release_dir / "config" / "final.yml").write_text("name: r\n")
    blobs_dir.track(source_file(tmp_path, "a", b"a"), "a.tgz")  # adding needs no blobstore
    with pytest.raises(ConfigError, match=r"Expected non-empty 'blobstore\.provider' in config"):
        blobs_dir.upload()


# --- sync-blobs --------------------------------------------------------------------------------


@pytest.fixture
def uploaded(release_dir: Path, blobs_dir: BlobsDir, tmp_path: Path) -> dict[str, bytes]:
    """Three blobs added and uploaded, then blobs/ removed (a fresh clone)."""
    contents = {"dir/one.tgz": b"one" * 100, "two.tgz": b"two" * 200, "three.tgz": b"3"}
    for path, data in contents.items():
        blobs_dir.track(source_file(tmp_path, path.replace("/", "_"), data), path)
    blobs_dir.upload()
    shutil.rmtree(release_dir / "blobs")
    return contents


@pytest.mark.parametrize("parallel", [1, 4])
def test_sync_downloads_missing_blobs(
    release_dir: Path,
    blobs_dir: BlobsDir,
    reporter: Recorder,
    uploaded: dict[str, bytes],
    parallel: int,
) -> None:
    reporter.events.clear()
    blobs_dir.sync(parallel=parallel)

    for path, data in uploaded.items():
        assert (release_dir / "blobs" / path).read_bytes() == data
    started = sorted(event[1] for event in reporter.events if event[0] == "download started")
    assert started == sorted(uploaded)
    assert all(event[-1] for event in reporter.events if event[0] == "download finished")


def test_sync_skips_verified_blobs_and_redownloads_a_corrupted_one(
    release_dir: Path, blobs_dir: BlobsDir, reporter: Recorder, uploaded: dict[str, bytes]
) -> None:
    blobs_dir.sync(parallel=1)
    (release_dir / "blobs" / "two.tgz").write_bytes(b"corrupted locally")
    reporter.events.clear()

    blobs_dir.sync(parallel=1)

    assert (release_dir / "blobs" / "two.tgz").read_bytes() == uploaded["two.tgz"]
    entry = next(e for e in blobs_dir.blobs() if e.path == "two.tgz")
    assert reporter.events == [
        ("download started", "two.tgz", len(uploaded["two.tgz"]), entry.object_id, entry.sha),
        ("download finished", "two.tgz", entry.object_id, True),
    ]


def test_sync_leaves_blobs_that_were_never_uploaded(
    release_dir: Path, blobs_dir: BlobsDir, reporter: Recorder, tmp_path: Path
) -> None:
    blobs_dir.track(source_file(tmp_path, "local", b"local only"), "local.tgz")
    (release_dir / "config" / "final.yml").write_text("name: r\n")  # no blobstore needed
    blobs_dir.sync(parallel=2)
    assert (release_dir / "blobs" / "local.tgz").read_bytes() == b"local only"
    assert reporter.events == []


def test_sync_deletes_files_that_blobs_yml_does_not_list(
    release_dir: Path, blobs_dir: BlobsDir, uploaded: dict[str, bytes]
) -> None:
    (release_dir / "blobs" / "dir" / "deeper").mkdir(parents=True)
    (release_dir / "blobs" / "extra-blob.tgz").write_text("I don't belong here")
    (release_dir / "blobs" / "dir" / "deeper" / "old.tgz").write_text("nor here")
    (release_dir / "blobs" / ".one.tgz.part").write_text("an interrupted download")

    blobs_dir.sync(parallel=1)

    remaining = sorted(
        str(path.relative_to(release_dir / "blobs"))
        for path in (release_dir / "blobs").rglob("*")
        if path.is_file()
    )
    assert remaining == sorted(uploaded)
    assert (release_dir / "blobs" / "dir" / "deeper").is_dir()  # directories are kept


def test_sync_refuses_symlinks_in_blobs(
    release_dir: Path, blobs_dir: BlobsDir, uploaded: dict[str, bytes]
) -> None:
    (release_dir / "blobs").mkdir()
    (release_dir / "blobs" / "two.tgz").symlink_to(release_dir / ".blobs" / "abc")
    with pytest.raises(ReleaseError) as raised:
        blobs_dir.sync(parallel=1)
    assert str(raised.value) == (
        "Bailing because symlinks found in blobs directory. If switching from CLI v1,"
        " please use the `reset-release` command."
    )


def test_sync_of_a_blob_missing_from_the_blobstore(
    release_dir: Path,
    blobs_dir: BlobsDir,
    store: LocalBlobstore,
    reporter: Recorder,
    uploaded: dict[str, bytes],
) -> None:
    entry = next(e for e in blobs_dir.blobs() if e.path == "three.tgz")
    assert entry.object_id is not None
    store.delete(entry.object_id)

    with pytest.raises(BlobNotFoundError) as raised:
        blobs_dir.sync(parallel=1)

    assert str(raised.value).startswith(
        f"Getting blob '{entry.object_id}' for path 'three.tgz': Blob '{entry.object_id}' not found"
    )
    assert ("download finished", "three.tgz", entry.object_id, False) in reporter.events
    assert not (release_dir / "blobs" / "three.tgz").exists()


def test_sync_refuses_a_blobstore_object_that_does_not_match_its_digest(
    release_dir: Path, blobs_dir: BlobsDir, store: LocalBlobstore, uploaded: dict[str, bytes]
) -> None:
    entry = next(e for e in blobs_dir.blobs() if e.path == "two.tgz")
    assert entry.object_id is not None
    (store.path / entry.object_id).write_bytes(b"tampered with")

    with pytest.raises(DigestMismatchError) as raised:
        blobs_dir.sync(parallel=1)

    assert str(raised.value).startswith(
        f"Getting blob '{entry.object_id}' for path 'two.tgz': Expected downloaded blob"
        f" '{entry.object_id}' to have digest '{entry.sha}' but was "
    )
    assert not (release_dir / "blobs" / "two.tgz").exists()
    assert not any(p.name.startswith(".two.tgz") for p in (release_dir / "blobs").iterdir())


def test_sync_reports_a_bad_digest_string_in_blobs_yml(
    release_dir: Path, blobs_dir: BlobsDir
) -> None:
    (release_dir / "config" / "blobs.yml").write_text(
        "bad-sha-blob.tgz:\n  object_id: blob3\n  size: 245\n  sha: ''\n"
    )
    with pytest.raises(ReleaseError) as raised:
        blobs_dir.sync(parallel=1)
    assert "Invalid digest '' of blob 'bad-sha-blob.tgz' in config/blobs.yml" in str(raised.value)
    assert "No digest algorithm found" in str(raised.value)


def test_sync_collects_every_failure_of_parallel_downloads(
    release_dir: Path, blobs_dir: BlobsDir, store: LocalBlobstore, uploaded: dict[str, bytes]
) -> None:
    for entry in blobs_dir.blobs():
        assert entry.object_id is not None
        store.delete(entry.object_id)
    with pytest.raises(BoshError) as raised:
        blobs_dir.sync(parallel=3)
    assert str(raised.value).count("not found in the local blobstore") == 3


def test_sync_with_a_missing_blobstore_config_needs_it_only_to_download(
    release_dir: Path, uploaded: dict[str, bytes]
) -> None:
    (release_dir / "config" / "final.yml").write_text("name: r\n")
    with pytest.raises(ConfigError, match=r"Expected non-empty 'blobstore\.provider'"):
        BlobsDir(release_dir).sync(parallel=2)


# --- the whole cycle against a real S3 API -------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_server() as endpoint:
        yield endpoint


def test_add_upload_and_sync_through_s3_with_credentials_in_private_yml(
    release_dir: Path, reporter: Recorder, tmp_path: Path, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    options = s3_options(s3_endpoint, bucket)
    config = release_dir / "config"
    (config / "final.yml").write_text(
        "name: r\nblobstore:\n  provider: s3\n  options:\n"
        f"    bucket_name: {bucket}\n    host: {options['host']}\n    port: {options['port']}\n"
        "    use_ssl: false\n"
    )
    (config / "private.yml").write_text(
        "blobstore:\n  options:\n"
        f"    access_key_id: {options['access_key_id']}\n"
        f"    secret_access_key: {options['secret_access_key']}\n"
    )
    data = bytes(range(256)) * 4096
    blobs = BlobsDir(release_dir, reporter=reporter)
    blobs.track(source_file(tmp_path, "big", data), "java/jdk.tar.gz")
    blobs.upload()
    shutil.rmtree(release_dir / "blobs")

    BlobsDir(release_dir, reporter=reporter).sync(parallel=2)

    assert (release_dir / "blobs" / "java" / "jdk.tar.gz").read_bytes() == data
    (entry,) = blobs.blobs()
    assert entry.object_id is not None
