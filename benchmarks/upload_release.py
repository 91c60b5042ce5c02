"""Upload a release with one big random blob to a real director: MB/s, import, peak RSS.

The release is made as benchmarks/create_release.py makes it (its helpers: a package
holding one random blob of `--size-mib` MiB, tracked with `bosh add-blob`, and a few
source files), then `bosh create-release --tarball`. A `bosh-director` with one
in-process task worker on SQLite gets the tarball as `POST /releases`
(application/x-compressed, streamed from disk with its Content-Length, as the CLI sends
it); the task is followed to its end. Printed: the upload's MB/s (the HTTP request
alone, until the 302), the import's time (302 to the task done), and the director
process's memory from /proc: its RSS idle with nothing uploaded, and its peak RSS
(VmHWM) after the upload and after the import.

    .venv/bin/python benchmarks/upload_release.py [--size-mib 1024] [--files 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _director import DirectorProcess, running_director
from create_release import BOSH, make_release, run, write_random

CHUNK = 1 << 20


def build_release(scratch: Path, *, size_mib: int, files: int) -> tuple[Path, float]:
    """The release tarball and the seconds `bosh create-release --tarball` took."""
    scratch.mkdir(parents=True)
    blob = scratch / "blob.bin"
    write_random(blob, size_mib)
    env = {**os.environ, "HOME": str(scratch / "home")}
    release = make_release(scratch, blob=blob, files=files, env=env)
    tarball = scratch / "release.tgz"
    wall, _, _ = run(
        [str(BOSH), "create-release", "--dir", str(release), "--force", "--tarball", str(tarball)],
        env=env,
    )
    return tarball, wall


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def upload(director: DirectorProcess, tarball: Path) -> tuple[float, float]:
    """(seconds of the HTTP upload, seconds from its answer to the task done)."""
    size = tarball.stat().st_size
    with director.client(timeout=3600) as client:
        started = time.perf_counter()
        response = client.post(
            "/releases",
            content=chunks(tarball),
            headers={"Content-Type": "application/x-compressed", "Content-Length": str(size)},
        )
        uploaded = time.perf_counter() - started
        if response.status_code != 302:
            raise RuntimeError(f"POST /releases: {response.status_code} {response.text[:500]}")
        location = response.headers["Location"]
        started = time.perf_counter()
        while (task := client.get(location).json())["state"] in ("queued", "processing"):
            time.sleep(0.2)
        imported = time.perf_counter() - started
        if task["state"] != "done":
            events = client.get(f"{location}/output", params={"type": "event"}).text
            raise RuntimeError(
                f"task {task['id']} ended {task['state']}: {task['result']}\n{events}"
            )
    return uploaded, imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="the random blob's size")
    parser.add_argument("--files", type=int, default=20, help="small source files too")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bosh-upload-bench-") as scratch_name:
        scratch = Path(scratch_name)
        tarball, built = build_release(
            scratch / "release", size_mib=args.size_mib, files=args.files
        )
        size = tarball.stat().st_size
        with running_director(scratch / "run", workers=1) as director:
            with director.client() as client:
                client.get("/tasks").raise_for_status()
            idle_rss, idle_peak = director.memory_mib()
            uploaded, imported = upload(director, tarball)
            _, upload_peak = director.memory_mib()  # VmHWM only grows: the import's is later
            time.sleep(0.5)
            final_rss, import_peak = director.memory_mib()
            with director.client() as client:
                releases = client.get("/releases").json()
        assert [release["name"] for release in releases] == ["bench"], releases

    print(f"release tarball: {size / 2**20:.0f} MiB (one {args.size_mib} MiB random blob)")
    print(f"  built by bosh create-release in {built:.1f} s")
    print(
        f"upload (HTTP, until the 302):  {uploaded:7.1f} s  {size / uploaded / 1e6:7.1f} MB/s"
        f"  ({size / uploaded / 2**20:.1f} MiB/s)"
    )
    print(f"import (302 to task done):     {imported:7.1f} s")
    print(
        f"director RSS idle, nothing uploaded: {idle_rss:6.1f} MiB (peak since start"
        f" {idle_peak:.1f} MiB)"
    )
    print(f"director peak RSS after upload:      {upload_peak:6.1f} MiB")
    print(
        f"director peak RSS after import:      {import_peak:6.1f} MiB (RSS now {final_rss:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
