"""The director's agents service on a real embedded nats-server started by the app's
lifespan, with a real agent runtime (its own thread and loop, as on a VM) connecting
with the certificate ``credentials_for`` made."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from bosh_core.agent.actions import Actions, blobstore_from_settings
from bosh_core.agent.errors import AgentTimeoutError
from bosh_core.agent.runtime import AgentRuntime
from bosh_core.agent.settings import parse_settings
from bosh_core.agent.supervisor import JobSupervisor
from bosh_core.bus import BusPermissionError, Message
from bosh_core.bus.certs import MbusCert
from bosh_core.bus.nats import NatsBus
from bosh_core.director.agents import Agents, AgentsUnavailableError
from bosh_core.director.api import Director, DirectorConfig, create_app, load_config
from bosh_core.director.api.config import MbusConfig
from bosh_core.director.db import open_database
from bosh_core.director.main import main
from bosh_core.errors import ConfigError


@pytest.fixture(scope="module")
def director(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Director]:
    root = tmp_path_factory.mktemp("director")
    config = DirectorConfig(
        data_dir=root / "data", bind="127.0.0.1", mbus=MbusConfig(embedded=True, port=0)
    )
    database = open_database(f"sqlite:///{root / 'bosh.db'}")
    database.migrate()
    app = create_app(config, database)
    try:
        with TestClient(app):
            yield app.state.director
    finally:
        database.dispose()


class RunningAgent:
    """A bosh-agent runtime on its own thread and event loop, as on a VM."""

    def __init__(self, agent_id: str, *, url: str, env: dict[str, Any], base_dir: Path) -> None:
        self.settings = parse_settings(
            {
                "agent_id": agent_id,
                "mbus": url,
                "blobstore": {"provider": "local", "options": {"blobstore_path": str(base_dir)}},
                "env": env,
                "vm": {"name": f"vm-{agent_id}"},
            },
            source="test settings",
        )
        self.base_dir = base_dir
        self._loop = asyncio.new_event_loop()
        self._runtime: AgentRuntime | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),))

    async def _run(self) -> None:
        supervisor = JobSupervisor(self.base_dir, log_dir=self.base_dir / "log", poll_interval=0.2)
        actions = Actions(
            self.settings,
            base_dir=self.base_dir,
            blobstore=blobstore_from_settings(self.settings.blobstore, base_dir=self.base_dir),
            supervisor=supervisor,
            on_shutdown=lambda: None,
        )
        self._runtime = AgentRuntime(self.settings, actions=actions, base_dir=self.base_dir)
        self._ready.set()
        try:
            await self._runtime.run()
        finally:
            await supervisor.close()

    def __enter__(self) -> RunningAgent:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._runtime is not None
        self._loop.call_soon_threadsafe(self._runtime.stop)
        self._thread.join(10)
        self._loop.close()


def test_a_new_agent_answers_the_directors_client(director: Director, tmp_path: Path) -> None:
    agents = director.agents
    agent_id = str(uuid.uuid4())
    env = agents.credentials_for(agent_id)

    assert env["bosh"]["mbus"]["cert"]["certificate"].startswith("-----BEGIN CERTIFICATE")
    with RunningAgent(agent_id, url=agents.agent_url, env=env, base_dir=tmp_path):
        agents.wait_for_agent(agent_id, timeout=10)
        client = agents.blocking_client(agent_id)
        assert client.send("ping") == "pong"
        state = client.run("get_state")
    assert state["agent_id"] == agent_id
    assert state["vm"] == {"name": f"vm-{agent_id}"}
    assert state["job_state"] == "running"  # nothing to supervise yet


def test_waiting_for_an_agent_that_never_comes_times_out(director: Director) -> None:
    with pytest.raises(AgentTimeoutError, match=r"Timed out pinging to 'ghost' after 1\.5 seconds"):
        director.agents.wait_for_agent("ghost", timeout=1.5)


async def test_an_agent_cannot_read_another_agents_requests(director: Director) -> None:
    agents = director.agents
    alice, bob = (f"agent-{uuid.uuid4().hex[:8]}" for _ in range(2))
    env = await asyncio.to_thread(agents.credentials_for_all, [alice, bob])
    cert = MbusCert(**env[alice]["bosh"]["mbus"]["cert"])
    errors: list[Exception] = []
    seen: list[str] = []

    async with await NatsBus.connect(agents.agent_url, tls=cert, on_error=errors.append) as bus:

        async def answer(message: Message) -> None:
            seen.append(message.subject)
            reply = message.data.split(b'"reply_to": "', 1)[1].split(b'"', 1)[0].decode()
            await bus.publish(reply, b'{"value": "pong"}')

        await bus.subscribe(f"agent.{alice}", answer)
        await bus.subscribe(f"agent.{bob}", answer)
        await bus.flush()

        assert await asyncio.to_thread(agents.blocking_client(alice).send, "ping") == "pong"
        with pytest.raises(AgentTimeoutError):
            await asyncio.to_thread(agents.blocking_client(bob, timeout=0.5).send, "ping")
    assert seen == [f"agent.{alice}"]
    assert any(
        isinstance(error, BusPermissionError) and f"agent.{bob}" in str(error) for error in errors
    )


def test_agents_stop_with_the_director(tmp_path: Path) -> None:
    config = DirectorConfig(
        data_dir=tmp_path / "data", bind="127.0.0.1", mbus=MbusConfig(embedded=True, port=0)
    )
    database = open_database(f"sqlite:///{tmp_path / 'bosh.db'}")
    database.migrate()
    app = create_app(config, database)
    with TestClient(app):
        agents: Agents = app.state.director.agents
        url = agents.agent_url
    database.dispose()

    with pytest.raises(AgentsUnavailableError, match="runs in the director process"):
        agents.credentials_for("late")
    with pytest.raises(AgentsUnavailableError, match="runs in the director process"):
        agents.client("late")
    assert url.startswith("nats://127.0.0.1:")


def test_without_a_bus_the_director_says_how_to_configure_one(tmp_path: Path) -> None:
    agents = Agents(None, state_dir=tmp_path)
    with pytest.raises(AgentsUnavailableError, match="configure 'mbus'"):
        agents.credentials_for("a")
    agents.stop()  # nothing to stop


def test_an_external_bus_leaves_agent_credentials_to_the_operator(tmp_path: Path) -> None:
    agents = Agents(MbusConfig(url="nats://127.0.0.1:1"), state_dir=tmp_path)
    assert agents.credentials_for("a") == {}
    assert agents.agent_url == "nats://127.0.0.1:1"


def _config_file(tmp_path: Path, mbus: str) -> Path:
    path = tmp_path / "director.yml"
    path.write_text(f"data_dir: data\nmbus: {mbus}\n")
    return path


def test_config_mbus_sections(tmp_path: Path) -> None:
    embedded = load_config(_config_file(tmp_path, "{embedded: true, address: 10.0.0.6}"))
    assert embedded.mbus == MbusConfig(embedded=True, port=4222, address="10.0.0.6")
    assert embedded.nats_dir == tmp_path / "data" / "nats"
    external = load_config(
        _config_file(
            tmp_path,
            "{url: 'nats://u:secret@nats:4222', ca_cert: ca.crt,"
            " client_cert: d.crt, client_key: d.key}",
        )
    )
    assert external.mbus is not None and external.mbus.client_key == tmp_path / "d.key"
    assert "secret" not in repr(external)
    assert load_config(_config_file(tmp_path, "null")).mbus is None


@pytest.mark.parametrize(
    ("mbus", "problem"),
    [
        ("{}", "give 'embedded: true' or the 'url'"),
        ("{embedded: true, url: 'nats://x:1'}", "give 'embedded: true' or the 'url'"),
        ("{url: 'http://x:1'}", "url must be nats://"),
        ("{url: 'nats://x:1', client_cert: d.crt}", "ca_cert, client_cert and client_key"),
        ("{embedded: true, port: 70000}", "port 70000"),
    ],
)
def test_config_mbus_problems(tmp_path: Path, mbus: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config(_config_file(tmp_path, mbus))


def test_worker_processes_refuse_an_embedded_bus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", "-c", str(_config_file(tmp_path, "{embedded: true}"))]) == 1
    assert "use an external NATS (mbus.url)" in capsys.readouterr().err
