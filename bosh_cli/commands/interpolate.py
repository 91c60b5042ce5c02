"""interpolate (int): ops files and variables applied to a YAML document, as the reference."""

from __future__ import annotations

from typing import Any

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.templates import Template, flag_value, read_file, template_options
from bosh_core import go_yaml
from bosh_core.interpolate.patch import Pointer, find

__all__ = ["COMMANDS"]


@click.command("interpolate", short_help="Interpolates variables into a manifest")
@click.argument("manifest", metavar="PATH")
@template_options
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
    /,
    manifest: str,
    path_text: str | None,
    var_errs: bool,
    var_errs_unused: bool,
    **options: Any,
) -> None:
    """Apply ops files, then fill in ((variables)); print the YAML (or the value at --path)."""
    pointer = None
    if path_text is not None:
        pointer = flag_value("--path", "patch.Pointer", Pointer.parse, path_text)
    document: Any = go_yaml.load(
        read_file(manifest, context=f"Reading manifest '{manifest}'"), source=manifest
    )
    document = Template.from_options(options).evaluate(
        document, expect_all_keys=var_errs, expect_all_vars_used=var_errs_unused
    )
    if pointer is None:
        cli.ui.print_block(go_yaml.dump(document))
        return
    found = find(document, pointer)
    # A string at --path is printed as is (an SSH key stays readable), as the reference does.
    cli.ui.print_block(f"{found}\n" if isinstance(found, str) else go_yaml.dump(found))


COMMANDS = [interpolate]
