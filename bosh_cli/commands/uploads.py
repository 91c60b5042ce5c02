"""upload-release and upload-stemcell, as the reference CLI runs them.

A URL (``http(s)://``) is handed to the director to fetch; anything else is local: a
release tarball, a release directory (its newest release, or ``--name``/``--version``),
a ``dev_releases``/``releases`` manifest, a ``git+`` repository cloned first, or with
no argument the release directory ``--dir``. A local release is rewritten without the
packages the director already has (unless ``--fix``), then streamed; on a terminal a
progress bar shows the transfer. Then the task is followed as ``bosh task`` shows it.

:func:`upload_manifest_releases` is the reference's release manager, shared by
``deploy`` and ``update-runtime-config``: it runs the same upload for each release of a
manifest that names a ``url``, on the director the command has open.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from bosh_cli.commands.director import track_task
from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.options import release_dir_option
from bosh_cli.reporters import IndexLines
from bosh_cli.session import open_director
from bosh_core import yaml_loading
from bosh_core.client import Director, Task
from bosh_core.client.uploads import read_stemcell_info, write_release_for_upload
from bosh_core.errors import BoshError
from bosh_core.models.version import Version, VersionError
from bosh_core.release.releasedir import Release, ReleaseDir
from bosh_core.release.tarball import read_release_tarball
from bosh_core.urls import redact_url

__all__ = ["COMMANDS", "send_release", "upload_manifest_releases"]

_Progress = Callable[[int, int], None]
_Command = TypeVar("_Command", bound=Callable[..., Any])


def _is_remote(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def _is_git(url: str) -> bool:
    return url.startswith(("git://", "git+", "git@"))


def _parsed_version(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> Version | None:
    if not value:
        return None
    try:
        return Version.parse(value)
    except VersionError as error:
        raise click.BadParameter(str(error)) from None


def _existence_check_options(noun: str) -> Callable[[_Command], _Command]:
    """--name, --version and --sha1, which only a remote `noun` uses, worded as the
    reference words them."""
    options = [
        click.option(
            "--name",
            default="",
            help=f"Name used in existence check (is not used with local {noun} file)",
        ),
        click.option(
            "--version",
            callback=_parsed_version,
            help=f"Version used in existence check (is not used with local {noun} file)",
        ),
        click.option(
            "--sha1",
            default="",
            help=f"SHA1 of the remote {noun} (is not used with local files)",
        ),
    ]

    def decorate(command: _Command) -> _Command:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@contextlib.contextmanager
def _progress_bar(cli: CLIContext) -> Iterator[_Progress | None]:
    """A transfer progress bar while the block runs, on a terminal only: scripts and
    ``--json`` get none. rich is imported here, so other commands start without it."""
    ui = cli.ui
    if not (ui.tty and not ui.json and sys.stdout.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    ui.begin_line("")  # the blank line the reference leaves above its bar
    columns = (BarColumn(), TaskProgressColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(no_color=cli.options.no_color)) as bar:
        transfer = bar.add_task("upload", total=None)

        def advance(sent: int, total: int) -> None:
            bar.update(transfer, completed=sent, total=total)

        yield advance


def _send_and_track(
    cli: CLIContext, director: Director, what: str, send: Callable[[_Progress | None], Task]
) -> None:
    """Upload with `send`, then follow its task; every failure says what was uploading
    (``Uploading release file: ...``), as the reference wraps it."""
    try:
        with _progress_bar(cli) as progress:
            task = send(progress)
        track_task(cli.ui, director, task.id)
    except BoshError as error:
        raise BoshError(f"{what}: {error}") from error


# --- upload-release -----------------------------------------------------------------------


@click.command("upload-release", short_help="Upload release")
@click.argument("url", metavar="[URL]", default="")
@release_dir_option
@click.option(
    "--rebase",
    is_flag=True,
    help="Rebases this release onto the latest version known by the Director",
)
@click.option("--fix", is_flag=True, help="Replaces corrupt and missing jobs and packages")
@_existence_check_options("release")
@click.option(
    "--stemcell",
    default="",
    metavar="OS/VERSION",
    help="Stemcell that the release is compiled against (applies to remote releases)",
)
@pass_cli
def upload_release(
    cli: CLIContext,
    url: str,
    directory: Path,
    rebase: bool,
    fix: bool,
    name: str,
    version: Version | None,
    sha1: str,
    stemcell: str,
) -> None:
    """Upload a release tarball, a release directory's release, or one the director
    fetches from a URL; skipped when the director has --name/--version already."""
    with open_director(cli) as director:
        send_release(
            cli,
            director,
            url,
            directory=directory,
            rebase=rebase,
            fix=fix,
            name=name,
            version=version,
            sha1=sha1,
            stemcell=stemcell,
        )


def send_release(
    cli: CLIContext,
    director: Director,
    url: str,
    *,
    directory: Path,
    rebase: bool = False,
    fix: bool = False,
    name: str = "",
    version: Version | None = None,
    sha1: str = "",
    stemcell: str = "",
) -> None:
    """What ``upload-release`` does once the director is open, for it and for
    :func:`upload_manifest_releases`."""
    if not fix and _release_exists(cli, director, name, version, stemcell):
        return
    if _is_remote(url):
        _send_and_track(
            cli,
            director,
            f"Uploading remote release '{redact_url(url)}'",
            lambda _: director.upload_release_url(url, sha1=sha1, fix=fix, rebase=rebase),
        )
        return
    with tempfile.TemporaryDirectory(prefix="bosh-upload-release-") as scratch:
        release = _local_release(
            cli, url, directory, name=name, version=version, scratch=Path(scratch)
        )
        tarball = Path(scratch) / "release.tgz"
        write_release_for_upload(director, release, tarball, fix=fix)
        _send_and_track(
            cli,
            director,
            "Uploading release file",
            lambda progress: director.upload_release_file(
                tarball, fix=fix, rebase=rebase, progress=progress
            ),
        )


def upload_manifest_releases(
    cli: CLIContext, director: Director, text: str, *, fix: bool, source: str
) -> None:
    """Upload every release that names a ``url`` in `text`, a deployment manifest or a
    runtime config as sent to the director, one after another, as the reference's
    release manager does for ``deploy`` and ``update-runtime-config``. Each is skipped
    when the director has its name and version (for its stemcell: ``stemcell``, else
    ``exported_from[0]``), unless `fix`, which also replaces what the director has."""
    try:
        for release in _manifest_releases(text, source):
            if release.get("url"):
                _upload_manifest_release(cli, director, release, fix=fix)
    except BoshError as error:
        raise BoshError(f"Creating and uploading releases: {error}") from error


class _ScalarTextLoader(yaml_loading.SafeLoader):  # type: ignore[misc, valid-type]
    """Every scalar as its text (null as None), as yaml.v2 fills the reference's string
    fields: ``version: 1.10`` is ``1.10``, not a float."""

    yaml_implicit_resolvers: dict[Any, Any] = {}

    def construct_text(self, node: yaml.ScalarNode) -> str | None:
        value: str = self.construct_scalar(node)
        return None if not node.style and value in _NULLS else value


_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_ScalarTextLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])
# `<<` as a key merges (the loader flattens it first); anywhere else it is its text.
for _tag in ("str", "int", "float", "bool", "null", "timestamp", "binary", "merge"):
    _ScalarTextLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _ScalarTextLoader.construct_text)


def _manifest_releases(text: str, source: str) -> list[Mapping[str, Any]]:
    try:
        document = yaml_loading.load_yaml(text, source=source, loader_class=_ScalarTextLoader)
    except BoshError as error:
        raise BoshError(f"Parsing manifest: {error}") from error
    if document is None:
        return []
    if not isinstance(document, Mapping):
        raise BoshError("Parsing manifest: expected a YAML map")
    releases = document.get("releases")
    if releases is None:
        return []
    if not isinstance(releases, list) or not all(isinstance(r, Mapping) for r in releases):
        raise BoshError("Parsing manifest: expected 'releases' to be a list of maps")
    return releases


def _upload_manifest_release(
    cli: CLIContext, director: Director, release: Mapping[str, Any], *, fix: bool
) -> None:
    name, text = _text(release.get("name")), _text(release.get("version"))
    version = Version.parse(text)  # unwrapped, as the reference leaves its error
    what = f"Uploading release '{name}/{text}'"
    if text == "create":
        raise BoshError(f"{what}: 'version: create' releases are not supported yet")
    try:
        send_release(
            cli,
            director,
            _text(release["url"]),
            directory=Path.cwd(),
            fix=fix,
            name=name,
            version=version,
            sha1=_text(release.get("sha1")),
            stemcell=_release_stemcell(release),
        )
    except BoshError as error:
        raise BoshError(f"{what}: {error}") from error


def _release_stemcell(release: Mapping[str, Any]) -> str:
    """``OS/VERSION`` of a compiled release: its ``stemcell`` if that names an os, else
    the first of its ``exported_from``; empty for a source release."""
    stemcell = release.get("stemcell")
    if isinstance(stemcell, Mapping) and stemcell.get("os"):
        return f"{_text(stemcell.get('os'))}/{_text(stemcell.get('version'))}"
    exported = release.get("exported_from")
    if isinstance(exported, Sequence) and exported and isinstance(exported[0], Mapping):
        first = exported[0]
        return f"{_text(first.get('os'))}/{_text(first.get('version'))}"
    return ""


def _text(value: Any) -> str:
    """A field as the reference's string fields take it: absent or null is empty."""
    return "" if value is None else str(value)


