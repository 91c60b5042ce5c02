"""Director API under load: `GET /tasks` and `GET /deployments` at 50 concurrent clients.

For each database (SQLite, PostgreSQL): a real `bosh-director` without task workers, over
a database holding 10,000 tasks and 100 deployments (each with two release versions, a
stemcell, the cloud and runtime configs and a team). Then 50 clients, each on its own
keep-alive TLS connection with basic auth, send requests one after the other for
`--seconds` per route. The routes are what the CLI sends:

    bosh tasks --recent   GET /tasks?limit=30&verbose=1
    bosh tasks            GET /tasks?state=processing,cancelling,queued&verbose=1
    bosh deployments      GET /deployments?exclude_configs=true
    bosh instances/vms    GET /deployments

Printed per route: p50/p99 latency, requests per second, failed requests, and the CPU
the director, the clients and the whole machine used meanwhile. The clients run in
processes of their own (asyncio + httpx), so they do not share the director's GIL; on
a machine with few cores they still share its CPUs, which the machine figure shows.

    .venv/bin/python benchmarks/director_api.py [--seconds 10] [--clients 50] \
        [--tasks 10000] [--deployments 100] [--backends sqlite,postgresql] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime as dt
import multiprocessing
import os
import ssl
import statistics
import tempfile
import time
from pathlib import Path

import attrs
import httpx
from _director import (
    AUTH,
    POSTGRES_ADMIN_URL,
    DirectorProcess,
    backends,
    database_url,
    machine_busy_seconds,
    percentile,
    running_director,
)
from sqlalchemy import insert

from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import (
    Config,
    Deployment,
    Release,
    ReleaseVersion,
    Stemcell,
    Task,
    Team,
    utcnow,
)

ROUTES = (
    ("bosh tasks --recent", "/tasks?limit=30&verbose=1"),
    ("bosh tasks", "/tasks?state=processing,cancelling,queued&verbose=1"),
    ("bosh deployments", "/deployments?exclude_configs=true"),
    ("bosh instances/vms", "/deployments"),
)

# Task types in the mix: about half are what `verbose=1` lists (user-started).
TASK_TYPES = (
    ("update_deployment", "create deployment"),
    ("vms", "retrieve vm-stats"),
    ("update_release", "create release"),
    ("fetch_logs", "fetch logs"),
    ("run_errand", "run errand smoke-tests"),
    ("ssh", "ssh: setup:instance_group"),
    ("update_stemcell", "create stemcell"),
    ("cck_scan_and_fix", "scan and fix"),
)
ACTIVE_TASKS = {"queued": 3, "processing": 2}

MANIFEST = """\
name: {name}
releases:
- {{name: release-0, version: latest}}
- {{name: release-1, version: latest}}
stemcells:
- {{alias: default, os: ubuntu-jammy, version: latest}}
instance_groups:
- name: web
  instances: 3
  azs: [z1, z2]
  jobs: [{{name: web, release: release-0}}]
  vm_type: default
  stemcell: default
  networks: [{{name: default}}]
