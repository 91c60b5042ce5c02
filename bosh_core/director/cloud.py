"""The director's one way to a CPI: which CPI serves a name or an AZ, built for one task.

Without a cpi-config the director has one CPI, the one of its own config (``cpi:``), and
every stemcell, VM and disk row names it as ``""``. With a cpi-config (the latest ``cpi``
configs, merged) every CPI has a name; cloud-config AZs name theirs in ``cpi``, and rows
keep the name of the CPI that made them. This is the reference's ``CloudFactory`` and
``AZCloudFactory``.

A CPI entry becomes an implementation this way:

- ``exec_path`` given: that executable, spoken to over the external CPI protocol
  (`ExternalCPI`), as a real director runs a CPI release's ``bin/cpi``;
- else ``type`` names an installed plugin (``bosh.cpis`` entry points): the class runs in
  this process, and each call is written to the task's CPI log;
- else the reference's default executable, ``/var/vcap/jobs/<type>_cpi/bin/cpi``.

Every CPI gets a `CPIContext` with the director's uuid and a fresh request id. An
external CPI is first asked ``info`` for its API version, and spoken to at the lower of
that and `PREFERRED_CPI_API_VERSION`, as the reference does.

    clouds = Clouds.from_database(db, director_uuid=uuid, default=config.default_cpi,
                                  cpi_log=output.cpi_log)
    cid = clouds.get(vm_row.cpi).create_stemcell(image, {})

The calls are synchronous; a caller on an event loop runs them with
``asyncio.to_thread`` (a CPI instance is used from one thread at a time).
"""

from __future__ import annotations

import functools
import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from bosh_core.cpi.base import CPI, CPI_METHODS
from bosh_core.cpi.errors import CPIError, NotImplementedError_, NotSupportedError
from bosh_core.cpi.registry import available_cpis, load_cpi
from bosh_core.cpi.rpc import ExternalCPI, redact_request
from bosh_core.cpi.types import CPIContext
from bosh_core.director.db import Database
from bosh_core.director.db.models import latest_configs
from bosh_core.director.errors import CpiNotConfiguredError, CpiNotFoundError
from bosh_core.models.cloud_config import AvailabilityZone
from bosh_core.models.cpi_config import Cpi, CpiConfig, load_cpi_configs
from bosh_core.serialization import unstructure

__all__ = ["PREFERRED_CPI_API_VERSION", "CPILog", "Clouds", "default_exec_path"]

_log = logging.getLogger(__name__)

#: The highest CPI API version the director speaks (the reference's ``preferred_cpi_api_version``).
PREFERRED_CPI_API_VERSION: Final = 2

CPILog = Callable[[str], None]
"""Where CPI logs go: a task's ``cpi`` output (`TaskOutput.cpi_log`)."""


def default_exec_path(cpi_type: str) -> Path:
    """Where a CPI release of `cpi_type` puts its executable on a director VM."""
    return Path(f"/var/vcap/jobs/{cpi_type}_cpi/bin/cpi")


