"""The template options every command that sends YAML takes (``interpolate``, the
``update-*-config`` commands, later ``deploy``): ``-o`` ops files, ``-v``,
``--var-file``, ``-l``, ``--vars-env`` and ``--vars-store``; and reading the file they
apply to. Bad values fail as the reference's flag parser words it.

    @click.command("update-cloud-config")
    @click.argument("path")
    @template_options
    def update(path: str, **options: Any) -> None:
        content = Template.from_options(options).render(path, what="config")
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import click

from bosh_core import go_yaml
from bosh_core.errors import BoshError
from bosh_core.interpolate.errors import InterpolateError, WrappedError, one_line
from bosh_core.interpolate.patch import Ops, ops_from_yaml
from bosh_core.interpolate.template import evaluate
from bosh_core.interpolate.variables import (
    VarsStore,
    combine_variables,
    load_var_file,
    load_vars_file,
    parse_var_kv,
    vars_from_env,
)

__all__ = ["Template", "flag_value", "read_file", "template_options"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# (flags, parameter name, metavar, help) of the repeatable options, in help order.
_OPTIONS: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("-o", "--ops-file"), "ops_files", "PATH", "Load manifest operations from a YAML file"),
    (("-v", "--var"), "var_kvs", "VAR=VALUE", "Set variable"),
    (("--var-file",), "var_files", "VAR=PATH", "Set variable to file contents"),
    (("-l", "--vars-file"), "vars_files", "PATH", "Load variables from a YAML file"),
    (
        ("--vars-env",),
        "vars_envs",
        "PREFIX",
        "Load variables from environment variables (e.g.: 'MY' to load MY_var=value)",
    ),
)


def template_options(function: F) -> F:
    """Add the template options to a click command (parameters named as `Template`)."""
    function = click.option(
        "--vars-store", metavar="PATH", help="Load/save variables from/to a YAML file"
    )(function)
    for flags, name, metavar, text in reversed(_OPTIONS):
        function = click.option(*flags, name, multiple=True, metavar=metavar, help=text)(function)
    return function


def flag_value(flag: str, go_type: str, parse: Callable[[str], T], text: str) -> T:
    """Parse one flag value; a failure reads as the reference's flag parser words it."""
    try:
        return parse(text)
    except BoshError as error:
        raise InterpolateError(
            f"invalid argument for flag `{flag}' (expected {go_type}): {one_line(error)}"
        ) from None


def _all(flag: str, go_type: str, parse: Callable[[str], T], texts: Sequence[str]) -> list[T]:
    return [flag_value(flag, go_type, parse, text) for text in texts]


def read_file(path: str, *, context: str) -> bytes:
    """The file at `path` (``-`` is stdin); a failure is wrapped in `context`."""
    if not path:
        raise InterpolateError("Expected file path to be non-empty")
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as error:
        reason = error.strerror.lower() if error.strerror else str(error)
        raise WrappedError(
            context, InterpolateError(f"Opening file {path}: open {path}: {reason}")
        ) from None


def _ops_file(path: str) -> Ops:
    return ops_from_yaml(read_file(path, context=f"Reading ops file '{path}'"), source=path)


def _env_vars(prefix: str) -> dict[str, Any]:
    return vars_from_env(prefix, os.environ)


class Template(NamedTuple):
    """The template options' values, as click passes them (a NamedTuple: ``bosh int``
    in a script loop must not pay for importing attrs)."""

    ops_files: tuple[str, ...] = ()
    var_kvs: tuple[str, ...] = ()
    var_files: tuple[str, ...] = ()
    vars_files: tuple[str, ...] = ()
    vars_envs: tuple[str, ...] = ()
    vars_store: str | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Template:
        """Take the template options out of a command's `options` (the rest stay)."""
        names = [name for _, name, _, _ in _OPTIONS] + ["vars_store"]
        return cls(**{name: options.pop(name) for name in names})

    def evaluate(
        self,
        document: Any,
        *,
        expect_all_keys: bool = False,
        expect_all_vars_used: bool = False,
    ) -> Any:
        """`document` with the ops files applied, then the variables filled in."""
        ops = Ops()
        for ops_file in _all("-o, --ops-file", "[]opts.OpsFileArg", _ops_file, self.ops_files):
            ops = ops + ops_file
        store = None
        if self.vars_store is not None:
            store = flag_value("--vars-store", "opts.VarsFSStore", VarsStore, self.vars_store)
        variables = combine_variables(
            env=_all("--vars-env", "[]template.VarsEnvArg", _env_vars, self.vars_envs),
            vars_files=_all(
                "-l, --vars-file", "[]template.VarsFileArg", load_vars_file, self.vars_files
            ),
            var_files=_all("--var-file", "[]template.VarFileArg", load_var_file, self.var_files),
            kvs=_all("-v, --var", "[]template.VarKV", parse_var_kv, self.var_kvs),
            store=store,
        )
        return evaluate(
            ops.apply(document),
            variables,
            expect_all_keys=expect_all_keys,
            expect_all_vars_used=expect_all_vars_used,
        )

    def render(self, path: str, *, what: str) -> str:
        """The YAML file at `path` evaluated, as the YAML a director gets (the reference
        always sends the re-marshalled document, even without options)."""
        document = go_yaml.load(read_file(path, context=f"Reading {what} '{path}'"), source=path)
        return go_yaml.dump(self.evaluate(document))
