"""Cloud Provider Interfaces: the CPI v2 contract, its errors, plugins and wire protocol.

``from bosh_core.cpi import CPI`` gives the abstract class a CPI implements;
`load_cpi` finds an installed one by name (entry points ``bosh.cpis``); the
external JSON protocol lives in `bosh_core.cpi.rpc` (``serve``, ``ExternalCPI``),
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bosh_core.cpi.base import CPI, CPI_METHODS
from bosh_core.cpi.errors import (
    CloudError,
    CPIError,
    CPIPluginError,
    CPIResponseError,
    CPITimeoutError,
    DiskNotAttachedError,
    DiskNotFoundError,
    NetworkNotFoundError,
    NoDiskSpaceError,
    NotImplementedError_,
    NotSupportedError,
    VMCreationFailedError,
    VMNotFoundError,
)
from bosh_core.cpi.types import (
    VMCID,
    CPIContext,
    CPIInfo,
    CreatedVM,
    DiskCID,
    SnapshotCID,
    StemcellCID,
)
from bosh_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from bosh_core.cpi.registry import available_cpis, load_cpi
    from bosh_core.cpi.rpc import ExternalCPI, serve


__all__ = [
    "CPI",
    "CPI_METHODS",
    "VMCID",
    "CPIContext",
    "CPIError",
    "CPIInfo",
    "CPIPluginError",
    "CPIResponseError",
    "CPITimeoutError",
    "CloudError",
    "CreatedVM",
    "DiskCID",
    "DiskNotAttachedError",
    "DiskNotFoundError",
    "ExternalCPI",
    "NetworkNotFoundError",
    "NoDiskSpaceError",
    "NotImplementedError_",
    "NotSupportedError",
    "SnapshotCID",
    "StemcellCID",
    "VMCreationFailedError",
    "VMNotFoundError",
    "available_cpis",
    "load_cpi",
    "serve",
]

_LAZY = {
    "available_cpis": "bosh_core.cpi.registry",
    "load_cpi": "bosh_core.cpi.registry",
    "ExternalCPI": "bosh_core.cpi.rpc",
    "serve": "bosh_core.cpi.rpc",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
