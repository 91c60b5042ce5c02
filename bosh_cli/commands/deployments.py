"""What a director holds: deployments, manifest, releases, inspect-release, stemcells.

Tables, sort orders, marks and footers are the reference CLI's (cmd/deployments.go,
releases.go, stemcells.go, inspect_release.go, manifest.go). Versions sort as versions
(``1.10`` after ``1.9``), newest first within a name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.session import open_director
from bosh_cli.ui import Cell, Table
from bosh_core.client import ClientError, NamedVersion, ReleaseLink
from bosh_core.errors import BoshError
from bosh_core.models.version import Version, VersionError

__all__ = ["COMMANDS"]


@contextlib.contextmanager
def _failing(context: str) -> Iterator[None]:
    """Prefix a director failure with what was being done, as the reference words it."""
    try:
        yield
    except ClientError as error:
        raise BoshError(f"{context}: {error}") from None


def _version(kind: str, name: str, version: str) -> Version:
    try:
        return Version.parse(version)
    except VersionError as error:
        raise BoshError(f"Parsing version for {kind} '{name}/{version}': {error}") from None


def _slugs(kind: str, items: Sequence[NamedVersion]) -> list[str]:
    return [f"{item.name}/{_version(kind, item.name, item.version)}" for item in items]


def _newest_first_by_name(rows: list[tuple[str, Version, list[Cell]]]) -> list[list[Cell]]:
    """Rows by name, then by version newest first (the reference's table sort)."""
    rows.sort(key=lambda row: row[1], reverse=True)
    rows.sort(key=lambda row: row[0])
    return [cells for _, _, cells in rows]


# --- deployments ---------------------------------------------------------------------------


@click.command("deployments", short_help="List deployments")
@pass_cli
def deployments(cli: CLIContext) -> None:
    with open_director(cli) as director, _failing("Finding deployments"):
        found = director.deployments(exclude_configs=True)
    rows: list[list[Cell]] = [
        [
            deployment.name,
            _slugs("release", deployment.releases),
            _slugs("stemcell", deployment.stemcells),
            list(deployment.teams),
        ]
        for deployment in found
    ]
    cli.ui.print_table(
        Table(
            header=["Name", "Release(s)", "Stemcell(s)", "Team(s)"],
            rows=rows,
            content="deployments",
            sort_by=[(0, True)],
        )
    )


@click.command("manifest", short_help="Show deployment manifest")
@pass_cli
def manifest(cli: CLIContext) -> None:
    with open_director(cli) as director:
        name = cli.options.deployment
        if not name:
            raise BoshError("Expected non-empty deployment name")
        cli.ui.print_line(f"Using deployment '{name}'")
        with _failing(f"Fetching manifest: Finding deployment '{name}'"):
            text = director.deployment_manifest(name)
    cli.ui.print_block(text)


# --- releases ------------------------------------------------------------------------------


@click.command("releases", short_help="List releases")
@pass_cli
def releases(cli: CLIContext) -> None:
    with open_director(cli) as director, _failing("Finding releases"):
        found = director.releases()
    rows = []
    for release in found:
        version = _version("release", release.name, release.version)
        cells: list[Cell] = [
            release.name,
            f"{version}{'*' if release.currently_deployed else ''}",
            release.commit_hash + ("+" if release.uncommitted_changes else ""),
        ]
        rows.append((release.name, version, cells))
    cli.ui.print_table(
        Table(
            header=["Name", "Version", "Commit Hash"],
            rows=_newest_first_by_name(rows),
            content="releases",
            notes=["(*) Currently deployed", "(+) Uncommitted changes"],
        )
    )


def _release_slug(slug: str) -> tuple[str, str]:
    pieces = slug.split("/")
    if len(pieces) != 2:
        raise BoshError(f"Expected release '{slug}' to be in format 'name/version'")
    name, version = pieces
    if not name:
        raise BoshError(f"Expected release '{slug}' to specify non-empty name")
    if not version:
        raise BoshError(f"Expected release '{slug}' to specify non-empty version")
    return name, version


def _links(links: Sequence[ReleaseLink]) -> str:
    """Links as the reference prints them: YAML of name, type (and optional when set)."""
    if not links:
        return ""
    from bosh_core.go_yaml import dump  # only here: start-up time of the other commands

    documents = [
        {"name": link.name, "type": link.type, **({"optional": True} if link.optional else {})}
        for link in links
    ]
    return str(dump(documents, sort_keys=False)).strip()


@click.command("inspect-release", short_help="List release contents such as jobs")
@click.argument("slug", metavar="NAME/VERSION")
@pass_cli
def inspect_release(cli: CLIContext, slug: str) -> None:
    name, version = _release_slug(slug)
    parsed = _version("release", name, version)
    with open_director(cli) as director:
        wanted = f"{name}/{parsed}"
        with _failing(f"Expected to find release '{wanted}': Finding release '{wanted}'"):
            found = director.release(name, str(parsed))
    by_name = [(0, True)]
    # `--column` may name a column of either table, as in the reference.
    job_header = ["Job", "Blobstore ID", "Digest", "Links Consumed", "Links Provided"]
    package_header = ["Package", "Compiled for", "Blobstore ID", "Digest"]
    cli.ui.print_table(
        Table(
            header=job_header,
            rows=[
                [
                    f"{job.name}/{job.fingerprint}",
                    job.blobstore_id,
                    job.sha1,
                    _links(job.consumes),
                    _links(job.provides),
                ]
                for job in found.jobs
            ],
            content="jobs",
            sort_by=by_name,
            sibling_header=package_header,
        )
    )
    package_rows: list[list[Cell]] = []
    for package in found.packages:
        title = f"{package.name}/{package.fingerprint}"
        package_rows.append([title, "(source)", package.blobstore_id, package.sha1])
        package_rows += [
            [title, compiled.stemcell, compiled.blobstore_id, compiled.sha1]
            for compiled in package.compiled_packages
        ]
    packages = Table(
        header=package_header,
        rows=package_rows,
        content="packages",
        sort_by=by_name,
        sibling_header=job_header,
    )
    if not cli.ui.json:
        # The reference counts only rows of a section that carry their own first cell,
        # and every row here takes the package's from its section: its footer always
        # reads "0 packages". Kept, so that scripts reading the output see the same.
        packages = packages._replace(content="", notes=["0 packages"])
    cli.ui.print_table(packages)


# --- stemcells -----------------------------------------------------------------------------


@click.command("stemcells", short_help="List stemcells")
@pass_cli
def stemcells(cli: CLIContext) -> None:
    with open_director(cli) as director, _failing("Finding stemcells"):
        found = director.stemcells()
    rows = []
    for stemcell in found:
        version = _version("stemcell", stemcell.name, stemcell.version)
        cells: list[Cell] = [
            stemcell.name,
            f"{version}{'*' if stemcell.currently_deployed else ''}",
            stemcell.operating_system,
            stemcell.cpi,
            stemcell.cid,
        ]
        rows.append((stemcell.name, version, cells))
    cli.ui.print_table(
        Table(
            header=["Name", "Version", "OS", "CPI", "CID"],
            rows=_newest_first_by_name(rows),
            content="stemcells",
            notes=["(*) Currently deployed"],
        )
    )


COMMANDS = [deployments, manifest, releases, inspect_release, stemcells]
