"""bosh upload-release / upload-stemcell against a real director over TLS whose
in-process workers import what is uploaded: tarballs, a release directory, URLs, the
existence checks, --fix, failures, and the progress bar on a terminal."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from bosh_core.cpi.local import make_stemcell
from tests.cli.commands.conftest import STEMCELL, Env
from tests.cli.conftest import RunBosh
from tests.core.director.api.test_task_routes import web_root  # noqa: F401 (fixture)
from tests.core.director.release_tarballs import Tarballs, sha256_digest


def _task_ids(output: str) -> list[int]:
    return [int(found) for found in re.findall(r"^Task (\d+)$", output, re.MULTILINE)]


def _versions(env: Env) -> list[str]:
    with env.director() as director:
        return sorted(f"{found.name}/{found.version}" for found in director.releases())


def test_a_release_tarball_is_uploaded_and_its_task_followed(
    bosh: RunBosh, env: Env, tarballs: Tarballs
) -> None:
    run = bosh("upload-release", tarballs.v1, *env.args())
    assert run.exit_code == 0, run.stderr
    assert f"Using environment '{env.url}' as client 'admin'" in run.stdout
    [task_id] = _task_ids(run.stdout)
    assert f"Task {task_id} | " in run.stdout and "| Extracting release: " in run.stdout
    assert f"\nTask {task_id} done\n" in run.stdout
    assert run.stdout.rstrip().endswith("Succeeded")
    assert _versions(env) == ["fixture/0+dev.1"]


def test_the_packages_the_director_has_are_left_out(
    bosh: RunBosh, env: Env, tarballs: Tarballs, tmp_path: Path
) -> None:
    assert bosh("upload-release", tarballs.v1, *env.args()).exit_code == 0
    # v2 changes only a job: both its packages are known by fingerprint, and the tarball
    # written for the director (what `upload-release` sends) carries neither archive.
    from bosh_core.client.uploads import write_release_for_upload
    from bosh_core.release.releasedir import Release
    from bosh_core.release.tarball import read_release_tarball

    release = Release.from_archive(read_release_tarball(tarballs.v2, into=tmp_path / "v2"))
    with env.director() as director:
        left_out = write_release_for_upload(director, release, tmp_path / "up.tgz", fix=False)
        whole = write_release_for_upload(director, release, tmp_path / "fix.tgz", fix=True)
    assert left_out == {ref.fingerprint for ref in release.manifest.packages}
    assert whole == frozenset()
    with tarfile.open(tmp_path / "up.tgz") as sent:
        names = sent.getnames()
    assert "release.MF" in names and "jobs/worker.tgz" in names
    assert not [name for name in names if name.startswith("packages/") and name.endswith(".tgz")]
    with tarfile.open(tmp_path / "fix.tgz") as sent:
        assert "packages/runtime.tgz" in sent.getnames()


def test_a_release_whose_packages_the_director_has_is_imported(
    bosh: RunBosh, env: Env, tarballs: Tarballs
) -> None:
    assert bosh("upload-release", tarballs.v1, *env.args()).exit_code == 0
    run = bosh("ur", tarballs.v2, *env.args())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _versions(env) == ["fixture/0+dev.1", "fixture/0+dev.2"]


def test_without_a_path_the_newest_release_of_the_release_dir_is_uploaded(
    bosh: RunBosh, env: Env, tarballs: Tarballs, home: Path
) -> None:
    run = bosh("upload-release", "--dir", home / ".bosh" / "fixture-release", *env.args())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _versions(env) == ["fixture/0+dev.2"]
    # A release directory given as the path works the same way.
    run = bosh("upload-release", home / ".bosh" / "fixture-release", "--fix", *env.args())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert len(_task_ids(run.stdout)) == 1


def test_a_git_release_is_cloned_and_its_newest_release_uploaded(
    bosh: RunBosh, env: Env, tarballs: Tarballs, home: Path, tmp_path: Path
) -> None:
    repository = tmp_path / "repository"
    shutil.copytree(home / ".bosh" / "fixture-release", repository)
    git = ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "releases"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    run = bosh("upload-release", f"git+file://{repository}", "--version", "0+dev.1", *env.args())
    # As in the reference, a version picks a final release: this repository has none.
    assert run.exit_code == 1
    assert "fixture-0+dev.1.yml" in run.stderr
    run = bosh("upload-release", f"git+file://{repository}", *env.args())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _versions(env) == ["fixture/0+dev.2"]


def test_a_release_the_director_has_is_skipped_unless_fix(
    bosh: RunBosh, env: Env, tarballs: Tarballs
) -> None:
    assert bosh("upload-release", tarballs.v1, *env.args()).exit_code == 0
    check = ["--name", "fixture", "--version", "0+dev.1"]
    run = bosh("upload-release", tarballs.v1, *check, *env.args())
    assert run.exit_code == 0, run.stderr
    assert "Release 'fixture/0+dev.1' already exists.\n" in run.stdout
    assert _task_ids(run.stdout) == []
    fixed = bosh("upload-release", tarballs.v1, *check, "--fix", *env.args())
    assert fixed.exit_code == 0, fixed.stderr
    assert len(_task_ids(fixed.stdout)) == 1
    assert "already exists" not in fixed.stdout


def test_a_release_url_is_fetched_by_the_director(
    bosh: RunBosh,
    env: Env,
    tarballs: Tarballs,
    web_root: tuple[Path, str],  # noqa: F811
) -> None:
    root, url = web_root
    (root / "fixture.tgz").write_bytes(tarballs.v1.read_bytes())
    run = bosh(
        "upload-release", f"{url}/fixture.tgz", "--sha1", sha256_digest(tarballs.v1), *env.args()
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "Downloading remote release" in run.stdout
    assert _versions(env) == ["fixture/0+dev.1"]


def test_a_failed_upload_says_what_was_uploading_and_hides_url_credentials(
    bosh: RunBosh,
    env: Env,
    tarballs: Tarballs,
    web_root: tuple[Path, str],  # noqa: F811
) -> None:
    root, url = web_root
    (root / "fixture.tgz").write_bytes(tarballs.v1.read_bytes())
    secret_url = url.replace("http://", "http://user:hunter2@") + "/fixture.tgz"
    run = bosh("upload-release", secret_url, "--sha1", "sha256:" + "0" * 64, *env.args())
    assert run.exit_code == 1
    assert re.search(
        r"Uploading remote release 'http://<redacted>@127\.0\.0\.1:\d+/fixture\.tgz':"
        r" Expected task '\d+' to succeed but state is 'error'",
        run.stderr,
    ), run.stderr
    assert "hunter2" not in run.stdout + run.stderr
    tampered = bosh("upload-release", tarballs.tampered, *env.args())
    assert tampered.exit_code == 1
    assert "runtime" in tampered.stderr  # the local reader refuses it before sending


def test_a_stemcell_is_uploaded_then_skipped_unless_fix(
    bosh: RunBosh, env: Env, tmp_path: Path
) -> None:
    stemcell = make_stemcell(tmp_path / "stemcell.tgz", name=STEMCELL, version="1.18")
    run = bosh("upload-stemcell", stemcell, *env.args())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert len(_task_ids(run.stdout)) == 1 and "| Update stemcell: " in run.stdout
    with env.director() as director:
        assert [(s.name, s.version) for s in director.stemcells()] == [(STEMCELL, "1.18")]
    again = bosh("us", stemcell, *env.args())
    assert again.exit_code == 0, again.stderr
    assert f"Stemcell '{STEMCELL}/1.18' already exists.\n" in again.stdout
    assert _task_ids(again.stdout) == []
    fixed = bosh("upload-stemcell", stemcell, "--fix", *env.args())
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert len(_task_ids(fixed.stdout)) == 1


def test_a_file_that_is_not_a_stemcell_is_refused_before_sending(
    bosh: RunBosh, env: Env, tarballs: Tarballs
) -> None:
    run = bosh("upload-stemcell", tarballs.v1, *env.args())
    assert run.exit_code == 1
    assert "Retrieving stemcell info: " in run.stderr and "stemcell.MF" in run.stderr


def test_file_uploads_report_progress_and_stream(env: Env, tarballs: Tarballs) -> None:
    reports: list[tuple[int, int]] = []
    with env.director() as director:
        task = director.upload_release_file(
            tarballs.v1, progress=lambda sent, total: reports.append((sent, total))
        )
        final = director.follow_task(task.id)
    assert final.succeeded, final
    size = tarballs.v1.stat().st_size
    assert reports[-1] == (size, size)
    assert [sent for sent, _ in reports] == sorted(sent for sent, _ in reports)


def test_on_a_terminal_a_progress_bar_shows_the_transfer(env: Env, tarballs: Tarballs) -> None:
    controller, terminal = pty.openpty()
    environment = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bosh_cli", "upload-release", str(tarballs.v1), *env.args()],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=environment,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")
    os.close(controller)
    text = output.decode(errors="replace")
    assert "100%" in text
    assert "━" in text  # rich's bar
    assert "Succeeded" in text
