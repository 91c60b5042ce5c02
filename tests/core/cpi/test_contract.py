"""The shipped CPIContract, run against a real (in-memory) CPI, directly and over rpc."""

from __future__ import annotations

from pathlib import Path

import pytest

from bosh_core.cpi import CPI, VMCID, CPIContext, DiskCID, ExternalCPI
from bosh_core.testing import CPIContract
from bosh_core.testing.cpi_contract import Created
from tests.core.cpi.memory_cpi import MemoryCPI


class TestMemoryCPI(CPIContract):
    @pytest.fixture(params=["direct", "external"])
    def cpi(self, request: pytest.FixtureRequest, memory_cpi_executable: Path) -> CPI:
        context = CPIContext(director_uuid="director-1")
        if request.param == "direct":
            return MemoryCPI({}, context=context)
        return ExternalCPI(memory_cpi_executable, context=context, timeout=30)

    @pytest.fixture
    def stemcell_image(self, tmp_path: Path) -> str:
        image = tmp_path / "image"
        image.write_text("a stemcell image")
        return str(image)


class ForgetfulCPI(MemoryCPI):
    """Loses track of attached disks: the contract must notice."""

    def get_disks(self, vm_cid: VMCID) -> list[DiskCID]:
        super().get_disks(vm_cid)
        return []


def test_the_contract_catches_a_cpi_that_breaks_it(tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.write_text("x")
    contract = CPIContract()
    cpi = ForgetfulCPI({}, context=CPIContext())
    created = Created(cpi)
    with pytest.raises(AssertionError, match=r"assert \[\] == \[.disk-"):
        contract.test_lifecycle(
            cpi, created, str(image), {}, {}, {"n": {"type": "dynamic"}}, {}, 1, {}
        )
    created.clean_up()
    assert not any(cpi.has_vm(vm) for vm in created.vms)
