"""The "Preparing deployment" part of a deploy (the reference's ``UpdateDeployment#perform``
up to rendering), and the whole of a ``--dry-run`` deploy.

Under ``lock:deployment:<name>``:

1. a new variable set for the deployment (the deployment row is made if the API did
   not make it yet); the manifest's ``variables:`` are generated into it and the
   manifest, cloud and runtime configs are interpolated with it;
2. stage "Preparing deployment", task "Preparing deployment": the planning inputs are
   read from the database (`read_deployment_inputs`) and planned (`make_plan`);
3. task "Rendering templates": the templates of every instance of the service groups
   are rendered in one ruby process, every failure reported together; the plan takes
   the configuration hashes (so it knows which instances' configuration changed).

Before planning, the agent of every existing instance with a VM is asked its
``get_state`` (its ``job_state`` decides some changes; ``--fix`` turns an agent that
does not answer into a recreate). Nothing else is written: no IPs, VMs, compiled
packages or rendered archives; `bosh_core.director.jobs.update_deployment` does that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import select

from bosh_core.agent.errors import AgentError
from bosh_core.director.configs import ConfigStore, DeployConfigs, parse_manifest
from bosh_core.director.db.models import VM, Deployment, Instance
from bosh_core.director.deployment_state import (
    bind_in_use,
    load_job_templates,
    read_deployment_inputs,
)
from bosh_core.director.tasks.events import EventLog
from bosh_core.director.variables import VariableResolver
from bosh_core.models.manifest import Lifecycle
from bosh_core.planning.plan import (
    DeployFlags,
    DeploymentInputs,
    Plan,
    instances_to_render,
    make_plan,
)
from bosh_core.templates import RenderedInstance, TemplateRenderer

if TYPE_CHECKING:
    from bosh_core.director.api.app import Director

__all__ = [
    "DeployOptions",
    "PreparedDeployment",
    "prepare_deployment",
    "prepare_locked",
]


_STAGE = "Preparing deployment"


@attrs.frozen(kw_only=True)
class DeployOptions:
    """A deploy's options: the flags planning uses, and those of this step."""

    flags: DeployFlags = attrs.field(factory=DeployFlags)
    dry_run: bool = False
    force_latest_variables: bool = False
    #: The config versions to deploy with (the request's ``context``); the current
    #: ones when None.
    configs: DeployConfigs | None = None


@attrs.frozen(kw_only=True)
class PreparedDeployment:
    """The plan (with configuration hashes), the inputs it was made of, the rendered
    instances in plan order, and the deploy's variable set with its resolver."""

    plan: Plan
    inputs: DeploymentInputs
    rendered: tuple[RenderedInstance, ...]
    variable_set_id: int
    variables: VariableResolver
    configs: DeployConfigs


@contextlib.contextmanager
def prepare_deployment(
    director: Director,
    manifest_text: str,
    *,
    options: DeployOptions,
    event_log: EventLog,
    task_id: int | str,
    user: str = "admin",
    renderer: TemplateRenderer | None = None,
) -> Iterator[PreparedDeployment]:
    """Take the deployment's lock, prepare the deploy of `manifest_text`, and hold the
    lock while the block runs (a dry run's block does nothing; a deploy rolls out)."""
    document = parse_manifest(manifest_text, source="deployment manifest")
    name = str(document.get("name", ""))
    with director.locks.deployment(name, task_id=task_id, user=user):
        yield prepare_locked(
            director,
            document,
            options=options,
            event_log=event_log,
            task_id=task_id,
            user=user,
            renderer=renderer,
        )


