from __future__ import annotations

from pathlib import Path

import pytest

from bosh_core.director.api import load_config
from bosh_core.errors import ConfigError
from tests.conftest import REPO_ROOT


def test_load_config_resolves_paths_and_hides_secrets(tmp_path: Path) -> None:
    path = tmp_path / "director.yml"
    path.write_text(
        "name: lab\nport: 25556\ndata_dir: store\n"
        "db: postgresql://bosh:db-pw@127.0.0.1/bosh\n"
        "users: [{name: admin, password: admin-pw}]\n"
        "tls: {cert: d.crt, key: d.key, alternative_names: [10.0.0.6]}\n"
    )
    config = load_config(path)
    assert (config.name, config.port, config.data_dir) == ("lab", 25556, tmp_path / "store")
    assert config.users[0].name == "admin"
    assert config.tls is not None and config.tls.cert == tmp_path / "d.crt"
    assert config.tls_alternative_names == ("10.0.0.6",)
    assert "admin-pw" not in repr(config) and "db-pw" not in repr(config)


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    path = tmp_path / "director.yml"
    path.write_text("data_dir: store\n")
    assert load_config(path).database_url == f"sqlite:///{tmp_path / 'store' / 'bosh.db'}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_dir: x\nport: 0\n", "port 0"),
        ("data_dir: x\ntls: {cert: a.crt}\n", "both cert and key"),
        (
            "data_dir: x\nusers: [{name: a, password: p}, {name: a, password: q}]\n",
            "more than once",
        ),
        ("data_dir: x\nworkers: -1\n", "workers -1 is negative"),
        ("data_dir: x\nqueue: amqp://x\n", "give a redis:// URL"),
        ("data_dir: x\ntask_checkpoint_interval: 0\n", "task_checkpoint_interval"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "director.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_the_sample_config_loads() -> None:
    config = load_config(REPO_ROOT / "examples" / "director.yml")
    assert (config.name, config.cpi, config.workers, config.queue_url) == (
        "my-bosh",
        "local",
        3,
        None,
    )
    assert config.blobstore.provider == "local"
    assert "admin" not in repr(config.users[0]).replace("name='admin'", "")
