"""blobs, add-blob, remove-blob, upload-blobs and sync-blobs, run as a user runs them.

The release blobstore is the local provider (a directory), so uploads and downloads
are real; outputs are checked against the reference CLI's wording (cmd/blobs.go,
cmd/add_blob.go, ui/blobs_reporter.go).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from bosh_cli.reporters import human_bytes
from tests.cli.conftest import RunBosh

HELLO = b"hello"
BIG = bytes(range(256)) * 4823  # 1,234,688 bytes: "1.2 MiB" in the table, "1.2 MB" in transfers
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def blobstore(tmp_path: Path) -> Path:
    return tmp_path / "blobstore"


@pytest.fixture
def release(tmp_path: Path, bosh: RunBosh, blobstore: Path) -> Path:
    """A git release whose config/final.yml names a local blobstore."""
    directory = tmp_path / "kafka-release"
    assert bosh("init-release", "--git", "--dir", directory).exit_code == 0
    (directory / "config" / "final.yml").write_text(
        f"name: kafka\nblobstore:\n  provider: local\n  options:\n    blobstore_path: {blobstore}\n"
    )
    return directory


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    """Files to add as blobs."""
    directory = tmp_path / "downloads"
    directory.mkdir()
    (directory / "hello.txt").write_bytes(HELLO)
    (directory / "big.bin").write_bytes(BIG)
    return directory


@pytest.fixture
def with_blobs(release: Path, downloads: Path, bosh: RunBosh) -> Path:
    for source, path in (("hello.txt", "docs/hello.txt"), ("big.bin", "big.bin")):
        result = bosh("add-blob", downloads / source, path, "--dir", release)
        assert result.exit_code == 0, result.stderr
    return release


def blob_ids(release: Path) -> dict[str, str]:
    """Path -> object_id of every uploaded blob, read with the test's own YAML parser."""
    index = yaml.safe_load((release / "config" / "blobs.yml").read_text())
    return {path: entry["object_id"] for path, entry in index.items() if "object_id" in entry}


def table_rows(non_tty_output: str) -> dict[str, list[str]]:
    """First column -> the other cells of a table printed without a TTY."""
    rows = [line.split("\t") for line in non_tty_output.splitlines()]
    return {row[0].strip(): [cell.strip() for cell in row[1:-1]] for row in rows}


def git(release: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=release,
        check=True,
        capture_output=True,
    )


# -- blobs ----------------------------------------------------------------------------


def test_blobs_table_in_a_tty(with_blobs: Path, bosh: RunBosh) -> None:
    result = bosh("--tty", "blobs", "--dir", with_blobs)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Path            Size     Blobstore ID  Digest  \n"
        f"big.bin         1.2 MiB  (local)       {sha256(BIG)}  \n"
        f"docs/hello.txt  5 B      (local)       {sha256(HELLO)}  \n"
        "\n"
        "2 blobs\n"
        "\n"
        "Succeeded\n"
    )


def test_blobs_table_without_a_tty_is_tab_separated_data(with_blobs: Path, bosh: RunBosh) -> None:
    result = bosh("blobs", cwd=with_blobs)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"big.bin       \t1.2 MiB\t(local)\t{sha256(BIG)}\t\n"
        f"docs/hello.txt\t5 B    \t(local)\t{sha256(HELLO)}\t\n"
    )


def test_blobs_table_as_json(with_blobs: Path, bosh: RunBosh) -> None:
    result = bosh("--json", "blobs", "--dir", with_blobs)

    assert result.exit_code == 0, result.stderr
    header = {"blobstore_id": "Blobstore ID", "digest": "Digest", "path": "Path", "size": "Size"}
    assert json.loads(result.stdout) == {
        "Tables": [
            {
                "Content": "blobs",
                "Header": header,
                "Rows": [
                    {
                        "blobstore_id": "(local)",
                        "digest": sha256(BIG),
                        "path": "big.bin",
                        "size": "1.2 MiB",
                    },
                    {
                        "blobstore_id": "(local)",
                        "digest": sha256(HELLO),
                        "path": "docs/hello.txt",
                        "size": "5 B",
                    },
                ],
                "Notes": None,
            }
        ],
        "Blocks": None,
        "Lines": ["Succeeded"],
    }


