"""The director's blobstore, from `DirectorConfig.blobstore`.

    blobstore = open_blobstore(config)               # what the director reads and writes
    with serve_local_blobstore(config, tls):         # agents' access to a local one
        settings = agent_blobstore_settings(config, ca_certificate=ca_pem)
        url = sign_url(config, blob_id, "GET")       # for an agent without credentials

Agents always get a ``dav`` blobstore (the reference's agents speak davcli to the
director's nginx): for ``local`` it is the store the director serves itself, for
``dav`` the configured one. They get the agent user, never the director's, and never the
signing secret: signing is the director's job, and a secret on every VM would let any of
them forge URLs to every blob.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bosh_core.agent.settings import BlobstoreSettings
from bosh_core.blobstore import Blobstore
from bosh_core.director.api.config import DirectorConfig
from bosh_core.errors import BlobstoreError, ConfigError

if TYPE_CHECKING:
    from bosh_core.blobstore.dav import DavBlobstore
    from bosh_core.director.api.tls import TLSFiles

__all__ = [
    "SIGNED_URL_EXPIRY",
    "agent_blobstore_settings",
    "agent_blobstores",
    "agent_endpoint",
    "open_blobstore",
    "serve_local_blobstore",
    "sign_url",
]

SIGNED_URL_EXPIRY = 24 * 60 * 60
"""Seconds a signed URL lasts: the reference director signs for 24h."""

_OPTIONS_SOURCE = "director config $.blobstore.options"
_WILDCARDS = ("0.0.0.0", "::", "")


def open_blobstore(config: DirectorConfig) -> Blobstore:
    """The blobstore the director reads and writes (files directly for ``local``)."""
    provider = config.blobstore.provider
    if provider == "local":
        from bosh_core.blobstore.local import LocalBlobstore

        return LocalBlobstore(config.blobstore_dir)
    if provider == "dav":
        return _director_dav(config)
    if provider == "s3":
        from bosh_core.blobstore.s3 import S3Blobstore

        return S3Blobstore.from_options(config.blobstore.options, source=_OPTIONS_SOURCE)
    raise ConfigError(f"Unsupported blobstore provider '{provider}' in the director config")


def agent_endpoint(config: DirectorConfig) -> str:
    """The URL agents reach the blobstore at: the served local one, or the dav endpoint."""
    blobstore = config.blobstore
    if blobstore.provider == "dav":
        return str(_dav_options(config)["endpoint"])
    if blobstore.provider != "local":
        raise ConfigError(
            f"Agents reach a '{blobstore.provider}' blobstore through its own options,"
            " not a director endpoint"
        )
    address = blobstore.address or (config.bind if config.bind not in _WILDCARDS else "127.0.0.1")
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{blobstore.port}"


def agent_blobstore_settings(
    config: DirectorConfig, *, ca_certificate: str | None = None
) -> BlobstoreSettings:
    """The ``blobstore`` of the agent settings the director hands out.

    ``local``: the served store, trusted through `ca_certificate` (the director's CA PEM,
    required); ``dav``: the configured endpoint and TLS options; ``s3``: the options as
    configured, as the reference passes its operator's agent blobstore on. Raises
    ConfigError when agents could not get in: no agent user and no signing secret.
    """
    blobstore = config.blobstore
    if blobstore.provider == "s3":
        return BlobstoreSettings(provider="s3", options=dict(blobstore.options))
    if blobstore.agent is None and not blobstore.secret:
        raise ConfigError(
            "The director config's blobstore gives agents no way in: set blobstore.agent"
            " (user and password) or blobstore.secret (signed URLs)"
        )
    options: dict[str, Any] = {"endpoint": agent_endpoint(config)}
    if blobstore.agent is not None:
        options["user"] = blobstore.agent.name
        options["password"] = blobstore.agent.password
    if blobstore.provider == "local":
        if not ca_certificate:
            raise ConfigError(
                "Agent settings for the local blobstore need the director's CA certificate"
            )
        options["tls"] = {"cert": {"ca": ca_certificate}}
    elif "tls" in blobstore.options:
        options["tls"] = blobstore.options["tls"]
    return BlobstoreSettings(provider="dav", options=options)


def agent_blobstores(config: DirectorConfig) -> list[dict[str, Any]]:
    """create_vm's ``env.bosh.blobstores``: the blobstore agents of this director use
    (trusting the director's CA for the served local one); empty when the config gives
    agents no way in, and the CPI's agent settings name their blobstore instead."""
    blobstore = config.blobstore
    if blobstore.provider != "s3" and blobstore.agent is None and not blobstore.secret:
        return []
    ca_certificate = None
    if blobstore.provider == "local":
        from bosh_core.director.api.tls import ensure_tls

        ca = ensure_tls(config).ca
        ca_certificate = ca.read_text() if ca is not None else None
    settings = agent_blobstore_settings(config, ca_certificate=ca_certificate)
    return [{"provider": settings.provider, "options": dict(settings.options)}]


def sign_url(
    config: DirectorConfig, blob_id: str, verb: str, *, expiry: int = SIGNED_URL_EXPIRY
) -> str:
    """A URL allowing `verb` (GET or PUT) on the blob for `expiry` seconds, without
    credentials, as davcli's ``sign``; needs ``blobstore.secret``."""
    from bosh_core.blobstore.dav import DavBlobstore, DavConfig

    if config.blobstore.provider == "dav":
        signer: DavBlobstore = _director_dav(config)
    elif config.blobstore.provider == "local":
        signer = DavBlobstore(
            DavConfig(endpoint=agent_endpoint(config), secret=config.blobstore.secret)
        )
    else:
        raise BlobstoreError(
            f"Cannot sign a URL for blob '{blob_id}': the '{config.blobstore.provider}'"
            " blobstore does not sign URLs (use local or dav)"
        )
    return signer.sign(blob_id, verb, expiry)


@contextlib.contextmanager
def serve_local_blobstore(config: DirectorConfig, tls: TLSFiles) -> Iterator[str | None]:
    """While the block runs, serve a ``local`` blobstore to agents over HTTPS on
    ``blobstore.port`` with the director's certificate; yields the endpoint (None for
    other providers: nothing to serve). The director and agent users may use it."""
    if config.blobstore.provider != "local":
        yield None
        return
    from bosh_core.blobstore.server import BlobstoreApp, serve_blobstore
    from bosh_core.director.api.auth import BasicAuthenticator

    users = [user for user in (config.blobstore.director, config.blobstore.agent) if user]
    app = BlobstoreApp(
        config.blobstore_dir,
        authenticate=BasicAuthenticator(users).authenticate,
        secret=config.blobstore.secret,
    )
    with serve_blobstore(
        app,
        host=config.bind,
        port=config.blobstore.port,
        certificate=tls.certificate,
        private_key=tls.private_key,
    ):
        yield agent_endpoint(config)


def _dav_options(config: DirectorConfig) -> dict[str, Any]:
    """davcli's options for the director: the configured ones with its user and secret."""
    blobstore = config.blobstore
    options = dict(blobstore.options)
    if blobstore.director is not None:
        options["user"] = blobstore.director.name
        options["password"] = blobstore.director.password
    if blobstore.secret:
        options["secret"] = blobstore.secret
    return options


def _director_dav(config: DirectorConfig) -> DavBlobstore:
    from bosh_core.blobstore.dav import DavBlobstore

    return DavBlobstore.from_options(_dav_options(config), source=_OPTIONS_SOURCE)
