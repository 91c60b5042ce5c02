"""`bosh local` end to end on real daemons: a director (SQLite, database queue, local
blobstore, local CPI, its embedded TLS NATS) and the registry, each in its own process
group under one directory.

The tests share one environment and run in file order, as a user would: up, up again,
target it, lose a daemon, down, delete. The module fixture deletes whatever is left.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bosh_core.cpi.local import LocalCPI
from bosh_core.cpi.types import CPIContext
from bosh_core.local import LocalEnvironment, LocalEnvironmentError
from bosh_core.local.processes import group_members
from bosh_core.local.provisioning import STEMCELL_NAME
from bosh_core.local.state import load_state
from tests.core.local.support import BOSH, Recorder, pids


@pytest.fixture(scope="module")
def progress() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def environment(
    tmp_path_factory: pytest.TempPathFactory, progress: Recorder
) -> Iterator[LocalEnvironment]:
    local = LocalEnvironment(tmp_path_factory.mktemp("local") / "env", progress=progress)
    try:
        yield local
    finally:
        local.delete()


def test_up_starts_every_daemon_and_provisions_the_director(
    environment: LocalEnvironment, progress: Recorder
) -> None:
    target = environment.up()

    assert environment.running() == {"registry": True, "director": True}
    lines = progress.take()
    assert "Starting director" in lines
    assert any(line.startswith("Making and uploading stemcell") for line in lines)
    assert "Deploying hello from" in " ".join(lines)
    urls = [line.rsplit(" at ", 1)[1] for line in lines if line.startswith("hello: hello/")]
    assert len(urls) == 2
    assert all(urllib.request.urlopen(url, timeout=5).status == 200 for url in urls)
    state_file = environment.directory / "state.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert target.client_secret not in repr(load_state(environment.directory))
    with environment.env().director() as director:
        assert director.info().cpi == "local"
        assert [s.name for s in director.stemcells()] == [STEMCELL_NAME]
        assert [r.name for r in director.releases()] == ["hello"]
        cloud = director.latest_config("cloud", "default")
    assert cloud is not None
    assert f"gateway: {environment.network.host_address}" in cloud.content
    assert f"range: {environment.network.cidr}" in cloud.content


def test_second_up_reuses_the_running_environment(
    environment: LocalEnvironment, progress: Recorder
) -> None:
    before = pids(environment)
    environment.up()

    assert pids(environment) == before
    lines = progress.take()
    assert not any(line.startswith(("Starting", "Making", "Building", "Setting")) for line in lines)
    assert "Release hello already uploaded" in lines
    assert "Cloud-config already set" in lines
    assert "Deployment hello already deployed" in lines


def test_env_lets_the_cli_target_the_director(environment: LocalEnvironment) -> None:
    script = f'eval "$("{BOSH}" local env --dir "$1")" && "{BOSH}" --json environment'
    clean = {key: value for key, value in os.environ.items() if not key.startswith("BOSH_")}
    result = subprocess.run(
        ["sh", "-c", script, "sh", str(environment.directory)],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"bosh-local"' in result.stdout
    assert environment.env().client_secret not in result.stdout + result.stderr


def test_up_restarts_a_dead_daemon_and_stops_its_leftovers(
    environment: LocalEnvironment, progress: Recorder
) -> None:
    before = pids(environment)
    director_group = before["director"]
    (nats_server,) = [pid for pid in group_members(director_group) if pid != director_group]
    os.kill(director_group, signal.SIGKILL)  # the director only: its nats-server is orphaned
    while director_group in group_members(director_group):
        time.sleep(0.01)
    environment.up()

    after = pids(environment)
    assert after["director"] != director_group
    assert nats_server not in group_members(director_group)  # it held the port: gone
    assert after["registry"] == before["registry"]
    assert "Starting director" in progress.take()
    assert environment.running()["director"]
    nats_conf = str(environment.nats_dir / "nats.conf")
    assert any(  # the new director runs its own nats-server
        nats_conf.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        for pid in group_members(after["director"])
    )


def test_down_stops_every_process_it_started(environment: LocalEnvironment) -> None:
    groups = pids(environment)
    environment.down()

    assert all(group_members(group) == [] for group in groups.values())
    assert environment.running() == {"registry": False, "director": False}
    assert environment.env().client == "admin"  # the state stays for the next up


def test_delete_removes_disks_and_the_directory(environment: LocalEnvironment) -> None:
    cpi = LocalCPI({"dir": str(environment.cpi_dir)}, context=CPIContext())
    disk = cpi.create_disk(1, {}, None)
    environment.up()  # delete also stops a running environment
    groups = pids(environment)

    environment.delete()

    assert not cpi.has_disk(disk)
    assert not environment.directory.exists()
    assert all(group_members(group) == [] for group in groups.values())
    with pytest.raises(LocalEnvironmentError, match="bosh local up"):
        environment.env()