update: {{canaries: 1, max_in_flight: 2, canary_watch_time: 1000, update_watch_time: 1000}}
"""


def seed(database: Database, *, tasks: int, deployments: int) -> None:
    """`deployments` deployments and `tasks` task rows (newest first: the active ones)."""
    with database.write() as session:
        team = Team(name="bench-team")
        cloud = Config(type="cloud", name="default", content="azs: [{name: z1}, {name: z2}]\n")
        runtime = Config(type="runtime", name="default", content="releases: []\n")
        releases = [Release(name=f"release-{index}") for index in range(2)]
        versions = [
            [ReleaseVersion(release=release, version=f"{n}.0.0") for n in range(1, 6)]
            for release in releases
        ]
        stemcells = [
            Stemcell(
                name="bosh-warden-boshlite-ubuntu-jammy-go_agent",
                version=f"1.{index}",
                operating_system="ubuntu-jammy",
                cid=f"stemcell-cid-{index}",
            )
            for index in range(2)
        ]
        session.add_all([team, cloud, runtime, *stemcells, *versions[0], *versions[1]])
        for index in range(deployments):
            name = f"deployment-{index:04d}"
            session.add(
                Deployment(
                    name=name,
                    manifest_text=MANIFEST.format(name=name),
                    teams=[team],
                    configs=[cloud, runtime],
                    release_versions=[versions[0][index % 5], versions[1][index % 5]],
                    stemcells=[stemcells[index % 2]],
                )
            )
        session.execute(insert(Task), task_rows(tasks, deployments))


def task_rows(count: int, deployments: int) -> list[dict[str, object]]:
    now = utcnow()
    active = [state for state, n in ACTIVE_TASKS.items() for _ in range(n)]
    rows: list[dict[str, object]] = []
    for index in range(count):
        task_type, description = TASK_TYPES[index % len(TASK_TYPES)]
        started = now - dt.timedelta(minutes=count - index)
        from_end = count - 1 - index
        state = (
            active[from_end] if from_end < len(active) else "error" if index % 17 == 0 else "done"
        )
        deployment = f"deployment-{index % max(deployments, 1):04d}"
        rows.append(
            {
                "state": state,
                "type": task_type,
                "description": description,
                "timestamp": started + dt.timedelta(seconds=40),
                "started_at": started,
                "checkpoint_time": started + dt.timedelta(seconds=30),
                "result": f"/deployments/{deployment}" if state == "done" else "failed",
                "output": f"/var/vcap/store/director/tasks/{index + 1}",
                "username": "admin",
                "deployment_name": deployment,
                "context_id": "",
            }
        )
    return rows


@attrs.frozen
class ClientResult:
    latencies: list[float]
    failures: int
    cpu_seconds: float
    finished_at: float  # time.time() when the last request came back


def hammer(
    url: str, ca: str, path: str, *, clients: int, start_at: float, seconds: float
) -> ClientResult:
    """In a client process: `clients` connections, each sending `path` back to back
    from `start_at` (time.time()) for `seconds`."""
    return asyncio.run(_hammer(url, ca, path, clients=clients, start_at=start_at, seconds=seconds))


async def _hammer(
    url: str, ca: str, path: str, *, clients: int, start_at: float, seconds: float
) -> ClientResult:
    context = ssl.create_default_context(cafile=ca)
    latencies: list[float] = []
    failures = 0

    async def one_client(client: httpx.AsyncClient) -> None:
        nonlocal failures
        await client.get(path)  # TLS handshake and warm-up, not measured
        await asyncio.sleep(start_at - time.time())
        end = start_at + seconds
        while time.time() < end:
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures += 1

    connections = [
        httpx.AsyncClient(
            base_url=url,
            verify=context,
            auth=AUTH,
            timeout=120,
            limits=httpx.Limits(max_connections=1),
        )
        for _ in range(clients)
    ]
    try:
        cpu_before = time.process_time()
        await asyncio.gather(*(one_client(client) for client in connections))
        cpu = time.process_time() - cpu_before
        finished_at = time.time()
    finally:
        for client in connections:
            await client.aclose()
    return ClientResult(latencies, failures, cpu, finished_at)


def check_routes(director: DirectorProcess, *, deployments: int) -> None:
    """The routes answer what the seeded database holds (else the figures mean nothing)."""
    with director.client() as client:
        recent = client.get(ROUTES[0][1])
        recent.raise_for_status()
        assert len(recent.json()) == 30, recent.text[:300]
        current = client.get(ROUTES[1][1]).json()
        assert {task["state"] for task in current} <= set(ACTIVE_TASKS), current
        for _, path in ROUTES[2:]:
            listed = client.get(path)
            listed.raise_for_status()
            assert len(listed.json()) == deployments, listed.text[:300]


def measure_route(
    pool: concurrent.futures.ProcessPoolExecutor,
    director: DirectorProcess,
    path: str,
    *,
    clients: int,
    processes: int,
    seconds: float,
) -> str:
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    start_at = time.time() + 3  # time for every client to connect first
    futures = [
        pool.submit(
            hammer,
            director.url,
            str(director.ca),
            path,
            clients=share,
            start_at=start_at,
            seconds=seconds,
        )
        for share in shares
        if share
    ]
    time.sleep(max(0.0, start_at - time.time()))
    director_before, (busy_before, total_before) = director.cpu_seconds(), machine_busy_seconds()
    results = [future.result() for future in futures]
    director_cpu = director.cpu_seconds() - director_before
    busy_after, total_after = machine_busy_seconds()
    # The last requests, sent just before the end, come back after it.
    elapsed = max(result.finished_at for result in results) - start_at
    machine = (busy_after - busy_before) / (total_after - total_before) * 100
    ordered = sorted(latency for result in results for latency in result.latencies)
    failures = sum(result.failures for result in results)
    clients_cpu = sum(result.cpu_seconds for result in results)
    p50, p99 = statistics.median(ordered) * 1000, percentile(ordered, 0.99) * 1000
    return (
        f"p50 {p50:6.0f} ms  p99 {p99:6.0f} ms"
        f"  {len(ordered) / elapsed:6.1f} req/s  {failures} failed"
        f"  director CPU {director_cpu / len(ordered) * 1000:5.1f} ms/req"
        f" | CPU: director {director_cpu / elapsed * 100:3.0f}% of a core,"
        f" clients {clients_cpu / elapsed * 100:3.0f}%, machine {machine:3.0f}% busy"
    )


def run_backend(backend: str, args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="bosh-api-bench-") as scratch_name,
        database_url(backend, Path(scratch_name), admin_url=args.postgres) as url,
    ):
        scratch = Path(scratch_name)
        database = open_database(url)
        try:
            database.migrate()
            started = time.perf_counter()
            seed(database, tasks=args.tasks, deployments=args.deployments)
            seeded = time.perf_counter() - started
        finally:
            database.dispose()
        with (
            running_director(scratch, workers=0, db_url=url) as director,
            concurrent.futures.ProcessPoolExecutor(
                args.client_processes, mp_context=multiprocessing.get_context("spawn")
            ) as pool,
        ):
            check_routes(director, deployments=args.deployments)
            print(
                f"{backend}: load average {os.getloadavg()[0]:.1f};"
                f" {args.tasks} tasks, {args.deployments} deployments"
                f" (inserted in {seeded:.1f} s); {args.clients} clients in"
                f" {args.client_processes} processes, {args.seconds:g} s per route",
                flush=True,
            )
            for name, path in ROUTES:
                figures = measure_route(
                    pool,
                    director,
                    path,
                    clients=args.clients,
                    processes=args.client_processes,
                    seconds=args.seconds,
                )
                print(f"  {name:<20} {path:<52} {figures}", flush=True)
            rss, peak = director.memory_mib()
            print(f"  director RSS {rss:.0f} MiB, peak {peak:.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--backends", type=backends, default=list(backends("sqlite,postgresql")))
    parser.add_argument("--postgres", default=POSTGRES_ADMIN_URL, help="an existing database")
    parser.add_argument("--quick", action="store_true", help="2 s per route")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 2.0
    print(f"{os.cpu_count()} CPUs: director, clients and PostgreSQL share them", flush=True)
    for backend in args.backends:
        run_backend(backend, args)


if __name__ == "__main__":
    main()
