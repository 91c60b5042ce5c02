"""get_verified over the local and dav blobstores: a blob comes back only if it matches
the digest recorded for it; a corrupt one raises, naming the blob and both digests, and
leaves no file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from bosh_core.blobstore import Blobstore
from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.blobstore.verified import BlobDigestMismatchError, get_verified
from bosh_core.digest import Digest, MultipleDigest
from bosh_core.errors import BlobNotFoundError, BlobstoreError, DigestMismatchError
from tests.core.blobstore.conftest import Served

CONTENT = b"\x00package archive\xff" * 10_000
SHA1 = hashlib.sha1(CONTENT).hexdigest()
SHA256 = hashlib.sha256(CONTENT).hexdigest()


@attrs.frozen
class Store:
    blobstore: Blobstore
    stored: Callable[[str], Path]  # where the blob with this id lies on disk


@pytest.fixture(params=["local", "dav"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        local = LocalBlobstore(tmp_path / "blobstore")
        return Store(local, lambda blob_id: local.path / blob_id)
    served: Served = request.getfixturevalue("served")
    return Store(served.store(), lambda blob_id: served.root / blob_id)


@pytest.fixture
def blob_id(store: Store, tmp_path: Path) -> str:
    source = tmp_path / "source.tgz"
    source.write_bytes(CONTENT)
    return store.blobstore.put(source)


def corrupt(store: Store, blob_id: str) -> None:
    path = store.stored(blob_id)
    path.write_bytes(b"X" + path.read_bytes()[1:])


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


@pytest.mark.parametrize(
    "digest",
    [
        SHA1,
        f"sha256:{SHA256}",
        f"sha256:{SHA256};{SHA1}",
        MultipleDigest((Digest("sha256", SHA256),)),
    ],
    ids=["bare-sha1", "sha256", "multiple", "MultipleDigest"],
)
def test_a_matching_blob_is_written(
    store: Store, blob_id: str, tmp_path: Path, digest: str | MultipleDigest
) -> None:
    destination = tmp_path / "out" / "copy.tgz"

    get_verified(store.blobstore, blob_id=blob_id, destination=destination, digest=digest)

    assert destination.read_bytes() == CONTENT
    assert leftovers(destination.parent) == ["copy.tgz"]


def test_a_corrupt_blob_raises_naming_blob_and_digests_and_leaves_no_file(
    store: Store, blob_id: str, tmp_path: Path
) -> None:
    corrupt(store, blob_id)
    actual = hashlib.sha256(store.stored(blob_id).read_bytes()).hexdigest()
    destination = tmp_path / "out" / "copy.tgz"

    with pytest.raises(BlobDigestMismatchError) as failure:
        get_verified(
            store.blobstore,
            blob_id=blob_id,
            destination=destination,
            digest=f"sha256:{SHA256};{SHA1}",
            what="package 'runtime/1a2b'",
            remedy="upload the release again",
        )

    assert str(failure.value) == (
        f"The blob '{blob_id}' (package 'runtime/1a2b') does not match its recorded digest:"
        f" expected 'sha256:{SHA256}' but the blobstore returned 'sha256:{actual}'."
        " The stored blob is corrupt or was replaced; upload the release again"
    )
    assert isinstance(failure.value, BlobstoreError)
    assert isinstance(failure.value, DigestMismatchError)
    assert leftovers(destination.parent) == []


def test_the_default_remedy_points_at_upload_release_fix(
    store: Store, blob_id: str, tmp_path: Path
) -> None:
    corrupt(store, blob_id)

    with pytest.raises(BlobDigestMismatchError, match=r"'bosh upload-release --fix'\)$"):
        get_verified(store.blobstore, blob_id=blob_id, destination=tmp_path / "copy", digest=SHA1)


def test_a_failed_check_leaves_an_existing_destination_as_it_was(
    store: Store, blob_id: str, tmp_path: Path
) -> None:
    corrupt(store, blob_id)
    destination = tmp_path / "out" / "copy.tgz"
    destination.parent.mkdir()
    destination.write_bytes(b"previous")

    with pytest.raises(BlobDigestMismatchError):
        get_verified(store.blobstore, blob_id=blob_id, destination=destination, digest=SHA1)

    assert destination.read_bytes() == b"previous"
    assert leftovers(destination.parent) == ["copy.tgz"]


def test_the_strongest_algorithm_is_the_one_checked(
    store: Store, blob_id: str, tmp_path: Path
) -> None:
    wrong_sha256 = "0" * 64
    destination = tmp_path / "copy.tgz"

    with pytest.raises(BlobDigestMismatchError, match=f"expected 'sha256:{wrong_sha256}'"):
        get_verified(
            store.blobstore,
            blob_id=blob_id,
            destination=destination,
            digest=f"sha256:{wrong_sha256};{SHA1}",  # the sha1 matches, the sha256 not
        )
    assert not destination.exists()


def test_without_a_digest_the_blob_is_fetched_unchecked(
    store: Store, blob_id: str, tmp_path: Path
) -> None:
    corrupt(store, blob_id)
    destination = tmp_path / "copy.tgz"

    get_verified(store.blobstore, blob_id=blob_id, destination=destination, digest=None)

    assert destination.read_bytes() == store.stored(blob_id).read_bytes()


def test_a_malformed_recorded_digest_names_the_blob(
    store: Store, blob_id: str, tmp_path: Path
) -> None:
    destination = tmp_path / "copy.tgz"

    with pytest.raises(BlobstoreError) as failure:
        get_verified(store.blobstore, blob_id=blob_id, destination=destination, digest="abc")

    assert not isinstance(failure.value, BlobDigestMismatchError)
    assert str(failure.value) == (
        f"Cannot verify blob '{blob_id}': its recorded digest is malformed:"
        " Malformed sha1 digest 'abc' in 'abc'"
    )
    assert not destination.exists()


def test_a_missing_blob_is_not_found_and_leaves_no_file(store: Store, tmp_path: Path) -> None:
    destination = tmp_path / "out" / "copy.tgz"

    with pytest.raises(BlobNotFoundError):
        get_verified(store.blobstore, blob_id="nope", destination=destination, digest=SHA1)

    assert leftovers(destination.parent) == []


class _Unstaged(LocalBlobstore):
    """A blobstore whose get writes straight into the destination, staging nothing."""

    def get(self, blob_id: str, destination: Path) -> None:
        destination.write_bytes((self.path / blob_id).read_bytes())


def test_a_corrupt_blob_never_appears_under_the_destination_even_unstaged(
    tmp_path: Path,
) -> None:
    unstaged = _Unstaged(tmp_path / "blobstore")
    source = tmp_path / "source.tgz"
    source.write_bytes(CONTENT)
    blob_id = unstaged.put(source)
    (unstaged.path / blob_id).write_bytes(b"corrupt")
    destination = tmp_path / "out" / "copy.tgz"

    with pytest.raises(BlobDigestMismatchError, match=f"The blob '{blob_id}'"):
        get_verified(unstaged, blob_id=blob_id, destination=destination, digest=SHA1)

    assert leftovers(destination.parent) == []
