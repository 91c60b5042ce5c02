"""create-release and finalize-release."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.options import absolute_path, release_dir_option
from bosh_cli.release_tables import print_release_tables
from bosh_cli.reporters import BlobsLines, IndexLines
from bosh_core.errors import BoshError, ReleaseError
from bosh_core.models.version import Version, VersionError
from bosh_core.release.releasedir import Release, ReleaseDir, write_release_tarball
from bosh_core.release.tarball import read_release_tarball

__all__ = ["COMMANDS"]


def _release_dir(cli: CLIContext, directory: Path) -> ReleaseDir:
    return ReleaseDir(
        directory,
        cache_dir=Path("~/.bosh/cache").expanduser(),
        reporter=IndexLines(cli.ui),
        blobs_reporter=BlobsLines(cli.ui),
        parallel=cli.options.parallel,
    )


def _version(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version.parse(text)
    except VersionError as error:
        raise VersionError(f"Invalid --version '{text}': {error}") from error


def _default_name(release_dir: ReleaseDir) -> str:
    try:
        return release_dir.default_name()
    except BoshError as error:
        raise BoshError(
            f"Check that you're in the top-level of the release directory: {error}"
        ) from error


@click.command("create-release", short_help="Create release")
@click.argument("manifest", required=False, metavar="[PATH]")
@release_dir_option
@click.option("--name", help="Custom release name")
@click.option(
    "--version", "version_text", help="Custom release version (e.g.: 1.0.0, 1.0-beta.2+dev.10)"
)
@click.option(
    "--timestamp-version",
    is_flag=True,
    help="Create release with the timestamp as the dev version (e.g.: 1+dev.TIMESTAMP)",
)
@click.option("--final", is_flag=True, help="Make it a final release")
@click.option("--tarball", help="Create release tarball at path (e.g. /tmp/release.tgz)")
@click.option("--force", is_flag=True, help="Ignore Git dirty state check")
@pass_cli
def create_release(
    cli: CLIContext,
    manifest: str | None,
    directory: Path,
    name: str | None,
    version_text: str | None,
    timestamp_version: bool,
    final: bool,
    tarball: str | None,
    force: bool,
) -> None:
    """Build a dev or final release from a release directory (or a release manifest)."""
    if tarball and Path(tarball).expanduser().is_dir():
        raise ReleaseError(
            f"--tarball '{tarball}' is a directory: give the file to write,"
            f" e.g. '{Path(tarball) / '((name))-((version)).tgz'}'"
        )
    release_dir = _release_dir(cli, directory)
    version = _version(version_text)
    if manifest:
        release = release_dir.release_from_manifest(Path(manifest))
    else:
        release_name = name or _default_name(release_dir)
        release = release_dir.build_release(
            name=release_name,
            version=version
            or release_dir.next_dev_version(release_name, timestamp=timestamp_version),
            force=force,
        )
        if uncompressed := release_dir.no_compression_mismatch():
            cli.ui.error_line(
                "Warning: The following packages have no_compression: true in their spec"
                " files, but final.yml does not have no_compression: true. Consider setting"
                " no_compression: true in final.yml to avoid compression on the outer release"
                f" tarball: {', '.join(uncompressed)}"
            )
        if final:
            final_version = version or release_dir.next_final_version(release_name)
            release = release_dir.finalize_release(
                release.renamed(name=release_name, version=str(final_version)), force=force
            )

    archive = None
    if tarball:
        path = Path(tarball).expanduser().absolute()
        archive = str(path).replace("((name))", release.manifest.name)
        archive = archive.replace("((version))", release.manifest.version)
        write_release_tarball(release, Path(archive))
    print_release_tables(cli.ui, release.manifest, archive=archive)


@click.command("finalize-release", short_help="Create final release from dev release tarball")
@click.argument("path", metavar="PATH")
@release_dir_option
@click.option("--name", help="Custom release name")
@click.option(
    "--version", "version_text", help="Custom release version (e.g.: 1.0.0, 1.0-beta.2+dev.10)"
)
@click.option("--force", is_flag=True, help="Ignore Git dirty state check")
@pass_cli
def finalize_release(
    cli: CLIContext,
    path: str,
    directory: Path,
    name: str | None,
    version_text: str | None,
    force: bool,
) -> None:
    """Record a release tarball as the next final release of the release directory."""
    release_dir = _release_dir(cli, directory)
    with tempfile.TemporaryDirectory(prefix="bosh-finalize-") as scratch:
        archive = read_release_tarball(Path(path).expanduser(), into=Path(scratch))
        manifest = archive.manifest
        release = Release(
            manifest,
            jobs={ref.name: archive.job_archive(ref.name) for ref in manifest.jobs},
            packages={ref.name: archive.package_archive(ref.name) for ref in manifest.packages},
            license=archive.license_archive(),
        )
        release_name = name or manifest.name
        version = _version(version_text) or release_dir.next_final_version(release_name)
        release = release_dir.finalize_release(
            release.renamed(name=release_name, version=str(version)), force=force
        )
    print_release_tables(cli.ui, release.manifest)


@click.command("vendor-package", short_help="Vendor package")
@click.argument("package", metavar="PACKAGE")
@click.argument("source", metavar="SRC-DIR", default=".", callback=absolute_path)
@release_dir_option
@click.option("--prefix", default="", help="Prefix to add to the package name")
@pass_cli
def vendor_package(
    cli: CLIContext, package: str, source: Path, directory: Path, prefix: str
) -> None:
    """Copy a package of another release directory's newest release into this one."""
    _release_dir(cli, directory).vendor_package(_release_dir(cli, source), package, prefix=prefix)


COMMANDS = [create_release, finalize_release, vendor_package]
