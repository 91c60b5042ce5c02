"""Command options shared by several commands, spelled as the reference spells them."""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["absolute_path", "release_dir_option"]


def absolute_path(_ctx: click.Context, _param: click.Parameter, value: str) -> Path:
    """Click callback: the value as an absolute path, ``~`` expanded and ``..`` collapsed."""
    # '..' collapsed as the reference's filepath.Abs does (else a release could be named
    # '..'); symlinks kept, unlike Path.resolve().
    return Path(os.path.normpath(Path(value).expanduser().absolute()))


release_dir_option = click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    callback=absolute_path,
    help="Release directory path if not current working directory",
)
