"""Config commands: configs, config, update-config, delete-config, diff-config, and the
per-type cloud-config, runtime-config and cpi-config with their update commands.

An update interpolates the file (``-o``, ``-v``, ``-l``... as ``bosh int`` does), shows
the director's diff, asks ``Continue? [yN]`` (skipped with ``-n``), then uploads.
``update-runtime-config`` also uploads the config's releases that name a ``url``, as
``deploy`` does (with ``--fix`` under ``--fix-releases``), between the diff and the
question, where the reference uploads them.
``update-config`` passes the id the diff started from as ``expected_latest_id``, so a
concurrent update in between is refused rather than overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bosh_cli.commands.uploads import upload_manifest_releases
from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.options import OptionalValueOption
from bosh_cli.session import open_director
from bosh_cli.templates import Template, template_options
from bosh_cli.ui import Table
from bosh_core.client.director import Config, ConfigDiff
from bosh_core.errors import BoshError

__all__ = ["COMMANDS"]

F = TypeVar("F", bound=Callable[..., Any])


def _print_diff(cli: CLIContext, diff: ConfigDiff) -> None:
    cli.ui.begin_line(diff.text())


def _config_table(cli: CLIContext, config: Config) -> None:
    cli.ui.print_table(
        Table(
            header=["ID", "Type", "Name", "Created At", "Content"],
            rows=[[config.id, config.type, config.name, config.created_at, config.content]],
            content="config",
            notes=[],
            transpose=True,
        )
    )


def _id_or_type_and_name(config_id: str | None, type_: str | None, name: str | None) -> None:
    if not (config_id or type_ or name):
        raise BoshError("Either <ID> or parameters --type and --name must be provided")
    if config_id and (type_ or name):
        raise BoshError("Can only specify one of ID or parameters '--type' and '--name'")
    if not config_id and not (type_ and name):
        raise BoshError("Need to specify both parameters '--type' and '--name'")


# -- generic configs ----------------------------------------------------------------------


@click.command("configs", short_help="List configs")
@click.option("--name", cls=OptionalValueOption, help="Config name")
@click.option("--type", "type_", cls=OptionalValueOption, help="Config type")
@click.option(
    "-r",
    "--recent",
    cls=OptionalValueOption,
    type=int,
    optional_value=1,
    default=1,
    help="Number of configs to show",
)
@pass_cli
def configs(cli: CLIContext, name: str | None, type_: str | None, recent: int) -> None:
    with open_director(cli) as director:
        found = director.configs(type_=type_, name=name, limit=recent)
    notes = ["(*) Currently active"] if any(config.current for config in found) else []
    if recent <= 1:
        notes.append(
            "Only showing active configs. To see older versions use the --recent=10 option."
        )
    rows = [
        [config.id + ("*" if config.current else ""), config.type, config.name, config.team,
         config.created_at]
        for config in found
    ]  # fmt: skip
    cli.ui.print_table(
        Table(
            header=["ID", "Type", "Name", "Team", "Created At"],
            rows=rows,
            content="configs",
            notes=notes,
        )
    )


@click.command("config", short_help="Show current config for either ID or both type and name")
@click.argument("config_id", metavar="[ID]", required=False)
@click.option("--name", help="Config name")
@click.option("--type", "type_", help="Config type")
@pass_cli
def config(cli: CLIContext, config_id: str | None, name: str | None, type_: str | None) -> None:
    _id_or_type_and_name(config_id, type_, name)
    with open_director(cli) as director:
        if config_id:
            found: Config | None = director.config(config_id)
        else:
            assert type_ is not None and name is not None
            found = director.latest_config(type_, name)
    if found is None:
        raise BoshError("No config")
    _config_table(cli, found)


@click.command("update-config", short_help="Update config")
@click.argument("path", metavar="PATH")
@click.option(
    "--type", "type_", required=True, help="Config type, e.g. 'cloud', 'runtime', or 'cpi'"
)
@click.option("--name", required=True, help="Config name")
@click.option("--expected-latest-id", help="Expected ID of latest config")
@template_options
@pass_cli
def update_config(
    cli: CLIContext,
    /,
    path: str,
    type_: str,
    name: str,
    expected_latest_id: str | None,
    **options: Any,
) -> None:
    content = Template.from_options(options).render(path, what="config")
    with open_director(cli) as director:
        diff = director.diff_config(type_, name, content)
        _print_diff(cli, diff)
        cli.ui.ask_for_confirmation()
        stored = director.update_config(
            type_, name, content, expected_latest_id=expected_latest_id or diff.from_id
        )
    _config_table(cli, stored)


@click.command("delete-config", short_help="Delete config")
@click.argument("config_id", metavar="[ID]", required=False)
@click.option("--type", "type_", help="Config type, e.g. 'cloud', 'runtime', or 'cpi'")
@click.option("--name", help="Config name")
@pass_cli
def delete_config(
    cli: CLIContext, config_id: str | None, type_: str | None, name: str | None
) -> None:
    _id_or_type_and_name(config_id, type_, name)
    cli.ui.ask_for_confirmation()
    with open_director(cli) as director:
        if config_id:
            if not director.delete_config(config_id):
                cli.ui.print_line(f"No configs to delete: no matches for id '{config_id}' found.")
        elif not director.delete_config(type_=type_, name=name):
            cli.ui.print_line(
                f"No configs to delete: no matches for type '{type_}' and name '{name}' found."
            )


def _read(path: str | None) -> str:
    return "" if not path else Path(path).expanduser().read_text()


def _diff_input(name: str, config_id: str | None, content: str) -> None:
    if config_id and content:
        raise BoshError(f"Only one of --{name}-id and --{name}-content can be specified")
    if not config_id and not content:
        raise BoshError(f"One of --{name}-id or --{name}-content must be specified")
    if config_id and not config_id.lstrip("+-").isdigit():
        raise BoshError(f"--{name}-id needs to be an integer.")


@click.command("diff-config", short_help="Diff two configs by ID or content")
@click.option("--from-id", help="ID of first config to compare")
@click.option("--to-id", help="ID of second config to compare")
@click.option("--from-content", metavar="PATH", help="Path to first config file to compare")
@click.option("--to-content", metavar="PATH", help="Path to second config file to compare")
@pass_cli
def diff_config(
    cli: CLIContext,
    from_id: str | None,
    to_id: str | None,
    from_content: str | None,
    to_content: str | None,
) -> None:
    sources = {"from": (from_id, _read(from_content)), "to": (to_id, _read(to_content))}
    for name in ("to", "from"):
        _diff_input(name, *sources[name])
    with open_director(cli) as director:
        diff = director.diff_configs(
            from_id=from_id or "",
            from_content=sources["from"][1],
            to_id=to_id or "",
            to_content=sources["to"][1],
        )
    cli.ui.print_table(
        Table(
            header=["From ID", "To ID", "Diff"],
            rows=[[from_id or "", to_id or "", diff.text()]],
            notes=[],
            transpose=True,
        )
    )


# -- cloud-config, runtime-config, cpi-config ----------------------------------------------


def _show_command(kind: str, title: str, *, named: bool) -> click.Command:
    @pass_cli
    def show(cli: CLIContext, name: str = "") -> None:
        with open_director(cli) as director:
            text = director.latest_typed_config(kind, name=name)
        if text is None:
            raise BoshError(f"No {title} config")
        cli.ui.print_block(text)

    command = click.command(f"{kind}-config", short_help=f"Show current {title} config")(show)
    if named:
        command = click.option(
            "--name", default="", help=f"{title.capitalize()}-Config name (default: '')"
        )(command)
    return command


def _update_command(
    kind: str, title: str, *, named: bool, redactable: bool, uploads_releases: bool = False
) -> click.Command:
    @pass_cli
    def update(
        cli: CLIContext,
        /,
        path: str,
        name: str = "",
        no_redact: bool = False,
        fix_releases: bool = False,
        **options: Any,
    ) -> None:
        content = Template.from_options(options).render(path, what="config")
        with open_director(cli) as director:
            diff = director.diff_typed_config(kind, content, name=name, redact=not no_redact)
            _print_diff(cli, diff)
            if uploads_releases:
                # Before the question, as the reference uploads them.
                upload_manifest_releases(cli, director, content, fix=fix_releases, source=path)
            cli.ui.ask_for_confirmation()
            director.update_typed_config(kind, content, name=name)

    # Applied innermost first: --help lists them as the reference does.
    command: Callable[..., Any] = update
    if uploads_releases:
        command = click.option(
            "--fix-releases",
            is_flag=True,
            help="Reupload releases in config and replace corrupt or missing jobs/packages",
        )(command)
    if named:
        command = click.option(
            "--name", default="", help=f"{title.capitalize()}-Config name (default: '')"
        )(command)
    if redactable:
        command = click.option("--no-redact", is_flag=True, help="Show non-redacted manifest diff")(
            command
        )
    command = template_options(click.argument("path", metavar="PATH")(command))
    return click.command(f"update-{kind}-config", short_help=f"Update current {title} config")(
        command
    )


COMMANDS = [
    configs,
    config,
    update_config,
    delete_config,
    diff_config,
    _show_command("cloud", "cloud", named=True),
    _update_command("cloud", "cloud", named=True, redactable=False),
    _show_command("runtime", "runtime", named=True),
    _update_command("runtime", "runtime", named=True, redactable=True, uploads_releases=True),
    _show_command("cpi", "CPI", named=False),
    _update_command("cpi", "CPI", named=False, redactable=True),
]
