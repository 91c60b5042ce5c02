"""The director's ASGI application (Litestar).

    app = create_app(config, database)      # database already migrated
    uvicorn.run(app, ...)                    # or server.serve(config)

Every route but ``/info`` (and the OpenAPI document under ``/schema``) needs basic auth
with a local user; the user name is ``request.user``. Route handlers touch the database
through `Database.read()`/`write()` in a worker thread (``sync_to_thread=True``).
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Final, Protocol

import anyio.to_thread
import attrs
from litestar import Litestar
from litestar.datastructures import Headers, State
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.params import SkipValidation
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bosh_core.blobstore import Blobstore
from bosh_core.director.api.auth import BasicAuthenticator
from bosh_core.director.api.config import DirectorConfig
from bosh_core.director.api.errors import (
    NotAuthorizedError,
    exception_handlers,
    is_public,
)
from bosh_core.director.db import Database
from bosh_core.director.db.models import DirectorAttribute
from bosh_core.director.errors import ContextIdViolatedMaxError
from bosh_core.director.events import EventLog
from bosh_core.director.locks import Locks
from bosh_core.director.queue import TaskQueue, open_queue
from bosh_core.director.tasks.runner import TaskQueuer

if TYPE_CHECKING:
    from bosh_core.director.agents import Agents
    from bosh_core.director.api.tls import TLSFiles
    from bosh_core.director.variables import ConfigServer

__all__ = [
    "CONTEXT_ID_HEADER",
    "MAX_BODY_SIZE",
    "Director",
    "DirectorDependency",
    "create_app",
    "director_version",
]

CONTEXT_ID_HEADER = "x-bosh-context-id"
#: The largest body a route other than an upload reads, in bytes.
MAX_BODY_SIZE: Final = 10_000_000
_CONTEXT_ID_MAX = 64


def director_version() -> str:
    """``/info``'s ``version``: ``"<version> (<revision>)"`` as the reference spells it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("bosh-py")
    except PackageNotFoundError:
        number = "0.0.0"
    return f"{number} (00000000)"


@attrs.define(eq=False)
class Director:
    """What route handlers need: the config, the database, the authenticator, and the
    blobstore, locks and events log over them."""

    config: DirectorConfig
    database: Database
    authenticator: BasicAuthenticator

    @functools.cached_property
    def blobstore(self) -> Blobstore:
        from bosh_core.director.blobstores import open_blobstore

        return open_blobstore(self.config)

    @functools.cached_property
    def locks(self) -> Locks:
        return Locks(self.database, events=self.events)

    @functools.cached_property
    def events(self) -> EventLog:
        return EventLog(self.database)

    @functools.cached_property
    def queue(self) -> TaskQueue:
        return open_queue(
            self.config.queue_url,
            self.database,
            lease_seconds=self.config.task_checkpoint_interval,
        )

    @functools.cached_property
    def tasks(self) -> TaskQueuer:
        """Creates tasks: ``director.tasks.create("update_release", "create release", ...)``."""
        return TaskQueuer(self.database, self.queue, self.config.tasks_dir)

    @functools.cached_property
    def agents(self) -> Agents:
        """Agents over the config's ``mbus`` (started with the app when configured)."""
        from bosh_core.director.agents import Agents

        return Agents(self.config.mbus, state_dir=self.config.nats_dir, bind=self.config.bind)

    @functools.cached_property
    def config_server(self) -> ConfigServer:
        """Where variables are kept: one client for the director's life (an HTTP config
        server's connections are reused by every deploy)."""
        from bosh_core.director.variables import open_config_server

        return open_config_server(self.config, self.database)

    @functools.cached_property
    def tls(self) -> TLSFiles:
        """The API's certificate and CA files (made on first use when not configured)."""
        from bosh_core.director.api.tls import ensure_tls

        return ensure_tls(self.config)

    @functools.cached_property
    def uuid(self) -> str:
        """The configured uuid, else the one kept in the database (made the first time)."""
        return self.config.uuid or _find_or_create_uuid(self.database)

    def record_start(self, object_type: str, object_name: str, **context: Any) -> None:
        """The event of the director (``director``, its uuid) or one of its task
        workers (``worker``, its name) starting, by user ``_director``, as the reference
        records them."""
        self.events.record(
            user="_director",
            action="start",
            object_type=object_type,
            object_name=object_name,
            context=context,
        )


