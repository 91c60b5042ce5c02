"""Typed arguments and results of CPI methods (CPI API v2).

Cloud ids are plain strings on the wire; the NewTypes keep a VM id from being passed
where a disk id belongs. Mappings (cloud properties, networks, environment, metadata)
stay as the JSON the director sends: only the CPI knows what its cloud properties mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, NewType, TypeAlias

import attrs

__all__ = [
    "VMCID",
    "CPIContext",
    "CPIInfo",
    "CloudProperties",
    "CreatedVM",
    "DiskCID",
    "DiskHint",
    "Environment",
    "Metadata",
    "Networks",
    "SnapshotCID",
    "StemcellCID",
]

VMCID = NewType("VMCID", str)
DiskCID = NewType("DiskCID", str)
StemcellCID = NewType("StemcellCID", str)
SnapshotCID = NewType("SnapshotCID", str)

CloudProperties: TypeAlias = Mapping[str, Any]
"""IaaS-specific settings of a stemcell, VM type, disk type or network."""
Networks: TypeAlias = Mapping[str, Mapping[str, Any]]
"""``{"<net>": {"type", "ip", "netmask", "gateway", "dns", "default", "cloud_properties"}}``."""
Environment: TypeAlias = Mapping[str, Any]
"""create_vm's ``environment``: ``{"bosh": {"group", "groups", "mbus": {"cert"}, ...}}``."""
Metadata: TypeAlias = Mapping[str, str]
DiskHint: TypeAlias = str | Mapping[str, Any] | None
"""What attach_disk returns for the agent: ``"/dev/sdc"``, ``{"path": ...}``, ``{"lun": ...}``.

None on CPI API v1, where the CPI wrote the hint into the registry itself."""


@attrs.frozen(kw_only=True)
class CPIContext:
    """Who is calling and how, from the request's ``context`` and ``api_version``.

    ``api_version`` is the CPI API version of the request (1 when the caller sent
    none); ``stemcell_api_version`` is the stemcell's (context ``vm.stemcell``): with
    both at 2 or more the CPI hands the agent its settings directly, without a registry.
    """

    director_uuid: str = ""
    request_id: str = ""
    api_version: int = 2
    stemcell_api_version: int | None = None


@attrs.frozen(kw_only=True)
class CPIInfo:
    """The result of ``info``."""

    stemcell_formats: tuple[str, ...]
    api_version: int = 2


class CreatedVM(NamedTuple):
    """create_vm's v2 result; a tuple, so it goes on the wire as ``[vm_cid, networks]``."""

    vm_cid: VMCID
    networks: Networks
