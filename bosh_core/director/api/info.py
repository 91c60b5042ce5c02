"""``GET /info``: who the director is and how to log in; answered without credentials."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from bosh_core.director.api.app import DirectorDependency, director_version

__all__ = ["ROUTES", "info"]


@get("/info", sync_to_thread=True, summary="Director identity, version and login method")
def info(request: Request[Any, Any, Any], director: DirectorDependency) -> dict[str, Any]:
    config = director.config
    user = director.authenticator.authenticate(request.headers.get("authorization"))
    return {
        "name": config.name,
        "uuid": director.uuid,
        "version": director_version(),
        "user": user,
        "cpi": config.cpi,
        "stemcell_os": config.stemcell_os,
        "stemcell_version": config.stemcell_version,
        "user_authentication": director.authenticator.client_info(),
        "features": {
            "local_dns": {
                "status": config.local_dns_enabled,
                "extras": {"domain_name": config.local_dns_domain},
            },
            "snapshots": {"status": False},
            "config_server": {"status": False, "extras": {"urls": []}},
        },
    }


ROUTES = [info]
