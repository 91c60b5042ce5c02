"""Config commands against a real director over TLS."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.commands.test_director import env_args
from tests.cli.conftest import RunBosh
from tests.core.client.conftest import Served, served  # noqa: F401 (fixture)


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
