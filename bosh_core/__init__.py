"""bosh_core: the BOSH library (releases, manifests, director, CPIs, agent).

Importing it stays light: no click, boto3, openstacksdk, pyvmomi or nats here. The
document loaders below are imported on first use, with their models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bosh_core.errors import BoshError
from bosh_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from bosh_core.models.cloud_config import load_cloud_config, load_cloud_configs
    from bosh_core.models.cpi_config import load_cpi_config, load_cpi_configs
    from bosh_core.models.manifest import load_manifest
    from bosh_core.models.runtime_config import load_runtime_config, load_runtime_configs


__all__ = [
    "BoshError",
    "__version__",
    "load_cloud_config",
    "load_cloud_configs",
    "load_cpi_config",
    "load_cpi_configs",
    "load_manifest",
    "load_runtime_config",
    "load_runtime_configs",
]

__version__ = "0.1.0"

_LAZY = {
    "load_cloud_config": "bosh_core.models.cloud_config",
    "load_cloud_configs": "bosh_core.models.cloud_config",
    "load_cpi_config": "bosh_core.models.cpi_config",
    "load_cpi_configs": "bosh_core.models.cpi_config",
    "load_manifest": "bosh_core.models.manifest",
    "load_runtime_config": "bosh_core.models.runtime_config",
    "load_runtime_configs": "bosh_core.models.runtime_config",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
