"""Running the API: uvicorn serving HTTPS on the configured address and port."""

from __future__ import annotations

import uvicorn

from bosh_core.director.api.app import Director, create_app, director_version
from bosh_core.director.api.config import DirectorConfig
from bosh_core.director.api.tls import TLSFiles, ensure_tls
from bosh_core.director.db import Database, open_database

__all__ = ["serve"]


def serve(
    config: DirectorConfig, *, database: Database | None = None, tls: TLSFiles | None = None
) -> None:
    """Serve the API, with the config's in-process task workers, until SIGINT/SIGTERM
    (running tasks finish first). `database` must be migrated; by default the
    config's is opened (and closed at the end). `tls` defaults to `ensure_tls(config)`."""
    tls = tls or ensure_tls(config)
    owned = database is None
    database = database or open_database(config.database_url)
    try:
        app = create_app(config, database, run_workers=True)
        director: Director = app.state.director
        director.record_start(
            "director", director.uuid, version=director_version().split(" ", 1)[0]
        )
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=config.bind,
                port=config.port,
                ssl_certfile=str(tls.certificate),
                ssl_keyfile=str(tls.private_key),
                # Our logging setup stays; uvicorn only adds its handlers' levels.
                log_config=None,
                server_header=False,
                proxy_headers=False,
            )
        )
        server.run()
    finally:
        if owned:
            database.dispose()
