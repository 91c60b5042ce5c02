"""`LocalEnvironment`: an embedded local BOSH whose whole state lives under one directory.

    <dir>/state.json          ports, generated passwords, daemons (mode 0600)
    <dir>/director.yml        the director's config (mode 0600: it holds the passwords)
    <dir>/director/           its data: SQLite database (unless given another), blobstore,
                              tasks, generated TLS, nats/ (its embedded NATS: CA, agent
                              users, config, log)
    <dir>/local-cpi/          the local CPI's VMs, disks and stemcells
    <dir>/registry.yml, registry.db   the registry (for CPI v1 callers)
    <dir>/logs/               director.log, registry.log
    <dir>/hello-release/, stemcell.tgz, cache/   what ``up`` builds and uploads

``up`` starts what is not running (a registry, and a director with in-process workers and
its embedded NATS, each in its own process group), waits until each answers, then makes
sure the director has the local stemcell, the sample release and a cloud-config for the
local CPI's network. Everything it finds already there is reused, so ``up`` is
idempotent. ``down`` stops the daemons (VMs keep running, as VMs of a real IaaS outlive
their director; their agents reconnect on the next ``up``); ``delete`` also deletes the
VMs and disks and removes the directory.

The director keeps its tables in SQLite under the directory and queues its tasks in that
database, unless the first ``up`` names a PostgreSQL database and a Redis queue (the same
director as in production, for tests that must run on those). They are kept in the state
like the ports: later ``up`` calls reuse them, and refuse different ones. ``delete``
leaves such a database as it is: it is the caller's, as its server is.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bosh_core.errors import BoshError
from bosh_core.local.networks import LocalNetwork, claim_network, release_network
from bosh_core.local.processes import has_exited, is_running, start_daemon, stop_daemon
from bosh_core.local.state import (
    Backends,
    LocalState,
    ProcessRecord,
    load_state,
    save_state,
    write_private,
)
from bosh_core.serialization import dump_yaml
from bosh_core.urls import redact_url

if TYPE_CHECKING:
    from bosh_core.client import Director

__all__ = [
    "DEFAULT_SAMPLE_MANIFEST",
    "DEFAULT_SAMPLE_RELEASE",
    "LocalEnvironment",
    "LocalEnvironmentError",
    "LocalTarget",
]

DEFAULT_SAMPLE_RELEASE = Path(__file__).resolve().parents[2] / "examples" / "hello-release"
DEFAULT_SAMPLE_MANIFEST = DEFAULT_SAMPLE_RELEASE.parent / "hello-deployment.yml"
DIRECTOR_NAME = "bosh-local"
ADMIN = "admin"
# Started in this order, stopped in the reverse one (the director needs the others).
# The director owns its NATS (``mbus: {embedded: true}``): only the process that started
# nats-server can authorize a new VM's agent on it.
_SERVICES = ("registry", "director")
_READY_TIMEOUT_S = 60.0
_POLL_S = 0.1

Progress = Callable[[str], None]


class LocalEnvironmentError(BoshError):
    """The local environment cannot be brought up, used or torn down."""


@attrs.frozen(kw_only=True)
class LocalTarget:
    """How a client reaches the local director: what ``bosh local env`` exports."""

    environment: str
    ca_cert: Path
    client: str
    client_secret: str = attrs.field(repr=False)

    def variables(self) -> dict[str, str]:
        """The ``BOSH_*`` environment variables that target the director."""
        return {
            "BOSH_ENVIRONMENT": self.environment,
            "BOSH_CA_CERT": str(self.ca_cert),
            "BOSH_CLIENT": self.client,
            "BOSH_CLIENT_SECRET": self.client_secret,
        }

    def exports(self) -> str:
        """``export`` lines for a POSIX shell: ``eval "$(bosh local env)"``."""
        import shlex

        return "".join(
            f"export {key}={shlex.quote(value)}\n" for key, value in self.variables().items()
        )

    def director(self) -> Director:
        """An SDK client of the director."""
        from bosh_core.client import Director

        return Director(
            self.environment,
            ca_cert=str(self.ca_cert),
            client=self.client,
            client_secret=self.client_secret,
        )


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _console_script(name: str) -> str:
    # The one next to this interpreter: the environment runs the code that made it.
    script = Path(sys.executable).with_name(name)
    return str(script) if script.exists() else name


def _retired(state: LocalState) -> list[str]:
    """Recorded daemons that are no longer services, such as the NATS holder of
    environments made before the director ran its own NATS: stopped by up and down."""
    return [name for name in state.processes if name not in _SERVICES]


def _scheme(url: str) -> str:
    """``postgresql`` for ``postgresql+psycopg://...``."""
    return url.partition("://")[0].partition("+")[0].lower()


