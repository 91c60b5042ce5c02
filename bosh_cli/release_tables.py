"""The three tables the reference prints for a release (create, finalize, inspect)."""

from __future__ import annotations

from bosh_cli.ui import UI, Table
from bosh_core.models.release import ReleaseManifest

__all__ = ["print_release_tables"]

_BY_NAME = [(0, True)]


def print_release_tables(ui: UI, manifest: ReleaseManifest, *, archive: str | None = None) -> None:
    """Summary (name, version, commit, archive), then jobs, then packages."""
    summary_header = ["Name", "Version", "Commit Hash"]
    commit = manifest.commit_hash + ("+" if manifest.uncommitted_changes else "")
    summary_row = [manifest.name, manifest.version, commit]
    if archive:
        summary_header.append("Archive")
        summary_row.append(archive)
    ui.print_table(Table(header=summary_header, rows=[summary_row], transpose=True))

    ui.print_table(
        Table(
            header=["Job", "Digest", "Packages"],
            rows=[
                [f"{job.name}/{job.fingerprint}", job.sha1, job.packages] for job in manifest.jobs
            ],
            content="jobs",
            sort_by=_BY_NAME,
        )
    )

    compiled = manifest.compiled_packages
    package_header = ["Package", "Digest", "Dependencies"]
    if compiled:
        package_header += ["OS", "OS Version"]
    package_rows: list[list[str | list[str]]] = []
    for package in manifest.packages:
        row: list[str | list[str]] = [
            f"{package.name}/{package.fingerprint}",
            package.sha1,
            list(package.dependencies),
        ]
        package_rows.append([*row, "", ""] if compiled else row)
    for compiled_package in compiled:
        os_name, _, os_version = compiled_package.stemcell.partition("/")
        package_rows.append(
            [
                f"{compiled_package.name}/{compiled_package.fingerprint}",
                compiled_package.sha1,
                list(compiled_package.dependencies),
                os_name,
                os_version,
            ]
        )
    ui.print_table(
        Table(header=package_header, rows=package_rows, content="packages", sort_by=_BY_NAME)
    )