def test_blobs_of_a_new_release(release: Path, bosh: RunBosh) -> None:
    result = bosh("--tty", "blobs", "--dir", release)

    assert result.stdout == "Path  Size  Blobstore ID  Digest  \n\n0 blobs\n\nSucceeded\n"


def test_blobs_without_a_blobs_index_says_how_to_make_one(tmp_path: Path, bosh: RunBosh) -> None:
    result = bosh("blobs", "--dir", tmp_path)

    assert result.exit_code == 1
    assert f"'{tmp_path / 'config' / 'blobs.yml'}' does not exist" in result.stderr
    assert "bosh init-release" in result.stderr


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ("a.tgz:\n  size: 1: 2\n  sha: sha256:aa\n", "line 2, column 10"),
        (
            "a.tgz:\n  size: 1\n  sha: sha256:aa\na.tgz:\n  size: 2\n",
            "line 4, column 1: duplicate key 'a.tgz' (first defined on line 1)",
        ),
        ("a.tgz:\n  size: big\n  sha: sha256:aa\n", "$['a.tgz'].size"),
        ("../outside.tgz:\n  size: 1\n  sha: sha256:aa\n", "Invalid blob path '../outside.tgz'"),
    ],
    ids=["syntax", "duplicate-key", "wrong-type", "unsafe-path"],
)
@pytest.mark.parametrize("command", ["blobs", "add-blob", "upload-blobs", "sync-blobs"])
def test_a_bad_blobs_index_is_one_clear_line(
    release: Path, downloads: Path, bosh: RunBosh, index: str, expected: str, command: str
) -> None:
    blobs_index = release / "config" / "blobs.yml"
    blobs_index.write_text(index)
    arguments = [downloads / "hello.txt", "hello.txt"] if command == "add-blob" else []

    result = bosh(command, *arguments, "--dir", release)

    assert result.exit_code == 1
    error, exit_line = result.stderr.splitlines()
    assert expected in error
    assert exit_line == "Exit code 1"
    assert blobs_index.read_text() == index


# -- add-blob -------------------------------------------------------------------------


def test_add_blob_copies_the_file_and_tracks_it(
    release: Path, downloads: Path, bosh: RunBosh
) -> None:
    result = bosh("--tty", "add-blob", downloads / "hello.txt", "docs/hello.txt", cwd=release)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "Added blob 'docs/hello.txt'\n\nSucceeded\n"
    assert (release / "blobs" / "docs" / "hello.txt").read_bytes() == HELLO
    assert (downloads / "hello.txt").read_bytes() == HELLO
    assert (release / "config" / "blobs.yml").read_text() == (
        f"docs/hello.txt:\n  size: 5\n  sha: {sha256(HELLO)}\n"
    )


def test_add_blob_again_replaces_the_entry_and_forgets_the_upload(
    with_blobs: Path, downloads: Path, bosh: RunBosh
) -> None:
    assert bosh("upload-blobs", "--dir", with_blobs).exit_code == 0
    assert set(blob_ids(with_blobs)) == {"big.bin", "docs/hello.txt"}

    result = bosh("add-blob", downloads / "big.bin", "docs/hello.txt", "--dir", with_blobs)

    assert result.exit_code == 0, result.stderr
    assert (with_blobs / "blobs" / "docs" / "hello.txt").read_bytes() == BIG
    assert set(blob_ids(with_blobs)) == {"big.bin"}
    assert table_rows(bosh("blobs", "--dir", with_blobs).stdout)["docs/hello.txt"] == [
        "1.2 MiB",
        "(local)",
        sha256(BIG),
    ]


