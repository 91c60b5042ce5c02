"""A real director API served by uvicorn over TLS in a thread, with tasks, locks and
events stored through the director's own modules."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import uvicorn

from bosh_core.director.api import DirectorConfig, LocalUser, create_app, ensure_tls
from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import Task
from bosh_core.director.tasks.output import TaskOutput

ADMIN = ("admin", "s3cret-admin-pw")


@attrs.frozen
class Served:
    url: str
    ca: Path
    database: Database
    data_dir: Path

    def add_task(
        self,
        *,
        state: str = "done",
        description: str = "create deployment",
        task_type: str = "update_deployment",
        deployment: str | None = "cf",
        result: str | None = None,
    ) -> tuple[int, TaskOutput]:
        """A task row whose outputs live in a task directory, as a worker writes them."""
        with self.database.write() as session:
            now = dt.datetime.now(dt.UTC)
            task = Task(
                state=state,
                type=task_type,
                description=description,
                deployment_name=deployment,
                username="admin",
                started_at=now,
                timestamp=now,
                result=result,
            )
            session.add(task)
            session.flush()
            task_id = task.id
            directory = self.data_dir / "tasks" / str(task_id)
            task.output = str(directory)
        return task_id, TaskOutput(directory)

    def set_state(self, task_id: int, state: str) -> None:
        with self.database.write() as session:
            task = session.get(Task, task_id)
            assert task is not None
            task.state = state
            task.timestamp = dt.datetime.now(dt.UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = _free_port()
    config = DirectorConfig(
        name="test-director",
        data_dir=tmp_path / "director",
        bind="127.0.0.1",
        port=port,
        users=(LocalUser(*ADMIN),),
        cpi="local",
        uuid="6f2e3d4c-0000-4000-8000-000000000001",
    )
    database = open_database(f"sqlite:///{tmp_path / 'bosh.db'}")
    database.migrate()
    tls = ensure_tls(config)
    assert tls.ca is not None
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, database),
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(tls.certificate),
            ssl_keyfile=str(tls.private_key),
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Served(f"https://127.0.0.1:{port}", tls.ca, database, config.data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()
