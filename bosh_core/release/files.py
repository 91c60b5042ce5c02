"""File-system steps shared by the release modules: atomic writes, removals, names.

Files are written as the reference CLI writes them: created with mode 0666 less the
umask (0644 under the usual umask 022), not the 0600 of a temporary file.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from bosh_core import serialization
from bosh_core.blobstore import staged_destination
from bosh_core.errors import ReleaseError

__all__ = ["check_name", "remove_path", "write_atomically", "write_yaml"]


@contextlib.contextmanager
def write_atomically(destination: Path, *, mode: int = 0o666) -> Iterator[IO[bytes]]:
    """Write `destination` through a file beside it, renamed into place on success.

    `mode` is masked by the umask, as for any file the user creates.
    """
    with staged_destination(destination, mode=mode) as staged, staged.open("wb") as stream:
        yield stream


def write_yaml(path: Path, document: Any, *, what: str) -> None:
    """Write `document` (a model or plain data) as YAML; a failure names `what` and `path`."""
    try:
        with write_atomically(path) as stream:
            stream.write(serialization.dump_yaml(serialization.unstructure(document)).encode())
    except OSError as exc:
        raise ReleaseError(
            f"Cannot write {what} '{path}': {exc.strerror} ('{exc.filename or path}')"
        ) from None


def remove_path(path: Path) -> None:
    """Remove a directory tree, or a file or symlink (never what a symlink points to).

    A missing path is not an error; any other failure raises OSError naming the path
    that could not be removed.
    """
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def check_name(name: str, *, kind: str) -> None:
    """Refuse a job, package or release name that is not one plain directory name.

    Each of these names becomes a directory (``jobs/<name>``, ``dev_releases/<name>``)
    and a file name, so ``..`` or a slash would write outside the release directory.
    """
    problem = None
    if not name.strip():
        problem = "it is empty"
    elif name in (".", ".."):
        problem = "it names a directory ('.' or '..')"
    elif any(char in name for char in "/\\\0"):
        problem = "it contains a path separator or NUL; it must be a single directory name"
    elif name != name.strip():
        problem = "it starts or ends with whitespace"
    if problem:
        raise ReleaseError(
            f"{kind} name '{name}' is not valid: {problem}. Use a plain name such as 'web'"
        )
