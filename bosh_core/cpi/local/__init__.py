"""The local CPI (``local``): VMs are namespaced process trees on this host.

`LocalCPI` implements the CPI v2 contract; `make_stemcell` writes the light stemcell it
takes (console script ``bosh-local-stemcell``); ``python -m bosh_core.cpi.local`` serves
the external CPI protocol. Properties are described in `bosh_core.cpi.local.properties`.
"""

from __future__ import annotations

from bosh_core.cpi.local.cpi import DISK_MOUNT_ROOT, LocalCPI
from bosh_core.cpi.local.properties import LocalCPIProperties, parse_properties
from bosh_core.cpi.local.stemcell import STEMCELL_FORMAT, make_stemcell

__all__ = [
    "DISK_MOUNT_ROOT",
    "STEMCELL_FORMAT",
    "LocalCPI",
    "LocalCPIProperties",
    "make_stemcell",
    "parse_properties",
]
