"""The CPI plugin contract: one abstract class, methods in CPI API v2 wire order.

Method names and positional parameters mirror the external CPI protocol, so the JSON
adapter is ``getattr(cpi, method)(*arguments)``. Required methods are abstract;
optional ones raise `NotSupportedError` unless a CPI overrides them.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

from bosh_core.cpi.errors import NotSupportedError
from bosh_core.cpi.types import (
    VMCID,
    CloudProperties,
    CPIContext,
    CPIInfo,
    CreatedVM,
    DiskCID,
    DiskHint,
    Environment,
    Metadata,
    Networks,
    SnapshotCID,
    StemcellCID,
)

__all__ = ["CPI", "CPI_METHODS"]


class CPI(abc.ABC):
    """A Cloud Provider Interface (API v2), built once per request or per director task.

    ``properties`` are the CPI's configuration (a cpi-config entry's properties, or the
    job properties a real CPI release renders into its config file); ``context`` says
    who calls. A CPI keeps its own IaaS client and is used from one thread at a time.
    """

    api_version: ClassVar[int] = 2

    def __init__(self, properties: Mapping[str, Any], *, context: CPIContext) -> None:
        self.properties = properties
        self.context = context

    @abc.abstractmethod
    def info(self) -> CPIInfo: ...

    @abc.abstractmethod
    def create_stemcell(
        self, image_path: str, cloud_properties: CloudProperties
    ) -> StemcellCID: ...

    @abc.abstractmethod
    def delete_stemcell(self, stemcell_cid: StemcellCID) -> None: ...

    @abc.abstractmethod
    def create_vm(
        self,
        agent_id: str,
        stemcell_cid: StemcellCID,
        cloud_properties: CloudProperties,
        networks: Networks,
        disk_cids: list[DiskCID],
        environment: Environment,
    ) -> CreatedVM: ...

    @abc.abstractmethod
    def delete_vm(self, vm_cid: VMCID) -> None:
        """Delete the VM; a VM that is already gone is not an error."""

    @abc.abstractmethod
    def has_vm(self, vm_cid: VMCID) -> bool: ...

    @abc.abstractmethod
    def reboot_vm(self, vm_cid: VMCID) -> None: ...

    @abc.abstractmethod
    def set_vm_metadata(self, vm_cid: VMCID, metadata: Metadata) -> None: ...

    def set_disk_metadata(self, disk_cid: DiskCID, metadata: Metadata) -> None:
        raise NotSupportedError("set_disk_metadata")

    @abc.abstractmethod
    def create_disk(
        self, size_mib: int, cloud_properties: CloudProperties, vm_cid: VMCID | None
    ) -> DiskCID: ...

    @abc.abstractmethod
    def delete_disk(self, disk_cid: DiskCID) -> None: ...

    @abc.abstractmethod
    def attach_disk(self, vm_cid: VMCID, disk_cid: DiskCID) -> DiskHint: ...

    @abc.abstractmethod
    def detach_disk(self, vm_cid: VMCID, disk_cid: DiskCID) -> None: ...

    @abc.abstractmethod
    def has_disk(self, disk_cid: DiskCID) -> bool: ...

    @abc.abstractmethod
    def get_disks(self, vm_cid: VMCID) -> list[DiskCID]: ...

    def resize_disk(self, disk_cid: DiskCID, new_size_mib: int) -> None:
        raise NotSupportedError("resize_disk")

    def update_disk(
        self, disk_cid: DiskCID, new_size_mib: int, cloud_properties: CloudProperties
    ) -> DiskCID:
        raise NotSupportedError("update_disk")

    def snapshot_disk(self, disk_cid: DiskCID, metadata: Metadata) -> SnapshotCID:
        raise NotSupportedError("snapshot_disk")

    def delete_snapshot(self, snapshot_cid: SnapshotCID) -> None:
        raise NotSupportedError("delete_snapshot")

    def calculate_vm_cloud_properties(self, requirements: Mapping[str, Any]) -> CloudProperties:
        raise NotSupportedError("calculate_vm_cloud_properties")


CPI_METHODS: tuple[str, ...] = (
    "info",
    "create_stemcell",
    "delete_stemcell",
    "create_vm",
    "delete_vm",
    "has_vm",
    "reboot_vm",
    "set_vm_metadata",
    "set_disk_metadata",
    "create_disk",
    "delete_disk",
    "attach_disk",
    "detach_disk",
    "has_disk",
    "get_disks",
    "resize_disk",
    "update_disk",
    "snapshot_disk",
    "delete_snapshot",
    "calculate_vm_cloud_properties",
)
"""The CPI API v2 methods, as the wire names them (the only ones rpc dispatches)."""
