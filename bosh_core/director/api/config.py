"""The director's configuration: a frozen `DirectorConfig`, read from YAML at the edge.

    name: my-bosh
    port: 25555                  # HTTPS
    bind: 0.0.0.0
    data_dir: /var/vcap/store/director
    db: postgresql://bosh@127.0.0.1/bosh   # default: SQLite at <data_dir>/bosh.db
    uuid: 1c1d...                # default: made once and kept in the database
    cpi: local                   # reported by /info
    users:                       # local users for basic auth (all admins)
    - {name: admin, password: admin}
    tls:                         # without it a CA and certificate are made under data_dir/tls
      cert: director.crt         # paths; relative ones are read from the config file's folder
      key: director.key
      ca: ca.crt                 # optional: the CA clients should trust (printed at start)
      alternative_names: [director.example.com, 10.0.0.6]   # for a generated certificate

Only `load_config` reads files; library code receives the object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from bosh_core.errors import ConfigError
from bosh_core.serialization import load_yaml_as

__all__ = ["DEFAULT_PORT", "DirectorConfig", "LocalUser", "TLSConfig", "load_config"]

DEFAULT_PORT = 25555

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@/\s]*@")


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


def _hide_password(url: str | None) -> str:
    return repr(None if url is None else _URL_PASSWORD.sub(r"\1:***@", url))


@attrs.frozen(kw_only=True)
class DirectorConfig:
    name: str = "bosh"
    port: int = DEFAULT_PORT
    bind: str = "0.0.0.0"
    data_dir: Path
    db_url: str | None = attrs.field(default=None, repr=_hide_password)
    uuid: str | None = None
    cpi: str | None = None
    stemcell_os: str | None = None
    stemcell_version: str | None = None
    users: tuple[LocalUser, ...] = ()
    tls: TLSConfig | None = None
    tls_alternative_names: tuple[str, ...] = ()
    local_dns_enabled: bool = False
    local_dns_domain: str = "bosh"

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
class _ConfigDocument:
    data_dir: str
    name: str = "bosh"
    port: int = DEFAULT_PORT
    bind: str = "0.0.0.0"
    db: str | None = attrs.field(default=None, repr=False)
    uuid: str | None = None
    cpi: str | None = None
    stemcell_os: str | None = None
    stemcell_version: str | None = None
    users: list[_UserDocument] = attrs.Factory(list)
    tls: _TLSDocument | None = None
    local_dns: Mapping[str, Any] = attrs.Factory(dict)


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
    if problems:
        raise ConfigError(f"invalid director config {path}: " + "; ".join(problems))
    return DirectorConfig(
        name=document.name,
        port=document.port,
        bind=document.bind,
        data_dir=base / document.data_dir,
        db_url=document.db,
        uuid=document.uuid,
        cpi=document.cpi,
        stemcell_os=document.stemcell_os,
        stemcell_version=document.stemcell_version,
        users=tuple(LocalUser(user.name, user.password) for user in document.users),
        tls=tls,
        tls_alternative_names=tuple(document.tls.alternative_names if document.tls else ()),
        local_dns_enabled=bool(document.local_dns.get("enabled", False)),
        local_dns_domain=str(document.local_dns.get("domain_name", "bosh")),
    )
