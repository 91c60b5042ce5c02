"""The ``bosh`` command: global options, command registry, and how failures end."""

from __future__ import annotations

import importlib
import os
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any

import click

from bosh_cli.context import CLIContext, GlobalOptions
from bosh_cli.options import OptionalValueOption
from bosh_cli.ui import UI
from bosh_core.errors import BoshError

__all__ = ["as_go_flags_reads", "cli", "main"]


def as_go_flags_reads(args: Sequence[str], command: click.Command, ctx: click.Context) -> list[str]:
    """Read ``args`` given to ``command`` as go-flags, the reference's parser, reads them,
    and respell them so that click reads the same.

    As in go-flags, a command's options are its own and those of the groups above it (the
    global options): ``bosh tasks -nr`` is the global ``-n`` and tasks' ``-r``. An option
    of a command overrides a group's of the same name (``int -v`` is a variable, ``tasks
    -v`` the version). Each option read is written right after the word of the command it
    belongs to, the global ones first (``tasks -nr`` is ``-n tasks --recent=30``), in one
    spelling that click reads as go-flags does:

    - ``-x=value`` and ``-xvalue`` give the value only to the first letter of a group; a
      letter taking a value elsewhere in a group (``-ax``) takes the next argument if last,
      else is ``expected argument`` (or an optional value's default, below).
    - A value taken from the next argument may not look like an option (``-d -n``), except
      ``-<digit>`` for a number option, nor be ``--``.
    - An ``OptionalValueOption`` (``tasks -r``) takes a value only after ``=`` or against
      its letter; alone it is its ``optional_value``, written out (or empty).
    - A flag given a value (``-n=true``, ``--json=x``) and an unknown option are refused
      with go-flags' words.

    Arguments that are not options are written after ``--`` at the end, so that click
    takes them as arguments (``---x``, like ``-``, is one); so is all after a ``--``.
    Reading stops at an unknown command word: it and what follows are left to click.
    """
    return _GoFlagsReading(command, ctx).read(args)


# An option read, and the arguments that give it to click.
_Written = tuple[click.Option, list[str]]


class _GoFlagsReading:
    def __init__(self, command: click.Command, ctx: click.Context) -> None:
        self._ctx = ctx
        self._command = command
        # Per command of the chain (the group, its command, ...): its word, and each option
        # read for it with the arguments that give it to click.
        self._levels: list[tuple[list[str], list[_Written]]] = []
        # Option names (`n`, `deployment`) to the option and where it is written.
        self._shorts: dict[str, tuple[click.Option, list[_Written]]] = {}
        self._longs: dict[str, tuple[click.Option, list[_Written]]] = {}
        self._enter([], command)

    def _enter(self, word: list[str], command: click.Command) -> None:
        self._command = command
        written: list[_Written] = []
        self._levels.append((word, written))
        for param in command.get_params(self._ctx):
            if not isinstance(param, click.Option):
                continue
            for name in (*param.opts, *param.secondary_opts):
                if name.startswith("--"):
                    self._longs[name[2:]] = (param, written)
                elif len(name) == 2 and name[0] == "-":
                    self._shorts[name[1]] = (param, written)

    def read(self, args: Sequence[str]) -> list[str]:
        pending = deque(args)
        arguments: list[str] = []
        while pending:
            arg = pending.popleft()
            if arg == "--":
                arguments.extend(pending)
                break
            if _is_option(arg):
                self._read_option(arg, pending)
            elif not isinstance(self._command, click.Group):
                arguments.append(arg)
            elif (subcommand := self._command.get_command(self._ctx, arg)) is not None:
                self._enter([arg], subcommand)
            else:
                return self._written([arg, *pending])  # for the group to report
        return self._written(["--", *arguments] if arguments else [])

    def _written(self, tail: list[str]) -> list[str]:
        out: list[str] = []
        for word, options in self._levels:
            out.extend(word)
            for _, spelled in options:
                out.extend(spelled)
        return out + tail

    def _read_option(self, arg: str, pending: deque[str]) -> None:
        if arg.startswith("--"):
            name, equals, after = arg[2:].partition("=")
            found = self._longs.get(name)
            if found is None:
                raise click.UsageError(f"unknown flag `{name}'")
            self._set(found, f"--{name}", after if equals else None, pending, may_take_next=True)
            return
        letters = arg[1:]
        value: str | None = None
        first = self._shorts.get(letters[0])
        if letters.find("=") == 1:
            letters, value = letters[0], letters[2:]
        elif len(letters) > 1 and first is not None and _takes_value(first[0]):
            letters, value = letters[0], letters[1:]
        for position, letter in enumerate(letters):
            found = self._shorts.get(letter)
            if found is None:
                raise click.UsageError(f"unknown flag `{letter}'")
            last = position == len(letters) - 1
            self._set(found, f"-{letter}", value, pending, may_take_next=last)
            value = None  # only the first letter has a value written with it

    def _set(
        self,
        found: tuple[click.Option, list[_Written]],
        name: str,
        value: str | None,
        pending: deque[str],
        *,
        may_take_next: bool,
    ) -> None:
        option, written = found
        if not _takes_value(option):
            if value is not None:
                raise click.UsageError(f"bool flag `{_spelling(option)}' cannot have an argument")
            written.append((option, [name]))
            return
        optional = option if isinstance(option, OptionalValueOption) else None
        if value is None and may_take_next and pending and optional is None:
            value = _next_value(option, pending)
        if value is None:
            if optional is None:
                raise click.UsageError(f"expected argument for flag `{_spelling(option)}'")
            if optional.optional_value is None and optional.multiple:
                written[:] = [entry for entry in written if entry[0] is not option]
                return  # emptied, as go-flags empties a list
            value = "" if optional.optional_value is None else str(optional.optional_value)
        written.append((option, _with_value(option, value)))


def _next_value(option: click.Option, pending: deque[str]) -> str:
    """The next argument as ``option``'s value, if go-flags would take it as one."""
    value = pending.popleft()
    number = isinstance(option.type, click.types.IntParamType | click.types.FloatParamType)
    if _is_option(value) and not (number and value[1] in _DIGITS):
        raise click.UsageError(
            f"expected argument for flag `{_spelling(option)}', but got option `{value}'"
        )
    if value == "--":
        raise click.UsageError(
            f"expected argument for flag `{_spelling(option)}', but got double dash `--'"
        )
    return value


_DIGITS = frozenset("0123456789")


def _is_option(arg: str) -> bool:
    """go-flags' test: ``-x...`` or ``--x...`` (``-``, ``--`` and ``---x`` are arguments)."""
    if len(arg) < 2 or arg[0] != "-":
        return False
    return arg[1] != "-" or (len(arg) > 2 and arg[2] != "-")


def _takes_value(option: click.Option) -> bool:
    return not option.is_flag and not option.count


def _with_value(option: click.Option, value: str) -> list[str]:
    long_names = [opt for opt in option.opts if opt.startswith("--")]
    if long_names:
        return [f"{long_names[0]}={value}"]
    # click takes the next argument as the value, whatever it looks like.
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
        # The whole line at once: the command's options and the global ones may be mixed,
        # even in one group of letters (`tasks -nr`).
        return super().parse_args(ctx, as_go_flags_reads(args, self, ctx))

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
        return super().resolve_command(ctx, args)


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
