"""Job properties as the director binds them (D/deployment_plan/job.rb ``bind_properties``).

Two steps, kept apart because links need the first one on its own:

1. `provided_job_properties`: what the manifest gives a job. A job's own ``properties``
   block is used as is, even an empty one; only without it does the job take the
   deployment's global ``properties`` deep-merged with its instance group's.
2. `bind_properties`: for every property the job spec declares, the provided value or
   else the spec's ``default``; everything the spec does not declare is dropped, so a
   template only ever sees declared names. Dotted names (``db.port``) nest.

A link provider's ``properties`` (`link_properties`) are picked from the provided values
too, falling back on the spec's default, as D/links/link_helpers.rb does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from bosh_core.director.errors import PropertyTypeError
from bosh_core.mappings import deep_merge
from bosh_core.models.manifest import Job
from bosh_core.models.release import JobSpec

__all__ = [
    "bind_job_properties",
    "bind_properties",
    "link_properties",
    "lookup_property",
    "provided_job_properties",
    "ruby_class_name",
]


def provided_job_properties(
    manifest_job: Job,
    *,
    group_properties: Mapping[str, Any],
    global_properties: Mapping[str, Any],
) -> Mapping[str, Any]:
    """The properties the manifest gives `manifest_job`, before the spec filters them."""
    if manifest_job.properties is not None:
        return manifest_job.properties
    return deep_merge(global_properties, group_properties)


def bind_job_properties(
    job_spec: JobSpec,
    manifest_job: Job,
    *,
    group_properties: Mapping[str, Any],
    global_properties: Mapping[str, Any],
) -> dict[str, Any]:
    """The properties templates of `manifest_job` see: declared ones only, defaults filled.

    Raises PropertyTypeError when a dotted name crosses a value that is not a map.
    """
    provided = provided_job_properties(
        manifest_job, group_properties=group_properties, global_properties=global_properties
    )
    return bind_properties(job_spec.properties, provided)


def bind_properties(declared: Mapping[str, Any], provided: Mapping[str, Any]) -> dict[str, Any]:
    """Each name of `declared` (a spec's ``properties``) bound to its provided value or
    default; maps come out with sorted keys, as the director stores them."""
    bound: dict[str, Any] = {}
    for name, definition in declared.items():
        value = lookup_property(provided, name)
        if value is None:
            value = (definition or {}).get("default")
        _set_property(bound, name, _sorted_copy(value))
    return bound


def link_properties(
    declared: Mapping[str, Any],
    provided: Mapping[str, Any],
    names: Sequence[str],
    *,
    job_name: str,
) -> tuple[dict[str, Any], list[str]]:
    """The ``properties`` a link provider shares: `names` from its definition, taken from
    the provided values (present keys win even when null), else from the spec's default.

    Returns the nested values and the director's messages for names the spec lacks.
    """
    mapped: dict[str, Any] = {}
    errors: list[str] = []
    for name in names:
        found, value = _find_property(provided, name)
        if not found:
            definition = declared.get(name)
            if definition is None:
                errors.append(
                    f"Link property {name} in template {job_name} is not defined in release spec"
                )
                continue
            value = definition.get("default")
        _set_property(mapped, name, copy.deepcopy(value))
    return mapped, errors


def lookup_property(properties: Mapping[str, Any], name: str) -> Any:
    """The value at dotted `name`, or None when some part is missing.

    Raises PropertyTypeError when a part before the last is not a map.
    """
    value: Any = properties
    for key in name.split("."):
        if not isinstance(value, Mapping):
            raise PropertyTypeError(
                f"Property '{name}' expects a hash, but received '{ruby_class_name(value)}'"
            )
        value = value.get(key)
        if value is None:
            return None
    return value


def ruby_class_name(value: Any) -> str:
    """The class the director would name for `value` in its messages (it is Ruby)."""
    names = {
        bool: "TrueClass" if value is True else "FalseClass",
        int: "Integer",
        float: "Float",
        str: "String",
        list: "Array",
        dict: "Hash",
        type(None): "NilClass",
    }
    return names.get(type(value), type(value).__name__)


def _find_property(properties: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    value: Any = properties
    for key in name.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _set_property(destination: dict[str, Any], name: str, value: Any) -> None:
    *parents, last = name.split(".")
    for key in parents:
        destination = destination.setdefault(key, {})
    destination[last] = value


def _sorted_copy(value: Any) -> Any:
    # The director sorts map keys (not the maps inside lists); copying keeps the manifest
    # model's dicts unshared with what templates and digests get.
    if isinstance(value, Mapping):
        return {key: _sorted_copy(value[key]) for key in sorted(value)}
    return copy.deepcopy(value)
