"""bosh delete-release / delete-stemcell / delete-deployment and cancel-tasks against a
real director whose worker runs the deletions."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bosh_core.cpi.local import make_stemcell
from tests.cli.commands.conftest import STEMCELL, Env
from tests.cli.conftest import RunBosh
from tests.core.director.release_tarballs import Tarballs


def test_a_release_version_then_the_release_are_deleted(
    bosh: RunBosh, env: Env, tarballs: Tarballs
) -> None:
    for tarball in (tarballs.v1, tarballs.v2):
        assert bosh("upload-release", tarball, *env.args()).exit_code == 0
    run = bosh("-n", "delete-release", "fixture/0+dev.1", *env.args())
    assert run.exit_code == 0, run.stderr
    assert "Deleting jobs: worker/" in run.stdout
    assert run.stdout.rstrip().endswith("Succeeded")
    with env.director() as director:
        assert [found.version for found in director.releases()] == ["0+dev.2"]

    assert bosh("delr", "-n", "fixture", *env.args()).exit_code == 0
    with env.director() as director:
        assert director.releases() == []
    gone = bosh("-n", "delete-release", "fixture", *env.args())
    assert gone.exit_code == 0
    assert "Release 'fixture' does not exist." in gone.stdout


def test_deleting_asks_first(
    bosh: RunBosh, env: Env, tarballs: Tarballs, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bosh("upload-release", tarballs.v1, *env.args()).exit_code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    run = bosh("delete-release", "fixture", *env.args())
    assert run.exit_code == 1
    assert "Continue? [yN]" in run.stdout
    assert "Stopped" in run.stdout + run.stderr
    with env.director() as director:
        assert [found.name for found in director.releases()] == ["fixture"]


def test_a_stemcell_is_deleted_and_a_missing_one_is_quietly_done(
    bosh: RunBosh, env: Env, tmp_path: Path
) -> None:
    tarball = make_stemcell(tmp_path / "stemcell.tgz", version="3")
    assert bosh("upload-stemcell", tarball, *env.args()).exit_code == 0
    run = bosh("-n", "delete-stemcell", f"{STEMCELL}/3", *env.args())
    assert run.exit_code == 0, run.stderr
    assert "Task " in run.stdout
    with env.director() as director:
        assert director.stemcells() == []
    again = bosh("dels", "-n", f"{STEMCELL}/3", *env.args())
    assert (again.exit_code, "Task " in again.stdout) == (0, False)
    bad = bosh("-n", "delete-stemcell", STEMCELL, *env.args())
    assert bad.exit_code == 1
    assert "to be in format 'NAME/VERSION'" in bad.stdout + bad.stderr


def test_a_missing_deployment_is_quietly_done_and_one_is_required(bosh: RunBosh, env: Env) -> None:
    run = bosh("-n", "-d", "nothing", "delete-deployment", *env.args())
    assert run.exit_code == 0, run.stderr
    assert "Using deployment 'nothing'" in run.stdout
    missing = bosh("-n", "delete-deployment", *env.args())
    assert missing.exit_code == 1
    assert "deployment name" in missing.stdout + missing.stderr


def test_cancel_tasks_sends_the_selector(bosh: RunBosh, env: Env) -> None:
    # As in the reference, these take a value only after '=' (go-flags' optional values).
    run = bosh("cancel-tasks", "-t=update_release", "--state=queued", *env.args())
    assert run.exit_code == 0, run.stderr
    spaced = bosh("cancel-tasks", "-t", "update_release", *env.args())
    assert spaced.exit_code == 1
    assert "extra argument (update_release)" in spaced.stderr
    bad = bosh("cts", "-s=done", *env.args())
    assert bad.exit_code == 1
    assert "done is not one of the cancellable states" in bad.stdout + bad.stderr
