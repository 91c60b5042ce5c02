"""A small real CPI for testing the CPI framework: its "cloud" is a dict.

The dict lives in the instance, or, with the property ``state_file``, in a JSON file
read and written on every call, so the same cloud survives the one-process-per-call
life of an external CPI (``python -m tests.core.cpi.memory_cpi -configFile PATH``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bosh_core.cpi import (
    CPI,
    VMCID,
    CloudError,
    CPIContext,
    CPIInfo,
    CreatedVM,
    DiskCID,
    DiskNotAttachedError,
    DiskNotFoundError,
    StemcellCID,
    VMCreationFailedError,
    VMNotFoundError,
)
from bosh_core.cpi.types import CloudProperties, Environment, Metadata, Networks

__all__ = ["MemoryCPI", "main"]

logger = logging.getLogger(__name__)


class MemoryCPI(CPI):
    def __init__(self, properties: Mapping[str, Any], *, context: CPIContext) -> None:
        super().__init__(properties, context=context)
        self._state_file = Path(properties["state_file"]) if "state_file" in properties else None
        self._memory: dict[str, Any] = {"stemcells": {}, "vms": {}, "disks": {}, "next_ip": 2}

    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        if self._state_file is None:
            yield self._memory
            return
        state = (
            json.loads(self._state_file.read_text())
            if self._state_file.exists()
            else {"stemcells": {}, "vms": {}, "disks": {}, "next_ip": 2}
        )
        yield state
        self._state_file.write_text(json.dumps(state))

    def info(self) -> CPIInfo:
        return CPIInfo(stemcell_formats=("memory-light",))

    def create_stemcell(self, image_path: str, cloud_properties: CloudProperties) -> StemcellCID:
        image = Path(image_path)
        if not image.is_file():
            raise CloudError(f"Stemcell image '{image_path}' does not exist")
        cid = StemcellCID(f"sc-{uuid.uuid4()}")
        with self._state() as state:
            state["stemcells"][cid] = {
                "image": image.read_text(),
                "cloud_properties": cloud_properties,
            }
        logger.info("created stemcell %s", cid)
        return cid

    def delete_stemcell(self, stemcell_cid: StemcellCID) -> None:
        with self._state() as state:
            state["stemcells"].pop(stemcell_cid, None)

    def create_vm(
        self,
        agent_id: str,
        stemcell_cid: StemcellCID,
        cloud_properties: CloudProperties,
        networks: Networks,
        disk_cids: list[DiskCID],
        environment: Environment,
    ) -> CreatedVM:
        with self._state() as state:
            if stemcell_cid not in state["stemcells"]:
                raise VMCreationFailedError(f"Stemcell '{stemcell_cid}' not found")
            if cloud_properties.get("fail") == "retry":
                raise VMCreationFailedError("the cloud is busy", ok_to_retry=True)
            assigned = {}
            for name, network in networks.items():
                network = dict(network)
                if network.get("type") == "dynamic":
                    network["ip"] = str(ipaddress.ip_address("10.0.0.0") + state["next_ip"])
                    state["next_ip"] += 1
                assigned[name] = network
            cid = VMCID(f"vm-{uuid.uuid4()}")
            state["vms"][cid] = {
                "agent_id": agent_id,
                "stemcell": stemcell_cid,
                "networks": assigned,
                "disks": list(disk_cids),
                "metadata": {},
                "reboots": 0,
            }
        logger.info("created vm %s for agent %s", cid, agent_id)
        return CreatedVM(cid, assigned)

    def delete_vm(self, vm_cid: VMCID) -> None:
        with self._state() as state:
            vm = state["vms"].pop(vm_cid, None)
            for disk_cid in vm["disks"] if vm else []:
                state["disks"][disk_cid]["vm"] = None

    def has_vm(self, vm_cid: VMCID) -> bool:
        with self._state() as state:
            return vm_cid in state["vms"]

    def reboot_vm(self, vm_cid: VMCID) -> None:
        with self._state() as state:
            _vm(state, vm_cid)["reboots"] += 1

    def set_vm_metadata(self, vm_cid: VMCID, metadata: Metadata) -> None:
        with self._state() as state:
            _vm(state, vm_cid)["metadata"] = dict(metadata)

    def set_disk_metadata(self, disk_cid: DiskCID, metadata: Metadata) -> None:
        with self._state() as state:
            _disk(state, disk_cid)["metadata"] = dict(metadata)

    def create_disk(
        self, size_mib: int, cloud_properties: CloudProperties, vm_cid: VMCID | None
    ) -> DiskCID:
        cid = DiskCID(f"disk-{uuid.uuid4()}")
        with self._state() as state:
            state["disks"][cid] = {"size": size_mib, "vm": None, "metadata": {}}
        return cid

    def delete_disk(self, disk_cid: DiskCID) -> None:
        with self._state() as state:
            disk = state["disks"].get(disk_cid)
            if disk is not None and disk["vm"] is not None:
                raise CloudError(f"Disk '{disk_cid}' is attached to VM '{disk['vm']}'")
            state["disks"].pop(disk_cid, None)

    def attach_disk(self, vm_cid: VMCID, disk_cid: DiskCID) -> str:
        with self._state() as state:
            vm = _vm(state, vm_cid)
            disk = _disk(state, disk_cid)
            if disk["vm"] not in (None, vm_cid):
                raise CloudError(f"Disk '{disk_cid}' is attached to VM '{disk['vm']}'")
            if disk_cid not in vm["disks"]:
                vm["disks"].append(disk_cid)
            disk["vm"] = vm_cid
            return f"/dev/sd{chr(ord('b') + vm['disks'].index(disk_cid) + 1)}"

    def detach_disk(self, vm_cid: VMCID, disk_cid: DiskCID) -> None:
        with self._state() as state:
            vm = _vm(state, vm_cid)
            disk = _disk(state, disk_cid)
            if disk_cid not in vm["disks"]:
                raise DiskNotAttachedError(f"Disk '{disk_cid}' is not attached to VM '{vm_cid}'")
            vm["disks"].remove(disk_cid)
            disk["vm"] = None

    def has_disk(self, disk_cid: DiskCID) -> bool:
        with self._state() as state:
            return disk_cid in state["disks"]

    def get_disks(self, vm_cid: VMCID) -> list[DiskCID]:
        with self._state() as state:
            return [DiskCID(cid) for cid in _vm(state, vm_cid)["disks"]]

    def resize_disk(self, disk_cid: DiskCID, new_size_mib: int) -> None:
        with self._state() as state:
            _disk(state, disk_cid)["size"] = new_size_mib


def _vm(state: dict[str, Any], vm_cid: str) -> dict[str, Any]:
    vm: dict[str, Any] | None = state["vms"].get(vm_cid)
    if vm is None:
        raise VMNotFoundError(f"VM '{vm_cid}' not found")
    return vm


def _disk(state: dict[str, Any], disk_cid: str) -> dict[str, Any]:
    disk: dict[str, Any] | None = state["disks"].get(disk_cid)
    if disk is None:
        raise DiskNotFoundError(f"Disk '{disk_cid}' not found")
    return disk


def main() -> None:
    from bosh_core.cpi.rpc import serve

    serve(MemoryCPI)


if __name__ == "__main__":
    main()