def test_add_blob_of_a_missing_file(release: Path, tmp_path: Path, bosh: RunBosh) -> None:
    missing = tmp_path / "missing.tgz"

    result = bosh("add-blob", missing, "missing.tgz", "--dir", release)

    assert result.exit_code == 1
    assert result.stderr.startswith("Tracking blob: ")
    assert f"'{missing}': No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert (release / "config" / "blobs.yml").read_text() == "--- {}\n"


def test_add_blob_of_a_directory(release: Path, downloads: Path, bosh: RunBosh) -> None:
    result = bosh("add-blob", downloads, "downloads", "--dir", release)

    assert result.exit_code == 1
    assert f"'{downloads}': it is a directory" in result.stderr


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/escape.txt", "a/../../escape.txt"])
def test_add_blob_refuses_paths_outside_blobs(
    release: Path, downloads: Path, bosh: RunBosh, path: str
) -> None:
    result = bosh("add-blob", downloads / "hello.txt", path, "--dir", release)

    assert result.exit_code == 1
    assert result.stderr == (
        f"Tracking blob: Invalid blob path '{path}': must be a safe local path\nExit code 1\n"
    )
    assert not (release / "escape.txt").exists()


# -- remove-blob ----------------------------------------------------------------------


def test_remove_blob_deletes_the_copy_and_the_entry(with_blobs: Path, bosh: RunBosh) -> None:
    result = bosh("--tty", "remove-blob", "docs/hello.txt", "--dir", with_blobs)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "Removed blob 'docs/hello.txt'\n\nSucceeded\n"
    assert not (with_blobs / "blobs" / "docs" / "hello.txt").exists()
    assert (with_blobs / "blobs" / "big.bin").read_bytes() == BIG
    assert (with_blobs / "config" / "blobs.yml").read_text() == (
        f"big.bin:\n  size: {len(BIG)}\n  sha: {sha256(BIG)}\n"
    )


def test_remove_blob_of_an_untracked_path_succeeds_as_in_the_reference(
    with_blobs: Path, bosh: RunBosh
) -> None:
    index = (with_blobs / "config" / "blobs.yml").read_text()
    stray = with_blobs / "blobs" / "stray.txt"
    stray.write_text("not tracked")

    result = bosh("--tty", "remove-blob", "stray.txt", "--dir", with_blobs)

    assert (result.exit_code, result.stdout) == (0, "Removed blob 'stray.txt'\n\nSucceeded\n")
    assert not stray.exists()
    assert (with_blobs / "config" / "blobs.yml").read_text() == index


def test_remove_blob_refuses_paths_outside_blobs(
    with_blobs: Path, bosh: RunBosh, tmp_path: Path
) -> None:
    victim = with_blobs / "config" / "final.yml"

    result = bosh("remove-blob", "../config/final.yml", "--dir", with_blobs)

    assert result.exit_code == 1
    assert "Untracking blob: Invalid blob path '../config/final.yml'" in result.stderr
    assert victim.exists()


# -- upload-blobs ---------------------------------------------------------------------


def test_upload_blobs_puts_them_in_the_blobstore_and_records_their_ids(
    with_blobs: Path, blobstore: Path, bosh: RunBosh
) -> None:
    result = bosh("--tty", "upload-blobs", "--dir", with_blobs)

    assert (result.exit_code, result.stderr) == (0, "")
    ids = blob_ids(with_blobs)
    assert result.stdout == (
        f"Blob upload 'big.bin' (1.2 MB) (sha1: {sha256(BIG)}) started\n"
        f"Blob upload 'big.bin' (id: {ids['big.bin']}) finished\n"
        f"Blob upload 'docs/hello.txt' (5 B) (sha1: {sha256(HELLO)}) started\n"
        f"Blob upload 'docs/hello.txt' (id: {ids['docs/hello.txt']}) finished\n"
        "\n"
        "Succeeded\n"
    )
    assert all(UUID.fullmatch(blob_id) for blob_id in ids.values())
    assert (blobstore / ids["big.bin"]).read_bytes() == BIG
    assert (blobstore / ids["docs/hello.txt"]).read_bytes() == HELLO
    assert table_rows(bosh("blobs", "--dir", with_blobs).stdout) == {
        "big.bin": ["1.2 MiB", ids["big.bin"], sha256(BIG)],
        "docs/hello.txt": ["5 B", ids["docs/hello.txt"], sha256(HELLO)],
    }


