"""What ``bosh deploy`` shows before it asks to continue: the diff of a deployment as
the director sees it, before and after (the reference's ``POST /deployments/:d/diff``).

Each side is the manifest merged with the cloud and runtime configs it is deployed with
(D/manifest/manifest.rb ``to_hash_filter_addons``): before, the stored manifest with the
configs its last deploy used; after, the posted manifest with the current configs. So a
changed cloud config shows in the diff even when the manifest did not change.

- Several cloud configs are consolidated first: their ``azs``, ``vm_types``,
  ``disk_types``, ``networks`` and ``vm_extensions`` lists are joined, and one of them
  may hold ``compilation``. Runtime configs join their ``releases``, ``addons`` and
  ``variables``, and one may hold ``tags``.
- Of the runtime configs, only the addons that apply to some instance group of the
  deployment are shown, with the releases those addons use.
- The merge: config keys replace the manifest's, except ``releases``, ``variables`` and
  ``addons`` (the manifest's entries, then the config's new ones) and ``tags`` (the
  manifest's win).
- ``version: latest`` of releases and stemcells is shown as the version it stands for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bosh_core.director.changeset import diff_documents
from bosh_core.director.configs import (
    ConfigRecord,
    ConfigStore,
    parse_config_content,
    parse_manifest,
)
from bosh_core.director.db import Database
from bosh_core.director.db.models import Deployment
from bosh_core.director.deployment_state import resolve_latest
from bosh_core.errors import BoshError
from bosh_core.models.manifest import load_manifest
from bosh_core.models.runtime_config import load_runtime_config
from bosh_core.planning.addons import applicable_addons

__all__ = ["DeploymentDiff", "diff_deployment"]

_log = logging.getLogger(__name__)

_CLOUD_LISTS: Final = ("azs", "vm_types", "disk_types", "networks", "vm_extensions")
_RUNTIME_LISTS: Final = ("releases", "addons", "variables")
#: Keys a runtime config combines with the manifest's instead of replacing them.
_COMBINED: Final = frozenset({"releases", "variables", "addons", "tags"})

DeploymentDiff = dict[str, Any]
"""``{"context": {...config ids}, "diff": [[line, state], ...]}`` as the API answers."""


def diff_deployment(
    database: Database, deployment: str, manifest_text: str, *, redact: bool
) -> DeploymentDiff:
    """The diff of deploying `manifest_text` as `deployment`, with the ids of the configs
    it would be deployed with as ``context``. Raises BoshError when it cannot be made."""
    after_manifest = parse_manifest(manifest_text, source="deployment manifest")
    store = ConfigStore(database)
    after_configs = store.deploy_configs()
    with database.read() as session:
        row = session.scalars(
            select(Deployment)
            .where(Deployment.name == deployment)
            .options(selectinload(Deployment.configs), selectinload(Deployment.teams))
        ).first()
        if row is not None:
            after_manifest["name"] = row.name  # the URL's deployment, as the reference
        teams = tuple(team.name for team in row.teams) if row else ()
        before_text = row.manifest_text if row else None
        before_ids = tuple(config.id for config in row.configs) if row else ()
        before_manifest = (
            resolve_latest(session, parse_manifest(before_text, source="stored manifest"))
            if before_text
            else None
        )
        after_manifest = resolve_latest(session, after_manifest)
    before = (
        _with_configs(before_manifest, store.records(before_ids), teams)
        if before_manifest is not None
        else {}
    )
    after = _with_configs(after_manifest, store.records(after_configs.ids), teams)
    return {
        "context": after_configs.to_api(),
        "diff": [list(line) for line in diff_documents(before, after, redact_values=redact)],
    }


def _with_configs(
    manifest: dict[str, Any], records: Sequence[ConfigRecord], teams: Sequence[str]
) -> dict[str, Any]:
    cloud = _consolidated_cloud(_contents(records, "cloud"))
    runtime = _applicable(_consolidated_runtime(_contents(records, "runtime")), manifest, teams)
    return _merge({**manifest, **cloud}, runtime)


def _contents(records: Iterable[ConfigRecord], type_: str) -> list[dict[str, Any]]:
    return [parse_config_content(r.content) for r in records if r.type == type_]


def _consolidated_cloud(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not any(documents):
        return {}
    merged: dict[str, Any] = {key: _joined(documents, key) for key in _CLOUD_LISTS}
    for document in documents:
        if isinstance(document.get("compilation"), Mapping):
            merged["compilation"] = document["compilation"]
    return merged


def _consolidated_runtime(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not documents:
        return {}
    merged: dict[str, Any] = {key: _joined(documents, key) for key in _RUNTIME_LISTS}
    for key in ("addons", "variables"):
        if not merged[key]:
            del merged[key]
    for document in documents:
        if isinstance(document.get("tags"), Mapping):
            merged["tags"] = document["tags"]
    return merged


def _joined(documents: Iterable[Mapping[str, Any]], key: str) -> list[Any]:
    joined: list[Any] = []
    for document in documents:
        value = document.get(key)
        if isinstance(value, list):
            joined += value
        elif isinstance(value, str):  # a whole-list ((variable)), kept as one entry
            joined.append(value)
    return joined


def _applicable(
    runtime: dict[str, Any], manifest: Mapping[str, Any], teams: Sequence[str]
) -> dict[str, Any]:
    """`runtime` with only the addons that apply to some group of `manifest`, and the
    releases they use. Left whole when either cannot be typed yet (a ``((variable))``
    where a number belongs: the reference's lenient parse would still read it)."""
    if not runtime.get("releases"):
        return {}
    try:
        names = applicable_addons(
            load_manifest(manifest), load_runtime_config(runtime), teams=teams
        )
    except BoshError as error:  # its message may quote manifest values: not logged
        _log.debug("runtime addons shown unfiltered in the diff (%s)", type(error).__name__)
        return runtime
    addons = [a for a in runtime.get("addons") or () if a.get("name") in names]
    used = {job.get("release") for addon in addons for job in addon.get("jobs") or ()}
    filtered = {**runtime, "releases": [r for r in runtime["releases"] if r.get("name") in used]}
    if addons:
        filtered["addons"] = addons
    else:
        filtered.pop("addons", None)
    return filtered


def _merge(manifest: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """`manifest` with `config`'s keys: replaced, but joined for ``releases``,
    ``variables`` and ``addons`` and under the manifest's for ``tags``."""
    merged = dict(manifest)
    for key, new in config.items():
        old = merged.get(key)
        if old is None or key not in _COMBINED:
            merged[key] = new
        elif new is None:
            continue
        elif isinstance(old, Mapping) and isinstance(new, Mapping):
            merged[key] = {**new, **old}
        elif isinstance(old, list) and isinstance(new, list):
            merged[key] = _union(old, new)
        else:
            merged[key] = new
    return merged


def _union(old: list[Any], new: list[Any]) -> list[Any]:
    union: list[Any] = []
    for item in (*old, *new):
        if item not in union:
            union.append(item)
    return union
