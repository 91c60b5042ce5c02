"""The local environment's state file: ports, generated secrets, the director's database
and task queue, and the processes it runs.

Ports, secrets and backends are chosen on the first ``up`` and kept, so that a second
``up`` (or an ``up`` after ``down``) brings back the same director at the same address with
the same credentials and data, and scripts that ran ``eval "$(bosh local env)"`` keep
working. The file is written atomically with mode 0600: it holds every password of the
environment.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path

import attrs

from bosh_core.blobstore import staged_destination
from bosh_core.errors import ConfigError
from bosh_core.serialization import structure, unstructure
from bosh_core.urls import redact_url

__all__ = [
    "Backends",
    "LocalState",
    "Ports",
    "ProcessRecord",
    "Secrets",
    "load_state",
    "save_state",
    "write_private",
]

STATE_FILE = "state.json"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _secret() -> str:
    return secrets.token_urlsafe(18)


@attrs.frozen(kw_only=True)
class Ports:
    """The TCP ports of the environment's services, picked free once and then kept."""

    director: int
    blobstore: int
    nats: int
    registry: int

    @classmethod
    def pick(cls) -> Ports:
        return cls(
            director=_free_port(),
            blobstore=_free_port(),
            nats=_free_port(),
            registry=_free_port(),
        )


@attrs.frozen(kw_only=True)
class Secrets:
    """Generated once; never shown in a repr (the state's repr appears in debug logs)."""

    admin_password: str = attrs.field(repr=False)
    blobstore_director_password: str = attrs.field(repr=False)
    blobstore_agent_password: str = attrs.field(repr=False)
    blobstore_secret: str = attrs.field(repr=False)
    registry_password: str = attrs.field(repr=False)

    @classmethod
    def generate(cls) -> Secrets:
        return cls(
            admin_password=_secret(),
            blobstore_director_password=_secret(),
            blobstore_agent_password=_secret(),
            blobstore_secret=_secret(),
            registry_password=_secret(),
        )


def _redacted(url: str | None) -> str:
    return repr(None if url is None else redact_url(url))


@attrs.frozen(kw_only=True)
class Backends:
    """Where the director keeps its tables and queues its tasks, as its config's ``db``
    (an SQLAlchemy URL) and ``queue`` (a ``redis://`` URL). None is the default: SQLite
    in the director's data directory, and the queue table in that database.

    Chosen once: a director moved to another database would lose its deployments.
    """

    database: str | None = attrs.field(default=None, repr=_redacted)
    queue: str | None = attrs.field(default=None, repr=_redacted)


@attrs.frozen(kw_only=True)
class ProcessRecord:
    """A daemon this environment started: the leader of its own process group.

    `marker` is a string its command line contains (the environment's directory), so a
    pid reused by an unrelated process after a reboot is never taken for ours.
    """

    pid: int
    marker: str
    log: str


@attrs.frozen(kw_only=True)
class LocalState:
    ports: Ports
    secrets: Secrets
    # Absent from the state of environments made before backends could be chosen.
    backends: Backends = attrs.Factory(Backends)
    # The environment's local network (bosh_core.local.networks); 0 in older states.
    network: int = 0
    processes: Mapping[str, ProcessRecord] = attrs.field(factory=dict)

    @classmethod
    def new(cls, backends: Backends, *, network: int) -> LocalState:
        return cls(
            ports=Ports.pick(), secrets=Secrets.generate(), backends=backends, network=network
        )

    def with_process(self, name: str, record: ProcessRecord | None) -> LocalState:
        processes = {key: value for key, value in self.processes.items() if key != name}
        if record is not None:
            processes[name] = record
        return attrs.evolve(self, processes=processes)


def load_state(directory: Path) -> LocalState | None:
    """The saved state, or None when the environment has never been brought up."""
    path = directory / STATE_FILE
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"Cannot read the local environment's state {path}: {error}; fix the file or run"
            " 'bosh local delete' to start afresh"
        ) from None
    return structure(document, LocalState, source=str(path))


def write_private(path: Path, text: str) -> None:
    """Atomically, mode 0600 from the first byte: these files hold passwords."""
    with staged_destination(path, mode=0o600) as staged:
        staged.write_text(text)


def save_state(directory: Path, state: LocalState) -> None:
    write_private(directory / STATE_FILE, json.dumps(unstructure(state), indent=1))
