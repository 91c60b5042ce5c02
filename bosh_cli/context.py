"""What every command receives: the configured UI and the global options."""

from __future__ import annotations

from typing import NamedTuple

import click

from bosh_cli.ui import UI

__all__ = ["CLIContext", "GlobalOptions", "pass_cli"]


class GlobalOptions(NamedTuple):
    """The reference CLI's global options, after flags and BOSH_* variables are merged.

    NamedTuples here and in :class:`CLIContext`: built on every start, and attrs classes
    cost a compile each (start-up time of ``bosh int`` in scripts).
    """

    environment: str | None = None
    ca_cert: str | None = None
    client: str | None = None
    client_secret: str | None = None
    deployment: str | None = None
    config: str = "~/.bosh/config"
    json: bool = False
    tty: bool = False
    no_color: bool = False
    non_interactive: bool = False
    columns: tuple[str, ...] = ()
    sha2: bool = False
    parallel: int = 5
    debug: bool = False

    def __repr__(self) -> str:
        fields = self._asdict()
        if fields["client_secret"] is not None:
            fields["client_secret"] = "<redacted>"
        return "GlobalOptions(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


class CLIContext(NamedTuple):
    ui: UI
    options: GlobalOptions


pass_cli = click.make_pass_decorator(CLIContext)
"""Decorates a command so that it receives the :class:`CLIContext` as first argument."""