def _checked(backends: Backends) -> Backends:
    """`backends` when the director can use them; the URLs are not echoed (passwords)."""
    problems = []
    database, queue = backends.database, backends.queue
    if database is not None and _scheme(database) not in ("postgresql", "sqlite"):
        problems.append("the database must be a postgresql:// or sqlite:// SQLAlchemy URL")
    if queue is not None and _scheme(queue) not in ("redis", "rediss"):
        problems.append("the task queue must be a redis:// or rediss:// URL")
    if problems:
        raise LocalEnvironmentError("Cannot use the given backends: " + "; ".join(problems))
    return backends


def _describe_database(url: str | None) -> str:
    return "SQLite in the director's data directory" if url is None else redact_url(url)


def _describe_queue(url: str | None) -> str:
    return "the director's database" if url is None else redact_url(url)


def _differences(kept: Backends, requested: Backends) -> list[str]:
    """How the backends `requested` differ from the ones the environment `kept`."""
    pairs = (
        ("database", _describe_database, kept.database, requested.database),
        ("task queue", _describe_queue, kept.queue, requested.queue),
    )
    differences = []
    for name, describe, ours, theirs in pairs:
        if theirs is None or theirs == ours:
            continue
        mine, given = describe(ours), describe(theirs)
        hint = " (they differ in their credentials)" if mine == given else ""
        differences.append(f"its {name} is {mine}, not {given}{hint}")
    return differences


