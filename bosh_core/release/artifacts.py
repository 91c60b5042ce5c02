"""Job, package and license archives (``.tgz``) built from a release directory.

An archive holds the artifact's files under ``./`` with the directories they need, in a
fixed order, through :class:`TarGzWriter` (reproducible bytes). Each file's content is
hashed while it is archived and compared with the digest that went into the fingerprint,
so a file edited during the build fails the build instead of producing an archive that
does not match its fingerprint.

A package with a ``pre_packaging`` script is the exception, as in the reference: its
files are checked when they are copied to the staging directory, then the script may
change them, and what it leaves is archived unchecked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from bosh_core.digest import Digest, file_digest
from bosh_core.errors import ReleaseError
from bosh_core.release.source import PackageSource, SourceFile
from bosh_core.release.targz import TarGzWriter

__all__ = ["staged_package_files", "write_artifact"]


def _tree_order(names: Sequence[str]) -> list[tuple[str, bool]]:
    """Every file with its ancestor directories, each directory before its contents."""
    entries: dict[tuple[str, ...], bool] = {}
    for name in names:
        parts = PurePosixPath(name).parts
        for depth in range(1, len(parts)):
            entries.setdefault(parts[:depth], True)
        entries[parts] = False
    return [("/".join(parts), is_dir) for parts, is_dir in sorted(entries.items())]


def write_artifact(
    files: Sequence[SourceFile],
    out: IO[bytes],
    *,
    expected: dict[str, Digest],
    compress: bool = True,
) -> Digest:
    """Archive `files` into `out`; returns the sha256 of the archive bytes.

    A file named in `expected` must still have that content digest.
    """
    by_name = {source.name: source for source in files}
    with TarGzWriter(out, compress=compress) as writer:
        writer.add_directory("./")
        for name, is_dir in _tree_order(list(by_name)):
            if is_dir:
                writer.add_directory(f"./{name}/")
                continue
            source = by_name[name]
            if source.is_link():
                writer.add_symlink(f"./{name}", str(source.path.readlink()))
                continue
            content = writer.add_file(f"./{name}", source.path, mode=source.archive_mode())
            if name in expected:
                _check_unchanged(source.path, expected[name], content)
        return writer.close()


def _check_unchanged(path: Path, fingerprinted: Digest, actual: Digest) -> None:
    if actual != fingerprinted:
        raise ReleaseError(
            f"File '{path}' changed while the release was being built"
            f" (fingerprinted as '{fingerprinted}', archived as '{actual}');"
            " run the command again"
        )


@contextmanager
def staged_package_files(
    package: PackageSource, release_dir: Path
) -> Iterator[tuple[list[SourceFile], dict[str, Digest]]]:
    """The files to archive for `package` and the content digests they must still have.

    Without a ``pre_packaging`` script these are the package's own files and digests.
    With one, as in the reference, the files are copied to a staging directory (each
    copy checked against its fingerprinted digest), the script runs there with
    ``bash -x`` (``BUILD_DIR``, ``RELEASE_DIR`` set), and what it leaves, less the
    script itself, is archived: nothing is left to check.
    """
    if package.pre_packaging is None:
        yield list(package.files), package.content_digests
        return
    with tempfile.TemporaryDirectory(prefix="bosh-pre-packaging-") as staging_name:
        staging = Path(staging_name)
        for source in package.files:
            target = staging / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_link():
                target.symlink_to(source.path.readlink())
                continue
            shutil.copyfile(source.path, target)
            target.chmod(source.archive_mode())
            expected = package.content_digests.get(source.name)
            if expected is not None:
                _check_unchanged(source.path, expected, file_digest(target, expected.algorithm))
        result = subprocess.run(
            ["bash", "-x", str(staging / "pre_packaging")],
            cwd=staging,
            # The script runs with the caller's environment, as any packaging step does.
            env={**os.environ, "BUILD_DIR": str(staging), "RELEASE_DIR": str(release_dir)},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ReleaseError(
                f"pre_packaging of package '{package.name}' exited with {result.returncode}:\n"
                f"{result.stderr.strip()}"
            )
        (staging / "pre_packaging").unlink()
        staged = [
            SourceFile(path, path.relative_to(staging).as_posix(), follow_symlinks=False)
            for path in sorted(staging.rglob("*"))
            if path.is_symlink() or path.is_file()
        ]
        yield staged, {}