def test_upload_blobs_skips_what_is_uploaded(
    with_blobs: Path, blobstore: Path, bosh: RunBosh
) -> None:
    assert bosh("upload-blobs", "--dir", with_blobs).exit_code == 0
    stored = sorted(blobstore.iterdir())

    result = bosh("--tty", "upload-blobs", "--dir", with_blobs)

    assert (result.exit_code, result.stdout) == (0, "Succeeded\n")
    assert sorted(blobstore.iterdir()) == stored


def test_upload_blobs_refuses_a_copy_that_does_not_match_the_index(
    with_blobs: Path, blobstore: Path, bosh: RunBosh
) -> None:
    (with_blobs / "blobs" / "big.bin").write_bytes(b"edited after add-blob")

    result = bosh("--tty", "upload-blobs", "--dir", with_blobs)

    assert result.exit_code == 1
    error, failure, exit_line = result.stderr.splitlines()
    assert error == "Blob upload 'big.bin' failed"
    assert failure.startswith("Uploading blobs: Creating blob for path 'big.bin': ")
    assert exit_line == "Exit code 1"
    assert blob_ids(with_blobs) == {}
    assert not blobstore.exists() or not any(blobstore.iterdir())


def test_upload_blobs_without_a_blobstore_says_what_to_configure(
    with_blobs: Path, bosh: RunBosh
) -> None:
    final = with_blobs / "config" / "final.yml"
    final.write_text("name: kafka\n")

    result = bosh("upload-blobs", "--dir", with_blobs)

    assert result.exit_code == 1
    assert f"Expected non-empty 'blobstore.provider' in config '{final}'" in result.stderr


# -- sync-blobs -----------------------------------------------------------------------


@pytest.fixture
def clone(with_blobs: Path, bosh: RunBosh, tmp_path: Path) -> Path:
    """A fresh git clone of the release after its blobs were uploaded: no blobs/ in it."""
    assert bosh("upload-blobs", "--dir", with_blobs).exit_code == 0
    git(with_blobs, "add", "--all")
    git(with_blobs, "commit", "--quiet", "--message", "blobs uploaded")
    target = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(with_blobs), str(target))
    assert not (target / "blobs").exists()
    return target


def test_sync_blobs_downloads_them_into_a_fresh_clone(clone: Path, bosh: RunBosh) -> None:
    result = bosh("--tty", "sync-blobs", "--dir", clone)

    assert (result.exit_code, result.stderr) == (0, "")
    assert (clone / "blobs" / "big.bin").read_bytes() == BIG
    assert (clone / "blobs" / "docs" / "hello.txt").read_bytes() == HELLO
    ids = blob_ids(clone)
    # Downloads run in parallel: each blob's lines are in order, the blobs in any order.
    lines = result.stdout.splitlines()
    assert lines[-2:] == ["", "Succeeded"]
    assert sorted(lines[:-2]) == sorted(
        [
            f"Blob download 'big.bin' (1.2 MB) (id: {ids['big.bin']} sha1: {sha256(BIG)}) started",
            f"Blob download 'big.bin' (id: {ids['big.bin']}) finished",
            f"Blob download 'docs/hello.txt' (5 B) (id: {ids['docs/hello.txt']}"
            f" sha1: {sha256(HELLO)}) started",
            f"Blob download 'docs/hello.txt' (id: {ids['docs/hello.txt']}) finished",
        ]
    )
    for path in ids:
        assert lines.index(f"Blob download '{path}' (id: {ids[path]}) finished") > next(
            index
            for index, line in enumerate(lines)
            if line.startswith(f"Blob download '{path}' (")
        )


