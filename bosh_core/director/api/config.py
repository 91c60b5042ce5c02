"""The director's configuration: a frozen `DirectorConfig`, read from YAML at the edge.

    name: my-bosh
    port: 25555                  # HTTPS
    bind: 0.0.0.0
    data_dir: /var/vcap/store/director
    db: postgresql://bosh@127.0.0.1/bosh   # default: SQLite at <data_dir>/bosh.db
    queue: redis://127.0.0.1:6379/0        # default: the task queue is in the database
    workers: 3                   # in-process task workers (0: run `bosh-director worker`)
    task_checkpoint_interval: 30 # seconds; a worker silent for longer loses its task (timeout)
    uuid: 1c1d...                # default: made once and kept in the database
    cpi: local                   # the director's CPI; its name is reported by /info:
                                 # a CPI plugin (bosh.cpis entry point), an executable's
                                 # path, or {name, type, exec_path, properties}
    users:                       # local users for basic auth (all admins)
    - {name: admin, password: admin}
    tls:                         # without it a CA and certificate are made under data_dir/tls
      cert: director.crt         # paths; relative ones are read from the config file's folder
      key: director.key
      ca: ca.crt                 # optional: the CA clients should trust (printed at start)
      alternative_names: [director.example.com, 10.0.0.6]   # for a generated certificate
    blobstore:                   # default: local, served to agents on 25250
      provider: local            # local (files under data_dir/blobstore), dav or s3
      port: 25250                # local: the HTTPS port agents fetch blobs from
      address: 10.0.0.6          # local: how agents reach it (default: bind, else 127.0.0.1)
      director: {user: director, password: ...}   # dav: the director's basic-auth user
      agent: {user: agent, password: ...}         # the user agents get in their settings
      secret: ...                # signs expiring URLs (/signed/...)
      options: {...}             # dav: davcli's (endpoint, tls.cert.ca); s3: the s3 client's
    encryption_key: ...          # encrypts the built-in config server's values in the database
                                 # (default: a random key kept in <data_dir>/config_server.key)
    config_server:               # ((variables)) from an external config server instead
      enabled: true
      url: https://config-server.example.com:8080/
      ca_cert_path: config-server-ca.crt   # trusted CA (default: the system's)
      token: ...                 # a bearer token (e.g. from UAA), or:
      basic_auth: {user: director, password: ...}
    mbus:                        # the NATS the director talks to agents over (default: none)
      embedded: true             # a nats-server started and owned by the director process,
      port: 4222                 # state (CA, agent users) under data_dir/nats; 0 picks a port
      address: 10.0.0.6          # how agents reach it (default: bind, else 127.0.0.1)
    # or an external NATS (agents' credentials are then the operator's to provide):
    # mbus: {url: nats://10.0.0.6:4222, ca_cert: nats-ca.crt,
    #        client_cert: director.crt, client_key: director.key}

Only `load_config` reads files; library code receives the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bosh_core.blobstore.server import DEFAULT_PORT as BLOBSTORE_PORT
from bosh_core.errors import ConfigError, ManifestError
from bosh_core.models.cpi_config import Cpi
from bosh_core.serialization import load_yaml_as, structure
from bosh_core.urls import redact_url

__all__ = [
    "DEFAULT_MBUS_PORT",
    "DEFAULT_PORT",
    "BlobstoreConfig",
    "ConfigServerConfig",
    "DirectorConfig",
    "LocalUser",
    "MbusConfig",
    "TLSConfig",
    "load_config",
]

DEFAULT_PORT = 25555
DEFAULT_MBUS_PORT = 4222


@attrs.frozen
class LocalUser:
    """A basic-auth user from the config file; the password never appears in a repr."""

    name: str
    password: str = attrs.field(repr=False)


@attrs.frozen
class TLSConfig:
    """Given certificate and key files (PEM); `ca` is what clients should trust."""

    cert: Path
    key: Path
    ca: Path | None = None


BLOBSTORE_PROVIDERS = ("local", "dav", "s3")


@attrs.frozen(kw_only=True)
class BlobstoreConfig:
    """Where the director keeps blobs, and how agents reach them.

    ``local``: files under ``<data_dir>/blobstore``, which the director also serves to
    agents over HTTPS at `address`:`port` (`bosh_core.blobstore.server`); ``dav`` and
    ``s3``: an external store described by `options`. `director` and `agent` are the
    basic-auth users of a dav store (the served local one accepts both); `secret` signs
    expiring URLs. Passwords, the secret and the options (s3 keys) stay out of reprs.
    """

    provider: str = "local"
    port: int = BLOBSTORE_PORT
    address: str | None = None
    director: LocalUser | None = None
    agent: LocalUser | None = None
    secret: str = attrs.field(default="", repr=False)
    options: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen(kw_only=True)
class ConfigServerConfig:
    """An external config server (``config_server`` with ``enabled: true``).

    The real config-server checks a UAA token; the director sends `token` as given
    (it does not talk to UAA itself) or basic auth from `user`. `ca_cert` is the CA
    that signed the server's certificate (the system's trust store when unset).
    """

    url: str
    ca_cert: Path | None = None
    token: str = attrs.field(default="", repr=False)
    user: LocalUser | None = None


def _hide_password(url: str | None) -> str:
    return repr(None if url is None else redact_url(url))


@attrs.frozen(kw_only=True)
class MbusConfig:
    """The message bus to agents (``mbus``): an embedded nats-server or an external one.

    `embedded`: the director process starts nats-server on its `bind` address and
    `port` (0: picked once, then kept) and authorizes each new VM's agent with its own
    client certificate (`bosh_core.director.agents`). Agents dial `address`. Only the
    process that started the server can reload it, so an embedded bus needs the task
    workers inside the director (``workers`` > 0, no ``bosh-director worker``).

    Otherwise `url` is an external NATS; the director connects with `client_cert` and
    `client_key` (PEM paths) trusting `ca_cert`, or in clear without them. Agents'
    certificates are then the operator's to provide (in the stemcell's or the CPI's
    agent settings): the director neither issues them nor changes the server's users.
    """

    embedded: bool = False
    port: int = DEFAULT_MBUS_PORT
    address: str | None = None
    url: str | None = attrs.field(default=None, repr=_hide_password)
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None


@attrs.frozen(kw_only=True)
class DirectorConfig:
    name: str = "bosh"
    port: int = DEFAULT_PORT
    bind: str = "0.0.0.0"
    data_dir: Path
    db_url: str | None = attrs.field(default=None, repr=_hide_password)
    queue_url: str | None = attrs.field(default=None, repr=_hide_password)
    workers: int = 3
    task_checkpoint_interval: float = 30.0
    uuid: str | None = None
    cpi: str | None = None
    # The CPI `cpi` names, used when no cpi-config is set (properties may hold secrets).
    default_cpi: Cpi | None = attrs.field(default=None, repr=False)
    stemcell_os: str | None = None
    stemcell_version: str | None = None
    users: tuple[LocalUser, ...] = ()
    tls: TLSConfig | None = None
    tls_alternative_names: tuple[str, ...] = ()
    local_dns_enabled: bool = False
    local_dns_domain: str = "bosh"
    blobstore: BlobstoreConfig = attrs.Factory(BlobstoreConfig)
    # The built-in config server's key; an external one replaces the built-in one.
    encryption_key: str | None = attrs.field(default=None, repr=False)
    config_server: ConfigServerConfig | None = None
    mbus: MbusConfig | None = None

    @property
    def database_url(self) -> str:
        """`db_url`, or an SQLite file in the data directory."""
        return self.db_url or f"sqlite:///{(self.data_dir / 'bosh.db').absolute()}"

    @property
    def blobstore_dir(self) -> Path:
        """The local blobstore: release, stemcell and log blobs under the data directory."""
        return self.data_dir / "blobstore"

    @property
    def tasks_dir(self) -> Path:
        """Where each task keeps its outputs (``tasks/<id>/{event,result,debug,cpi}``)."""
        return self.data_dir / "tasks"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space on the data directory's filesystem (uploads land here first)."""
        return self.data_dir / "tmp"

    @property
    def tls_dir(self) -> Path:
        """Where a generated CA and server certificate are kept."""
        return self.data_dir / "tls"

    @property
    def nats_dir(self) -> Path:
        """The embedded NATS's state: its CA, the authorized agents, config and log."""
        return self.data_dir / "nats"


