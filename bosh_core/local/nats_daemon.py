"""``python -m bosh_core.local.nats_daemon STATE_DIR --port P [--address A ...]``.

Holds the local environment's embedded NATS (`bosh_core.bus.EmbeddedNats`: a TLS
nats-server with BOSH's users) as a daemon: it starts the server, keeps it until SIGTERM
or SIGINT, then stops it. The nats-server is its child in the same process group, so
stopping the group stops both. The CA, agent list and port stay in STATE_DIR, so agents
of running VMs connect again after a ``bosh local down`` and ``up``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bosh_core.bus import BusError
from bosh_core.bus.embedded import EmbeddedNats

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bosh-local-nats", description=__doc__)
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--address", action="append", default=[], help="an address agents dial")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    nats = EmbeddedNats(
        arguments.state_dir,
        host=arguments.host,
        port=arguments.port,
        addresses=arguments.address,
    )
    try:
        nats.start()
    except BusError as error:
        print(f"bosh-local-nats: {error}", file=sys.stderr)
        return 1
    print(f"NATS listening on {nats.url}", flush=True)
    try:
        stopping.wait()
    finally:
        nats.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
