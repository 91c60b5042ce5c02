"""Each local environment on a machine gets a network of its own.

Environments side by side (a demo, a test run, a benchmark) must not share the local
CPI's bridge and addresses: two VMs with one address on one bridge break each other's
connections. The first ``up`` claims the lowest free /24 of ``10.244.0.0/16`` (of
``127.244.0.0/16`` without root, where VMs share the host's loopback), with the bridge
``boshbr<N>``; the environment's state keeps the number. A claim is a file naming the
environment's directory under a runtime directory; a claim whose directory is gone is
free again, and ``delete`` releases its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import attrs

from bosh_core.cpi.local.properties import parse_properties

__all__ = ["LocalNetwork", "claim_network", "release_network"]

_NETWORKS: Final = 256


@attrs.frozen(kw_only=True)
class LocalNetwork:
    """The local CPI's network as VMs see it: its CIDR, bridge and the host's address."""

    index: int
    mode: str
    cidr: str
    bridge: str
    host_address: str

    @classmethod
    def numbered(cls, index: int) -> LocalNetwork:
        # As root VMs get their own network stacks on a bridge; without root they share
        # the host's, on loopback addresses. A /24 keeps the cloud-config's range small.
        prefix = "10.244" if os.geteuid() == 0 else "127.244"
        cidr = f"{prefix}.{index}.0/24"
        parsed = parse_properties({"dir": "/", "network_cidr": cidr})
        return cls(
            index=index,
            mode=parsed.network_mode,
            cidr=cidr,
            bridge=f"boshbr{index}",
            host_address=str(parsed.network.ip),
        )


def _claims_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/run/bosh-local/networks")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path("/tmp") / f"bosh-local-{os.getuid()}"
    return base / "networks"


@contextlib.contextmanager
def _locked_claims() -> Iterator[Path]:
    claims = _claims_dir()
    claims.mkdir(parents=True, exist_ok=True)
    with (claims / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield claims


def _owner(claim: Path) -> Path | None:
    try:
        return Path(claim.read_text().strip())
    except OSError:
        return None


def claim_network(directory: Path, index: int | None = None) -> LocalNetwork:
    """The network of the environment in `directory`: the one it claimed already, else
    the lowest free one, claimed now. An environment that knows its network (`index`,
    from its state) claims that one again; OSError when another environment holds it."""
    with _locked_claims() as claims:
        wanted = range(_NETWORKS) if index is None else [index]
        free = None
        for number in wanted:
            owner = _owner(claims / str(number))
            if owner == directory:
                return LocalNetwork.numbered(number)
            if free is None and (owner is None or not owner.is_dir()):
                free = number
        if free is None:
            if index is not None:
                raise OSError(
                    f"the local network {LocalNetwork.numbered(index).cidr} of this environment"
                    f" is used by the environment in {_owner(claims / str(index))}: stop one"
                    " ('bosh local down') or delete it ('bosh local delete --dir DIR')"
                )
            raise OSError(
                f"every local network is taken ({_NETWORKS} environments in {claims}):"
                " delete unused ones with 'bosh local delete --dir DIR'"
            )
        (claims / str(free)).write_text(f"{directory}\n")
        return LocalNetwork.numbered(free)


def release_network(directory: Path, index: int) -> None:
    """Give up `directory`'s claim on network `index` (nothing if another holds it)."""
    with _locked_claims() as claims:
        claim = claims / str(index)
        if _owner(claim) == directory:
            claim.unlink()
