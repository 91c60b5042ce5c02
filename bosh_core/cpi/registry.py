"""CPI plugins by name: the ``bosh.cpis`` entry points, verified when loaded.

A cpi-config's ``type`` names an entry point. `load_cpi` imports the plugin lazily and
checks it at once, as pluggy checks hook implementations, so a broken plugin fails at
load and not in the middle of a deploy.
"""

from __future__ import annotations

import inspect
import re
from importlib import metadata

from bosh_core.cpi.base import CPI, CPI_METHODS
from bosh_core.cpi.errors import CPIPluginError

__all__ = ["ENTRY_POINT_GROUP", "available_cpis", "load_cpi", "verify_cpi_class"]

ENTRY_POINT_GROUP = "bosh.cpis"


def available_cpis() -> list[str]:
    """The names of the installed CPI plugins, sorted."""
    return sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})


def load_cpi(name: str) -> type[CPI]:
    """The CPI class registered as `name`, verified (see `verify_cpi_class`).

    Raises CPIPluginError when no plugin has that name, when its module needs an
    optional dependency that is not installed (naming the pip extra), or when the class
    does not fulfil the CPI contract.
    """
    found = metadata.entry_points(group=ENTRY_POINT_GROUP, name=name)
    entry_point = next(iter(found), None)
    if entry_point is None:
        installed = ", ".join(available_cpis()) or "none"
        raise CPIPluginError(f"No CPI named '{name}' is installed (installed CPIs: {installed})")
    try:
        loaded = entry_point.load()
    except ModuleNotFoundError as exc:
        missing = exc.name or str(exc)
        raise CPIPluginError(
            f"CPI '{name}' needs the Python module '{missing}', which is not installed:"
            f" {_install_hint(entry_point, missing)}"
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, CPI)):
        raise CPIPluginError(
            f"CPI '{name}' ({entry_point.value}) is not a subclass of bosh_core.cpi.CPI"
        )
    verify_cpi_class(loaded, name=name)
    return loaded


def verify_cpi_class(cls: type[CPI], *, name: str | None = None) -> None:
    """Check that `cls` can serve every CPI method as the wire calls it.

    No abstract method may be left, the constructor must take ``(properties, *,
    context)``, and every CPI method must take the ABC's parameters, with the same
    names, in the same order, positionally. Raises CPIPluginError listing every problem.
    """
    label = f"CPI '{name}' ({cls.__module__}.{cls.__qualname__})" if name else cls.__qualname__
    problems = []
    abstract = sorted(getattr(cls, "__abstractmethods__", ()))
    if abstract:
        problems.append(f"abstract methods not implemented: {', '.join(abstract)}")
    init = inspect.signature(cls.__init__)
    parameters = list(init.parameters.values())[1:]
    if not (
        parameters
        and parameters[0].name == "properties"
        and parameters[0].kind in _POSITIONAL
        and "context" in init.parameters
    ):
        problems.append("__init__ must take (properties, *, context)")
    for method in CPI_METHODS:
        expected = _parameter_names(getattr(CPI, method))
        implementation = getattr(cls, method, None)
        if not callable(implementation):
            problems.append(f"{method} is not a method")
            continue
        actual = _parameter_names(implementation)
        if actual != expected:
            problems.append(
                f"{method}({', '.join(actual)}) should be {method}({', '.join(expected)})"
            )
    if problems:
        raise CPIPluginError(f"{label} breaks the CPI contract: {'; '.join(problems)}")


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _parameter_names(function: object) -> list[str]:
    # Keyword-only or variadic parameters show up with a marker, so they never match.
    names = []
    for parameter in list(inspect.signature(function).parameters.values())[1:]:  # type: ignore[arg-type]
        if parameter.kind in _POSITIONAL:
            names.append(parameter.name)
        elif parameter.default is inspect.Parameter.empty or parameter.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            names.append(f"{parameter.kind.description} {parameter.name}")
    return names


def _install_hint(entry_point: metadata.EntryPoint, missing: str) -> str:
    extra = _extra_for(entry_point, missing)
    distribution = entry_point.dist.name if entry_point.dist else None
    if extra and distribution:
        return f"pip install '{distribution}[{extra}]'"
    return f"pip install {missing}"


def _extra_for(entry_point: metadata.EntryPoint, missing: str) -> str | None:
    """The extra that provides `missing`: declared on the entry point, required by an
    extra under that module's name, or an extra named like the CPI (``aws``)."""
    if entry_point.extras:
        return entry_point.extras[0]
    dist = entry_point.dist
    if dist is None:
        return None
    top = _normalise(missing.partition(".")[0])
    extras = dist.metadata.get_all("Provides-Extra") or []
    for requirement in dist.requires or []:
        marker = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        project = re.match(r"[A-Za-z0-9._-]+", requirement)
        if marker and project and _normalise(project.group()) == top:
            return marker.group(1)
    return entry_point.name if entry_point.name in extras else None


def _normalise(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()
