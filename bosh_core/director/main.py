"""``bosh-director -c director.yml``: migrate the database, then serve the API over HTTPS
with the config's in-process task workers (and a local blobstore to agents).
``bosh-director worker -c director.yml``: one task worker as its own process (run several
beside a director with ``workers: 0``; they need an external NATS, ``mbus.url``, since
only the director process can authorize agents on its embedded one)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bosh_core.director.api import DirectorConfig
    from bosh_core.director.api.tls import TLSFiles
    from bosh_core.director.db import Database

__all__ = ["main"]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bosh-director", description=__doc__)
    parser.add_argument("-c", "--config", help="the director's YAML config")
    commands = parser.add_subparsers(dest="command")
    worker = commands.add_parser("worker", help="run one task worker in this process")
    # `bosh-director worker -c x` and `bosh-director -c x worker` both work.
    worker.add_argument("-c", "--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    worker.add_argument("--index", type=int, default=0, help="this worker's number on the host")
    worker.add_argument(
        "--queues",
        default="urgent,normal",
        help="comma-separated queues, highest priority first (default: urgent,normal)",
    )
    arguments = parser.parse_args(argv)
    if not arguments.config:
        parser.error("the director's config is required: -c director.yml")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The console shows INFO and up; each task's debug log gets our DEBUG records too.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.INFO)
    logging.getLogger("bosh_core").setLevel(logging.DEBUG)

    from bosh_core.director.api import ensure_tls, load_config
    from bosh_core.director.db import open_database
    from bosh_core.errors import BoshError

    try:
        config = load_config(arguments.config)
        database = open_database(config.database_url)
        database.migrate()
        tls = None if arguments.command == "worker" else ensure_tls(config)
    except BoshError as error:
        print(f"bosh-director: {error}", file=sys.stderr)
        return 1
    try:
        return _run(arguments, config, database, tls)
    except BoshError as error:
        print(f"bosh-director: {error}", file=sys.stderr)
        return 1
    finally:
        database.dispose()


def _run(
    arguments: argparse.Namespace, config: DirectorConfig, database: Database, tls: TLSFiles | None
) -> int:
    if arguments.command == "worker":
        from bosh_core.director.api import Director
        from bosh_core.director.api.auth import BasicAuthenticator
        from bosh_core.director.workers import run_worker_process

        if config.mbus is not None and config.mbus.embedded:
            # Only the director process, which started nats-server, can authorize agents.
            print(
                "bosh-director: an embedded NATS (mbus.embedded) needs the task workers in"
                " the director process (workers > 0); use an external NATS (mbus.url) to run"
                " 'bosh-director worker' processes",
                file=sys.stderr,
            )
            return 1
        director = Director(config, database, BasicAuthenticator(config.users))
        queues = [name for name in arguments.queues.split(",") if name]
        try:
            ran = run_worker_process(director, index=arguments.index, queues=queues)
        finally:
            director.agents.stop()  # the bus connection, if a task opened one
        print(f"Worker {arguments.index} stopped after {ran} task(s)", flush=True)
        return 0
    from bosh_core.director.api import serve
    from bosh_core.director.blobstores import serve_local_blobstore

    assert tls is not None  # made for every command but `worker`
    if tls.ca is not None:
        # What a CLI needs: `bosh alias-env ... --ca-cert <path>` or BOSH_CA_CERT.
        print(f"Director CA certificate: {tls.ca}", flush=True)
    print(
        f"Director '{config.name}' listening on https://{config.bind}:{config.port}"
        f" with {config.workers} task worker(s)",
        flush=True,
    )
    with serve_local_blobstore(config, tls) as blobstore_endpoint:
        if blobstore_endpoint is not None:
            print(f"Blobstore served to agents at {blobstore_endpoint}", flush=True)
        serve(config, database=database, tls=tls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