def prepare_locked(
    director: Director,
    document: dict[str, Any],
    *,
    options: DeployOptions,
    event_log: EventLog,
    task_id: int | str,
    user: str,
    renderer: TemplateRenderer | None = None,
) -> PreparedDeployment:
    """The preparation of `prepare_deployment`, for a caller holding
    ``lock:deployment:<name>``. `renderer` lets a caller reuse one ruby process."""
    name = str(document.get("name", ""))
    _ensure_deployment(director, name)
    resolver = VariableResolver(
        director.database,
        director.config_server,
        director_name=director.config.name,
    )
    variable_set_id = resolver.add_variable_set(name)
    configs = options.configs or ConfigStore(director.database).deploy_configs()
    stage = event_log.stage(_STAGE, total=1)
    with stage.track(_STAGE):
        features = document.get("features") or {}
        resolver.generate_values(
            document.get("variables") or [],
            variable_set_id=variable_set_id,
            converge_variables=bool(features.get("converge_variables")),
            force_latest=options.force_latest_variables,
        )
        manifest = resolver.interpolate(document, variable_set_id=variable_set_id)
        inputs = read_deployment_inputs(
            director.database,
            manifest,
            flags=options.flags,
            configs=configs,
            interpolate_config=lambda config: resolver.interpolate(
                config, variable_set_id=variable_set_id
            ),
        )
        # As the reference binds its releases: under their locks, the versions read
        # (the runtime configs' too) become the deployment's, so none is deleted now.
        names = sorted({name for name, _ in inputs.releases})
        with director.locks.releases(names, task_id=task_id, user=user):
            bind_in_use(director.database, name, releases=inputs.releases)
        inputs = _with_job_states(director, inputs, fix=options.flags.fix)
        plan = make_plan(inputs)
        bind_in_use(director.database, name, stemcells=plan.stemcells)
    if any(state.ignore for state in inputs.existing):
        event_log.warn("You have ignored instances. They will not be changed.")
    for warning in plan.warnings:
        event_log.warn(warning)
    with stage.track("Rendering templates"):
        plan, rendered = _render(director, plan, renderer)
    return PreparedDeployment(
        plan=plan,
        inputs=inputs,
        rendered=rendered,
        variable_set_id=variable_set_id,
        variables=resolver,
        configs=configs,
    )


def _with_job_states(
    director: Director, inputs: DeploymentInputs, *, fix: bool
) -> DeploymentInputs:
    """`inputs` with the ``job_state`` of every existing instance that has a VM, asked
    of its agent (all at once). An agent that does not answer fails the deploy, unless
    `fix`: then it is ``unresponsive`` and the instance gets a new VM."""
    with_vm = {state.uuid for state in inputs.existing if state.vm is not None}
    if not with_vm:
        return inputs
    with director.database.read() as session:
        agent_ids = {
            uuid: agent_id
            for uuid, agent_id in session.execute(
                select(Instance.uuid, VM.agent_id)
                .join(VM, VM.instance_id == Instance.id)
                .where(Instance.uuid.in_(with_vm), VM.active.is_(True))
            ).tuples()
            if agent_id is not None
        }

    async def ask(agent_id: str) -> str:
        try:
            state = await director.agents.client(agent_id).send("get_state")
        except AgentError:
            if not fix:
                raise
            return "unresponsive"
        return str(state.get("job_state")) if isinstance(state, dict) else "unresponsive"

    async def ask_all() -> list[str]:
        return list(await asyncio.gather(*(ask(agent_ids[uuid]) for uuid in asked)))

    asked = sorted(agent_ids)
    states = dict(zip(asked, director.agents.call(ask_all()), strict=True))
    return attrs.evolve(
        inputs,
        existing=tuple(
            attrs.evolve(state, job_state=states[state.uuid]) if state.uuid in states else state
            for state in inputs.existing
        ),
    )


def _ensure_deployment(director: Director, name: str) -> None:
    """The API makes the deployment row when it queues a deploy; a job run directly
    (tests, scripts) makes it here."""
    with director.database.write() as session:
        if session.scalar(select(Deployment.id).where(Deployment.name == name)) is None:
            session.add(Deployment(name=name))


def _render(
    director: Director, plan: Plan, renderer: TemplateRenderer | None
) -> tuple[Plan, tuple[RenderedInstance, ...]]:
    """Render the service groups' instances (errands render when they run) and give the
    plan their configuration hashes. Raises RenderErrors listing every failure."""
    templates = load_job_templates(director.database, director.blobstore, plan)
    service = {g.name for g in plan.groups if g.lifecycle is Lifecycle.SERVICE}
    wanted = [i for i in instances_to_render(plan, templates) if i.spec.name in service]
    if renderer is not None:
        rendered = renderer.render(wanted)
    else:
        with TemplateRenderer() as own:
            rendered = own.render(wanted)
    hashes = {instance.id: instance.configuration_hash for instance in rendered}
    return plan.with_configuration_hashes(hashes), tuple(rendered)
