"""Command options shared by several commands, spelled as the reference spells them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["OptionalValueOption", "absolute_path", "release_dir_option"]


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


class OptionalValueOption(click.Option):
    """An option whose value may be left out, as go-flags' ``optional:"true"`` options.

    Alone (``--recent``, ``-r``, ``-ar``) it is ``optional_value``, go-flags'
    ``optional-value``; without one it is empty, as in go-flags: ``""``, or for a
    ``multiple`` option no values (those given before it dropped). A value comes only
    after ``=`` or against its letter (``--recent=5``, ``-r5``), never from the next
    argument: ``tasks -r 5`` is ``-r`` and an extra argument ``5``.

    ``bosh_cli.main`` reads the command line so, knowing these options by this class, and
    always gives click the value: to click this is an option that takes a value.
    """

    def __init__(
        self,
        param_decls: Sequence[str] | None = None,
        *,
        optional_value: str | int | None = None,
        **attrs: Any,
    ) -> None:
        super().__init__(param_decls, **attrs)
        self.optional_value = optional_value