DirectorDependency = NamedDependency[SkipValidation[Director]]
"""How a route handler asks for the `Director`: ``director: DirectorDependency`` (injected
by name; not validated, as it is no request data)."""


def _find_or_create_uuid(database: Database) -> str:
    query = select(DirectorAttribute.value).where(DirectorAttribute.name == "uuid")
    with database.read() as session:
        found = session.scalar(query)
    if found:
        return found
    try:
        with database.write() as session:
            found = session.scalar(query)
            if found:
                return found
            value = str(uuid.uuid4())
            session.add(DirectorAttribute(name="uuid", value=value))
            return value
    except IntegrityError:
        # Another director process made it first.
        with database.read() as session:
            stored = session.scalar(query)
        if stored is None:
            raise
        return str(stored)


class _Service(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


def _running(service: _Service) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan hook running `service` (the workers, the agents' bus) while the app
    serves (stopped after the last request: running tasks finish first)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(service.start)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(service.stop)

    return lifespan


class _AuthenticationMiddleware(ASGIMiddleware):
    """Lets through only callers with a local user's credentials (``request.user``);
    checks the ``X-Bosh-Context-Id`` length as the reference does after authenticating."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, authenticator: BasicAuthenticator) -> None:
        self._authenticator = authenticator

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        headers = Headers.from_scope(scope)
        user = self._authenticator.authenticate(headers.get("authorization"))
        if user is None and not is_public(scope["path"]):
            raise NotAuthorizedError()
        scope["user"] = user
        if len(headers.get(CONTEXT_ID_HEADER, "")) > _CONTEXT_ID_MAX:
            raise ContextIdViolatedMaxError(
                "X-Bosh-Context-Id cannot be more than 64 characters in length"
            )
        await next_app(scope, receive, send)


def create_app(
    config: DirectorConfig, database: Database, *, run_workers: bool = False, debug: bool = False
) -> Litestar:
    """The director's API over `database` (which the caller has migrated). With
    `run_workers`, ``config.workers`` task workers run in this process while it serves."""
    from bosh_core.director.api import (
        configs,
        deletions,
        deploy,
        deployments,
        events,
        info,
        locks,
        packages,
        releases,
        resources,
        stemcells,
        tasks,
        uploads,
    )

    authenticator = BasicAuthenticator(config.users)
    director = Director(config, database, authenticator)
    lifespan = []
    if config.mbus is not None:
        # Before the workers (and stopped after them): tasks talk to agents over it.
        lifespan.append(_running(director.agents))
    if run_workers and config.workers > 0:
        from bosh_core.director.workers import WorkerPool

        lifespan.append(_running(WorkerPool(director, config.workers)))
    return Litestar(
        lifespan=lifespan,
        route_handlers=[
            *info.ROUTES,
            *tasks.ROUTES,
            *locks.ROUTES,
            *events.ROUTES,
            *configs.ROUTES,
            *uploads.ROUTES,
            *deletions.ROUTES,
            *deploy.ROUTES,
            *deployments.ROUTES,
            *releases.ROUTES,
            *stemcells.ROUTES,
            *packages.ROUTES,
            *resources.ROUTES,
        ],
        dependencies={"director": Provide(lambda: director, sync_to_thread=False)},
        middleware=[_AuthenticationMiddleware(authenticator)],
        exception_handlers=exception_handlers,
        state=State({"authenticator": authenticator, "director": director}),
        openapi_config=OpenAPIConfig(
            title="BOSH Director API",
            version=director_version().split(" ", 1)[0],
            path="/schema",
        ),
        # Manifests, configs and JSON bodies are read whole: a body over this is 413
        # before it is read. Release and stemcell uploads stream to disk, without limit.
        request_max_body_size=MAX_BODY_SIZE,
        # Logging is the frontend's to configure (bosh-director's main), not the app's.
        logging_config=None,
        debug=debug,
    )
