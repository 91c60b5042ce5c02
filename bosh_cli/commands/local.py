"""``bosh local up|env|down|delete``: an embedded local BOSH under one directory.

``up`` brings it up (or reuses it) and provisions it, printing progress as it goes;
``env`` prints the ``export`` lines that make ``eval "$(bosh local env)"`` target it;
``down`` stops its processes; ``delete`` also removes its VMs, disks and directory.
The directory is ``--dir``, else $BOSH_LOCAL_DIR, else ``~/.bosh/local``. The first
``up`` may put the director on PostgreSQL (``--database``) and a Redis task queue
(``--queue``); the environment keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_core.local import LocalEnvironment

__all__ = ["COMMANDS"]

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _dir_option(command: _Command) -> _Command:
    return click.option(
        "--dir",
        "directory",
        envvar="BOSH_LOCAL_DIR",
        default="~/.bosh/local",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Directory holding the local environment's state",
    )(command)


def _environment(
    cli: CLIContext, directory: Path, *, database: str | None = None, queue: str | None = None
) -> LocalEnvironment:
    # Progress goes out raw (not as tty-only lines): scripts and CI logs show it too.
    return LocalEnvironment(
        directory.expanduser(),
        progress=lambda line: cli.ui.print_block(f"{line}\n"),
        database=database,
        queue=queue,
    )


@click.group("local", short_help="Manage an embedded local BOSH")
def local() -> None:
    """An embedded local BOSH (director, NATS, registry, local CPI) under one directory."""


@local.command("up")
@_dir_option
@click.option(
    "--database",
    metavar="URL",
    help="The director's database for a new environment, an SQLAlchemy URL such as"
    " postgresql+psycopg://USER:PASSWORD@HOST:5432/DBNAME (an empty database of its own)."
    " Default: SQLite under --dir. Kept: later ups reuse it and refuse another one",
)
@click.option(
    "--queue",
    metavar="URL",
    help="The director's task queue for a new environment, a Redis URL with a database"
    " number no other director uses, such as redis://HOST:6379/5 (directors sharing one"
    " take each other's tasks). Default: the queue table in the director's database. Kept"
    " like --database",
)
@pass_cli
def up(cli: CLIContext, directory: Path, database: str | None, queue: str | None) -> None:
    """Bring the local environment up (reusing what runs), upload the local stemcell and
    the sample release, set a cloud-config, and print how to target it.

    The first up chooses the director's database and task queue; to change them, run
    'bosh local delete' and up again."""
    target = _environment(cli, directory, database=database, queue=queue).up()
    cli.ui.print_block(
        f"\nTarget it with:\n  eval \"$(bosh local env --dir '{directory}')\"\n"
        f"  bosh env   # {target.environment}\n"
    )


@local.command("env")
@_dir_option
@pass_cli
def env(cli: CLIContext, directory: Path) -> None:
    """Print export lines for BOSH_ENVIRONMENT, BOSH_CA_CERT, BOSH_CLIENT and
    BOSH_CLIENT_SECRET: eval "$(bosh local env)"."""
    cli.ui.print_block(_environment(cli, directory).env().exports())


@local.command("down")
@_dir_option
@pass_cli
def down(cli: CLIContext, directory: Path) -> None:
    """Stop every process the local environment started (VMs and state stay)."""
    _environment(cli, directory).down()


@local.command("delete")
@_dir_option
@pass_cli
def delete(cli: CLIContext, directory: Path) -> None:
    """Stop the local environment, delete its VMs and disks, and remove its directory.

    A PostgreSQL database given to 'up --database' is left as it is (tables and all): drop
    it yourself, or give the next up an empty one. The Redis queue is left too."""
    _environment(cli, directory).delete()


COMMANDS = [local]
