"""The external CPI protocol (JSON over stdin/stdout), both ways.

`serve` makes a CPI class an executable a real director (or the reference CLI's
create-env) can run: one JSON request on stdin, one ``{"result", "error", "log"}``
response on stdout. `ExternalCPI` is the other side: any CPI executable, a real BOSH
CPI binary included, behind the `CPI` class, one process per call as the director runs
them.

Properties reach a served CPI in two ways, as they reach real CPIs: a config file named
on the command line (``-configFile PATH``, as bosh-aws-cpi takes it, or the first
argument) or in ``BOSH_CPI_CONFIG``, and the cpi-config properties the director merges
into the request's ``context``; the context wins.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from bosh_core.cpi.base import CPI, CPI_METHODS
from bosh_core.cpi.errors import (
    WIRE_TYPES,
    CloudError,
    CPIError,
    CPIResponseError,
    CPITimeoutError,
    NotImplementedError_,
    NotSupportedError,
)
from bosh_core.cpi.types import (
    VMCID,
    CloudProperties,
    CPIContext,
    CPIInfo,
    CreatedVM,
    DiskCID,
    DiskHint,
    Environment,
    Metadata,
    Networks,
    SnapshotCID,
    StemcellCID,
)
from bosh_core.errors import BoshError
from bosh_core.mappings import deep_merge

__all__ = [
    "CONFIG_ENV",
    "DIRECTOR_PATH",
    "ExternalCPI",
    "handle_request",
    "load_properties",
    "redact_request",
    "serve",
]

CONFIG_ENV = "BOSH_CPI_CONFIG"
LOG_LEVEL_ENV = "BOSH_CPI_LOG_LEVEL"
DIRECTOR_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
"""The PATH a director gives a CPI process (its whole environment is PATH and TMPDIR)."""

_RESERVED_CONTEXT = ("director_uuid", "request_id", "vm")
_INVALID_CALL = "InvalidCall"
_CONFIG_OPTIONS = ("-configFile", "--configFile", "--config-file", "-configPath", "-c")
_REDACTED = "<redacted>"

logger = logging.getLogger(__name__)


# --- serving a CPI class -------------------------------------------------------------


def serve(
    cpi_class: type[CPI],
    *,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
) -> None:
    """Answer one CPI request from stdin on stdout, as a CPI executable's ``main``.

    `argv` (without the program name) and `environ` default to the process's. While the
    CPI runs, file descriptor 1 points at stderr, so stray prints (or processes the CPI
    starts) cannot corrupt the response; Python logging at ``BOSH_CPI_LOG_LEVEL``
    (default INFO) goes into the response's ``log``.
    """
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    request = (stdin or sys.stdin.buffer).read()
    out = stdout or _private_stdout()
    with _captured_logs(environ.get(LOG_LEVEL_ENV, "INFO")) as log:
        try:
            properties = load_properties(argv, environ)
        except BoshError as exc:
            response = _error_response(CPIError(str(exc)))
        else:
            response = handle_request(cpi_class, request, properties=properties)
    response["log"] = log.getvalue()
    out.write(json.dumps(response).encode())
    out.flush()


def load_properties(argv: Sequence[str], environ: Mapping[str, str]) -> dict[str, Any]:
    """The properties in the config file named by `argv` or ``BOSH_CPI_CONFIG`` ({} if none).

    JSON or YAML; a document shaped as Ruby CPIs read it (``cloud: {properties: ...}``)
    gives its ``cloud.properties``.
    """
    path = _config_path(list(argv)) or environ.get(CONFIG_ENV)
    if not path:
        return {}
    from bosh_core.serialization import load_yaml

    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise CPIError(f"Cannot read the CPI config file '{path}': {exc.strerror}") from exc
    document = load_yaml(text, source=path) if text.strip() else {}
    if not isinstance(document, dict):
        raise CPIError(f"The CPI config file '{path}' must hold a map of properties")
    cloud = document.get("cloud")
    if isinstance(cloud, dict) and isinstance(cloud.get("properties"), dict):
        return dict(cloud["properties"])
    return document


def handle_request(
    cpi_class: type[CPI], request: str | bytes, *, properties: Mapping[str, Any]
) -> dict[str, Any]:
    """The response (without ``log``) to one serialized request; never raises for bad input."""
    try:
        parsed = json.loads(request)
    except ValueError as exc:
        return _invalid_call(f"Request cannot be deserialized, details: {exc}")
    if not isinstance(parsed, dict):
        return _invalid_call("Request must be a JSON object")
    method = parsed.get("method")
    if not isinstance(method, str):
        return _invalid_call(f"Method must be a String, got: '{method!r}'")
    if method not in CPI_METHODS:
        return _error_response(NotImplementedError_(f"Method is not known, got '{method}'"))
    arguments = parsed.get("arguments", [])
    if not isinstance(arguments, list):
        return _invalid_call("Arguments must be an Array")
    raw_context = parsed.get("context") or {}
    if not isinstance(raw_context, dict):
        return _invalid_call("Context must be a Hash")
    context = _context_from_request(raw_context, parsed.get("api_version"))
    merged = deep_merge(
        properties, {k: v for k, v in raw_context.items() if k not in _RESERVED_CONTEXT}
    )
    logger.debug("%s request %s", method, context.request_id)
    try:
        cpi = cpi_class(merged, context=context)
        bound = getattr(cpi, method)
        try:
            inspect.signature(bound).bind(*arguments)
        except TypeError as exc:
            return _invalid_call(f"Arguments are not correct, details: '{exc}'")
        result = bound(*arguments)
    except CPIError as exc:
        logger.debug("%s failed", method, exc_info=True)
        return _error_response(exc)
    except Exception as exc:
        logger.error("%s failed unexpectedly:\n%s", method, traceback.format_exc())
        return _error_response(CloudError(str(exc) or type(exc).__name__))
    return {"result": _result_to_wire(method, result, context.api_version), "error": None}


def _config_path(argv: list[str]) -> str | None:
    for index, argument in enumerate(argv):
        name, equals, value = argument.partition("=")
        if name in _CONFIG_OPTIONS:
            if equals:
                return value
            if index + 1 < len(argv):
                return argv[index + 1]
            raise CPIError(f"{argument} needs a path")
    if len(argv) == 1 and not argv[0].startswith("-"):
        return argv[0]
    if argv:
        raise CPIError(f"Unexpected arguments {argv!r}; pass the config file as -configFile PATH")
    return None


def _context_from_request(raw: Mapping[str, Any], api_version: Any) -> CPIContext:
    vm = raw.get("vm")
    stemcell = vm.get("stemcell") if isinstance(vm, dict) else None
    stemcell_version = stemcell.get("api_version") if isinstance(stemcell, dict) else None
    return CPIContext(
        director_uuid=str(raw.get("director_uuid") or ""),
        request_id=str(raw.get("request_id") or ""),
        api_version=api_version if isinstance(api_version, int) else 1,
        stemcell_api_version=stemcell_version if isinstance(stemcell_version, int) else None,
    )


def _result_to_wire(method: str, result: Any, api_version: int) -> Any:
    # CPI API v1 callers expect a bare VM id and no disk hint.
    if api_version < 2 and method == "create_vm":
        return result[0]
    if api_version < 2 and method == "attach_disk":
        return None
    from bosh_core.serialization import unstructure

    return unstructure(result)


def _error_response(error: CPIError) -> dict[str, Any]:
    return {
        "result": None,
        "error": {
            "type": error.wire_type,
            "message": error.message,
            "ok_to_retry": error.ok_to_retry,
        },
    }


def _invalid_call(message: str) -> dict[str, Any]:
    return {
        "result": None,
        "error": {"type": _INVALID_CALL, "message": message, "ok_to_retry": False},
    }


def _private_stdout() -> IO[bytes]:
    # Keep the real stdout for the response; everything else writing to fd 1 meets stderr.
    sys.stdout.flush()
    response = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return response


@contextlib.contextmanager
def _captured_logs(level: str) -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(name)s] %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.getLevelName(level.upper()) if level else logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


# --- running a CPI executable --------------------------------------------------------


def redact_request(
    request: Mapping[str, Any], *, secret_context_keys: Sequence[str]
) -> dict[str, Any]:
    """A copy of `request` fit for logs, redacted as the director does.

    The cpi-config properties in the context, all cloud properties of create_vm and
    create_disk (network ones too), and create_vm's environment except ``bosh.group``,
    ``bosh.groups`` and ``bosh.tags`` become ``<redacted>``.
    """
    redacted = dict(request)
    context = request.get("context")
    if isinstance(context, Mapping):
        redacted["context"] = {
            k: _REDACTED if k in secret_context_keys else v for k, v in context.items()
        }
    arguments = list(request.get("arguments") or [])
    method = request.get("method")
    if method == "create_vm" and len(arguments) == 6:
        arguments[2] = _redact_all_but((), arguments[2])
        if isinstance(arguments[3], Mapping):
            arguments[3] = {
                name: {
                    **network,
                    "cloud_properties": _redact_all_but((), network["cloud_properties"]),
                }
                if isinstance(network, Mapping)
                and isinstance(network.get("cloud_properties"), Mapping)
                else network
                for name, network in arguments[3].items()
            }
        environment = _redact_all_but(("bosh",), arguments[5])
        if isinstance(environment.get("bosh"), Mapping):
            environment["bosh"] = _redact_all_but(("group", "groups", "tags"), environment["bosh"])
        arguments[5] = environment
    elif method == "create_disk" and len(arguments) >= 2:
        arguments[1] = _redact_all_but((), arguments[1])
    redacted["arguments"] = arguments
    return redacted


def _redact_all_but(keep: Sequence[str], value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {k: v if k in keep else _REDACTED for k, v in value.items()}


class ExternalCPI(CPI):
    """A CPI executable behind the `CPI` class: one process per call, as a director runs it.

    The process gets the director's minimal environment (``PATH``, ``TMPDIR``) plus `env`;
    `properties` (a cpi-config entry's) are merged into each request's context. The
    response's ``log`` and the process's stderr go to `cpi_log` (the task's CPI log, as
    the director saves both); stderr is also logged at debug level. A call that takes
    longer than `timeout` seconds kills the process group and raises CPITimeoutError.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        properties: Mapping[str, Any] | None = None,
        context: CPIContext | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        cpi_log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(properties or {}, context=context or CPIContext())
        self.path = Path(path)
        self.env = dict(env or {})
        self.timeout = timeout
        self.cpi_log = cpi_log

    def info(self) -> CPIInfo:
        result = self._call("info")
        if not isinstance(result, dict):
            self._bad_result("info", result)
        formats = result.get("stemcell_formats") or []
        version = result.get("api_version", 1)
        if not isinstance(formats, list) or not isinstance(version, int):
            self._bad_result("info", result)
        return CPIInfo(stemcell_formats=tuple(str(f) for f in formats), api_version=version)

    def create_stemcell(self, image_path: str, cloud_properties: CloudProperties) -> StemcellCID:
        return StemcellCID(self._string("create_stemcell", image_path, cloud_properties))

    def delete_stemcell(self, stemcell_cid: StemcellCID) -> None:
        self._call("delete_stemcell", stemcell_cid)

    def create_vm(
        self,
        agent_id: str,
        stemcell_cid: StemcellCID,
        cloud_properties: CloudProperties,
        networks: Networks,
        disk_cids: list[DiskCID],
        environment: Environment,
    ) -> CreatedVM:
        result = self._call(
            "create_vm", agent_id, stemcell_cid, cloud_properties, networks, disk_cids, environment
        )
        if isinstance(result, str):  # CPI API v1: the networks are the ones asked for
            return CreatedVM(VMCID(result), networks)
        if (
            isinstance(result, list)
            and len(result) == 2
            and isinstance(result[0], str)
            and isinstance(result[1], dict)
        ):
            return CreatedVM(VMCID(result[0]), result[1])
        return self._bad_result("create_vm", result)

    def delete_vm(self, vm_cid: VMCID) -> None:
        self._call("delete_vm", vm_cid)

    def has_vm(self, vm_cid: VMCID) -> bool:
        return self._bool("has_vm", vm_cid)

    def reboot_vm(self, vm_cid: VMCID) -> None:
        self._call("reboot_vm", vm_cid)

    def set_vm_metadata(self, vm_cid: VMCID, metadata: Metadata) -> None:
        self._call("set_vm_metadata", vm_cid, metadata)

    def set_disk_metadata(self, disk_cid: DiskCID, metadata: Metadata) -> None:
        self._call("set_disk_metadata", disk_cid, metadata)

    def create_disk(
        self, size_mib: int, cloud_properties: CloudProperties, vm_cid: VMCID | None
    ) -> DiskCID:
        return DiskCID(self._string("create_disk", size_mib, cloud_properties, vm_cid))

    def delete_disk(self, disk_cid: DiskCID) -> None:
        self._call("delete_disk", disk_cid)

    def attach_disk(self, vm_cid: VMCID, disk_cid: DiskCID) -> DiskHint:
        result = self._call("attach_disk", vm_cid, disk_cid)
        if result is not None and not isinstance(result, str | dict):
            self._bad_result("attach_disk", result)
        return result

    def detach_disk(self, vm_cid: VMCID, disk_cid: DiskCID) -> None:
        self._call("detach_disk", vm_cid, disk_cid)

    def has_disk(self, disk_cid: DiskCID) -> bool:
        return self._bool("has_disk", disk_cid)

    def get_disks(self, vm_cid: VMCID) -> list[DiskCID]:
        result = self._call("get_disks", vm_cid)
        if not isinstance(result, list) or not all(isinstance(cid, str) for cid in result):
            self._bad_result("get_disks", result)
        return [DiskCID(cid) for cid in result]

    def resize_disk(self, disk_cid: DiskCID, new_size_mib: int) -> None:
        self._call("resize_disk", disk_cid, new_size_mib)

    def update_disk(
        self, disk_cid: DiskCID, new_size_mib: int, cloud_properties: CloudProperties
    ) -> DiskCID:
        return DiskCID(self._string("update_disk", disk_cid, new_size_mib, cloud_properties))

    def snapshot_disk(self, disk_cid: DiskCID, metadata: Metadata) -> SnapshotCID:
        return SnapshotCID(self._string("snapshot_disk", disk_cid, metadata))

    def delete_snapshot(self, snapshot_cid: SnapshotCID) -> None:
        self._call("delete_snapshot", snapshot_cid)

    def calculate_vm_cloud_properties(self, requirements: Mapping[str, Any]) -> CloudProperties:
        result = self._call("calculate_vm_cloud_properties", requirements)
        if not isinstance(result, dict):
            self._bad_result("calculate_vm_cloud_properties", result)
        return result

    # -- one call ----------------------------------------------------------------------

    def _string(self, method: str, *arguments: Any) -> str:
        result = self._call(method, *arguments)
        if not isinstance(result, str):
            self._bad_result(method, result)
        return result

    def _bool(self, method: str, *arguments: Any) -> bool:
        result = self._call(method, *arguments)
        if not isinstance(result, bool):
            self._bad_result(method, result)
        return result

    def _bad_result(self, method: str, result: Any) -> NoReturn:
        shown = json.dumps(result)
        raise CPIResponseError(
            f"Invalid CPI response from '{self.path}' for '{method}':"
            f" unexpected result {shown[:200]}"
        )

    def _call(self, method: str, *arguments: Any) -> Any:
        request_id = f"cpi-{random.randint(100000, 999999)}"  # a label, not a secret
        context: dict[str, Any] = {
            "director_uuid": self.context.director_uuid,
            "request_id": request_id,
        }
        if self.context.stemcell_api_version is not None:
            context["vm"] = {"stemcell": {"api_version": self.context.stemcell_api_version}}
        context.update(self.properties)
        request = {
            "method": method,
            "arguments": list(arguments),
            "context": context,
            "api_version": self.context.api_version,
        }
        if logger.isEnabledFor(logging.DEBUG):
            shown = redact_request(request, secret_context_keys=list(self.properties))
            logger.debug(
                "[%s] request: %s with command: %s", request_id, json.dumps(shown), self.path
            )
        stdout, stderr, status = self._run(json.dumps(request).encode(), method, request_id)
        if stderr:
            logger.debug("[%s] stderr: %s", request_id, stderr)
            self._save_log(stderr)
        response = self._parse(stdout, stderr, status, method, request_id)
        self._save_log(response["log"])
        error = response["error"]
        if error is not None:
            raise _error_from_wire(error, method=method, request_id=request_id)
        return response["result"]

    def _run(self, request: bytes, method: str, request_id: str) -> tuple[bytes, str, int]:
        if not (self.path.is_file() and os.access(self.path, os.X_OK)):
            raise CPIResponseError(f"Failed to run cpi: '{self.path}' is not executable")
        env = {"PATH": DIRECTOR_PATH, "TMPDIR": tempfile.gettempdir(), **self.env}
        process = subprocess.Popen(
            [str(self.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(request, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise CPITimeoutError(
                f"CPI '{self.path}' did not answer '{method}' within {self.timeout:g} s"
                f" (CPI request ID: '{request_id}'); it was killed"
            ) from None
        return stdout, stderr.decode(errors="replace"), process.returncode

    def _parse(
        self, stdout: bytes, stderr: str, status: int, method: str, request_id: str
    ) -> dict[str, Any]:
        where = (
            f"from '{self.path}' for '{method}'"
            f" (CPI request ID: '{request_id}', exit status {status})"
        )
        tail = stderr.strip().splitlines()[-5:]
        hint = f"; stderr ends with: {' | '.join(tail)}" if tail else ""
        try:
            response = json.loads(stdout)
        except ValueError as exc:
            shown = stdout[:200].decode(errors="replace") or "nothing"
            raise CPIResponseError(
                f"Invalid CPI response {where}: not JSON ({exc}); stdout was {shown!r}{hint}"
            ) from None
        problem = _schema_problem(response)
        if problem:
            raise CPIResponseError(f"Invalid CPI response {where}: {problem}{hint}")
        return response  # type: ignore[no-any-return]

    def _save_log(self, text: str) -> None:
        if text and self.cpi_log is not None:
            self.cpi_log(text)


def _schema_problem(response: Any) -> str | None:
    if not isinstance(response, dict):
        return "not a JSON object"
    missing = [key for key in ("result", "error", "log") if key not in response]
    if missing:
        return f"missing {', '.join(missing)}"
    if not isinstance(response["log"], str):
        return "'log' is not a string"
    error = response["error"]
    if error is None:
        return None
    if not (
        isinstance(error, dict)
        and isinstance(error.get("type"), str)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("ok_to_retry"), bool)
    ):
        return "'error' must be null or {type: string, message: string, ok_to_retry: bool}"
    return None


def _error_from_wire(error: Mapping[str, Any], *, method: str, request_id: str) -> CPIError:
    wire_type, message = error["type"], error["message"]
    text = (
        f"CPI error '{wire_type}' with message '{message}' in '{method}' CPI method"
        f" (CPI request ID: '{request_id}')"
    )
    # Older CPI libraries say "not implemented" in their own words.
    if (wire_type == _INVALID_CALL and message.startswith("Method is not known")) or (
        wire_type == CloudError.wire_type and message.startswith("Invalid Method:")
    ):
        return NotImplementedError_(text)
    cls = WIRE_TYPES.get(wire_type)
    if cls is None:
        return CPIError(f"Unknown {text}")
    if cls is NotSupportedError:
        unsupported = NotSupportedError(method, text)
        unsupported.ok_to_retry = error["ok_to_retry"]
        return unsupported
    return cls(text, ok_to_retry=error["ok_to_retry"])
