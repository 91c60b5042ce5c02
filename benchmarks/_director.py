"""What the director benchmarks share: a real `bosh-director` process on a free port
(TLS made by it, basic auth admin/admin), its memory and CPU from /proc, a fresh
PostgreSQL database per run, and the --backends option.

    with fresh_postgres_database(ADMIN_URL) as url, running_director(scratch, db_url=url) as d:
        with d.client() as client: client.get("/tasks")
        d.memory_mib()   # (VmRSS, VmHWM)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DIRECTOR = Path(sys.executable).with_name("bosh-director")
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")
AUTH = ("admin", "admin")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Bytecode caches as an installed director has them (this environment may switch them off).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def backends(text_value: str) -> list[str]:
    """The --backends option: a comma-separated subset of BACKENDS."""
    chosen = [name.strip() for name in text_value.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BACKENDS]
    if unknown or not chosen:
        raise ValueError(f"backends must be among {', '.join(BACKENDS)}, not {text_value!r}")
    return chosen


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of process `pid`, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of process `pid` in MiB: now and the peak so far (threads included)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, counted in user already
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@attrs.frozen
class DirectorProcess:
    """A running director: where it listens, the CA to trust, its pid."""

    url: str
    ca: Path
    pid: int
    log: Path

    def client(self, *, timeout: float = 30.0) -> httpx.Client:
        """A keep-alive client authenticated as admin."""
        return httpx.Client(base_url=self.url, verify=str(self.ca), auth=AUTH, timeout=timeout)

    def memory_mib(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the director process in MiB: now and the peak so far."""
        return process_memory_mib(self.pid)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)


@contextlib.contextmanager
def running_director(
    scratch: Path, *, workers: int, db_url: str | None = None, within: float = 60
) -> Iterator[DirectorProcess]:
    """`bosh-director -c` with its data under `scratch` (SQLite there unless `db_url`),
    `workers` in-process task workers; stopped (SIGTERM, running tasks finish) on exit."""
    data_dir = scratch / "director"
    scratch.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = scratch / "director.yml"
    lines = [
        "name: bench",
        f"port: {port}",
        "bind: 127.0.0.1",
        f"data_dir: {data_dir}",
        f"workers: {workers}",
        "users: [{name: admin, password: admin}]",
        # Not the default port: other directors on this machine may hold it.
        f"blobstore: {{port: {free_port()}}}",
    ]
    if db_url is not None:
        lines.append(f"db: {db_url}")
    config.write_text("\n".join(lines) + "\n")
    log = scratch / "director.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(DIRECTOR), "-c", str(config)], stdout=out, stderr=subprocess.STDOUT, env=ENV
        )
    director = DirectorProcess(
        url=f"https://127.0.0.1:{port}", ca=data_dir / "tls" / "ca.crt", pid=process.pid, log=log
    )
    try:
        _wait_until_serving(process, director, within=within)
        yield director
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(
    process: subprocess.Popen[bytes], director: DirectorProcess, *, within: float
) -> None:
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"bosh-director exited:\n{director.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{director.url}/info", verify=str(director.ca), timeout=2).is_success:
                return
        except (httpx.TransportError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"bosh-director not serving after {within} s: see {director.log}")
        time.sleep(0.1)


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """A new, empty PostgreSQL database next to `admin_url`'s; its URL. Dropped after."""
    name = f"bosh_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def database_url(backend: str, scratch: Path, *, admin_url: str) -> Iterator[str]:
    """An empty database of `backend`: an SQLite file under `scratch`, or a fresh
    PostgreSQL database (dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{scratch / 'director' / 'bosh.db'}"
        return
    with fresh_postgres_database(admin_url) as url:
        yield url


def percentile(ordered: list[float], fraction: float) -> float:
    """The `fraction` percentile (nearest rank) of sorted values."""
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
