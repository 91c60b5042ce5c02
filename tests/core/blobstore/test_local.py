from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.errors import BlobNotFoundError, BlobstoreError


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobstore:
    return LocalBlobstore(tmp_path / "store" / "nested")


def test_put_then_get_round_trips_and_ids_are_uuids(store: LocalBlobstore, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"\x00blob bytes\xff" * 1000)

    blob_id = store.put(source)
    other_id = store.put(source)

    assert uuid.UUID(blob_id).version == 4
    assert blob_id != other_id
    assert (store.path / blob_id).read_bytes() == source.read_bytes()
    destination = tmp_path / "out" / "copy.bin"
    store.get(blob_id, destination)
    assert destination.read_bytes() == source.read_bytes()


def test_store_directory_is_created_group_writable(store: LocalBlobstore, tmp_path: Path) -> None:
    # The reference shares a local store with the team: rwx for owner and group.
    source = tmp_path / "source"
    source.write_text("x")
    umask = os.umask(0)
    os.umask(umask)
    store.put(source)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o770 & ~umask


def test_get_of_missing_blob_raises_not_found_and_writes_nothing(
    store: LocalBlobstore, tmp_path: Path
) -> None:
    destination = tmp_path / "out" / "file"
    with pytest.raises(BlobNotFoundError, match=r"Blob 'nope' not found in the local blobstore"):
        store.get("nope", destination)
    assert list(destination.parent.iterdir()) == []  # no partial file, no temporary left


def test_get_replaces_an_existing_destination(store: LocalBlobstore, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_text("new")
    destination = tmp_path / "destination"
    destination.write_text("old content")
    store.get(store.put(source), destination)
    assert destination.read_text() == "new"


def test_exists_and_idempotent_delete(store: LocalBlobstore, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_text("x")
    blob_id = store.put(source)
    assert store.exists(blob_id)
    store.delete(blob_id)
    assert not store.exists(blob_id)
    store.delete(blob_id)  # a second delete is not an error
    store.delete("never-existed")


@pytest.mark.parametrize("blob_id", ["../escape", "a/b", "..", "", "."])
def test_ids_that_would_leave_the_store_are_refused(
    store: LocalBlobstore, tmp_path: Path, blob_id: str
) -> None:
    with pytest.raises(BlobstoreError, match="Invalid blob id"):
        store.get(blob_id, tmp_path / "out")
    with pytest.raises(BlobstoreError, match="Invalid blob id"):
        store.delete(blob_id)


def test_put_of_missing_source_says_what_failed(store: LocalBlobstore, tmp_path: Path) -> None:
    with pytest.raises(BlobstoreError, match=r"Cannot store '.*missing' in the local blobstore"):
        store.put(tmp_path / "missing")
    assert list(store.path.iterdir()) == []
