"""``bosh-registry``: run the registry service.

Options come from flags or from a config file in the real registry's shape::

    http: {host: 0.0.0.0, port: 25777, user: admin, password: secret}
    db: {database: /var/vcap/store/registry/registry.db}

Flags override the file. The password can also come from BOSH_REGISTRY_PASSWORD, which
keeps it out of the process list.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bosh_core.errors import BoshError, ConfigError
from bosh_core.registry.server import RegistryServer, SQLiteRegistryStore
from bosh_core.yaml_loading import load_yaml

__all__ = ["main"]


def _load_config(path: Path) -> dict[str, Any]:
    try:
        document = load_yaml(path.read_text(), source=str(path))
    except OSError as error:
        raise ConfigError(f"cannot read registry config {path}: {error.strerror}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"registry config {path} must be a map")
    return document


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bosh-registry", description=__doc__.split("\n")[0])
    parser.add_argument("--config", "-c", type=Path, help="YAML config file")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 25777)")
    parser.add_argument("--db", type=Path, help="SQLite file (default ./registry.db)")
    parser.add_argument("--user", help="user allowed to write settings")
    parser.add_argument("--password", help="its password (or BOSH_REGISTRY_PASSWORD)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = _load_config(arguments.config) if arguments.config else {}
        http_config = config.get("http") or {}
        db_config = config.get("db") or {}
        password = (
            arguments.password
            or os.environ.get("BOSH_REGISTRY_PASSWORD")
            or http_config.get("password")
        )
        user = arguments.user or http_config.get("user")
        if not user or not password:
            raise ConfigError("bosh-registry needs --user and --password (or a config file)")
        store = SQLiteRegistryStore(
            arguments.db or Path(db_config.get("database") or "registry.db")
        )
        server = RegistryServer(
            store,
            user=str(user),
            password=str(password),
            host=arguments.host or str(http_config.get("host") or "127.0.0.1"),
            port=arguments.port
            if arguments.port is not None
            else int(http_config.get("port", 25777)),
        )
    except (BoshError, OSError, ValueError) as error:
        print(f"bosh-registry: {error}", file=sys.stderr)
        return 1
    logging.getLogger(__name__).info("registry listening on %s", server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
