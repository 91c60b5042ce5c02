"""bosh_core: the BOSH library (releases, manifests, director, CPIs, agent).

Importing it stays light: no click, boto3, openstacksdk, pyvmomi or nats here.
"""

from bosh_core.errors import BoshError

__all__ = ["BoshError", "__version__"]

__version__ = "0.1.0"
