"""Config commands against a real director over TLS; update-runtime-config's release
uploads against one with a worker (`env`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.commands.conftest import Env
from tests.cli.commands.test_director import env_args
from tests.cli.conftest import RunBosh
from tests.core.client.conftest import Served, served  # noqa: F401 (fixture)
from tests.core.director.api.test_task_routes import web_root  # noqa: F401 (fixture)
from tests.core.director.release_tarballs import Tarballs, sha256_digest


def test_update_cloud_config_shows_the_diff_and_stores(
    bosh: RunBosh,
    served: Served,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "cloud.yml"
    path.write_text("azs:\n- name: ((zone))\n")
    run = bosh("update-cloud-config", path, "-v", "zone=z1", "-n", *env_args(served))
    assert run.exit_code == 0, run.stderr
    assert "+ azs:\n+ - name: z1\n" in run.stdout
    shown = bosh("cloud-config", *env_args(served))
    assert "azs:\n- name: z1\n" in shown.stdout
    assert bosh("cc", *env_args(served)[:-1]).stdout == "azs:\n- name: z1\n"


def test_update_config_asks_and_uses_the_diff_id(
    bosh: RunBosh,
    served: Served,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "dns.yml"
    path.write_text("addons: [{name: dns}]\n")
    args = ["update-config", "--type", "runtime", "--name", "dns", path, *env_args(served)]
    assert bosh(*args, "-n").exit_code == 0
    path.write_text("addons: [{name: dns2}]\n")
    refused = bosh(*args)  # stdin is closed: no answer, nothing stored
    assert refused.exit_code == 1 and "Continue? [yN]" in refused.stdout
    stale = bosh(*args, "-n", "--expected-latest-id", "9")
    assert stale.exit_code == 1
    assert "The expected latest ID '9' doesn't match the latest ID '1'" in stale.stderr
    listed = bosh("configs", *env_args(served))
    assert "1*  runtime  dns   -     " in listed.stdout
    assert "(*) Currently active" in listed.stdout and "1 configs" in listed.stdout
    table = json.loads(bosh("cs", *env_args(served), "--json").stdout)["Tables"][0]
    assert table["Header"] == {"created_at": "Created At", "id": "ID", "name": "Name",
                               "team": "Team", "type": "Type"}  # fmt: skip
    assert table["Rows"][0]["id"] == "1*"
    one = bosh("config", "1", *env_args(served))
    # Runtime configs are stored as the reference re-dumps them.
    assert "Content     ---  \n            addons:  \n            - name: dns" in one.stdout
    assert bosh("config", "--type", "runtime", *env_args(served)).exit_code == 1


def test_diff_config_and_delete_config(
    bosh: RunBosh,
    served: Served,  # noqa: F811
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a.yml", tmp_path / "b.yml"
    first.write_text("a: 1\n")
    second.write_text("a: 2\n")
    bosh("update-config", "--type", "x", "--name", "n", first, "-n", *env_args(served))
    diff = bosh("diff-config", "--from-id", "1", "--to-content", second, *env_args(served))
    assert "Diff     - a: 1  \n             \n         + a: 2" in diff.stdout
    assert bosh("diff-config", "--from-id", "1", *env_args(served)).exit_code == 1
    assert bosh("delete-config", "1", "-n", *env_args(served)).exit_code == 0
    again = bosh("dc", "--type", "x", "--name", "n", "-n", *env_args(served))
    assert "No configs to delete: no matches for type 'x' and name 'n' found." in again.stdout
    assert "No cloud config" in bosh("cloud-config", *env_args(served)).stderr


RUNTIME_CONFIG = """\
releases:
- name: fixture
  version: 0+dev.1
  url: ((url))
  sha1: ((sha1))
addons:
- name: fixture-addon
  jobs: []
