"""What every command receives: the configured UI and the global options."""

from __future__ import annotations

import attrs
import click

from bosh_cli.ui import UI

__all__ = ["CLIContext", "GlobalOptions", "pass_cli"]


@attrs.frozen
class GlobalOptions:
    """The reference CLI's global options, after flags and BOSH_* variables are merged."""

    environment: str | None = None
    ca_cert: str | None = None
    client: str | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)
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


@attrs.frozen
class CLIContext:
    ui: UI
    options: GlobalOptions


pass_cli = click.make_pass_decorator(CLIContext)
"""Decorates a command so that it receives the :class:`CLIContext` as first argument."""