class Clouds:
    """The CPIs one task may use: the director's default, or those of a cpi-config.

    `default` is the director's own CPI (its config's ``cpi``); `cpi_config` the merged
    latest cpi-configs, or None when none is set. `external_timeout` bounds each call to
    an external CPI executable (seconds; None waits).
    """

    def __init__(
        self,
        *,
        director_uuid: str,
        default: Cpi | None,
        cpi_config: CpiConfig | None = None,
        cpi_log: CPILog | None = None,
        external_timeout: float | None = None,
    ) -> None:
        self.director_uuid = director_uuid
        self.default = default
        self.cpi_config = cpi_config
        self._cpi_log = cpi_log
        self._external_timeout = external_timeout

    @classmethod
    def from_database(
        cls,
        database: Database,
        *,
        director_uuid: str,
        default: Cpi | None,
        cpi_log: CPILog | None = None,
        external_timeout: float | None = None,
    ) -> Clouds:
        """The clouds as the latest cpi-configs in `database` define them (read now: a
        task sees the cpi-config of its start, as the reference's tasks do)."""
        with database.read() as session:
            documents = {config.name: config.content for config in latest_configs(session, "cpi")}
        return cls(
            director_uuid=director_uuid,
            default=default,
            cpi_config=load_cpi_configs(documents) if documents else None,
            cpi_log=cpi_log,
            external_timeout=external_timeout,
        )

    @property
    def uses_cpi_config(self) -> bool:
        return self.cpi_config is not None

    @property
    def names(self) -> tuple[str, ...]:
        """Every CPI's name: ``("",)`` (the default CPI) without a cpi-config."""
        if self.cpi_config is None:
            return ("",)
        return tuple(cpi.name for cpi in self.cpi_config.cpis)

    def aliases(self, name: str) -> tuple[str, ...]:
        """`name` and the names its CPI had before (``migrated_from``): rows recorded
        under any of them belong to it."""
        if self.cpi_config is None:
            return ("",)
        spec = self._configured(name)
        return (name, *(old.name for old in spec.migrated_from))

    def get(self, name: str | None = "", *, stemcell_api_version: int | None = None) -> CPI:
        """The CPI called `name` (``""`` or None: the director's default), ready to call.

        `stemcell_api_version` is the stemcell's of the VM the calls are about (it lets a
        CPI v2 hand the agent its settings without a registry).
        """
        if not name:
            if self.default is None:
                raise CpiNotConfiguredError(
                    "The director has no CPI: set 'cpi' in its config, or upload a cpi-config"
                )
            spec = self.default
        else:
            spec = self._configured(name)
        context = CPIContext(
            director_uuid=self.director_uuid,
            request_id=_request_id(),
            api_version=PREFERRED_CPI_API_VERSION,
            stemcell_api_version=stemcell_api_version,
        )
        if spec.exec_path is None and spec.type in available_cpis():
            return self._plugin(spec, context)
        return self._external(spec, context)

    def name_for_az(self, az: str | None, azs: Iterable[AvailabilityZone]) -> str:
        """The name of the CPI serving `az`, one of the cloud config's `azs` (``""``, the
        default CPI, for no AZ or an AZ without ``cpi`` and no cpi-config)."""
        if not az:
            return ""
        found = next((zone for zone in azs if zone.name == az), None)
        if found is None:
            raise CpiNotConfiguredError(f"AZ '{az}' not found in cloud config")
        cpi = found.cpi or ""
        if self.uses_cpi_config and not cpi:
            raise CpiNotFoundError(f"AZ '{az}' must specify a CPI when CPI config is defined.")
        return cpi

    def get_for_az(
        self,
        az: str | None,
        azs: Iterable[AvailabilityZone],
        *,
        stemcell_api_version: int | None = None,
    ) -> CPI:
        """The CPI serving `az` (see `name_for_az`)."""
        name = self.name_for_az(az, azs)
        try:
            return self.get(name, stemcell_api_version=stemcell_api_version)
        except CpiNotConfiguredError as error:
            raise CpiNotConfiguredError(f"Failed to load CPI for AZ '{az}': {error}") from None

    # -- building one CPI ------------------------------------------------------------------

    def _configured(self, name: str) -> Cpi:
        if self.cpi_config is None:
            raise CpiNotConfiguredError(
                f"CPI '{name}' not found in cpi-config (because cpi-config is not set)"
            )
        spec = self.cpi_config.cpi(name)
        if spec is None:
            raise CpiNotConfiguredError(f"CPI '{name}' not found in cpi-config")
        return spec

    def _plugin(self, spec: Cpi, context: CPIContext) -> CPI:
        cls = load_cpi(spec.type)
        version = min(cls.api_version, PREFERRED_CPI_API_VERSION)
        cpi = cls(spec.properties, context=_with_api_version(context, version))
        _log_calls(cpi, secret_context_keys=list(spec.properties), cpi_log=self._cpi_log)
        return cpi

    def _external(self, spec: Cpi, context: CPIContext) -> ExternalCPI:
        path = spec.exec_path or default_exec_path(spec.type)

        def build(with_context: CPIContext) -> ExternalCPI:
            return ExternalCPI(
                path,
                properties=spec.properties,
                context=with_context,
                timeout=self._external_timeout,
                cpi_log=self._cpi_log,
            )

        try:
            info = build(context).info()
        except NotImplementedError_:
            raise NotSupportedError("info", "CPI must report api_version via info") from None
        version = min(info.api_version, PREFERRED_CPI_API_VERSION)
        _log.debug("Using cpi_version %s for CPI '%s'", version, spec.name)
        return build(_with_api_version(context, version))


def _request_id() -> str:
    # The reference's form; a label for matching log lines, not a secret.
    return f"cpi-{random.randint(100000, 999999)}"


def _with_api_version(context: CPIContext, version: int) -> CPIContext:
    return CPIContext(
        director_uuid=context.director_uuid,
        request_id=context.request_id,
        api_version=version,
        stemcell_api_version=context.stemcell_api_version,
    )


def _log_calls(cpi: CPI, *, secret_context_keys: list[str], cpi_log: CPILog | None) -> None:
    """Make every CPI method of the in-process `cpi` log its request and response, as an
    external CPI's calls are logged (the debug log; the task's CPI log when given).

    The wrappers are set on the instance, so the object stays the plugin's own class.
    """
    for method in CPI_METHODS:
        bound = getattr(cpi, method)
        setattr(cpi, method, _logged(bound, method, cpi, secret_context_keys, cpi_log))


def _logged(
    bound: Callable[..., Any],
    method: str,
    cpi: CPI,
    secret_context_keys: list[str],
    cpi_log: CPILog | None,
) -> Callable[..., Any]:
    request_id = cpi.context.request_id

    def write(text: str) -> None:
        _log.debug("%s", text)
        if cpi_log is not None:
            cpi_log(text + "\n")

    @functools.wraps(bound)
    def call(*arguments: Any) -> Any:
        request = {
            "method": method,
            "arguments": list(arguments),
            "context": {"director_uuid": cpi.context.director_uuid, "request_id": request_id},
        }
        shown = redact_request(request, secret_context_keys=secret_context_keys)
        write(f"[{type(cpi).__name__}] [{request_id}] request: {_json(shown)}")
        try:
            result = bound(*arguments)
        except Exception as error:
            kind = error.wire_type if isinstance(error, CPIError) else type(error).__name__
            write(f"[{type(cpi).__name__}] [{request_id}] error: {kind}: {error}")
            raise
        write(f"[{type(cpi).__name__}] [{request_id}] response: {_json({'result': result})}")
        return result

    return call


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(unstructure(value), default=str)
