"""The CPI seam: the default CPI, cpi-configs from the database, AZs, external CPIs, the
CPI log, and the director config's ``cpi``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from bosh_core.cpi.local import LocalCPI
from bosh_core.cpi.rpc import ExternalCPI
from bosh_core.cpi.types import VMCID
from bosh_core.director.api.config import load_config
from bosh_core.director.cloud import PREFERRED_CPI_API_VERSION, Clouds
from bosh_core.director.db import Database
from bosh_core.director.errors import CpiNotConfiguredError, CpiNotFoundError
from bosh_core.errors import ConfigError
from bosh_core.models.cloud_config import AvailabilityZone
from bosh_core.models.cpi_config import Cpi, load_cpi_config
from tests.conftest import REPO_ROOT
from tests.core.director.jobs.local_cloud import (
    DIRECTOR_UUID,
    default_clouds,
    local_properties,
    stemcell_image,
    store_cpi_config,
)


def test_without_a_cpi_config_the_default_cpi_serves_every_name(tmp_path: Path) -> None:
    clouds = default_clouds(tmp_path / "cpi")
    assert not clouds.uses_cpi_config
    assert clouds.names == ("",)
    assert clouds.aliases("") == ("",)
    cpi = clouds.get("")
    assert isinstance(cpi, LocalCPI)
    assert cpi.config.dir == tmp_path / "cpi"
    assert cpi.context.director_uuid == DIRECTOR_UUID
    assert cpi.context.request_id.startswith("cpi-")
    assert cpi.context.api_version == PREFERRED_CPI_API_VERSION
    assert clouds.get(None, stemcell_api_version=3).context.stemcell_api_version == 3


def test_a_director_without_a_cpi_says_how_to_get_one() -> None:
    clouds = Clouds(director_uuid=DIRECTOR_UUID, default=None)
    with pytest.raises(CpiNotConfiguredError, match="set 'cpi' in its config"):
        clouds.get("")
    with pytest.raises(CpiNotConfiguredError, match="because cpi-config is not set"):
        clouds.get("aws")


def test_cpi_config_in_the_database_names_the_cpis(database: Database, tmp_path: Path) -> None:
    store_cpi_config(database, {"one": tmp_path / "one", "two": tmp_path / "two"})
    store_cpi_config(database, {"three": tmp_path / "three"}, name="more")
    clouds = Clouds.from_database(database, director_uuid=DIRECTOR_UUID, default=None, cpi_log=None)
    assert clouds.uses_cpi_config
    assert clouds.names == ("one", "two", "three")
    two = clouds.get("two")
    assert isinstance(two, LocalCPI)
    assert two.config.dir == tmp_path / "two"
    with pytest.raises(CpiNotConfiguredError, match="CPI 'nine' not found in cpi-config"):
        clouds.get("nine")


def test_a_cpi_answers_to_its_former_names(tmp_path: Path) -> None:
    config = yaml.safe_load(
        f"""
        cpis:
        - name: new
          type: local
          migrated_from: [{{name: old}}]
          properties: {{dir: {tmp_path}}}
        """
    )
    clouds = Clouds(director_uuid="u", default=None, cpi_config=load_cpi_config(config))
    assert clouds.aliases("new") == ("new", "old")
    assert isinstance(clouds.get("old"), LocalCPI)


def test_an_az_names_its_cpi(database: Database, tmp_path: Path) -> None:
    azs = [AvailabilityZone(name="z1", cpi="one"), AvailabilityZone(name="z2")]
    without = default_clouds(tmp_path / "default")
    assert without.name_for_az("z2", azs) == ""
    assert without.name_for_az(None, azs) == ""
    store_cpi_config(database, {"one": tmp_path / "one"})
    clouds = Clouds.from_database(database, director_uuid="u", default=None)
    cpi = clouds.get_for_az("z1", azs)
    assert isinstance(cpi, LocalCPI)
    assert cpi.config.dir == tmp_path / "one"
    with pytest.raises(CpiNotFoundError, match="AZ 'z2' must specify a CPI") as raised:
        clouds.get_for_az("z2", azs)
    assert raised.value.error_code == 550001
    with pytest.raises(CpiNotConfiguredError, match="AZ 'z9' not found in cloud config"):
        clouds.get_for_az("z9", azs)


def test_plugin_calls_go_to_the_cpi_log_without_secrets(tmp_path: Path) -> None:
    log: list[str] = []
    clouds = default_clouds(tmp_path / "cpi", cpi_log=log.append)
    cpi = clouds.get("")
    assert cpi.has_vm(VMCID("vm-00000000-0000-0000-0000-000000000000")) is False
    request_id = cpi.context.request_id
    assert log == [
        f'[LocalCPI] [{request_id}] request: {{"method": "has_vm", "arguments":'
        f' ["vm-00000000-0000-0000-0000-000000000000"], "context": {{"director_uuid":'
        f' "{DIRECTOR_UUID}", "request_id": "{request_id}"}}}}\n',
        f'[LocalCPI] [{request_id}] response: {{"result": false}}\n',
    ]
    log.clear()
    with pytest.raises(Exception, match="not found"):
        cpi.reboot_vm(VMCID("vm-00000000-0000-0000-0000-000000000000"))
    assert log[-1].startswith(f"[LocalCPI] [{request_id}] error: Bosh::Clouds::VMNotFound:")
    cpi.create_disk(1, {"encryption_key": "disk-secret"}, None)
    assert "disk-secret" not in "".join(log)
    assert "nats-secret" not in "".join(log)


def test_an_executable_cpi_is_spoken_to_at_the_version_its_info_reports(
    tmp_path: Path,
) -> None:
    config = tmp_path / "cpi.yml"
    config.write_text(yaml.safe_dump(local_properties(tmp_path / "cloud")))
    executable = tmp_path / "cpi"
    executable.write_text(
        f"#!/bin/sh\ncd {REPO_ROOT}\nexec {sys.executable} -m bosh_core.cpi.local"
        f" -configFile {config}\n"
    )
    executable.chmod(0o755)
    log: list[str] = []
    default = Cpi(name="external", type="external", exec_path=str(executable))
    clouds = Clouds(director_uuid=DIRECTOR_UUID, default=default, cpi_log=log.append)
    cpi = clouds.get("")
    assert isinstance(cpi, ExternalCPI)
    assert cpi.context.api_version == 2
    assert cpi.context.director_uuid == DIRECTOR_UUID
    cid = cpi.create_stemcell(str(stemcell_image(tmp_path / "image")), {})
    assert (tmp_path / "cloud" / "stemcells" / cid / "image.tgz").is_file()


def test_an_unknown_type_without_exec_path_is_the_reference_s_cpi_job(tmp_path: Path) -> None:
    clouds = Clouds(director_uuid="u", default=Cpi(name="aws", type="no-such-plugin"))
    with pytest.raises(Exception, match="/var/vcap/jobs/no-such-plugin_cpi/bin/cpi"):
        clouds.get("")


# ------------------------------------------------------------------ director config


def _config(tmp_path: Path, cpi: object) -> Path:
    path = tmp_path / "director.yml"
    path.write_text(yaml.safe_dump({"data_dir": "data", "cpi": cpi}))
    return path


def test_director_config_cpi_as_a_plugin_name(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "local"))
    assert config.cpi == "local"
    assert config.default_cpi == Cpi(
        name="local", type="local", properties={"dir": str(tmp_path / "data" / "local-cpi")}
    )


def test_director_config_cpi_as_a_map_or_a_path(tmp_path: Path) -> None:
    config = load_config(
        _config(tmp_path, {"name": "lite", "type": "local", "properties": {"dir": "/x"}})
    )
    assert config.cpi == "lite"
    assert config.default_cpi == Cpi(name="lite", type="local", properties={"dir": "/x"})
    config = load_config(_config(tmp_path, "bin/cpi"))
    assert config.default_cpi is not None
    assert config.default_cpi.exec_path == str(tmp_path / "bin" / "cpi")
    assert load_config(_config(tmp_path, None)).default_cpi is None


def test_director_config_cpi_problems_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cpi: give 'type'"):
        load_config(_config(tmp_path, {"name": "x"}))
    with pytest.raises(ConfigError, match="cpi: give a CPI name"):
        load_config(_config(tmp_path, ["local"]))
    secret = {"type": "local", "properties": {"password": "hunter2"}}
    assert "hunter2" not in repr(load_config(_config(tmp_path, secret)))
