"""blobs, add-blob, remove-blob, sync-blobs and upload-blobs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.options import release_dir_option
from bosh_cli.reporters import BlobsLines, human_bytes
from bosh_cli.ui import Table
from bosh_core.errors import BoshError
from bosh_core.release.blobs import BlobsDir

__all__ = ["COMMANDS"]


def _blobs_dir(cli: CLIContext, directory: Path) -> BlobsDir:
    return BlobsDir(directory, reporter=BlobsLines(cli.ui))


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
def blobs(cli: CLIContext, directory: Path) -> None:
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
def add_blob(cli: CLIContext, path: str, blobs_path: str, directory: Path) -> None:
    """Copy a file into blobs/ and track it in config/blobs.yml."""
    with _failing_as("Tracking blob"):
        entry = _blobs_dir(cli, directory).track(Path(path).expanduser(), blobs_path)
    cli.ui.print_line(f"Added blob '{entry.path}'")


@click.command("remove-blob", short_help="Remove blob")
@click.argument("blobs_path", metavar="BLOBS-PATH")
@release_dir_option
@pass_cli
def remove_blob(cli: CLIContext, blobs_path: str, directory: Path) -> None:
    """Stop tracking a blob and delete its local copy."""
    with _failing_as("Untracking blob"):
        _blobs_dir(cli, directory).untrack(blobs_path)
    cli.ui.print_line(f"Removed blob '{blobs_path}'")


@click.command("sync-blobs", short_help="Sync blobs")
@release_dir_option
@pass_cli
def sync_blobs(cli: CLIContext, directory: Path) -> None:
    """Download the blobs that blobs/ lacks (or holds with other bytes)."""
    with _failing_as("Downloading blobs"):
        _blobs_dir(cli, directory).sync(parallel=cli.options.parallel)


@click.command("upload-blobs", short_help="Upload blobs")
@release_dir_option
@pass_cli
def upload_blobs(cli: CLIContext, directory: Path) -> None:
    """Upload the blobs that have no blobstore id yet."""
    with _failing_as("Uploading blobs"):
        _blobs_dir(cli, directory).upload()


COMMANDS = [blobs, add_blob, remove_blob, sync_blobs, upload_blobs]
