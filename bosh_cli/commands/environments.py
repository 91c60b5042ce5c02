"""Environments and log-in: env, environments, alias-env, unalias-env, log-in, log-out,
and curl (a raw request to the director, with the session's credentials).

Aliases, CA certificates and credentials live in the config file (``--config``,
default ``~/.bosh/config``; see :mod:`bosh_cli.config`).
"""

from __future__ import annotations

from pathlib import Path

import click

from bosh_cli.config import CLIConfig, Credentials
from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.session import Session, ca_cert_content, open_director
from bosh_cli.ui import UI, Table
from bosh_core.client import Info, RawResponse
from bosh_core.errors import BoshError

__all__ = ["COMMANDS", "print_info"]


def print_info(ui: UI, info: Info) -> None:
    """The director summary ``bosh env`` and ``bosh alias-env`` print."""
    header = ["Name", "UUID", "Version"]
    row: list[str | list[str]] = [info.name, info.uuid, info.version]
    if info.stemcell_os:
        header.append("Director Stemcell")
        row.append(f"{info.stemcell_os}/{info.stemcell_version or ''}")
    if info.cpi:
        header.append("CPI")
        row.append(info.cpi)
    if info.features:
        header.append("Features")
        row.append(
            sorted(
                f"{name}: {'enabled' if enabled else 'disabled'}"
                for name, enabled in info.features.items()
            )
        )
    header.append("User")
    row.append(info.user or "(not logged in)")
    ui.print_table(Table(header=header, rows=[row], transpose=True))


@click.command("environment", short_help="Show director details")
@click.option("--details", is_flag=True, help="Show director's certificates details")
@pass_cli
def environment(cli: CLIContext, details: bool) -> None:
    """Show the director's name, UUID, version, CPI, features and the current user;
    with --details, when each of its certificates expires."""
    with open_director(cli) as director:
        print_info(cli.ui, director.info())
        if not details:
            return
        certificates = director.certificate_expiry()
    rows = [[found.path, found.expiry, str(found.days_left)] for found in certificates]
    cli.ui.print_table(
        Table(
            header=["Certificate", "Expiry Date (UTC)", "Days Left"],
            rows=rows,
            title="CERTIFICATE EXPIRY DATE INFORMATION",
        )
    )


@click.command("environments", short_help="List environments")
@pass_cli
def environments(cli: CLIContext) -> None:
    """The environments of the config file, with their aliases."""
    config = CLIConfig.load(cli.options.config)
    rows = [[entry.url, entry.alias] for entry in config.environments]
    cli.ui.print_table(
        Table(header=["URL", "Alias"], rows=rows, content="environments", sort_by=[(0, True)])
    )


@click.command("alias-env", short_help="Alias environment to save URL and CA certificate")
@click.argument("alias")
@pass_cli
def alias_env(cli: CLIContext, alias: str) -> None:
    """Save -e URL (and --ca-cert) under ALIAS, once the director has answered."""
    options = cli.options
    ca_cert = ca_cert_content(options.ca_cert) if options.ca_cert else ""
    config = CLIConfig.load(options.config).with_alias(
        url=options.environment or "", alias=alias, ca_cert=ca_cert
    )
    with open_director(cli, Session.resolve(options, config)) as director:
        info = director.info()
    config.save()
    print_info(cli.ui, info)


@click.command("unalias-env", short_help="Remove an aliased environment")
@click.argument("alias")
@pass_cli
def unalias_env(cli: CLIContext, alias: str) -> None:
    CLIConfig.load(cli.options.config).without_alias(alias).save()


@click.command("log-in", short_help="Log in")
@pass_cli
def log_in(cli: CLIContext) -> None:
    """Check a user's credentials and save them in the config file for the environment.

    Asks for what --client/--client-secret (or the config) do not give.
    """
    session = Session.resolve(cli.options)
    environment = session.require_environment()
    with session.anonymous_director() as anonymous:
        auth_type = anonymous.info().auth_type
    if auth_type == "uaa":
        raise BoshError(
            f"Director '{environment}' authenticates through UAA, which this CLI does not"
            " support yet: log in with the reference bosh CLI"
        )
    if auth_type != "basic":
        raise BoshError(f"Unknown auth type '{auth_type}'")
    cli.ui.print_line(f"Using environment '{environment}'")
    given = session.credentials
    while True:
        credentials = _complete(cli.ui, given, environment)
        trial = Session(environment, session.ca_cert, credentials, session.config)
        with open_director(cli, trial) as director:
            authenticated = bool(director.info().user)
        if authenticated:
            session.config.with_credentials(environment, credentials).save()
            cli.ui.print_line(f"Logged in to '{environment}'")
            return
        cli.ui.error_line(f"Failed to login to '{environment}'")
        if given.is_basic_complete:
            # Nothing was asked, so asking again would try the same credentials.
            raise BoshError("Invalid credentials")


