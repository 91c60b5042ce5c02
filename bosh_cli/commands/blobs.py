"""blobs, add-blob, remove-blob, sync-blobs and upload-blobs."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.options import release_dir_option
from bosh_cli.ui import UI, Table
from bosh_core.errors import BoshError
from bosh_core.release.blobs import BlobsDir

__all__ = ["COMMANDS", "BlobsLines", "human_bytes"]


def human_bytes(size: int, *, binary: bool) -> str:
    """A size as go-humanize writes it: ``Bytes`` (kB, 1000) or ``IBytes`` (KiB, 1024).

    The reference uses both: IBytes in the ``blobs`` table, Bytes in transfer lines.
    """
    if size < 10:
        return f"{size} B"
    base = 1024 if binary else 1000
    units = (
        ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
        if binary
        else ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    )
    exponent = math.floor(math.log(size) / math.log(base))
    value = math.floor(size / base**exponent * 10 + 0.5) / 10
    return f"{value:.1f} {units[exponent]}" if value < 10 else f"{value:.0f} {units[exponent]}"


class BlobsLines:
    """Reports blob transfers with the reference CLI's wording."""

    def __init__(self, ui: UI) -> None:
        self._ui = ui

    def blob_download_started(self, path: str, *, size: int, blob_id: str, digest: str) -> None:
        self._ui.begin_line(
            f"Blob download '{path}' ({human_bytes(size, binary=False)})"
            f" (id: {blob_id} sha1: {digest}) started\n"
        )

    def blob_download_finished(
        self, path: str, *, blob_id: str, error: BaseException | None
    ) -> None:
        if error is not None:
            self._ui.error_line(f"Blob download '{path}' (id: {blob_id}) failed")
        else:
            self._ui.begin_line(f"Blob download '{path}' (id: {blob_id}) finished\n")

    def blob_upload_started(self, path: str, *, size: int, digest: str) -> None:
        self._ui.begin_line(
            f"Blob upload '{path}' ({human_bytes(size, binary=False)}) (sha1: {digest}) started\n"
        )

    def blob_upload_finished(self, path: str, *, blob_id: str, error: BaseException | None) -> None:
        if error is not None:
            self._ui.error_line(f"Blob upload '{path}' failed")
        else:
            self._ui.begin_line(f"Blob upload '{path}' (id: {blob_id}) finished\n")


def _blobs_dir(cli: CLIContext, directory: str) -> BlobsDir:
    return BlobsDir(Path(directory).expanduser().absolute(), reporter=BlobsLines(cli.ui))


@contextlib.contextmanager
def _failing_as(context: str) -> Iterator[None]:
    """Put the reference's context (``Tracking blob: ...``) in front of a failure."""
    try:
        yield
    except BoshError as exc:
        raise BoshError(f"{context}: {exc}") from exc


@click.command("blobs", short_help="List blobs")
@release_dir_option
@pass_cli
def blobs(cli: CLIContext, directory: str) -> None:
    """List the blobs of config/blobs.yml."""
    rows = [
        [
            entry.path,
            human_bytes(entry.size, binary=True),
            entry.object_id or "(local)",
            entry.sha,
        ]
        for entry in _blobs_dir(cli, directory).blobs()
    ]
    cli.ui.print_table(
        Table(header=["Path", "Size", "Blobstore ID", "Digest"], rows=rows, content="blobs")
    )


@click.command("add-blob", short_help="Add blob")
@click.argument("path", metavar="PATH")
@click.argument("blobs_path", metavar="BLOBS-PATH")
@release_dir_option
@pass_cli
def add_blob(cli: CLIContext, path: str, blobs_path: str, directory: str) -> None:
    """Copy a file into blobs/ and track it in config/blobs.yml."""
    with _failing_as("Tracking blob"):
        entry = _blobs_dir(cli, directory).track(Path(path).expanduser(), blobs_path)
    cli.ui.print_line(f"Added blob '{entry.path}'")


@click.command("remove-blob", short_help="Remove blob")
@click.argument("blobs_path", metavar="BLOBS-PATH")
@release_dir_option
@pass_cli
def remove_blob(cli: CLIContext, blobs_path: str, directory: str) -> None:
    """Stop tracking a blob and delete its local copy."""
    with _failing_as("Untracking blob"):
        _blobs_dir(cli, directory).untrack(blobs_path)
    cli.ui.print_line(f"Removed blob '{blobs_path}'")


@click.command("sync-blobs", short_help="Sync blobs")
@release_dir_option
@pass_cli
def sync_blobs(cli: CLIContext, directory: str) -> None:
    """Download the blobs that blobs/ lacks (or holds with other bytes)."""
    with _failing_as("Downloading blobs"):
        _blobs_dir(cli, directory).sync(parallel=cli.options.parallel)


@click.command("upload-blobs", short_help="Upload blobs")
@release_dir_option
@pass_cli
def upload_blobs(cli: CLIContext, directory: str) -> None:
    """Upload the blobs that have no blobstore id yet."""
    with _failing_as("Uploading blobs"):
        _blobs_dir(cli, directory).upload()


COMMANDS = [blobs, add_blob, remove_blob, sync_blobs, upload_blobs]
