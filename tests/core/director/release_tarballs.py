"""Release tarballs built from the conformance fixture release, for the director's
upload tests (the ``release_tarballs`` fixture in tests/core/director/conftest.py)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import attrs

from bosh_core.models.release import CompiledPackageRef
from bosh_core.release.index import QuietReporter
from bosh_core.release.releasedir import Release as BuiltRelease
from bosh_core.release.releasedir import ReleaseDir, write_release_tarball
from tests.conftest import CONFORMANCE

STEMCELL = "ubuntu-jammy/1.18"


@attrs.frozen
class Tarballs:
    v1: Path  # fixture/0+dev.1: jobs web, worker; packages runtime, webapp (-> runtime)
    v2: Path  # fixture/0+dev.2: the worker job changed, the rest as in v1
    renamed: Path  # v1 as release "other"
    compiled: Path  # v1 with its packages compiled for STEMCELL
    tampered: Path  # v1 whose runtime package differs from its release.MF digest


def sha256_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _compiled(release: BuiltRelease) -> BuiltRelease:
    manifest = release.manifest
    refs = tuple(
        CompiledPackageRef(
            p.name,
            p.version,
            p.fingerprint,
            sha256_digest(release.packages[p.name]),
            STEMCELL,
            p.dependencies,
        )
        for p in manifest.packages
    )
    return attrs.evolve(
        release,
        manifest=attrs.evolve(manifest, packages=(), compiled_packages=refs),
        packages={},
        compiled_packages=dict(release.packages),
    )


def build_tarballs(root: Path) -> Tarballs:
    """Every tarball of `Tarballs`, written under `root`."""
    source = root / "fixture-release"
    shutil.copytree(CONFORMANCE / "release-fingerprints" / "fixture-release", source)
    for path in [source, *source.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    release_dir = ReleaseDir(source, cache_dir=root / "cache", reporter=QuietReporter())

    def build() -> BuiltRelease:
        version = release_dir.next_dev_version("fixture")
        return release_dir.build_release(name="fixture", version=version, force=True)

    def write(release: BuiltRelease, name: str) -> Path:
        write_release_tarball(release, root / name)
        return root / name

    v1 = build()
    template = source / "jobs" / "worker" / "templates" / "run.erb"
    template.write_text(template.read_text() + "# v2\n")
    v2 = build()
    corrupt = root / "corrupt-runtime.tgz"
    corrupt.write_bytes(v1.packages["runtime"].read_bytes()[:-8] + b"tampered")
    return Tarballs(
        v1=write(v1, "v1.tgz"),
        v2=write(v2, "v2.tgz"),
        renamed=write(v1.renamed(name="other", version=v1.manifest.version), "other.tgz"),
        compiled=write(_compiled(v1), "compiled.tgz"),
        tampered=write(
            attrs.evolve(v1, packages={**v1.packages, "runtime": corrupt}), "tampered.tgz"
        ),
    )