def _complete(ui: UI, credentials: Credentials, environment: str) -> Credentials:
    """`credentials` with the user name and password asked for when missing."""
    if credentials.is_basic_complete:
        return credentials
    if not ui.interactive or ui.json:
        raise BoshError(
            f"Expected a username and password to log in to '{environment}': give --client"
            " and --client-secret (or BOSH_CLIENT and BOSH_CLIENT_SECRET), or run"
            " interactively without -n/--json"
        )
    client = credentials.client or ui.ask_for_text("Username ()")
    secret = credentials.client_secret or ui.ask_for_password("Password ()")
    return Credentials(client=client, client_secret=secret)


@click.command("log-out", short_help="Log out")
@pass_cli
def log_out(cli: CLIContext) -> None:
    """Forget the credentials the config file holds for the environment."""
    session = Session.resolve(cli.options)
    environment = session.require_environment()
    updated = session.config.without_credentials(environment)
    if updated != session.config:
        updated.save()
    cli.ui.print_line(f"Logged out from '{environment}'")


# --- curl ----------------------------------------------------------------------------------


def _parse_headers(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    headers = []
    for value in values:
        name, separator, content = value.partition(": ")
        if not separator:
            raise click.BadParameter(f"Expected header '{value}' to be in format 'name: value'")
        if not name:
            raise click.BadParameter(f"Expected header '{value}' to specify non-empty name")
        if not content:
            raise click.BadParameter(f"Expected header '{value}' to specify non-empty value")
        headers.append((name, content))
    return tuple(headers)


def _canonical(name: str) -> str:
    """A header name as Go prints it: ``content-type`` -> ``Content-Type``."""
    return "-".join(part.capitalize() for part in name.split("-"))


def _head(response: RawResponse) -> str:
    """Status line and headers as Go's ``httputil.DumpResponse`` shows them (sorted)."""
    lines = [f"{response.http_version} {response.status_code} {response.reason}"]
    lines += sorted(f"{_canonical(name)}: {value}" for name, value in response.headers)
    return "\r\n".join(lines) + "\r\n\r\n"


@click.command("curl", short_help="Make an HTTP request to the Director")
@click.argument("path")
@click.option("-X", "--method", default="GET", show_default=True, help="HTTP method")
@click.option(
    "-H",
    "--header",
    "headers",
    multiple=True,
    callback=_parse_headers,
    help="HTTP header in 'name: value' format",
)
@click.option(
    "--body",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="HTTP request body (path)",
)
@click.option("-i", "--show-headers", is_flag=True, help="Show HTTP headers")
@pass_cli
def curl(
    cli: CLIContext,
    path: str,
    method: str,
    headers: tuple[tuple[str, str], ...],
    body: Path | None,
    show_headers: bool,
) -> None:
    """Send a request to PATH (which may include a query string) and print the answer."""
    if method not in ("GET", "POST", "PUT", "DELETE"):
        raise BoshError(f"Unknown method '{method}' (expected GET, POST, PUT or DELETE)")
    if method == "DELETE" and headers:
        raise BoshError("Expected no headers")
    content = body.read_bytes() if body is not None and method in ("POST", "PUT") else None
    with open_director(cli) as director:
        response = director.curl(method, path, headers=headers, body=content)
    if show_headers:
        cli.ui.print_block(_head(response))
    text = response.body.decode(errors="replace")
    cli.ui.print_block(text)
    if not response.succeeded:
        raise BoshError(
            "Executing HTTP request: Director responded with non-successful status code"
            f" '{response.status_code}' response '{text}'"
        )


COMMANDS = [environment, environments, alias_env, unalias_env, log_in, log_out, curl]
