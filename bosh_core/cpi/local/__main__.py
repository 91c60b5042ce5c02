"""``python -m bosh_core.cpi.local [CONFIG]``: the local CPI as an external CPI executable."""

from bosh_core.cpi.local import LocalCPI
from bosh_core.cpi.rpc import serve

serve(LocalCPI)
