"""delete-release, delete-stemcell and delete-deployment: each asks ``Continue? [yN]``
(``-n`` skips it), then follows the director's task. Deleting what is not there
succeeds, as with the reference: a release says so, a stemcell or deployment is quiet."""

from __future__ import annotations

import click

from bosh_cli.commands.director import track_task
from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.session import open_director
from bosh_core.errors import BoshError

__all__ = ["COMMANDS"]

_FORCE_HELP = "Ignore errors"


def _slug(text: str, *, what: str, version_required: bool) -> tuple[str, str]:
    name, _, version = text.partition("/")
    if not name or (version_required and not version):
        form = "NAME/VERSION" if version_required else "NAME[/VERSION]"
        raise BoshError(f"Expected {what} '{text}' to be in format '{form}'")
    return name, version


@click.command("delete-release", short_help="Delete release")
@click.argument("slug", metavar="NAME[/VERSION]")
@click.option("--force", is_flag=True, help=_FORCE_HELP)
@pass_cli
def delete_release(cli: CLIContext, slug: str, force: bool) -> None:
    name, version = _slug(slug, what="release", version_required=False)
    with open_director(cli) as director:
        cli.ui.ask_for_confirmation()
        found = [release for release in director.releases() if release.name == name]
        if not any(not version or release.version == version for release in found):
            cli.ui.print_line(f"Release '{slug}' does not exist.")
            return
        track_task(cli.ui, director, director.delete_release(name, version or None, force=force).id)


@click.command("delete-stemcell", short_help="Delete stemcell")
@click.argument("slug", metavar="NAME/VERSION")
@click.option("--force", is_flag=True, help=_FORCE_HELP)
@pass_cli
def delete_stemcell(cli: CLIContext, slug: str, force: bool) -> None:
    name, version = _slug(slug, what="stemcell", version_required=True)
    with open_director(cli) as director:
        cli.ui.ask_for_confirmation()
        if any(s.name == name and s.version == version for s in director.stemcells()):
            track_task(cli.ui, director, director.delete_stemcell(name, version, force=force).id)


@click.command("delete-deployment", short_help="Delete deployment")
@click.option("--force", is_flag=True, help=_FORCE_HELP)
@pass_cli
def delete_deployment(cli: CLIContext, force: bool) -> None:
    name = cli.options.deployment
    if not name:
        raise BoshError("Expected non-empty deployment name (give -d or BOSH_DEPLOYMENT)")
    with open_director(cli) as director:
        cli.ui.print_line(f"Using deployment '{name}'")
        cli.ui.ask_for_confirmation()
        if any(found.name == name for found in director.deployments(exclude_configs=True)):
            track_task(cli.ui, director, director.delete_deployment(name, force=force).id)


COMMANDS = [delete_release, delete_stemcell, delete_deployment]
