"""A real director API served by uvicorn over TLS in a thread, with tasks, locks and
events stored through the director's own modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from bosh_core.director.api import DirectorConfig, LocalUser
from bosh_core.director.db import Database, open_database
from bosh_core.director.db.models import Task
from bosh_core.director.tasks.output import TaskOutput
from tests.core.director.served import free_port, serve_director

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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
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
    with serve_director(config, database) as (url, ca):
        yield Served(url, ca, database, config.data_dir)
