"""The cpi config: the CPIs a director talks to, by name; an AZ's ``cpi`` names one.

Several named cpi configs act as one (`load_cpi_configs`): their ``cpis`` are joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from bosh_core.errors import ManifestError
from bosh_core.models.validation import (
    Document,
    Model,
    Seq,
    Str,
    check_unique,
    concatenate,
    load_parts,
)

__all__ = ["Cpi", "CpiConfig", "CpiMigratedFrom", "load_cpi_config", "load_cpi_configs"]


@attrs.frozen(kw_only=True)
class CpiMigratedFrom(Model):
    name: Str


@attrs.frozen(kw_only=True)
class Cpi(Model):
    """A CPI: ``type`` selects the implementation, ``properties`` configure it.

    ``migrated_from`` lists former names of this CPI, so VMs and disks recorded under
    them are still found.
    """

    name: Str
    type: Str
    exec_path: Str | None = None
    properties: dict[str, Any] = attrs.field(factory=dict)
    migrated_from: Seq[CpiMigratedFrom] = ()


@attrs.frozen(kw_only=True)
class CpiConfig(Model):
    cpis: Seq[Cpi]

    def cpi(self, name: str) -> Cpi | None:
        """The CPI called `name`, now or formerly."""
        for cpi in self.cpis:
            if cpi.name == name or any(old.name == name for old in cpi.migrated_from):
                return cpi
        return None


def load_cpi_config(document: Document, *, source: str = "cpi config") -> CpiConfig:
    """Read and validate one cpi config (YAML text, or a document already parsed).

    Raises ManifestError listing every problem with its path.
    """
    return _load([("", document)], source=source, prefixed=False)


def load_cpi_configs(
    documents: Mapping[str, Document], *, source: str = "cpi configs"
) -> CpiConfig:
    """Merge named cpi configs (name -> document) as the director does, then validate."""
    return _load(list(documents.items()), source=source, prefixed=True)


def _load(documents: Sequence[tuple[str, Document]], *, source: str, prefixed: bool) -> CpiConfig:
    parts, problems = load_parts(documents, CpiConfig, source=source, prefixed=prefixed)
    lists, origins = concatenate(parts, ["cpis"], prefixed=prefixed)
    config = CpiConfig(cpis=lists["cpis"])
    # A former name is taken as much as a current one: either finds the CPI.
    names = []
    for index, cpi in enumerate(config.cpis):
        path = origins.path("cpis", index)
        names.append((cpi.name, f"{path}.name"))
        names += [
            (old.name, f"{path}.migrated_from[{i}].name") for i, old in enumerate(cpi.migrated_from)
        ]
    check_unique(names, what="cpi name", problems=problems)
    if problems:
        raise ManifestError(source, problems)
    return config
