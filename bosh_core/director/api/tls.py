"""The director's HTTPS certificate: the configured one, or a director CA and a server
certificate made on first start and kept under ``<data_dir>/tls`` (reused afterwards, so
a CLI that trusts the CA keeps working across restarts)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import attrs

from bosh_core.bus.certs import CertificateAuthority
from bosh_core.director.api.config import DirectorConfig
from bosh_core.errors import ConfigError

__all__ = ["CA_COMMON_NAME", "SERVER_COMMON_NAME", "TLSFiles", "ensure_tls"]

CA_COMMON_NAME: Final = "default.director-ca.bosh-internal"
SERVER_COMMON_NAME: Final = "default.director.bosh-internal"

_DEFAULT_NAMES: Final = ("localhost", "127.0.0.1", "::1")


@attrs.frozen
class TLSFiles:
    """PEM files for the server; `ca` (None if unknown) is what clients pass as
    ``--ca-cert`` / ``BOSH_CA_CERT``."""

    certificate: Path
    private_key: Path
    ca: Path | None


def ensure_tls(config: DirectorConfig) -> TLSFiles:
    """The configured certificate, or the generated one (made now if missing)."""
    if config.tls is not None:
        for path in (config.tls.cert, config.tls.key, config.tls.ca):
            if path is not None and not path.is_file():
                raise ConfigError(f"the director TLS file {path} does not exist")
        return TLSFiles(config.tls.cert, config.tls.key, config.tls.ca)
    names = [*_DEFAULT_NAMES, *config.tls_alternative_names]
    if config.bind not in ("0.0.0.0", "::", ""):
        names.append(config.bind)
    return _generated(config.tls_dir, names)


def _generated(directory: Path, names: Sequence[str]) -> TLSFiles:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = TLSFiles(directory / "director.crt", directory / "director.key", directory / "ca.crt")
    ca_key = directory / "ca.key"
    assert files.ca is not None
    if files.ca.is_file() and ca_key.is_file():
        authority = CertificateAuthority.from_pem(files.ca.read_text(), ca_key.read_text())
    else:
        authority = CertificateAuthority.generate(CA_COMMON_NAME)
        _write(ca_key, authority.private_key_pem(), mode=0o600)
        _write(files.ca, authority.certificate_pem, mode=0o644)
        # A new CA makes any older server certificate useless.
        files.certificate.unlink(missing_ok=True)
    if not (files.certificate.is_file() and files.private_key.is_file()):
        issued = authority.issue_server(list(dict.fromkeys(names)), common_name=SERVER_COMMON_NAME)
        _write(files.private_key, issued.private_key, mode=0o600)
        _write(files.certificate, issued.certificate, mode=0o644)
    return files


def _write(path: Path, text: str, *, mode: int) -> None:
    # Written whole under a temporary name, so a crash never leaves half a key behind.
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    temporary.replace(path)
