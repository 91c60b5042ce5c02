"""Addons: jobs the manifest's ``addons`` and the runtime configs add to instance groups.

As the director does (D/deployment_plan/planner_factory.rb, D/addon/addon.rb,
D/addon/filter.rb): the deployment's own addons are applied first, then each runtime
config in order; an addon lands on every instance group its ``include`` selects and its
``exclude`` does not. Filters see the groups as earlier addons left them, so a ``jobs``
rule can select a job another addon added.

The result is the manifest with the addon jobs in its groups, so properties and links
treat them as any other job. An addon job's properties are its own ``properties`` or
else the addon's (deprecated) top-level ones; never the group's or the deployment's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum

import attrs

from bosh_core.director.errors import ColocatedJobError, RuntimeInvalidDeploymentReleaseError
from bosh_core.models.manifest import Addon, AddonFilter, InstanceGroup, Manifest, Release
from bosh_core.models.runtime_config import RuntimeConfig

__all__ = ["AddedJob", "AddonLevel", "AddonsResult", "applicable_addons", "apply_addons"]


class AddonLevel(StrEnum):
    """Where an addon is written; deployment-level addons ignore ``teams`` rules."""

    DEPLOYMENT = "deployment"
    RUNTIME = "runtime"


@attrs.frozen(kw_only=True)
class AddedJob:
    """One addon job placed on one instance group, with the properties it was given."""

    addon: str
    level: AddonLevel
    instance_group: str
    job: str
    release: str
    properties: dict[str, object]


@attrs.frozen(kw_only=True)
class AddonsResult:
    """``manifest``: the deployment with addon jobs added to its groups and the runtime
    configs' releases its addons use added to ``releases``. ``added`` lists every
    placement in order; ``runtime_releases`` the runtime-config releases now in use."""

    manifest: Manifest
    added: tuple[AddedJob, ...]
    runtime_releases: tuple[Release, ...]


@attrs.frozen(kw_only=True)
class _Context:
    """What the filters look at besides the instance group itself."""

    deployment: str
    teams: frozenset[str]
    stemcell_os: Mapping[str, str | None]


def apply_addons(
    manifest: Manifest,
    runtime_configs: Sequence[RuntimeConfig] = (),
    *,
    teams: Sequence[str] = (),
    stemcell_os: Mapping[str, str] | None = None,
) -> AddonsResult:
    """Apply the manifest's addons, then those of each runtime config, to `manifest`.

    `teams` are the deployment's teams (``teams`` rules of runtime addons match them).
    `stemcell_os` maps a stemcell alias to its OS for stemcells the manifest names by
    ``name`` only (the uploaded stemcell knows its OS); ``os`` aliases need no entry.
    Release versions must already be resolved (no ``latest``): a runtime config naming a
    deployment release at another version raises RuntimeInvalidDeploymentReleaseError.
    """
    context = _Context(
        deployment=manifest.name,
        teams=frozenset(teams),
        stemcell_os={
            **{stemcell.alias: stemcell.os for stemcell in manifest.stemcells},
            **(stemcell_os or {}),
        },
    )
    groups = list(manifest.instance_groups)
    releases = list(manifest.releases)
    added: list[AddedJob] = []
    runtime_releases: list[Release] = []
    for addon in manifest.addons:
        _add(addon, AddonLevel.DEPLOYMENT, groups, context, added)
    for config in runtime_configs:
        for release in _releases_used(config, groups, context):
            if _use_runtime_release(release, releases):
                runtime_releases.append(release)
        for addon in config.addons:
            _add(addon, AddonLevel.RUNTIME, groups, context, added)
    return AddonsResult(
        manifest=attrs.evolve(manifest, instance_groups=tuple(groups), releases=tuple(releases)),
        added=tuple(added),
        runtime_releases=tuple(runtime_releases),
    )


def applicable_addons(
    manifest: Manifest, runtime_config: RuntimeConfig, *, teams: Sequence[str] = ()
) -> frozenset[str]:
    """The names of `runtime_config`'s addons that apply to some instance group of
    `manifest` (D/runtime_config/parsed_runtime_config.rb ``get_applicable_addons``)."""
    context = _Context(
        deployment=manifest.name,
        teams=frozenset(teams),
        stemcell_os={stemcell.alias: stemcell.os for stemcell in manifest.stemcells},
    )
    return frozenset(
        addon.name
        for addon in runtime_config.addons
        if any(_applies(addon, AddonLevel.RUNTIME, g, context) for g in manifest.instance_groups)
    )


def _add(
    addon: Addon,
    level: AddonLevel,
    groups: list[InstanceGroup],
    context: _Context,
    added: list[AddedJob],
) -> None:
    eligible = [i for i, group in enumerate(groups) if _applies(addon, level, group, context)]
    for addon_job in addon.jobs:
        job = attrs.evolve(
            addon_job,
            properties=addon_job.properties
            if addon_job.properties is not None
            else addon.properties,
            custom_provider_definitions=(),
        )
        for index in eligible:
            group = groups[index]
            if any(existing.name == job.name for existing in group.jobs):
                raise ColocatedJobError(
                    f"Colocated job '{job.name}' is already added to the instance group"
                    f" '{group.name}'."
                )
            groups[index] = attrs.evolve(group, jobs=(*group.jobs, job))
            added.append(
                AddedJob(
                    addon=addon.name,
                    level=level,
                    instance_group=group.name,
                    job=job.name,
                    release=job.release,
                    properties=dict(job.properties or {}),
                )
            )


def _releases_used(
    config: RuntimeConfig, groups: Sequence[InstanceGroup], context: _Context
) -> list[Release]:
    """The config's releases that its addons applying somewhere need, once each."""
    needed = {
        job.release
        for addon in config.addons
        if any(_applies(addon, AddonLevel.RUNTIME, group, context) for group in groups)
        for job in addon.jobs
    }
    used: list[Release] = []
    for release in config.releases:
        if release.name in needed and release not in used:
            used.append(release)
    return used


