"""Which director a command talks to, and as whom.

As in the reference CLI (cmd/session_context.go), options win over the config file:
``-e`` (or BOSH_ENVIRONMENT) is a URL or an alias from ``~/.bosh/config``; credentials
are the config entry's (saved by ``bosh log-in``) unless ``--client`` (BOSH_CLIENT) is
given, which brings its own ``--client-secret``; ``--ca-cert`` (BOSH_CA_CERT, a path or
the PEM text) overrides the stored CA certificate.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from bosh_cli.config import CLIConfig, Credentials
from bosh_cli.context import CLIContext, GlobalOptions
from bosh_core.client import Director
from bosh_core.errors import BoshError

__all__ = ["Session", "ca_cert_content", "open_director"]


def ca_cert_content(value: str) -> str:
    """``--ca-cert`` as PEM text: the value itself when it holds a certificate, else the
    content of the file it names (the reference reads the file when parsing the flag)."""
    if not value:
        raise BoshError("Expected CA cert to be non-empty")
    if "BEGIN" in value:
        return value
    path = Path(value).expanduser()
    try:
        return path.read_text()
    except OSError as error:
        raise BoshError(
            f"Reading CA certificate '{path}' (--ca-cert): {error.strerror or error}"
        ) from None
    except UnicodeDecodeError:
        raise BoshError(f"Reading CA certificate '{path}' (--ca-cert): not PEM text") from None


@attrs.frozen
class Session:
    """An environment resolved from the global options and the config file.

    `environment` is the URL as the user or the config spelled it (``10.0.0.6``): it is
    what messages show and what config entries are keyed by.
    """

    environment: str
    ca_cert: str | None
    credentials: Credentials
    config: CLIConfig

    @classmethod
    def resolve(cls, options: GlobalOptions, config: CLIConfig | None = None) -> Session:
        """`config` defaults to the file named by ``--config``; pass an updated one to
        try credentials or an alias before saving them."""
        if config is None:
            config = CLIConfig.load(options.config)
        environment = config.resolve(options.environment or "")
        credentials = config.credentials(environment)
        if options.client:
            credentials = attrs.evolve(
                credentials, client=options.client, client_secret=options.client_secret or ""
            )
        if options.ca_cert:
            ca_cert: str | None = ca_cert_content(options.ca_cert)
        else:
            ca_cert = config.ca_cert(environment) or None
        return cls(environment, ca_cert, credentials, config)

    def require_environment(self) -> str:
        if not self.environment:
            raise BoshError(
                "Expected non-empty Director URL"
                " (give -e URL-or-alias or set BOSH_ENVIRONMENT; see `bosh environments`)"
            )
        return self.environment

    def director(self, credentials: Credentials | None = None) -> Director:
        """A client of the environment as `credentials` (default: the session's)."""
        chosen = self.credentials if credentials is None else credentials
        return Director(
            self.require_environment(),
            ca_cert=self.ca_cert,
            client=chosen.client or None,
            client_secret=chosen.client_secret or None,
        )

    def anonymous_director(self) -> Director:
        return self.director(Credentials())

    def using_line(self) -> str:
        return f"Using environment '{self.environment}' as {self.credentials.description()}"


def open_director(cli: CLIContext, session: Session | None = None) -> Director:
    """The director the global options and config name, after printing the reference's
    ``Using environment '<url>' as client '<name>'`` line."""
    session = session or Session.resolve(cli.options)
    director = session.director()
    cli.ui.print_line(session.using_line())
    return director
