"""Command options shared by several commands, spelled as the reference spells them."""

from __future__ import annotations

import click

__all__ = ["release_dir_option"]

release_dir_option = click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    help="Release directory path if not current working directory",
)
