"""init-release, reset-release, generate-job and generate-package.

Like the reference CLI, these print nothing of their own: the layout they write is the
result, and the root command reports success or the one-line error.
"""

from __future__ import annotations

from pathlib import Path

import click

from bosh_cli.options import release_dir_option
from bosh_core.release import generate

__all__ = ["COMMANDS"]


@click.command("init-release", short_help="Initialize release")
@release_dir_option
@click.option("--git", is_flag=True, help="Initialize git repository")
def init_release(directory: Path, git: bool) -> None:
    """Lay out a release directory (created if missing): jobs/, packages/, src/,
    config/final.yml naming the release after the directory (less a '-release' suffix)
    and an empty config/blobs.yml. With --git, also 'git init' it and write the release
    .gitignore. Running it again on a release only renames the release.
    """
    generate.init_release(directory, git=git)


@click.command("reset-release", short_help="Reset release")
@release_dir_option
def reset_release(directory: Path) -> None:
    """Remove dev builds (.dev_builds/), dev releases (dev_releases/) and the local blob
    copies (blobs/, .blobs/). Final builds and config/ stay; 'bosh sync-blobs' brings the
    blobs back.
    """
    generate.reset_release(directory)


@click.command("generate-job", short_help="Generate job")
@click.argument("name", metavar="NAME")
@release_dir_option
def generate_job(name: str, directory: Path) -> None:
    """Make jobs/NAME with an empty spec, an empty monit file and templates/."""
    generate.generate_job(directory, name)


@click.command("generate-package", short_help="Generate package")
@click.argument("name", metavar="NAME")
@release_dir_option
def generate_package(name: str, directory: Path) -> None:
    """Make packages/NAME with an empty spec and a packaging script that stops at the
    first failing command (set -e).
    """
    generate.generate_package(directory, name)


COMMANDS = [init_release, reset_release, generate_job, generate_package]
