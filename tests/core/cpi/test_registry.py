"""load_cpi: plugins found through real entry points, verified when loaded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bosh_core.cpi import CPIPluginError, available_cpis, load_cpi
from bosh_core.cpi.registry import verify_cpi_class
from tests.core.cpi.memory_cpi import MemoryCPI

PLUGINS = """
from bosh_core.cpi.base import CPI
from tests.core.cpi.memory_cpi import MemoryCPI


class Good(MemoryCPI):
    pass


class Abstract(CPI):
    def info(self):
        return None


class Renamed(MemoryCPI):
    def attach_disk(self, disk_cid, vm_cid):
        return None

    def create_vm(
        self, agent_id, stemcell_cid, cloud_properties, networks, *, disk_cids, environment
    ):
        return None


class NotACPI:
    pass
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution 'cpi-plugins' on sys.path with entry points in group bosh.cpis."""
    (tmp_path / "cpi_test_plugins.py").write_text(PLUGINS)
    (tmp_path / "cpi_test_needs_extra.py").write_text("import cpi_fancy_sdk_absent\n")
    (tmp_path / "cpi_test_cloudy.py").write_text("import cloudy_sdk_absent\n")
    dist_info = tmp_path / "cpi_plugins-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        textwrap.dedent(
            """\
            Metadata-Version: 2.1
            Name: cpi-plugins
            Version: 1.0
            Provides-Extra: fancy
            Requires-Dist: cpi-fancy-sdk-absent>=1; extra == "fancy"
            Provides-Extra: cloudy
            """
        )
    )
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [bosh.cpis]
            test-good = cpi_test_plugins:Good
            test-abstract = cpi_test_plugins:Abstract
            test-renamed = cpi_test_plugins:Renamed
            test-not-a-cpi = cpi_test_plugins:NotACPI
            test-fancy = cpi_test_needs_extra:Fancy
            cloudy = cpi_test_cloudy:Cloudy
            test-declared = cpi_test_needs_extra:Declared [fancy]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_good_plugin_loads(plugins: Path) -> None:
    cpi_class = load_cpi("test-good")
    assert cpi_class.__name__ == "Good"
    assert issubclass(cpi_class, MemoryCPI)
    assert {"test-good", "test-renamed"} <= set(available_cpis())


def test_the_local_cpi_is_registered_and_keeps_the_contract() -> None:
    assert "local" in available_cpis()
    assert load_cpi("local").__name__ == "LocalCPI"


def test_an_unknown_name_lists_the_installed_cpis(plugins: Path) -> None:
    with pytest.raises(CPIPluginError, match=r"No CPI named 'nope' is installed .*test-good"):
        load_cpi("nope")


def test_abstract_methods_left_are_named(plugins: Path) -> None:
    with pytest.raises(CPIPluginError) as raised:
        load_cpi("test-abstract")
    assert "CPI 'test-abstract' (cpi_test_plugins.Abstract) breaks the CPI contract" in str(
        raised.value
    )
    assert "abstract methods not implemented: attach_disk, create_disk," in str(raised.value)
    assert "info" not in str(raised.value).partition("implemented:")[2].split(";")[0]


def test_signatures_must_match_the_wire_order(plugins: Path) -> None:
    with pytest.raises(CPIPluginError) as raised:
        load_cpi("test-renamed")
    message = str(raised.value)
    assert "attach_disk(disk_cid, vm_cid) should be attach_disk(vm_cid, disk_cid)" in message
    assert (
        "create_vm(agent_id, stemcell_cid, cloud_properties, networks,"
        " keyword-only disk_cids, keyword-only environment) should be" in message
    )


def test_a_class_that_is_not_a_cpi_is_refused(plugins: Path) -> None:
    with pytest.raises(CPIPluginError, match=r"is not a subclass of bosh_core\.cpi\.CPI"):
        load_cpi("test-not-a-cpi")


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [
        ("test-fancy", "cpi_fancy_sdk_absent", "fancy"),  # the extra that requires it
        ("cloudy", "cloudy_sdk_absent", "cloudy"),  # the extra named as the CPI
        ("test-declared", "cpi_fancy_sdk_absent", "fancy"),  # declared on the entry point
    ],
)
def test_a_missing_dependency_names_the_extra(
    plugins: Path, name: str, module: str, extra: str
) -> None:
    with pytest.raises(CPIPluginError) as raised:
        load_cpi(name)
    assert str(raised.value) == (
        f"CPI '{name}' needs the Python module '{module}', which is not installed:"
        f" pip install 'cpi-plugins[{extra}]'"
    )


def test_the_constructor_must_take_properties_and_context() -> None:
    class Positional(MemoryCPI):
        def __init__(self, config, context):  # type: ignore[no-untyped-def]
            super().__init__(config, context=context)

    with pytest.raises(CPIPluginError, match=r"__init__ must take \(properties, \*, context\)"):
        verify_cpi_class(Positional)
    verify_cpi_class(MemoryCPI)
