"""Stemcells for the local CPI: a light tarball, since a local VM runs the host's OS.

The tarball holds ``stemcell.MF`` (name, version, api_version, operating_system, sha1 of
the image, stemcell_formats ``[local-tgz]``, cloud_properties) and ``image``: a small
gzipped tar of the stemcell's ``/var/vcap`` skeleton, which the CPI unpacks into each new
VM's ``/var/vcap`` (as a real stemcell's disk brings ``/var/vcap/bosh/etc/stemcell_version``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

from bosh_core.serialization import dump_yaml

__all__ = ["STEMCELL_FORMAT", "main", "make_stemcell", "write_image"]

STEMCELL_FORMAT = "local-tgz"
_SKELETON_DIRS = ("bosh", "bosh/bin", "bosh/etc", "bosh/log", "data", "jobs", "packages",
                  "store", "sys", "sys/log", "sys/run")  # fmt: skip
_MTIME = 946684800  # 2000-01-01: the same inputs make the same bytes


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = _MTIME
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _gzip_tar(members: Sequence[tuple[str, bytes | None, int]]) -> bytes:
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, data, mode in members:
            _add(tar, name, data, mode)
    return raw.getvalue()


def write_image(*, version: str, operating_system: str) -> bytes:
    """The image: the ``/var/vcap`` skeleton a new local VM starts from."""
    return _gzip_tar(
        [
            *((f"./{name}", None, 0o755) for name in _SKELETON_DIRS),
            ("./bosh/etc/stemcell_version", f"{version}\n".encode(), 0o644),
            ("./bosh/etc/operating_system", f"{operating_system}\n".encode(), 0o644),
        ]
    )


def make_stemcell(
    path: Path,
    *,
    name: str = "bosh-local-ubuntu-jammy-go_agent",
    version: str = "1",
    operating_system: str = "ubuntu-jammy",
    api_version: int = 3,
) -> Path:
    """Write a local-CPI stemcell tarball at `path` and return `path`.

    `operating_system` is what deployments name as the stemcell ``os``; api_version 3
    (at least 2) lets a CPI v2 director give the agent its settings without a registry.
    """
    image = write_image(version=version, operating_system=operating_system)
    manifest = {
        "name": name,
        "version": version,
        "api_version": api_version,
        "bosh_protocol": "1",
        "operating_system": operating_system,
        "sha1": hashlib.sha1(image).hexdigest(),
        "stemcell_formats": [STEMCELL_FORMAT],
        "cloud_properties": {},
    }
    tarball = _gzip_tar(
        [("stemcell.MF", dump_yaml(manifest).encode(), 0o644), ("image", image, 0o644)]
    )
    path.write_bytes(tarball)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``bosh-local-stemcell PATH [--name] [--version] [--os]``."""
    parser = argparse.ArgumentParser(
        prog="bosh-local-stemcell", description="Write a stemcell tarball for the local CPI."
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--name", default="bosh-local-ubuntu-jammy-go_agent")
    parser.add_argument("--version", default="1")
    parser.add_argument("--os", dest="operating_system", default="ubuntu-jammy")
    args = parser.parse_args(argv)
    make_stemcell(
        args.path, name=args.name, version=args.version, operating_system=args.operating_system
    )
    print(args.path)
    return 0
