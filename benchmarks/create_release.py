"""Time `bosh create-release --force --tarball` on a release with one big random blob.

The release: a package holding one random blob (1 GiB by default, tracked with
`bosh add-blob`) and 2,000 small source files, and a job using it. Printed: wall time,
CPU time and peak RSS of create-release (median of the runs, each on a fresh release
directory and a fresh ~/.bosh/cache), the same for a second create-release with nothing
changed (with --tarball, and without: the release tarball is then not written), and
`sha256sum` over the blob for scale.

    .venv/bin/python benchmarks/create_release.py [--blob-mib 1024] [--files 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BOSH = Path(sys.executable).with_name("bosh")


def write_random(path: Path, mib: int) -> None:
    with path.open("wb") as stream:
        for _ in range(mib):
            stream.write(os.urandom(1 << 20))


def make_release(root: Path, *, blob: Path, files: int, env: dict[str, str]) -> Path:
    release = root / "bench-release"
    for directory in ("jobs/bench/templates", "packages/big", "src/big/sources", "config"):
        (release / directory).mkdir(parents=True)
    (release / "config/final.yml").write_text(
        "---\nname: bench\nblobstore:\n  provider: local\n  options:\n"
        f"    blobstore_path: {root / 'blobstore'}\n"
    )
    (release / "config/blobs.yml").write_text("--- {}\n")
    (release / "jobs/bench/spec").write_text(
        "---\nname: bench\ntemplates:\n  ctl.erb: bin/ctl\npackages: [big]\nproperties: {}\n"
    )
    (release / "jobs/bench/monit").write_text("")
    (release / "jobs/bench/templates/ctl.erb").write_text("#!/bin/bash\nexit 0\n")
    (release / "packages/big/spec").write_text(
        "---\nname: big\ndependencies: []\nfiles:\n- big/sources/**/*\n- big/blob.bin\n"
    )
    (release / "packages/big/packaging").write_text("cp -a big/* ${BOSH_INSTALL_TARGET}/\n")
    for index in range(files):
        source = release / f"src/big/sources/d{index % 20:02d}/file{index:04d}.py"
        source.parent.mkdir(exist_ok=True)
        source.write_text(f"# source file {index}\nVALUE = {index}\n" * 8)
    run([str(BOSH), "add-blob", str(blob), "big/blob.bin", "--dir", str(release)], env=env)
    return release


def run(command: list[str], *, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user+sys) and peak RSS (MiB) of one command (GNU time)."""
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%e %U %S %M", *command],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall, user, system, rss_kib = result.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(rss_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blob-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bosh-bench-") as scratch_name:
        scratch = Path(scratch_name)
        blob = scratch / "blob.bin"
        write_random(blob, args.blob_mib)
        start = time.perf_counter()
        subprocess.run(["sha256sum", str(blob)], check=True, stdout=subprocess.DEVNULL)
        sha256sum_wall = time.perf_counter() - start

        first, second, no_tarball = [], [], []
        for attempt in range(args.runs):
            root = scratch / f"run{attempt}"
            env = {**os.environ, "HOME": str(root / "home")}
            release = make_release(root, blob=blob, files=args.files, env=env)
            command = [
                str(BOSH),
                "create-release",
                "--dir",
                str(release),
                "--force",
                "--tarball",
                str(root / "release.tgz"),
            ]
            first.append(run(command, env=env))
            second.append(run(command, env=env))
            no_tarball.append(run(command[:-2], env=env))
            shutil.rmtree(root)

    def median(values: list[tuple[float, float, float]], index: int) -> float:
        return statistics.median(v[index] for v in values)

    print(f"release: one {args.blob_mib} MiB random blob + {args.files} source files")
    print(f"sha256sum of the blob:               {sha256sum_wall:7.2f} s wall")
    print(
        f"create-release --force --tarball:    {median(first, 0):7.2f} s wall"
        f"  {median(first, 1):7.2f} s CPU  (median of {args.runs})"
    )
    print(f"  peak RSS:                          {max(r[2] for r in first):7.1f} MiB (max)")
    print(
        f"again, nothing changed:              {median(second, 0):7.2f} s wall"
        f"  {median(second, 1):7.2f} s CPU  peak RSS {max(r[2] for r in second):.1f} MiB"
    )
    print(
        f"again, without --tarball:            {median(no_tarball, 0):7.2f} s wall"
        f"  {median(no_tarball, 1):7.2f} s CPU  peak RSS {max(r[2] for r in no_tarball):.1f} MiB"
    )


if __name__ == "__main__":
    main()
