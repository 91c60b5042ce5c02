"""interpolate (int): ops files and variables applied to a YAML document, as the reference."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_core import go_yaml
from bosh_core.errors import BoshError
from bosh_core.interpolate.errors import InterpolateError, WrappedError, one_line
from bosh_core.interpolate.patch import Ops, Pointer, find, ops_from_yaml
from bosh_core.interpolate.template import evaluate
from bosh_core.interpolate.variables import (
    VarsStore,
    combine_variables,
    load_var_file,
    load_vars_file,
    parse_var_kv,
    vars_from_env,
)

__all__ = ["COMMANDS"]

T = TypeVar("T")


def _flag_value(flag: str, go_type: str, parse: Callable[[str], T], text: str) -> T:
    """Parse one flag value; a failure reads as the reference's flag parser words it."""
    try:
        return parse(text)
    except BoshError as error:
        raise InterpolateError(
            f"invalid argument for flag `{flag}' (expected {go_type}): {one_line(error)}"
        ) from None


def _read_bytes(path: str, *, context: str) -> bytes:
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
    return ops_from_yaml(_read_bytes(path, context=f"Reading ops file '{path}'"), source=path)


def _all(flag: str, go_type: str, parse: Callable[[str], T], texts: Sequence[str]) -> list[T]:
    return [_flag_value(flag, go_type, parse, text) for text in texts]


@click.command("interpolate", short_help="Interpolates variables into a manifest")
@click.argument("manifest", metavar="PATH")
@click.option(
    "-o",
    "--ops-file",
    "ops_files",
    multiple=True,
    metavar="PATH",
    help="Load manifest operations from a YAML file",
)
@click.option("-v", "--var", "var_kvs", multiple=True, metavar="VAR=VALUE", help="Set variable")
@click.option(
    "--var-file",
    "var_files",
    multiple=True,
    metavar="VAR=PATH",
    help="Set variable to file contents",
)
@click.option(
    "-l",
    "--vars-file",
    "vars_files",
    multiple=True,
    metavar="PATH",
    help="Load variables from a YAML file",
)
@click.option(
    "--vars-env",
    "vars_envs",
    multiple=True,
    metavar="PREFIX",
    help="Load variables from environment variables (e.g.: 'MY' to load MY_var=value)",
)
@click.option("--vars-store", metavar="PATH", help="Load/save variables from/to a YAML file")
@click.option(
    "--path",
    "path_text",
    metavar="OP-PATH",
    help="Extract value out of template (e.g.: /private_key)",
)
@click.option("--var-errs", is_flag=True, help="Expect all variables to be found, otherwise error")
@click.option(
    "--var-errs-unused", is_flag=True, help="Expect all variables to be used, otherwise error"
)
@pass_cli
def interpolate(
    cli: CLIContext,
    manifest: str,
    ops_files: tuple[str, ...],
    var_kvs: tuple[str, ...],
    var_files: tuple[str, ...],
    vars_files: tuple[str, ...],
    vars_envs: tuple[str, ...],
    vars_store: str | None,
    path_text: str | None,
    var_errs: bool,
    var_errs_unused: bool,
) -> None:
    """Apply ops files, then fill in ((variables)); print the YAML (or the value at --path)."""
    ops = Ops()
    for ops_file in _all("-o, --ops-file", "[]opts.OpsFileArg", _ops_file, ops_files):
        ops = ops + ops_file
    pointer = None
    if path_text is not None:
        pointer = _flag_value("--path", "patch.Pointer", Pointer.parse, path_text)
    store = None
    if vars_store is not None:
        store = _flag_value("--vars-store", "opts.VarsFSStore", VarsStore, vars_store)
    variables = combine_variables(
        env=_all("--vars-env", "[]template.VarsEnvArg", _env_vars, vars_envs),
        vars_files=_all("-l, --vars-file", "[]template.VarsFileArg", load_vars_file, vars_files),
        var_files=_all("--var-file", "[]template.VarFileArg", load_var_file, var_files),
        kvs=_all("-v, --var", "[]template.VarKV", parse_var_kv, var_kvs),
        store=store,
    )
    document: Any = go_yaml.load(
        _read_bytes(manifest, context=f"Reading manifest '{manifest}'"), source=manifest
    )
    document = ops.apply(document)
    document = evaluate(
        document, variables, expect_all_keys=var_errs, expect_all_vars_used=var_errs_unused
    )
    if pointer is None:
        cli.ui.print_block(go_yaml.dump(document))
        return
    found = find(document, pointer)
    # A string at --path is printed as is (an SSH key stays readable), as the reference does.
    cli.ui.print_block(f"{found}\n" if isinstance(found, str) else go_yaml.dump(found))


def _env_vars(prefix: str) -> dict[str, Any]:
    return vars_from_env(prefix, os.environ)


COMMANDS = [interpolate]