"""


def _release_versions(env: Env) -> list[str]:
    with env.director() as director:
        return sorted(f"{found.name}/{found.version}" for found in director.releases())


def _task_lines(output: str) -> list[str]:
    return re.findall(r"^Task \d+$", output, re.MULTILINE)


def test_update_runtime_config_uploads_its_url_releases_then_stores_it(
    bosh: RunBosh,
    env: Env,
    tarballs: Tarballs,
    web_root: tuple[Path, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """As the reference: the diff, then the releases with a ``url`` uploaded (the
    director fetches an http one), then the question, then the config stored."""
    root, url = web_root
    (root / "fixture.tgz").write_bytes(tarballs.v1.read_bytes())
    path = tmp_path / "runtime.yml"
    path.write_text(RUNTIME_CONFIG)
    variables = ["-v", f"url={url}/fixture.tgz", "-v", f"sha1={sha256_digest(tarballs.v1)}"]

    # No answer (stdin is closed): the release is uploaded already, the config is not.
    refused = bosh("update-runtime-config", path, *variables, *env.args())
    assert refused.exit_code == 1
    assert refused.stdout.index("+ releases:") < refused.stdout.index("Downloading remote")
    assert refused.stdout.index("Task ") < refused.stdout.index("Continue? [yN]")
    assert _release_versions(env) == ["fixture/0+dev.1"]
    assert "No runtime config" in bosh("runtime-config", *env.args()).stderr

    run = bosh("urc", path, *variables, "-n", *env.args())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.stdout.count("Using environment") == 1
    assert "Release 'fixture/0+dev.1' already exists." in run.stdout
    assert _task_lines(run.stdout) == []
    shown = bosh("runtime-config", *env.args()).stdout
    assert f"  url: {url}/fixture.tgz\n" in shown and "  name: fixture-addon\n" in shown


def test_update_runtime_config_fix_releases_uploads_with_fix(
    bosh: RunBosh, env: Env, tarballs: Tarballs, tmp_path: Path
) -> None:
    """A ``file://`` release is uploaded from this machine; one the director has is
    skipped, unless --fix-releases, which sends it with fix (every blob stored again)."""
    path = tmp_path / "runtime.yml"
    path.write_text(RUNTIME_CONFIG.replace("  sha1: ((sha1))\n", ""))
    args = ["update-runtime-config", path, "-v", f"url=file://{tarballs.v1}", "-n", *env.args()]
    blobstore = tmp_path / "director" / "blobstore"

    first = bosh(*args)
    assert first.exit_code == 0, first.stdout + first.stderr
    assert "| Extracting release: " in first.stdout and len(_task_lines(first.stdout)) == 1
    assert _release_versions(env) == ["fixture/0+dev.1"]
    stored = _blobs(blobstore)
    assert stored

    again = bosh(*args)
    assert "Release 'fixture/0+dev.1' already exists." in again.stdout
    assert _task_lines(again.stdout) == [] and _blobs(blobstore) == stored

    fixed = bosh(*args, "--fix-releases")
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert "already exists" not in fixed.stdout and len(_task_lines(fixed.stdout)) == 1
    replaced = _blobs(blobstore)
    assert len(replaced) == len(stored) and not replaced & stored
    assert "  name: fixture-addon\n" in bosh("runtime-config", *env.args()).stdout


def test_update_runtime_config_refuses_a_bad_release_version(
    bosh: RunBosh, env: Env, tmp_path: Path
) -> None:
    path = tmp_path / "runtime.yml"
    path.write_text("releases:\n- {name: fixture, version: '1..2', url: file:///nowhere.tgz}\n")
    run = bosh("update-runtime-config", path, "-n", *env.args())
    assert run.exit_code == 1
    assert "Creating and uploading releases: Expected component ''" in run.stderr
    assert "No runtime config" in bosh("runtime-config", *env.args()).stderr


def _blobs(blobstore: Path) -> set[str]:
    return {found.name for found in blobstore.rglob("*") if found.is_file()}
