"""Settings from the file the CPI writes and from the registry, as the real agent reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bosh_core.agent.errors import AgentError
from bosh_core.agent.settings import (
    FileSource,
    RegistrySource,
    load_agent_config,
    load_settings,
    vm_path,
)
from bosh_core.bus.certs import MbusCert
from bosh_core.errors import ManifestError
from bosh_core.registry.client import RegistryClient
from bosh_core.registry.server import RegistryServer, SQLiteRegistryStore
from tests.core.agent.conftest import settings_document

CERT = MbusCert(ca="CA PEM", certificate="CERT PEM", private_key="SECRET KEY PEM")


def document(agent_id: str = "a1") -> dict[str, object]:
    return settings_document(
        agent_id, url="nats://10.0.0.6:4222", cert=CERT, blobstore=Path("/var/vcap/micro")
    )


def write_agent_json(base: Path, sources: list[dict[str, str]]) -> Path:
    path = base / "bosh" / "agent.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Infrastructure": {"Settings": {"Sources": sources}}}))
    return path


def test_settings_come_from_the_file_the_cpi_wrote(tmp_path: Path) -> None:
    config_path = write_agent_json(
        tmp_path, [{"Type": "File", "SettingsPath": "/var/vcap/bosh/settings.json"}]
    )
    (tmp_path / "bosh" / "settings.json").write_text(json.dumps(document()))
    config = load_agent_config(config_path)
    assert config.sources == (FileSource("/var/vcap/bosh/settings.json"),)
    settings = load_settings(config, base_dir=tmp_path)
    assert settings.agent_id == "a1"
    assert settings.mbus_cert == CERT
    assert settings.networks["default"].ip == "10.244.0.2"
    assert settings.vm.name == "vm-a1"
    # Secrets stay out of reprs (and so out of logs).
    assert "SECRET" not in repr(settings)
    assert "nats://" not in repr(settings)


def test_settings_come_from_the_registry(tmp_path: Path) -> None:
    store = SQLiteRegistryStore(tmp_path / "registry.db")
    with RegistryServer(store, user="admin", password="pw", port=0) as server:
        RegistryClient(server.url, "admin", "pw").put("vm-123", document("from-registry"))
        uri = server.url.replace("http://", "http://admin:pw@")
        config_path = write_agent_json(
            tmp_path, [{"Type": "Registry", "URI": uri, "InstanceID": "vm-123"}]
        )
        config = load_agent_config(config_path)
        assert config.sources == (RegistrySource(uri, "vm-123"),)
        assert load_settings(config, base_dir=tmp_path).agent_id == "from-registry"

        missing = write_agent_json(
            tmp_path, [{"Type": "Registry", "URI": uri, "InstanceID": "nobody"}]
        )
        with pytest.raises(AgentError, match="no settings for instance 'nobody'"):
            load_settings(load_agent_config(missing), base_dir=tmp_path)


def test_invalid_settings_name_every_bad_path(tmp_path: Path) -> None:
    bad = document()
    bad["agent_id"] = ["not", "a", "string"]
    bad["networks"] = {"default": {"dns": "8.8.8.8"}}
    config_path = write_agent_json(
        tmp_path, [{"Type": "File", "SettingsPath": str(tmp_path / "s")}]
    )
    (tmp_path / "s").write_text(json.dumps(bad))
    with pytest.raises(ManifestError) as caught:
        load_settings(load_agent_config(config_path), base_dir=tmp_path)
    paths = {problem.path for problem in caught.value.problems}
    assert {"$.agent_id", "$.networks['default'].dns"} <= paths


def test_unknown_source_types_and_unreadable_files_are_clear(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="Type is 'CDROM'"):
        load_agent_config(write_agent_json(tmp_path, [{"Type": "CDROM"}]))
    config = load_agent_config(
        write_agent_json(tmp_path, [{"Type": "File", "SettingsPath": "/var/vcap/bosh/none.json"}])
    )
    with pytest.raises(AgentError, match=r"Cannot read settings .*none\.json"):
        load_settings(config, base_dir=tmp_path)


def test_vm_paths_map_under_the_base_dir(tmp_path: Path) -> None:
    assert vm_path(tmp_path, "/var/vcap/store/x") == tmp_path / "store" / "x"
    assert vm_path(tmp_path, "/var/vcap") == tmp_path
    assert vm_path(tmp_path, "/var/vcapx/y") == Path("/var/vcapx/y")