# --- the file's layout -----------------------------------------------------------------


@attrs.frozen
class _UserDocument:
    name: str
    password: str = attrs.field(repr=False)


@attrs.frozen
class _TLSDocument:
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    alternative_names: list[str] = attrs.Factory(list)


@attrs.frozen
class _BlobstoreUserDocument:
    user: str
    password: str = attrs.field(repr=False)


@attrs.frozen
class _BlobstoreDocument:
    provider: str = "local"
    port: int = BLOBSTORE_PORT
    address: str | None = None
    director: _BlobstoreUserDocument | None = None
    agent: _BlobstoreUserDocument | None = None
    secret: str = attrs.field(default="", repr=False)
    options: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class _ConfigServerDocument:
    enabled: bool = False
    url: str = ""
    ca_cert_path: str | None = None
    token: str = attrs.field(default="", repr=False)
    basic_auth: _BlobstoreUserDocument | None = None


@attrs.frozen
class _MbusDocument:
    embedded: bool = False
    port: int = DEFAULT_MBUS_PORT
    address: str | None = None
    url: str | None = attrs.field(default=None, repr=False)
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


@attrs.frozen
class _ConfigDocument:
    data_dir: str
    name: str = "bosh"
    port: int = DEFAULT_PORT
    bind: str = "0.0.0.0"
    db: str | None = attrs.field(default=None, repr=False)
    queue: str | None = attrs.field(default=None, repr=False)
    workers: int = 3
    task_checkpoint_interval: float = 30.0
    uuid: str | None = None
    cpi: Any = attrs.field(default=None, repr=False)  # a name, a path or a map: _default_cpi
    stemcell_os: str | None = None
    stemcell_version: str | None = None
    users: list[_UserDocument] = attrs.Factory(list)
    tls: _TLSDocument | None = None
    local_dns: Mapping[str, Any] = attrs.Factory(dict)
    blobstore: _BlobstoreDocument = attrs.Factory(_BlobstoreDocument)
    encryption_key: str | None = attrs.field(default=None, repr=False)
    config_server: _ConfigServerDocument = attrs.Factory(_ConfigServerDocument)
    mbus: _MbusDocument | None = None