def test_sync_blobs_with_one_worker_prints_in_order(clone: Path, bosh: RunBosh) -> None:
    ids = blob_ids(clone)

    result = bosh("--tty", "--parallel", "1", "sync-blobs", "--dir", clone)

    assert result.stdout == (
        f"Blob download 'big.bin' (1.2 MB) (id: {ids['big.bin']} sha1: {sha256(BIG)}) started\n"
        f"Blob download 'big.bin' (id: {ids['big.bin']}) finished\n"
        f"Blob download 'docs/hello.txt' (5 B) (id: {ids['docs/hello.txt']}"
        f" sha1: {sha256(HELLO)}) started\n"
        f"Blob download 'docs/hello.txt' (id: {ids['docs/hello.txt']}) finished\n"
        "\n"
        "Succeeded\n"
    )


def test_sync_blobs_again_downloads_nothing(clone: Path, bosh: RunBosh) -> None:
    assert bosh("sync-blobs", "--dir", clone).exit_code == 0

    result = bosh("--tty", "sync-blobs", "--dir", clone)

    assert (result.exit_code, result.stdout) == (0, "Succeeded\n")


def test_sync_blobs_replaces_a_changed_copy_and_deletes_untracked_files(
    clone: Path, bosh: RunBosh
) -> None:
    assert bosh("sync-blobs", "--dir", clone).exit_code == 0
    (clone / "blobs" / "docs" / "hello.txt").write_bytes(b"changed")
    (clone / "blobs" / "not-tracked.tgz").write_bytes(b"stray")
    ids = blob_ids(clone)

    result = bosh("--tty", "sync-blobs", "--dir", clone)

    assert result.stdout == (
        f"Blob download 'docs/hello.txt' (5 B) (id: {ids['docs/hello.txt']}"
        f" sha1: {sha256(HELLO)}) started\n"
        f"Blob download 'docs/hello.txt' (id: {ids['docs/hello.txt']}) finished\n"
        "\n"
        "Succeeded\n"
    )
    assert (clone / "blobs" / "docs" / "hello.txt").read_bytes() == HELLO
    assert not (clone / "blobs" / "not-tracked.tgz").exists()


def test_sync_blobs_when_the_blobstore_lost_a_blob(
    clone: Path, blobstore: Path, bosh: RunBosh
) -> None:
    ids = blob_ids(clone)
    (blobstore / ids["big.bin"]).unlink()

    result = bosh("--tty", "sync-blobs", "--dir", clone)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Blob download 'big.bin' (id: {ids['big.bin']}) failed",
        f"Downloading blobs: Getting blob '{ids['big.bin']}' for path 'big.bin':"
        f" Blob '{ids['big.bin']}' not found in the local blobstore '{blobstore}'",
        "Exit code 1",
    ]
    assert not (clone / "blobs" / "big.bin").exists()
    assert (clone / "blobs" / "docs" / "hello.txt").read_bytes() == HELLO


def test_sync_blobs_refuses_symlinks_in_blobs(clone: Path, bosh: RunBosh, tmp_path: Path) -> None:
    (clone / "blobs").mkdir()
    (clone / "blobs" / "big.bin").symlink_to(tmp_path / "elsewhere")

    result = bosh("sync-blobs", "--dir", clone)

    assert result.exit_code == 1
    assert "symlinks found in blobs directory" in result.stderr
    assert "reset-release" in result.stderr


# -- sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "decimal", "binary"),
    [
        (0, "0 B", "0 B"),
        (9, "9 B", "9 B"),
        (999, "999 B", "999 B"),
        (1000, "1.0 kB", "1000 B"),
        (1024, "1.0 kB", "1.0 KiB"),
        (1536, "1.5 kB", "1.5 KiB"),
        (999_999, "1000 kB", "977 KiB"),
        (82_854_982, "83 MB", "79 MiB"),
    ],
)
def test_sizes_are_written_as_go_humanize_writes_them(size: int, decimal: str, binary: str) -> None:
    assert human_bytes(size, binary=False) == decimal
    assert human_bytes(size, binary=True) == binary
