"""The director's HTTP API (Litestar on uvicorn): ``create_app`` builds it, ``serve``
runs it with TLS. Importing this package imports Litestar and SQLAlchemy."""

from bosh_core.director.api.app import Director, create_app
from bosh_core.director.api.config import DirectorConfig, LocalUser, TLSConfig, load_config
from bosh_core.director.api.server import serve
from bosh_core.director.api.tasks import task_to_hash
from bosh_core.director.api.tls import TLSFiles, ensure_tls

__all__ = [
    "Director",
    "DirectorConfig",
    "LocalUser",
    "TLSConfig",
    "TLSFiles",
    "create_app",
    "ensure_tls",
    "load_config",
    "serve",
    "task_to_hash",
]
