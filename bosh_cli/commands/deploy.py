"""``bosh deploy PATH``, as the reference CLI runs it (cmd/deploy.go).

The manifest is interpolated (``-o``, ``-v``, ``-l``... as ``bosh int`` does) and its
``name`` must be the ``-d`` deployment. Releases that name a ``url`` are uploaded first,
as ``upload-release`` uploads them (skipping those the director has, unless
``--fix-releases``); then the director's diff is printed and ``Continue? [yN]`` asked
(``-n`` skips it), and the manifest is deployed with the diff's context, so the task
uses the configs the diff showed. The task is followed to its end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click

from bosh_cli.commands.director import track_task
from bosh_cli.commands.uploads import upload_manifest_releases
from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.options import OptionalValueOption
from bosh_cli.session import open_director
from bosh_cli.templates import Template, template_options
from bosh_core import go_yaml
from bosh_core.client import Director
from bosh_core.client.director import DeployOptions
from bosh_core.errors import BoshError

__all__ = ["COMMANDS"]


def _rfc3339(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(f"Expected an RFC 3339 time (2006-01-02T15:04:05Z): {value!r}")
    return value


def _manifest_name(document: Any) -> str:
    if not isinstance(document, Mapping):
        raise BoshError("Parsing manifest: expected a YAML map")
    return str(document.get("name") or "")


def _print_diff(
    cli: CLIContext, director: Director, name: str, text: str, *, redact: bool
) -> Mapping[str, Any]:
    """Print the director's diff; its context, for the deploy."""
    try:
        diff = director.diff_deployment(name, text, redact=redact)
    except BoshError as error:
        raise BoshError(f"Fetching diff result: {error}") from error
    if diff.error:
        # The reference CLI shows no diff then and deploys anyway; say why it is empty.
        cli.ui.error_line(diff.error)
    cli.ui.begin_line(diff.text())
    return diff.context


@click.command("deploy", short_help="Update deployment")
@click.argument("path", metavar="PATH")
@template_options
@click.option("--no-redact", is_flag=True, help="Show non-redacted manifest diff")
@click.option("--recreate", is_flag=True, help="Recreate all VMs in deployment")
@click.option(
    "--recreate-persistent-disks", is_flag=True, help="Recreate all persistent disks in deployment"
)
@click.option(
    "--recreate-vms-created-before",
    metavar="TIME",
    callback=_rfc3339,
    help="Only recreate VMs created before the given RFC 3339 timestamp",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Recreate an instance with an unresponsive agent instead of erroring",
)
@click.option(
    "--fix-releases",
    is_flag=True,
    help="Reupload releases in manifest and replace corrupt or missing jobs/packages",
)
@click.option(
    "--skip-drain",
    cls=OptionalValueOption,
    multiple=True,
    optional_value="*",
    metavar="[INSTANCE-GROUP[/INSTANCE-ID]]",
    help="Skip running drain and pre-stop scripts for specific instance groups",
)
@click.option(
    "--skip-upload-releases", is_flag=True, help="Skips the upload procedure for releases"
)
@click.option("--canaries", help="Override manifest values for canaries")
@click.option("--max-in-flight", help="Override manifest values for max_in_flight")
@click.option("--dry-run", is_flag=True, help="Renders job templates without altering deployment")
@click.option(
    "--force-latest-variables",
    is_flag=True,
    help="Retrieve the latest variable values from the config server regardless of their"
    " update strategy",
)
@pass_cli
def deploy(
    cli: CLIContext,
    /,
    path: str,
    no_redact: bool,
    fix_releases: bool,
    skip_upload_releases: bool,
    skip_drain: tuple[str, ...],
    **options: Any,
) -> None:
    """Deploy the manifest at PATH as the -d deployment."""
    deployment = cli.options.deployment
    if not deployment:
        raise BoshError("Expected non-empty deployment name (give -d or BOSH_DEPLOYMENT)")
    with open_director(cli) as director:
        cli.ui.print_line(f"Using deployment '{deployment}'")
        text = Template.from_options(options).render(path, what="manifest")
        document = go_yaml.load(text, source=path)
        name = _manifest_name(document)
        if name != deployment:
            raise BoshError(
                f"Expected manifest to specify deployment name '{deployment}' but was '{name}'"
            )
        # --fix-releases wins over --skip-upload-releases, as in the reference.
        if skip_upload_releases and not fix_releases:
            cli.ui.print_line("Release-Check skipped.")
        else:
            upload_manifest_releases(cli, director, text, fix=fix_releases, source=path)
        context = _print_diff(cli, director, deployment, text, redact=not no_redact)
        cli.ui.ask_for_confirmation()
        task = director.deploy(
            text, options=DeployOptions(skip_drain=skip_drain, **options), context=context
        )
        track_task(cli.ui, director, task.id)


COMMANDS = [deploy]
