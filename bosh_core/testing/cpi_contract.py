"""`CPIContract`: the CPI lifecycle suite, as a pytest class to subclass.

A CPI author writes::

    class TestMyCPI(CPIContract):
        @pytest.fixture
        def cpi(self) -> CPI: return MyCPI(properties, context=CPIContext())

        @pytest.fixture
        def stemcell_image(self, tmp_path) -> str: return str(make_image(tmp_path))

and may override the other fixtures (cloud properties, networks, environment, disk
size, ids that do not exist). The tests create real stemcells, VMs and disks and
delete what they made even when they fail.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from bosh_core.cpi.base import CPI
from bosh_core.cpi.errors import (
    CPIError,
    DiskNotAttachedError,
    DiskNotFoundError,
    NotImplementedError_,
    NotSupportedError,
    VMNotFoundError,
)
from bosh_core.cpi.types import VMCID, DiskCID, StemcellCID

__all__ = ["CPIContract", "Created"]

_UNSUPPORTED = (NotSupportedError, NotImplementedError_)


class Created:
    """What a test made through the CPI, deleted at teardown if the test did not."""

    def __init__(self, cpi: CPI) -> None:
        self.cpi = cpi
        self.stemcells: list[StemcellCID] = []
        self.vms: list[VMCID] = []
        self.disks: list[DiskCID] = []

    def clean_up(self) -> None:
        for vm_cid in reversed(self.vms):
            with contextlib.suppress(CPIError):
                self.cpi.delete_vm(vm_cid)
        for disk_cid in reversed(self.disks):
            with contextlib.suppress(CPIError):
                if self.cpi.has_disk(disk_cid):
                    self.cpi.delete_disk(disk_cid)
        for stemcell_cid in reversed(self.stemcells):
            with contextlib.suppress(CPIError):
                self.cpi.delete_stemcell(stemcell_cid)


class CPIContract:
    """The lifecycle every CPI must support. Subclasses provide ``cpi`` and ``stemcell_image``."""

    # -- fixtures a subclass may override ----------------------------------------------

    @pytest.fixture
    def stemcell_cloud_properties(self) -> Mapping[str, Any]:
        return {}

    @pytest.fixture
    def vm_cloud_properties(self) -> Mapping[str, Any]:
        return {}

    @pytest.fixture
    def vm_networks(self) -> Mapping[str, Any]:
        return {
            "default": {
                "type": "dynamic",
                "dns": [],
                "default": ["dns", "gateway"],
                "cloud_properties": {},
            }
        }

    @pytest.fixture
    def vm_environment(self) -> Mapping[str, Any]:
        return {"bosh": {"group": "cpi-contract", "groups": ["cpi-contract"]}}

    @pytest.fixture
    def disk_cloud_properties(self) -> Mapping[str, Any]:
        return {}

    @pytest.fixture
    def disk_size_mib(self) -> int:
        return 128

    @pytest.fixture
    def missing_vm_cid(self) -> VMCID:
        return VMCID(f"vm-missing-{uuid.uuid4()}")

    @pytest.fixture
    def missing_disk_cid(self) -> DiskCID:
        return DiskCID(f"disk-missing-{uuid.uuid4()}")

    # -- fixtures the suite builds on ----------------------------------------------------

    @pytest.fixture
    def created(self, cpi: CPI) -> Iterator[Created]:
        made = Created(cpi)
        yield made
        made.clean_up()

    @pytest.fixture
    def stemcell_cid(
        self,
        cpi: CPI,
        created: Created,
        stemcell_image: str,
        stemcell_cloud_properties: Mapping[str, Any],
    ) -> StemcellCID:
        cid = cpi.create_stemcell(stemcell_image, stemcell_cloud_properties)
        created.stemcells.append(cid)
        return cid

    @pytest.fixture
    def make_vm(
        self,
        cpi: CPI,
        created: Created,
        stemcell_cid: StemcellCID,
        vm_cloud_properties: Mapping[str, Any],
        vm_networks: Mapping[str, Any],
        vm_environment: Mapping[str, Any],
    ) -> Callable[[], VMCID]:
        def make() -> VMCID:
            vm = cpi.create_vm(
                str(uuid.uuid4()),
                stemcell_cid,
                vm_cloud_properties,
                vm_networks,
                [],
                vm_environment,
            )
            created.vms.append(vm.vm_cid)
            return vm.vm_cid

        return make

    @pytest.fixture
    def make_disk(
        self,
        cpi: CPI,
        created: Created,
        disk_size_mib: int,
        disk_cloud_properties: Mapping[str, Any],
    ) -> Callable[..., DiskCID]:
        def make(vm_cid: VMCID | None = None) -> DiskCID:
            cid = cpi.create_disk(disk_size_mib, disk_cloud_properties, vm_cid)
            created.disks.append(cid)
            return cid

        return make

    # -- the suite -------------------------------------------------------------------------

    def test_info_names_api_version_and_stemcell_formats(self, cpi: CPI) -> None:
        info = cpi.info()
        assert info.api_version in (1, 2)
        assert info.stemcell_formats
        assert all(isinstance(name, str) and name for name in info.stemcell_formats)

    def test_lifecycle(
        self,
        cpi: CPI,
        created: Created,
        stemcell_image: str,
        stemcell_cloud_properties: Mapping[str, Any],
        vm_cloud_properties: Mapping[str, Any],
        vm_networks: Mapping[str, Any],
        vm_environment: Mapping[str, Any],
        disk_size_mib: int,
        disk_cloud_properties: Mapping[str, Any],
    ) -> None:
        cpi.info()
        stemcell = cpi.create_stemcell(stemcell_image, stemcell_cloud_properties)
        created.stemcells.append(stemcell)
        assert isinstance(stemcell, str) and stemcell

        agent_id = str(uuid.uuid4())
        vm = cpi.create_vm(agent_id, stemcell, vm_cloud_properties, vm_networks, [], vm_environment)
        created.vms.append(vm.vm_cid)
        assert isinstance(vm.vm_cid, str) and vm.vm_cid
        assert set(vm.networks) == set(vm_networks)
        assert cpi.has_vm(vm.vm_cid) is True

        cpi.set_vm_metadata(
            vm.vm_cid,
            {"director": "contract", "deployment": "d", "job": "j", "index": "0", "name": "j/0"},
        )

        disk = cpi.create_disk(disk_size_mib, disk_cloud_properties, vm.vm_cid)
        created.disks.append(disk)
        assert isinstance(disk, str) and disk
        assert cpi.has_disk(disk) is True
        hint = cpi.attach_disk(vm.vm_cid, disk)
        if cpi.context.api_version >= 2:
            assert hint is not None, "CPI API v2 attach_disk must return a disk hint"
            assert isinstance(hint, str | Mapping)
        assert cpi.get_disks(vm.vm_cid) == [disk]
        cpi.detach_disk(vm.vm_cid, disk)
        assert cpi.get_disks(vm.vm_cid) == []
        assert cpi.has_disk(disk) is True
        cpi.delete_disk(disk)
        assert cpi.has_disk(disk) is False

        cpi.reboot_vm(vm.vm_cid)
        assert cpi.has_vm(vm.vm_cid) is True
        cpi.delete_vm(vm.vm_cid)
        assert cpi.has_vm(vm.vm_cid) is False
        cpi.delete_stemcell(stemcell)

    def test_an_unknown_vm_does_not_exist(self, cpi: CPI, missing_vm_cid: VMCID) -> None:
        assert cpi.has_vm(missing_vm_cid) is False
        with pytest.raises(VMNotFoundError):
            cpi.reboot_vm(missing_vm_cid)

    def test_deleting_an_unknown_vm_is_ok_or_vm_not_found(
        self, cpi: CPI, missing_vm_cid: VMCID
    ) -> None:
        with contextlib.suppress(VMNotFoundError):
            cpi.delete_vm(missing_vm_cid)

    def test_an_unknown_disk_does_not_exist(self, cpi: CPI, missing_disk_cid: DiskCID) -> None:
        assert cpi.has_disk(missing_disk_cid) is False
        with contextlib.suppress(DiskNotFoundError):
            cpi.delete_disk(missing_disk_cid)

    def test_attaching_to_a_missing_vm_raises_vm_not_found(
        self, cpi: CPI, make_disk: Callable[..., DiskCID], missing_vm_cid: VMCID
    ) -> None:
        disk = make_disk()
        with pytest.raises(VMNotFoundError):
            cpi.attach_disk(missing_vm_cid, disk)
        assert cpi.has_disk(disk) is True

    def test_missing_disks_on_a_vm(
        self,
        cpi: CPI,
        make_vm: Callable[[], VMCID],
        make_disk: Callable[..., DiskCID],
        missing_disk_cid: DiskCID,
    ) -> None:
        vm_cid = make_vm()
        with pytest.raises(DiskNotFoundError):
            cpi.attach_disk(vm_cid, missing_disk_cid)
        disk = make_disk()
        # Detaching a disk that is not attached: tolerated, or said plainly.
        with contextlib.suppress(DiskNotAttachedError, DiskNotFoundError):
            cpi.detach_disk(vm_cid, disk)
        assert cpi.get_disks(vm_cid) == []

    def test_deleting_twice_is_harmless(
        self, cpi: CPI, make_vm: Callable[[], VMCID], make_disk: Callable[..., DiskCID]
    ) -> None:
        vm_cid = make_vm()
        cpi.delete_vm(vm_cid)
        with contextlib.suppress(VMNotFoundError):
            cpi.delete_vm(vm_cid)
        assert cpi.has_vm(vm_cid) is False
        disk = make_disk()
        cpi.delete_disk(disk)
        with contextlib.suppress(DiskNotFoundError):
            cpi.delete_disk(disk)
        assert cpi.has_disk(disk) is False

    def test_a_disk_outlives_its_vm_and_attaches_to_the_next(
        self, cpi: CPI, make_vm: Callable[[], VMCID], make_disk: Callable[..., DiskCID]
    ) -> None:
        first = make_vm()
        disk = make_disk(first)
        cpi.attach_disk(first, disk)
        cpi.delete_vm(first)
        assert cpi.has_disk(disk) is True
        second = make_vm()
        assert second != first
        cpi.attach_disk(second, disk)
        assert cpi.get_disks(second) == [disk]
        cpi.detach_disk(second, disk)

    def test_optional_methods_work_or_say_not_supported(
        self, cpi: CPI, make_disk: Callable[..., DiskCID], disk_size_mib: int
    ) -> None:
        disk = make_disk()
        with contextlib.suppress(*_UNSUPPORTED):
            cpi.set_disk_metadata(disk, {"deployment": "d"})
        with contextlib.suppress(*_UNSUPPORTED):
            cpi.resize_disk(disk, disk_size_mib * 2)
            assert cpi.has_disk(disk) is True
        with contextlib.suppress(*_UNSUPPORTED):
            properties = cpi.calculate_vm_cloud_properties(
                {"cpu": 1, "ram": 512, "ephemeral_disk_size": 1024}
            )
            assert isinstance(properties, Mapping)
