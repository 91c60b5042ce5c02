"""inspect-local-release (inspect-release needs a director and comes with it)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.release_tables import print_release_tables
from bosh_core.release.tarball import read_release_tarball

__all__ = ["COMMANDS"]


@click.command("inspect-local-release", short_help="Display information from release metadata")
@click.argument("path", metavar="PATH-TO-RELEASE")
@pass_cli
def inspect_local_release(cli: CLIContext, path: str) -> None:
    """Show a release tarball's name, version, jobs and packages, after verifying it.

    Every member's digest is checked against release.MF and unsafe members are refused.
    """
    with tempfile.TemporaryDirectory(prefix="bosh-inspect-") as scratch:
        archive = read_release_tarball(Path(path).expanduser(), into=Path(scratch))
    # The reference prints the path as it was given.
    print_release_tables(cli.ui, archive.manifest, archive=path)


COMMANDS = [inspect_local_release]
