"""The ``bosh`` command: global options, command registry, and how failures end."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from bosh_cli.context import CLIContext, GlobalOptions
from bosh_cli.ui import UI
from bosh_core.errors import BoshError

__all__ = ["as_go_flags_reads", "cli", "hoist_global_options", "main"]

# Global options may come anywhere on the command line, as with the reference CLI:
# ``bosh create-release --tty --force`` is ``bosh --tty create-release --force``.
_GLOBAL_FLAGS = {"--json", "--tty", "--no-color", "-n", "--non-interactive", "--sha2", "--debug"}
_GLOBAL_VALUED = {
    "-e",
    "--environment",
    "--ca-cert",
    "--client",
    "--client-secret",
    "-d",
    "--deployment",
    "--config",
    "--column",
    "--parallel",
}


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options found after the command name in front of it."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name = arg.split("=", 1)[0]
        if name in _GLOBAL_FLAGS:
            hoisted.append(arg)  # `-n=true` too, refused later as the reference refuses it
        elif name in _GLOBAL_VALUED:
            hoisted.append(arg)
            if "=" not in arg and index + 1 < len(args):
                index += 1
                hoisted.append(args[index])
        elif arg[:2] in _GLOBAL_VALUED and arg[:2] != "--":
            hoisted.append(arg)  # `-ddep1`: the value written against the letter
        else:
            rest.append(arg)
        index += 1
    return hoisted + rest


def as_go_flags_reads(
    args: Sequence[str], params: Sequence[click.Parameter], *, interspersed: bool = True
) -> list[str]:
    """Respell ``args`` so that click reads them as go-flags, the reference's parser, does.

    - ``-x=value`` is ``-x`` with ``value`` (click would read ``=value``): written
      ``--long=value`` (or ``-x value`` for a letter with no long name).
    - An option whose value is optional (``-r``/``--recent`` of ``tasks``) takes one only
      after ``=`` or against the letter (``-r5``); alone it is its default value, written
      out, so that click does not take the next argument (``tasks -r 5`` is ``-r`` and an
      extra argument ``5``, as in the reference).
    - A flag given a value (``-n=true``, ``--json=x``) is the reference's usage error.

    Which letters take values comes from ``params``, the command's own options. Reading
    stops at ``--``, and at the first argument when ``interspersed`` is false (a group:
    what follows belongs to the subcommand).
    """
    shorts: dict[str, click.Option] = {}
    longs: dict[str, click.Option] = {}
    for param in params:
        if isinstance(param, click.Option) and param.nargs == 1:
            for opt in param.opts:
                if opt.startswith("--"):
                    longs[opt] = param
                elif len(opt) == 2 and opt[0] == "-":
                    shorts[opt[1]] = param
    out: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        is_option = arg.startswith("-") and arg != "-"
        if arg == "--" or (not is_option and not interspersed):
            out.extend(args[index - 1 :])
            break
        if not is_option:
            out.append(arg)
            continue
        if arg.startswith("--"):
            name, equals, _ = arg.partition("=")
            option = longs.get(name)
            if option is not None and equals and not _takes_value(option):
                raise click.UsageError(f"bool flag `{_spelling(option)}' cannot have an argument")
            if option is not None and not equals and _value_is_optional(option):
                out.append(f"{name}={option.flag_value}")
                continue
            out.append(arg)
            if option is not None and not equals and _takes_value(option) and index < len(args):
                out.append(args[index])
                index += 1
            continue
        option = shorts.get(arg[1])
        if option is not None and arg[2:3] == "=":
            if not _takes_value(option):
                raise click.UsageError(f"bool flag `{_spelling(option)}' cannot have an argument")
            out.extend(_with_value(option, arg[3:]))
            continue
        # A cluster such as `-af`: the first letter taking a value ends it, with the rest
        # of the cluster or, if last, the next argument as its value.
        for position in range(1, len(arg)):
            option = shorts.get(arg[position])
            if option is not None and not _takes_value(option):
                continue  # a flag: the cluster goes on
            last = position == len(arg) - 1
            if option is not None and last and _value_is_optional(option):
                if position > 1:
                    out.append(arg[:position])
                out.extend(_with_value(option, str(option.flag_value)))
            else:
                out.append(arg)  # an unknown letter is left for click to report
                if option is not None and last and index < len(args):
                    out.append(args[index])
                    index += 1
            break
        else:
            out.append(arg)
    return out


def _takes_value(option: click.Option) -> bool:
    return not option.is_flag and not option.count


def _value_is_optional(option: click.Option) -> bool:
    # click's own marker of `is_flag=False, flag_value=...` options.
    return _takes_value(option) and option._flag_needs_value


def _with_value(option: click.Option, value: str) -> list[str]:
    long_names = [opt for opt in option.opts if opt.startswith("--")]
    if long_names:
        return [f"{long_names[0]}={value}"]
    return [option.opts[0], value]


def _spelling(option: click.Option) -> str:
    """The option as go-flags names it in errors: ``-n, --non-interactive``."""
    return ", ".join(sorted(option.opts, key=lambda opt: opt.startswith("--")))


# Which module holds each command, so that a command imports only what it uses
# (`bosh int` in a script loop must not pay for release building); then aliases.
_COMMAND_MODULES = {
    "add-blob": "blobs",
    "alias-env": "environments",
    "blobs": "blobs",
    "cancel-task": "director",
    "cancel-tasks": "director",
    "create-release": "release",
    "curl": "environments",
    "delete-deployment": "deletions",
    "delete-release": "deletions",
    "delete-stemcell": "deletions",
    "deployments": "deployments",
    "environment": "environments",
    "environments": "environments",
    "event": "director",
    "events": "director",
    "finalize-release": "release",
    "generate-job": "authoring",
    "generate-package": "authoring",
    "init-release": "authoring",
    "inspect-local-release": "inspect",
    "inspect-release": "deployments",
    "instances": "instances",
    "interpolate": "interpolate",
    "local": "local",
    "locks": "director",
    "log-in": "environments",
    "log-out": "environments",
    "manifest": "deployments",
    "releases": "deployments",
    "remove-blob": "blobs",
    "reset-release": "authoring",
    "stemcells": "deployments",
    "sync-blobs": "blobs",
    "task": "director",
    "tasks": "director",
    "unalias-env": "environments",
    "upload-blobs": "blobs",
    "upload-release": "uploads",
    "upload-stemcell": "uploads",
    "vendor-package": "release",
    "vms": "instances",
    "cloud-config": "configs",
    "config": "configs",
    "configs": "configs",
    "cpi-config": "configs",
    "delete-config": "configs",
    "diff-config": "configs",
    "runtime-config": "configs",
    "update-cloud-config": "configs",
    "update-config": "configs",
    "update-cpi-config": "configs",
    "update-runtime-config": "configs",
    "deploy": "deploy",
}
_ALIASES = {
    "cr": "create-release",
    "ct": "cancel-task",
    "cts": "cancel-tasks",
    "deld": "delete-deployment",
    "dels": "delete-stemcell",
    "delr": "delete-release",
    "deps": "deployments",
    "ds": "deployments",
    "env": "environment",
    "envs": "environments",
    "int": "interpolate",
    "is": "instances",
    "l": "log-in",
    "login": "log-in",
    "logout": "log-out",
    "man": "manifest",
    "rs": "releases",
    "ss": "stemcells",
    "t": "task",
    "ts": "tasks",
    "ur": "upload-release",
    "us": "upload-stemcell",
    "c": "config",
    "cc": "cloud-config",
    "cs": "configs",
    "dc": "delete-config",
    "rc": "runtime-config",
    "uc": "update-config",
    "ucc": "update-cloud-config",
    "urc": "update-runtime-config",
    "d": "deploy",
}


class _BoshGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = as_go_flags_reads(
            hoist_global_options(args),
            self.get_params(ctx),
            interspersed=self.allow_interspersed_args,
        )
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = _ALIASES.get(cmd_name, cmd_name)
        if name in self.commands:
            return self.commands[name]
        module_name = _COMMAND_MODULES.get(name)
        if module_name is None:
            return None
        module = importlib.import_module(f"bosh_cli.commands.{module_name}")
        for command in module.COMMANDS:
            self.add_command(command)
        return self.commands.get(name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and self.get_command(ctx, args[0]) is None and not args[0].startswith("-"):
            raise click.UsageError(
                f"Unknown command `{args[0]}'. Please specify one command of: "
                + ", ".join(sorted(self.list_commands(ctx)))
            )
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            rest = as_go_flags_reads(
                rest, command.get_params(ctx), interspersed=command.allow_interspersed_args
            )
        return name, command, rest


def _is_debug() -> bool:
    return os.environ.get("BOSH_LOG_LEVEL", "").lower() == "debug"


@click.group(
    cls=_BoshGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    None, "-v", "--version", package_name="bosh-py", prog_name="bosh", message="version %(version)s"
)
@click.option(
    "-e", "--environment", envvar="BOSH_ENVIRONMENT", help="Director environment name or URL"
)
@click.option("--ca-cert", envvar="BOSH_CA_CERT", help="Director CA certificate path or value")
@click.option("--client", envvar="BOSH_CLIENT", help="Override username or UAA client")
@click.option(
    "--client-secret", envvar="BOSH_CLIENT_SECRET", help="Override password or UAA client secret"
)
@click.option("-d", "--deployment", envvar="BOSH_DEPLOYMENT", help="Deployment name")
@click.option(
    "--config",
    envvar="BOSH_CONFIG",
    default="~/.bosh/config",
    show_default=True,
    help="Config file path",
)
@click.option("--column", "columns", multiple=True, help="Filter to show only given columns")
@click.option("--json", is_flag=True, help="Output as JSON")
@click.option("--tty", is_flag=True, envvar="BOSH_TTY", help="Force TTY-like output")
@click.option("--no-color", is_flag=True, help="Toggle colorized output")
@click.option(
    "-n",
    "--non-interactive",
    is_flag=True,
    envvar="BOSH_NON_INTERACTIVE",
    help="Don't ask for user input",
)
@click.option("--sha2", is_flag=True, envvar="BOSH_SHA2", help="Use SHA256 checksums (the default)")
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="The max number of parallel operations",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors")
@click.pass_context
def cli(ctx: click.Context, /, **params: Any) -> None:
    """BOSH: release engineering, deployment and lifecycle management."""
    options = GlobalOptions(**{**params, "debug": params["debug"] or _is_debug()})
    ui = UI(
        tty=options.tty,
        json_output=options.json,
        color=not options.no_color,
        interactive=not options.non_interactive,
        columns=options.columns,
    )
    ctx.obj = CLIContext(ui=ui, options=options)


def main(args: Sequence[str] | None = None) -> None:
    """Run one command; exit 0 after ``Succeeded``, 1 after a one-line error."""
    try:
        _run(list(sys.argv[1:] if args is None else args))
    except BrokenPipeError:
        # The reader went away (`bosh ... | head`): nothing more can be shown.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def _run(argv: list[str]) -> None:
    ctx = None
    try:
        with cli.make_context("bosh", argv) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.NoSuchOption as error:
        _fail(ctx, f"unknown flag `{error.option_name.lstrip('-')}'")
    except click.ClickException as error:
        _fail(ctx, error.format_message())
    except BoshError as error:
        _fail(ctx, str(error))
    except BrokenPipeError:
        raise
    except OSError as error:
        # A file or directory the user named (or ~/.bosh) cannot be used as asked.
        _fail(ctx, _os_error_message(error))
    except KeyboardInterrupt:
        _fail(ctx, "Interrupted")
    except Exception as error:
        if _debug_requested(ctx, argv):
            import traceback  # only here: start-up time matters for `bosh int` in loops

            traceback.print_exc()
        _fail(
            ctx,
            f"Unexpected error ({type(error).__name__}): {error}."
            " Run again with --debug (or BOSH_LOG_LEVEL=debug) to see where.",
        )
    else:
        ui = _ui_of(ctx)
        ui.print_line("Succeeded")
        ui.flush()


def _os_error_message(error: OSError) -> str:
    reason = error.strerror or str(error)
    if error.filename is None:
        return reason
    return f"{reason}: '{error.filename}'"


def _ui_of(ctx: click.Context | None) -> UI:
    obj = ctx.obj if ctx is not None else None
    return obj.ui if isinstance(obj, CLIContext) else UI()


def _debug_requested(ctx: click.Context | None, argv: Sequence[str]) -> bool:
    obj = ctx.obj if ctx is not None else None
    if isinstance(obj, CLIContext):
        return obj.options.debug
    return "--debug" in argv or _is_debug()


def _fail(ctx: click.Context | None, message: str) -> None:
    ui = _ui_of(ctx)
    ui.error_line(message)
    ui.error_line("Exit code 1")
    ui.flush()
    sys.exit(1)
