"""``GET /info``: who the director is and how to log in, answered without credentials;
``GET /director/certificate_expiry``: when the director's own certificates expire
(``bosh env --details``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from litestar import Request, get

from bosh_core.director.api.app import DirectorDependency, director_version

__all__ = ["ROUTES", "certificate_expiry", "info"]


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


@get(
    "/director/certificate_expiry",
    sync_to_thread=True,
    summary="When the director's certificates expire: certificate_path, expiry, days_left",
)
def certificate_expiry(director: DirectorDependency) -> list[dict[str, Any]]:
    """The API's certificate and the CA clients trust (and the embedded NATS's CA), each
    named by its config path, as the reference names its job properties."""
    tls = director.tls
    certificates: list[tuple[str, Path | None]] = [
        ("tls.cert", tls.certificate),
        ("tls.ca", tls.ca),
    ]
    if director.config.mbus is not None and director.config.mbus.embedded:
        certificates.append(("mbus.ca", director.config.nats_dir / "ca.pem"))
    now = dt.datetime.now(dt.UTC)
    found = []
    for name, path in certificates:
        expiry = _not_after(path) if path is not None else None
        if expiry is not None:
            found.append(
                {
                    "certificate_path": name,
                    "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "days_left": (expiry - now).days,
                }
            )
    return found


def _not_after(path: Path) -> dt.datetime | None:
    """The expiry of the first certificate in the PEM file at `path` (None if unreadable)."""
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return certificate.not_valid_after_utc


ROUTES = [info, certificate_expiry]
