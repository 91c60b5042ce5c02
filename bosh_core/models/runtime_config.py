"""The runtime config: releases and addons the director adds to every deployment it selects.

Several named runtime configs act as one (`load_runtime_configs`): their ``releases``,
``addons`` and ``variables`` are joined in order, and ``tags`` may come from one of them
only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from bosh_core.errors import ManifestError, Problem
from bosh_core.models.manifest import Addon, Release, Variable, check_addons, check_variables
from bosh_core.models.validation import (
    Document,
    Model,
    Seq,
    concatenate,
    load_parts,
    single_owner,
)

__all__ = ["RuntimeConfig", "load_runtime_config", "load_runtime_configs"]

# `latest`, `1.latest`, `1_latest`: a version the director resolves, which a runtime
# config may not use (it is applied to deployments long after it was written).
_LATEST = re.compile(r"(^|[._])latest$")


@attrs.frozen(kw_only=True)
class RuntimeConfig(Model):
    """``tags`` None: no runtime config sets tags (an empty map still counts as set)."""

    releases: Seq[Release] = ()
    addons: Seq[Addon] = ()
    variables: Seq[Variable] = ()
    tags: dict[str, Any] | None = None


_LISTS = ("releases", "addons", "variables")


def load_runtime_config(document: Document, *, source: str = "runtime config") -> RuntimeConfig:
    """Read and validate one runtime config (YAML text, or a document already parsed).

    Raises ManifestError listing every problem with its path.
    """
    return _load([("", document)], source=source, prefixed=False)


def load_runtime_configs(
    documents: Mapping[str, Document], *, source: str = "runtime configs"
) -> RuntimeConfig:
    """Merge named runtime configs (name -> document) as the director does, then validate.

    Problem paths start with the config's name: ``dns:$.addons[0].jobs[0].release``.
    """
    return _load(list(documents.items()), source=source, prefixed=True)


def _load(
    documents: Sequence[tuple[str, Document]], *, source: str, prefixed: bool
) -> RuntimeConfig:
    parts, problems = load_parts(documents, RuntimeConfig, source=source, prefixed=prefixed)
    lists, origins = concatenate(parts, _LISTS, prefixed=prefixed)
    tags, _ = single_owner(
        parts,
        "tags",
        message="Runtime config 'tags' key cannot be defined in multiple runtime configs.",
        prefixed=prefixed,
        problems=problems,
    )
    config = RuntimeConfig(**lists, tags=tags)
    for index, release in enumerate(config.releases):
        if _LATEST.search(release.version):
            problems.append(
                Problem(
                    f"{origins.path('releases', index)}.version",
                    f"Runtime manifest contains the release '{release.name}' with version as"
                    f" '{release.version}'. Please specify the actual version string.",
                )
            )
    check_addons(
        config.addons,
        origins.lists["addons"],
        releases={release.name for release in config.releases},
        level="runtime",
        problems=problems,
    )
    check_variables(config.variables, origins.lists["variables"], problems)
    if problems:
        raise ManifestError(source, problems)
    return config