def _release_exists(
    cli: CLIContext, director: Director, name: str, version: Version | None, stemcell: str
) -> bool:
    # Without a name and a version the reference's check finds nothing: no need to ask.
    if not (name and version and director.has_release(name, str(version), stemcell=stemcell)):
        return False
    for_stemcell = f" for stemcell '{stemcell}'" if stemcell else ""
    cli.ui.print_line(f"Release '{name}/{version}'{for_stemcell} already exists.")
    return True


def _local_release(
    cli: CLIContext, url: str, directory: Path, *, name: str, version: Version | None, scratch: Path
) -> Release:
    """The release `url` names on this machine (see the module's doc); what has to be
    extracted or cloned goes under `scratch`. --name/--version pick a release of a
    directory; a tarball or a manifest is what it is."""
    path_text = url.removeprefix("file://")
    if _is_git(url):
        directory = scratch / "git-clone"
        _git_clone(url.removeprefix("git+"), directory)
    elif path_text:
        path = Path(path_text).expanduser()
        if path_text.endswith(".yml"):
            return _release_dir(cli, directory).release_from_manifest(path)
        if not path.is_dir():
            return Release.from_archive(read_release_tarball(path, into=scratch / "extracted"))
        directory = path
    return _release_dir(cli, directory).find_release(name=name or None, version=version)


