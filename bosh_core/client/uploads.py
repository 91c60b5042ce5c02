"""What a client does with local tarballs before it uploads them, as the reference CLI
does: learn a stemcell's name and version from its ``stemcell.MF`` (to ask whether the
director needs it), and write a release tarball without the package archives the
director already has.

    info = read_stemcell_info(Path("stemcell.tgz"))
    if director.stemcell_needed(info.name, info.version):
        director.follow_task(director.upload_stemcell_file(Path("stemcell.tgz")).id)

    write_release_for_upload(director, release, Path("upload.tgz"), fix=False)
    director.follow_task(director.upload_release_file(Path("upload.tgz")).id)
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Final

import attrs

from bosh_core import serialization
from bosh_core.client.director import ClientError, Director
from bosh_core.errors import BoshError
from bosh_core.release.releasedir import Release, write_release_tarball

__all__ = [
    "StemcellInfo",
    "StemcellTarballError",
    "read_stemcell_info",
    "write_release_for_upload",
]

_STEMCELL_MANIFEST: Final = "stemcell.MF"
_STEMCELL_MANIFEST_LIMIT: Final = 1 << 20  # a real stemcell.MF is a few hundred bytes


class StemcellTarballError(BoshError):
    """A file given as a stemcell tarball is not one (no readable ``stemcell.MF``)."""


@attrs.frozen
class StemcellInfo:
    """A stemcell's identity, from its ``stemcell.MF`` (other keys are the director's)."""

    name: str
    version: str


def read_stemcell_info(path: Path) -> StemcellInfo:
    """`name` and `version` from the ``stemcell.MF`` of the stemcell tarball at `path`.

    The tarball is streamed only up to that member (it comes first in real stemcells;
    the image after it can be gigabytes), nothing is written to disk.
    """
    try:
        with tarfile.open(path, "r|gz") as archive:
            for member in archive:
                if member.name.removeprefix("./") != _STEMCELL_MANIFEST or not member.isfile():
                    continue
                if member.size > _STEMCELL_MANIFEST_LIMIT:
                    raise StemcellTarballError(
                        f"Stemcell '{path}': {_STEMCELL_MANIFEST} is {member.size} bytes,"
                        f" more than {_STEMCELL_MANIFEST_LIMIT}: is it a stemcell tarball?"
                    )
                content = archive.extractfile(member)
                assert content is not None  # a regular file always has content
                return serialization.load_yaml_as(
                    content.read(), StemcellInfo, source=f"{_STEMCELL_MANIFEST} of '{path}'"
                )
    except (tarfile.TarError, EOFError, OSError) as error:
        if isinstance(error, OSError) and error.filename is not None:
            raise  # the file itself cannot be read: the caller names it
        raise StemcellTarballError(
            f"Reading stemcell '{path}': {error} (expected a gzipped tarball)"
        ) from None
    raise StemcellTarballError(
        f"Stemcell '{path}' has no '{_STEMCELL_MANIFEST}': is it a stemcell?"
    )


def write_release_for_upload(
    director: Director, release: Release, destination: Path, *, fix: bool
) -> frozenset[str]:
    """Write `release` as a tarball at `destination` for `director`, without the package
    (or, for a compiled release, compiled package) archives it already has; returns
    their fingerprints. With `fix` nothing is left out: the director replaces what it
    has that is corrupt or missing.

    A director that cannot answer which packages it has gets every archive, as the
    reference sends them then.
    """
    known: frozenset[str] = frozenset()
    if not fix:
        manifest = serialization.dump_yaml(serialization.unstructure(release.manifest))
        try:
            known = frozenset(
                director.package_matches(
                    manifest, compiled=bool(release.manifest.compiled_packages)
                )
            )
        except ClientError:
            known = frozenset()
    write_release_tarball(release, destination, skip_fingerprints=known)
    return known