def _accepts_connections(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class LocalEnvironment:
    """An embedded local BOSH under `directory`; see the module docstring.

    `progress` receives one line per step as it happens. `sample_release` is the release
    directory ``up`` builds and uploads (the repository's examples/hello-release).
    `database` (an SQLAlchemy URL) and `queue` (a ``redis://`` URL) are the director's
    backends for a new environment; None keeps what the environment has (the defaults
    for a new one: SQLite, and the queue in the database).
    """

    def __init__(
        self,
        directory: Path,
        *,
        progress: Progress | None = None,
        sample_release: Path = DEFAULT_SAMPLE_RELEASE,
        sample_manifest: Path = DEFAULT_SAMPLE_MANIFEST,
        database: str | None = None,
        queue: str | None = None,
    ) -> None:
        self.directory = directory.absolute()
        self._progress = progress or (lambda line: None)
        self.sample_release = sample_release
        self.sample_manifest = sample_manifest
        self._backends = _checked(Backends(database=database, queue=queue))

    def __repr__(self) -> str:
        return f"LocalEnvironment({str(self.directory)!r})"

    # -- paths ---------------------------------------------------------------------------

    @property
    def director_dir(self) -> Path:
        return self.directory / "director"

    @property
    def cpi_dir(self) -> Path:
        return self.directory / "local-cpi"

    @property
    def nats_dir(self) -> Path:
        """The director's embedded NATS state (its ``data_dir/nats``)."""
        return self.director_dir / "nats"

    @property
    def logs_dir(self) -> Path:
        return self.directory / "logs"

    @property
    def network(self) -> LocalNetwork:
        """The environment's own network (claimed by its first ``up``)."""
        state = load_state(self.directory)
        if state is None:
            raise self._missing()
        return LocalNetwork.numbered(state.network)

    @property
    def ca_cert(self) -> Path:
        """The director's generated CA (its certificate also names the host address)."""
        return self.director_dir / "tls" / "ca.crt"

    # -- the interface ---------------------------------------------------------------------

    def up(self) -> LocalTarget:
        """Start what is not running, wait until it answers, provision the director."""
        with self._locked(create=True):
            state = load_state(self.directory)
            if state is None:
                self._progress(f"Creating a local environment in {self.directory}")
                state = LocalState.new(self._backends, network=self._claim_network(None).index)
                save_state(self.directory, state)
                self._progress(
                    f"Director database: {_describe_database(state.backends.database)};"
                    f" task queue: {_describe_queue(state.backends.queue)}"
                )
            self._check_backends(state.backends)
            self._claim_network(state.network)
            self._write_configs(state)
            for service in _retired(state):
                state = self._stop(state, service)
            for service in _SERVICES:
                state = self._ensure_running(state, service)
                save_state(self.directory, state)
            target = self._target(state)
            from bosh_core.local.provisioning import provision

            with target.director() as director:
                provision(self, director, progress=self._progress)
            self._progress(f"Local environment ready: director at {target.environment}")
            return target

    def env(self) -> LocalTarget:
        """The director's address and credentials (the environment must exist)."""
        state = load_state(self.directory)
        if state is None:
            raise self._missing()
        return self._target(state)

    def running(self) -> dict[str, bool]:
        """Each daemon's name and whether it runs now."""
        state = load_state(self.directory)
        processes = {} if state is None else state.processes
        return {
            service: service in processes and is_running(processes[service])
            for service in _SERVICES
        }

    def down(self) -> None:
        """Stop every daemon the environment started (whole process groups)."""
        if not (self.directory / "state.json").is_file():
            raise self._missing()
        with self._locked(create=False):
            self._stop_all()

    def delete(self) -> None:
        """Stop the daemons, delete the local CPI's VMs and disks, remove the directory.
        A database given to the first ``up`` stays as it is (saying so): it is the caller's."""
        if not self.directory.exists():
            self._progress(f"No local environment in {self.directory}: nothing to delete")
            return
        with self._locked(create=False):
            if (self.directory / "state.json").is_file():
                self._stop_all()
            self._delete_cloud_resources()
            state = load_state(self.directory)
            shutil.rmtree(self.directory)
            if state is not None:
                release_network(self.directory, state.network)
        self._progress(f"Deleted the local environment in {self.directory}")
        if state is not None and state.backends.database is not None:
            self._progress(
                f"Left the database {redact_url(state.backends.database)} as it is: drop it,"
                " or give the next 'bosh local up' an empty one"
            )

    # -- internals ---------------------------------------------------------------------

    def _claim_network(self, index: int | None) -> LocalNetwork:
        try:
            return claim_network(self.directory, index)
        except OSError as error:
            raise LocalEnvironmentError(
                f"Cannot give {self.directory} a network: {error}"
            ) from None

    def _missing(self) -> LocalEnvironmentError:
        return LocalEnvironmentError(
            f"No local environment in {self.directory}: run 'bosh local up"
            f" --dir {self.directory}' first"
        )

    @contextlib.contextmanager
    def _locked(self, *, create: bool) -> Iterator[None]:
        """One ``up``/``down``/``delete`` at a time on the directory."""
        if create:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.directory.chmod(0o700)
        with (self.directory / ".lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LocalEnvironmentError(
                    f"Another 'bosh local' command is working on {self.directory}; wait for it"
                ) from None
            yield

    def _check_backends(self, kept: Backends) -> None:
        """Refuse backends other than the ones the environment was made with."""
        differences = _differences(kept, self._backends)
        if differences:
            raise LocalEnvironmentError(
                f"The local environment in {self.directory} keeps the backends it was made"
                f" with: {'; '.join(differences)}. Run 'bosh local up' without --database and"
                f" --queue to keep them, or 'bosh local delete --dir {self.directory}' first"
                " to start over"
            )

    def _target(self, state: LocalState) -> LocalTarget:
        return LocalTarget(
            environment=f"https://127.0.0.1:{state.ports.director}",
            ca_cert=self.ca_cert,
            client=ADMIN,
            client_secret=state.secrets.admin_password,
        )

    def _cpi_properties(self, state: LocalState) -> dict[str, Any]:
        network = LocalNetwork.numbered(state.network)
        address = network.host_address
        return {
            "dir": str(self.cpi_dir),
            "network_mode": network.mode,
            "network_cidr": network.cidr,
            "bridge": network.bridge,
            "agent": {"mbus": f"nats://{address}:{state.ports.nats}"},
            "registry": {
                "endpoint": f"http://{address}:{state.ports.registry}",
                "user": "registry",
                "password": state.secrets.registry_password,
            },
        }

    def _write_configs(self, state: LocalState) -> None:
        """The director's and registry's configs, from the state (the same every time)."""
        # Agents in VMs on the bridge reach the host's address, not its loopback.
        network = LocalNetwork.numbered(state.network)
        bind = "0.0.0.0" if network.mode == "bridge" else "127.0.0.1"
        address = network.host_address
        secrets = state.secrets
        director = {
            "name": DIRECTOR_NAME,
            "bind": bind,
            "port": state.ports.director,
            "data_dir": "director",
            "workers": 2,
            "cpi": {"type": "local", "name": "local", "properties": self._cpi_properties(state)},
            "users": [{"name": ADMIN, "password": secrets.admin_password}],
            "tls": {"alternative_names": [address]},
            "mbus": {"embedded": True, "port": state.ports.nats, "address": address},
            "blobstore": {
                "provider": "local",
                "port": state.ports.blobstore,
                "address": address,
                "director": {"user": "director", "password": secrets.blobstore_director_password},
                "agent": {"user": "agent", "password": secrets.blobstore_agent_password},
                "secret": secrets.blobstore_secret,
            },
        }
        for key, url in (("db", state.backends.database), ("queue", state.backends.queue)):
            if url is not None:
                director[key] = url
        write_private(self.directory / "director.yml", dump_yaml(director))
        registry = {
            "http": {
                "host": bind,
                "port": state.ports.registry,
                "user": "registry",
                "password": secrets.registry_password,
            },
            "db": {"database": str(self.directory / "registry.db")},
        }
        write_private(self.directory / "registry.yml", dump_yaml(registry))

    def _command(self, service: str, state: LocalState) -> list[str]:
        if service == "registry":
            return [_console_script("bosh-registry"), "-c", str(self.directory / "registry.yml")]
        return [_console_script("bosh-director"), "-c", str(self.directory / "director.yml")]

    def _ensure_running(self, state: LocalState, service: str) -> LocalState:
        record = state.processes.get(service)
        if record is not None and is_running(record):
            self._progress(f"Reusing the running {service} (pid {record.pid})")
            return state
        if record is not None:
            # Dead, or its pid now belongs to another program: leftovers of its group go.
            stop_daemon(record)
        self._progress(f"Starting {service}")
        record = start_daemon(
            self._command(service, state),
            log=self.logs_dir / f"{service}.log",
            marker=str(self.directory),
            cwd=self.directory,
        )
        state = state.with_process(service, record)
        save_state(self.directory, state)  # recorded at once: down can stop it whatever happens
        self._wait_ready(service, state, record)
        self._progress(f"Started {service} (pid {record.pid})")
        return state

    def _wait_ready(self, service: str, state: LocalState, record: ProcessRecord) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while not self._answers(service, state):
            if has_exited(record):
                raise LocalEnvironmentError(
                    f"The {service} exited while starting; {record.log} ends with:\n"
                    + _log_tail(Path(record.log))
                )
            if time.monotonic() > deadline:
                raise LocalEnvironmentError(
                    f"The {service} did not answer within {_READY_TIMEOUT_S:.0f}s; see {record.log}"
                )
            time.sleep(_POLL_S)

    def _answers(self, service: str, state: LocalState) -> bool:
        if service == "registry":
            return _accepts_connections(state.ports.registry)
        if not self.ca_cert.is_file() or not _accepts_connections(state.ports.director):
            return False
        from bosh_core.client import ClientError

        with self._target(state).director() as director:
            try:
                director.info()
            except ClientError:
                return False
        return True

    def _stop_all(self) -> None:
        state = load_state(self.directory)
        assert state is not None  # the callers checked that the file exists
        for service in [*_retired(state), *reversed(_SERVICES)]:
            state = self._stop(state, service)
        self._progress("Stopped every process of the local environment")

    def _stop(self, state: LocalState, service: str) -> LocalState:
        record = state.processes.get(service)
        if record is None:
            return state
        self._progress(f"Stopping {service} (pid {record.pid})")
        stop_daemon(record)
        state = state.with_process(service, None)
        save_state(self.directory, state)
        return state

    def _delete_cloud_resources(self) -> None:
        """The local CPI's VMs (process trees, network namespaces) and disks."""
        if not self.cpi_dir.is_dir():
            return
        from bosh_core.cpi.local import LocalCPI
        from bosh_core.cpi.types import VMCID, CPIContext, DiskCID

        state = load_state(self.directory)
        properties = self._cpi_properties(state) if state else {"dir": str(self.cpi_dir)}
        cpi = LocalCPI(properties, context=CPIContext())
        vms_dir = self.cpi_dir / "vms"
        for vm in sorted(vms_dir.iterdir()) if vms_dir.is_dir() else ():
            self._progress(f"Deleting VM {vm.name}")
            cpi.delete_vm(VMCID(vm.name))
        for disk in sorted((self.cpi_dir / "disks").glob("*.json")):
            self._progress(f"Deleting disk {disk.stem}")
            cpi.delete_disk(DiskCID(disk.stem))