def _release_dir(cli: CLIContext, path: Path) -> ReleaseDir:
    return ReleaseDir(
        path,
        cache_dir=Path("~/.bosh/cache").expanduser(),
        reporter=IndexLines(cli.ui),
        parallel=cli.options.parallel,
    )


def _git_clone(repository: str, destination: Path) -> None:
    """A shallow clone of `repository`, as the reference takes a ``git+`` release."""
    try:
        subprocess.run(
            ["git", "clone", repository, "--depth", "1", str(destination)],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as error:
        raise BoshError(
            f"Cloning git repo '{repository}': {error.stderr.strip() or error}"
        ) from None
    except FileNotFoundError:
        raise BoshError(f"Cloning git repo '{repository}': git is not installed") from None


# --- upload-stemcell ----------------------------------------------------------------------


@click.command("upload-stemcell", short_help="Upload stemcell")
@click.argument("url", metavar="URL")
@click.option("--fix", is_flag=True, help="Replaces the stemcell if already exists")
@_existence_check_options("stemcell")
@pass_cli
def upload_stemcell(
    cli: CLIContext, url: str, fix: bool, name: str, version: Version | None, sha1: str
) -> None:
    """Upload a stemcell tarball, or have the director fetch one from a URL; skipped
    when the director has that stemcell already (unless --fix)."""
    with open_director(cli) as director:
        if _is_remote(url):
            if fix or _stemcell_needed(cli, director, name, str(version or "")):
                _send_and_track(
                    cli,
                    director,
                    f"Uploading remote stemcell '{redact_url(url)}'",
                    lambda _: director.upload_stemcell_url(url, sha1=sha1, fix=fix),
                )
            return
        path = Path(url.removeprefix("file://")).expanduser()
        try:
            info = read_stemcell_info(path)
        except BoshError as error:
            raise BoshError(f"Retrieving stemcell info: {error}") from error
        if fix or _stemcell_needed(cli, director, info.name, info.version):
            _send_and_track(
                cli,
                director,
                "Uploading stemcell file",
                lambda progress: director.upload_stemcell_file(path, fix=fix, progress=progress),
            )


def _stemcell_needed(cli: CLIContext, director: Director, name: str, version: str) -> bool:
    try:
        needed = director.stemcell_needed(name, version)
    except BoshError as error:
        raise BoshError(f"Finding stemcells: {error}") from error
    if not needed:
        cli.ui.print_line(f"Stemcell '{name}/{version}' already exists.")
    return needed


COMMANDS = [upload_release, upload_stemcell]