def _use_runtime_release(release: Release, releases: list[Release]) -> bool:
    """Add `release` to the deployment's `releases`; False when it is there already."""
    for existing in releases:
        if existing.name != release.name:
            continue
        if existing.version != release.version:
            raise RuntimeInvalidDeploymentReleaseError(
                f"Runtime manifest specifies release '{release.name}' with version as"
                f" '{release.version}'. This conflicts with version '{existing.version}'"
                " specified in the deployment manifest."
            )
        return False
    releases.append(release)
    return True


def _applies(addon: Addon, level: AddonLevel, group: InstanceGroup, context: _Context) -> bool:
    include = addon.include or AddonFilter()
    exclude = addon.exclude or AddonFilter()
    return _matches(include, level, group, context, is_include=True) and not _matches(
        exclude, level, group, context, is_include=False
    )


def _matches(
    rules: AddonFilter,
    level: AddonLevel,
    group: InstanceGroup,
    context: _Context,
    *,
    is_include: bool,
) -> bool:
    """D/addon/filter.rb ``applies?``: every rule given must match; a rule's list matches
    when any item does. Empty rules select every group when including, none when
    excluding."""
    teams = rules.teams if level is AddonLevel.RUNTIME else ()
    checks: list[tuple[object, Callable[[], bool]]] = [
        (rules.lifecycle, lambda: rules.lifecycle == group.lifecycle),
        (rules.azs, lambda: any(az in (group.azs or ()) for az in rules.azs)),
        (teams, lambda: bool(context.teams.intersection(teams))),
        (
            rules.stemcell,
            lambda: any(
                context.stemcell_os.get(group.stemcell) == stemcell.os
                for stemcell in rules.stemcell
            ),
        ),
        (
            rules.networks,
            lambda: any(network.name in rules.networks for network in group.networks),
        ),
        (rules.deployments, lambda: context.deployment in rules.deployments),
        (
            rules.jobs,
            lambda: any(
                job.name == wanted.name and job.release == wanted.release
                for wanted in rules.jobs
                for job in group.jobs
            ),
        ),
        (rules.instance_groups, lambda: group.name in rules.instance_groups),
    ]
    given = [check for rule, check in checks if rule]
    if not given:
        return is_include
    return all(check() for check in given)
