"""``bosh-director -c director.yml``: migrate the database, then serve the API over HTTPS."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bosh-director", description=__doc__)
    parser.add_argument("-c", "--config", required=True, help="the director's YAML config")
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from bosh_core.director.api import ensure_tls, load_config, serve
    from bosh_core.director.db import open_database
    from bosh_core.errors import BoshError

    try:
        config = load_config(arguments.config)
        database = open_database(config.database_url)
        database.migrate()
        tls = ensure_tls(config)
    except BoshError as error:
        print(f"bosh-director: {error}", file=sys.stderr)
        return 1
    if tls.ca is not None:
        # What a CLI needs: `bosh alias-env ... --ca-cert <path>` or BOSH_CA_CERT.
        print(f"Director CA certificate: {tls.ca}", flush=True)
    print(f"Director '{config.name}' listening on https://{config.bind}:{config.port}", flush=True)
    try:
        serve(config, database=database, tls=tls)
    finally:
        database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