def load_config(path: str | Path) -> DirectorConfig:
    """Read the director's YAML config; relative paths in it are taken from its folder."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the director config {path}: {error.strerror}") from None
    document = load_yaml_as(text, _ConfigDocument, source=f"director config {path}")
    base = path.parent
    problems = []
    if document.workers < 0:
        problems.append(f"workers {document.workers} is negative")
    if document.task_checkpoint_interval <= 0:
        problems.append("task_checkpoint_interval must be a positive number of seconds")
    if document.queue is not None and not document.queue.startswith(("redis://", "rediss://")):
        problems.append("queue: give a redis:// URL, or none to queue tasks in the database")
    if not 0 < document.port < 65536:
        problems.append(f"port {document.port} is not between 1 and 65535")
    names = [user.name for user in document.users]
    if len(set(names)) != len(names):
        problems.append("users: a user name appears more than once")
    if any(not user.name or not user.password for user in document.users):
        problems.append("users: every user needs a name and a password")
    tls = None
    if document.tls is not None and (document.tls.cert or document.tls.key):
        if not (document.tls.cert and document.tls.key):
            problems.append("tls: give both cert and key, or neither to have them generated")
        else:
            tls = TLSConfig(
                cert=base / document.tls.cert,
                key=base / document.tls.key,
                ca=None if document.tls.ca is None else base / document.tls.ca,
            )
    default_cpi = _default_cpi(document.cpi, base=base, data_dir=base / document.data_dir)
    if isinstance(default_cpi, str):
        problems.append(default_cpi)
        default_cpi = None
    blobstore = _blobstore_config(document, tls=tls, problems=problems)
    config_server = _config_server_config(document.config_server, base=base, problems=problems)
    mbus = _mbus_config(document.mbus, base=base, problems=problems)
    if document.encryption_key is not None and len(document.encryption_key) < 16:
        problems.append("encryption_key: give at least 16 characters")
    if problems:
        raise ConfigError(f"invalid director config {path}: " + "; ".join(problems))
    return DirectorConfig(
        name=document.name,
        port=document.port,
        bind=document.bind,
        data_dir=base / document.data_dir,
        db_url=document.db,
        queue_url=document.queue,
        workers=document.workers,
        task_checkpoint_interval=document.task_checkpoint_interval,
        uuid=document.uuid,
        cpi=None if default_cpi is None else default_cpi.name,
        default_cpi=default_cpi,
        stemcell_os=document.stemcell_os,
        stemcell_version=document.stemcell_version,
        users=tuple(LocalUser(user.name, user.password) for user in document.users),
        tls=tls,
        tls_alternative_names=tuple(document.tls.alternative_names if document.tls else ()),
        local_dns_enabled=bool(document.local_dns.get("enabled", False)),
        local_dns_domain=str(document.local_dns.get("domain_name", "bosh")),
        blobstore=blobstore,
        encryption_key=document.encryption_key,
        config_server=config_server,
        mbus=mbus,
    )


def _default_cpi(value: Any, *, base: Path, data_dir: Path) -> Cpi | str | None:
    """The director's own CPI from the config's ``cpi`` (or what is wrong with it).

    ``local`` (a plugin's name) or ``/var/vcap/jobs/aws_cpi/bin/cpi`` (an executable: a
    value with a ``/``; relative to the config's folder) or a map with ``type`` and/or
    ``exec_path``, ``name`` (default: the type) and ``properties``. The local CPI keeps
    its VMs, disks and stemcells under ``<data_dir>/local-cpi`` unless ``dir`` is given.
    """
    if value is None:
        return None
    if isinstance(value, str) and value:
        document: Any = (
            {"name": value, "exec_path": value} if "/" in value else {"name": value, "type": value}
        )
    elif isinstance(value, Mapping):
        document = dict(value)
    else:
        return "cpi: give a CPI name, an executable's path, or a map (name, type, properties)"
    if not (document.get("type") or document.get("exec_path")):
        return "cpi: give 'type' (a CPI plugin) or 'exec_path' (a CPI executable)"
    document.setdefault("type", "external")
    document.setdefault("name", document["type"])
    try:
        cpi = structure(document, Cpi, source="cpi")
    except ManifestError as error:
        return f"cpi: {error}"
    if cpi.type == "local" and "dir" not in cpi.properties:
        cpi = attrs.evolve(cpi, properties={**cpi.properties, "dir": str(data_dir / "local-cpi")})
    if cpi.exec_path is not None:
        cpi = attrs.evolve(cpi, exec_path=str(base / cpi.exec_path))
    return cpi


def _blobstore_config(
    document: _ConfigDocument, *, tls: TLSConfig | None, problems: list[str]
) -> BlobstoreConfig:
    """The ``blobstore`` section, checked now (options included) so that a wrong one
    stops the director at start rather than at the first upload."""
    from bosh_core.blobstore.dav import DavConfig
    from bosh_core.blobstore.s3 import S3Config

    section = document.blobstore
    if section.provider not in BLOBSTORE_PROVIDERS:
        problems.append(
            f"blobstore: provider '{section.provider}' is not one of"
            f" {', '.join(BLOBSTORE_PROVIDERS)}"
        )
    if not 0 < section.port < 65536:
        problems.append(f"blobstore: port {section.port} is not between 1 and 65535")
    for role, user in (("director", section.director), ("agent", section.agent)):
        if user is not None and not (user.user and user.password):
            problems.append(f"blobstore: {role} needs a user and a password")
    names = {"localhost", "127.0.0.1", "::1", document.bind, *_alternative_names(document)}
    if section.provider == "local" and tls is None and section.address not in (None, *names):
        # The generated certificate names only these: agents would refuse it.
        problems.append(
            f"blobstore: address '{section.address}' must also be in tls.alternative_names"
        )
    try:
        if section.provider == "dav":
            DavConfig.from_options(section.options, source="blobstore.options")
        elif section.provider == "s3":
            S3Config.from_options(section.options, source="blobstore.options")
    except ConfigError as exc:
        problems.append(str(exc))
    return BlobstoreConfig(
        provider=section.provider,
        port=section.port,
        address=section.address,
        director=_blobstore_user(section.director),
        agent=_blobstore_user(section.agent),
        secret=section.secret,
        options=section.options,
    )


def _config_server_config(
    section: _ConfigServerDocument, *, base: Path, problems: list[str]
) -> ConfigServerConfig | None:
    """The external config server, when enabled; its URL must be HTTP(S)."""
    if not section.enabled:
        return None
    if not section.url.startswith(("https://", "http://")):
        problems.append("config_server: give the url (https://...) of the config server")
    if section.token and section.basic_auth is not None:
        problems.append("config_server: give a token or basic_auth, not both")
    return ConfigServerConfig(
        url=section.url,
        ca_cert=None if section.ca_cert_path is None else base / section.ca_cert_path,
        token=section.token,
        user=_blobstore_user(section.basic_auth),
    )


def _mbus_config(
    section: _MbusDocument | None, *, base: Path, problems: list[str]
) -> MbusConfig | None:
    """The ``mbus`` section: embedded (port, address) or an external NATS's url and TLS
    files (relative to the config's folder)."""
    if section is None:
        return None
    if section.embedded == (section.url is not None):
        problems.append("mbus: give 'embedded: true' or the 'url' of an external NATS")
    if section.embedded and not 0 <= section.port < 65536:
        problems.append(f"mbus: port {section.port} is not between 0 and 65535")
    if section.url is not None and not section.url.startswith(("nats://", "tls://")):
        problems.append("mbus: url must be nats://host:port")
    tls_files = (section.ca_cert, section.client_cert, section.client_key)
    if any(tls_files) and not all(tls_files):
        problems.append("mbus: give ca_cert, client_cert and client_key together, or none")

    def path(value: str | None) -> Path | None:
        return None if value is None else base / value

    return MbusConfig(
        embedded=section.embedded,
        port=section.port,
        address=section.address,
        url=section.url,
        ca_cert=path(section.ca_cert),
        client_cert=path(section.client_cert),
        client_key=path(section.client_key),
    )


def _blobstore_user(document: _BlobstoreUserDocument | None) -> LocalUser | None:
    return None if document is None else LocalUser(document.user, document.password)


def _alternative_names(document: _ConfigDocument) -> list[str]:
    return document.tls.alternative_names if document.tls else []
