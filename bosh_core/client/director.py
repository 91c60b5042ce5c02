"""A synchronous client of the director's REST API.

    director = Director("https://10.0.0.6:25555", ca_cert="ca.pem",
                        client="admin", client_secret="...")
    director.info().name
    task = director.follow_task(12, on_event=print)   # polls every 0.5 s until it ends
    director.task_output(12, "result")

Results are frozen attrs objects; failures are `ClientError` subclasses: the director's
``{"code", "description"}`` becomes `DirectorResponseError` (with ``code`` and
``http_status``), a 401 becomes `NotLoggedInError`.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import attrs
import httpx

from bosh_core.blobstore import staged_destination
from bosh_core.errors import BoshError

__all__ = [
    "DEFAULT_PORT",
    "RUNNING_STATES",
    "CertificateExpiry",
    "ClientError",
    "Director",
    "DirectorResponseError",
    "Event",
    "EventFilter",
    "Info",
    "Lock",
    "NotLoggedInError",
    "RawResponse",
    "Task",
    "TaskEvent",
    "TaskOutput",
    "normalize_url",
]
__all__ += [
    "CompiledPackageInfo",
    "DeploymentSummary",
    "InspectedRelease",
    "InstanceRecord",
    "NamedVersion",
    "ReleaseJob",
    "ReleaseLink",
    "ReleasePackage",
    "ReleaseVersionSummary",
    "Stemcell",
]
__all__ += ["DiskUsage", "MemoryUsage", "ProcessInfo", "VMInfo", "VMVitals"]

DEFAULT_PORT: Final = 25555
RUNNING_STATES: Final = frozenset({"queued", "processing", "cancelling"})
"""States the reference CLI waits on; ``done`` is success, anything else failure."""

_POLL_INTERVAL: Final = 0.5
_UPLOAD_CHUNK: Final = 1 << 20
_TARBALL_CONTENT_TYPE: Final = "application/x-compressed"
_YAML_CONTENT_TYPE: Final = "text/yaml"


class ClientError(BoshError):
    """The director could not be reached or answered with a failure."""


class DirectorResponseError(ClientError):
    """A failure answer: ``code`` is BOSH's error code when the body carried one."""

    def __init__(self, message: str, *, http_status: int, code: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code


class NotLoggedInError(DirectorResponseError):
    """401: no or wrong credentials."""


def _epoch(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


@attrs.frozen
class Info:
    """``GET /info``. ``features`` maps each feature to whether it is enabled."""

    name: str
    uuid: str
    version: str
    user: str | None
    cpi: str | None
    stemcell_os: str | None
    stemcell_version: str | None
    auth_type: str
    auth_options: Mapping[str, Any]
    features: Mapping[str, bool]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Info:
        auth = body.get("user_authentication") or {}
        return cls(
            name=str(body.get("name") or ""),
            uuid=str(body.get("uuid") or ""),
            version=str(body.get("version") or ""),
            user=body.get("user") or None,
            cpi=body.get("cpi") or None,
            stemcell_os=body.get("stemcell_os") or None,
            stemcell_version=body.get("stemcell_version") or None,
            auth_type=str(auth.get("type") or ""),
            auth_options=dict(auth.get("options") or {}),
            features={
                name: bool((feature or {}).get("status"))
                for name, feature in (body.get("features") or {}).items()
            },
        )


@attrs.frozen
class Task:
    """One task as ``GET /tasks`` shows it; ``finished_at`` is the API's ``timestamp``."""

    id: int
    state: str
    description: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result: str | None
    user: str
    deployment: str | None
    context_id: str

    @property
    def is_running(self) -> bool:
        return self.state in RUNNING_STATES

    @property
    def succeeded(self) -> bool:
        return self.state == "done"

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Task:
        return cls(
            id=int(body["id"]),
            state=str(body.get("state") or ""),
            description=str(body.get("description") or ""),
            started_at=_epoch(body.get("started_at")),
            finished_at=_epoch(body.get("timestamp")),
            result=body.get("result"),
            user=str(body.get("user") or ""),
            deployment=body.get("deployment"),
            context_id=str(body.get("context_id") or ""),
        )


@attrs.frozen
class TaskOutput:
    """A piece of a task's output file from `offset` (empty when the director answered
    416 or 204: nothing past `offset` yet)."""

    data: bytes
    offset: int
    next_offset: int


@attrs.frozen
class TaskEvent:
    """One line of a task's event log (a stage step, a warning or a task error)."""

    time: int
    stage: str = ""
    tags: tuple[str, ...] = ()
    total: int = 0
    task: str = ""
    index: int = 0
    state: str = ""
    progress: int = 0
    status: str = ""
    error: str = ""
    error_code: int | None = None
    type: str = ""
    message: str = ""

    @classmethod
    def from_line(cls, line: str) -> TaskEvent:
        entry = json.loads(line)
        data = entry.get("data") or {}
        error = entry.get("error")
        return cls(
            time=int(entry.get("time") or 0),
            stage=str(entry.get("stage") or ""),
            tags=tuple(str(tag) for tag in entry.get("tags") or ()),
            total=int(entry.get("total") or 0),
            task=str(entry.get("task") or ""),
            index=int(entry.get("index") or 0),
            state=str(entry.get("state") or ""),
            progress=int(entry.get("progress") or 0),
            status=str(data.get("status") or ""),
            error=str(data.get("error") or "") if not isinstance(error, Mapping) else "",
            error_code=int(error["code"])
            if isinstance(error, Mapping) and "code" in error
            else None,
            type=str(entry.get("type") or ""),
            message=str(
                (error.get("message") if isinstance(error, Mapping) else None)
                or entry.get("message")
                or ""
            ),
        )

    @property
    def is_task_error(self) -> bool:
        """The task-level error line (``{"time", "error": {code, message}}``)."""
        return self.error_code is not None


@attrs.frozen
class Lock:
    """One entry of ``GET /locks``."""

    type: str
    resource: tuple[str, ...]
    task_id: str
    expires_at: dt.datetime | None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Lock:
        return cls(
            type=str(body.get("type") or ""),
            resource=tuple(str(item) for item in body.get("resource") or ()),
            task_id=str(body.get("task_id") or ""),
            expires_at=_epoch(body.get("timeout")),
        )


@attrs.frozen
class Event:
    """One audit event (``GET /events``); absent fields are empty strings."""

    id: str
    parent_id: str
    timestamp: dt.datetime | None
    user: str
    action: str
    object_type: str
    object_name: str
    task: str
    deployment: str
    instance: str
    error: str
    context: Mapping[str, Any]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Event:
        def text(key: str) -> str:
            value = body.get(key)
            return "" if value is None else str(value)

        return cls(
            id=text("id"),
            parent_id=text("parent_id"),
            timestamp=_epoch(body.get("timestamp")),
            user=text("user"),
            action=text("action"),
            object_type=text("object_type"),
            object_name=text("object_name"),
            task=text("task"),
            deployment=text("deployment"),
            instance=text("instance"),
            error=text("error"),
            context=dict(body.get("context") or {}),
        )


@attrs.frozen(kw_only=True)
class EventFilter:
    """``bosh events`` filters; times as the CLI takes them (epoch or a parseable time)."""

    before_id: str | None = None
    before: str | None = None
    after: str | None = None
    task: str | None = None
    deployment: str | None = None
    instance: str | None = None
    user: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_name: str | None = None

    def query(self) -> dict[str, str]:
        names = {"before": "before_time", "after": "after_time"}
        return {
            names.get(field.name, field.name): value
            for field in attrs.fields(EventFilter)
            if (value := getattr(self, field.name))
        }


@attrs.frozen
class CertificateExpiry:
    """One certificate of ``GET /director/certificate_expiry`` (``bosh env --details``)."""

    path: str
    expiry: str
    days_left: int

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> CertificateExpiry:
        return cls(
            path=str(body.get("certificate_path") or ""),
            expiry=str(body.get("expiry") or ""),
            days_left=int(body.get("days_left") or 0),
        )


@attrs.frozen
class RawResponse:
    """An answer as it came (``bosh curl``): status line, headers in order, body."""

    http_version: str
    status_code: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def succeeded(self) -> bool:
        """The statuses the reference CLI takes as success for a raw request."""
        return self.status_code in (200, 201, 204, 206, 302)


@attrs.frozen
class NamedVersion:
    """A release or stemcell a deployment uses."""

    name: str
    version: str

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> NamedVersion:
        return cls(name=str(body.get("name") or ""), version=str(body.get("version") or ""))


@attrs.frozen
class DeploymentSummary:
    """One entry of ``GET /deployments``; `cloud_config` (``latest``, ``outdated`` or
    ``none``) and `locked` are None when the request excluded them."""

    name: str
    teams: tuple[str, ...]
    releases: tuple[NamedVersion, ...]
    stemcells: tuple[NamedVersion, ...]
    cloud_config: str | None
    locked: bool | None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> DeploymentSummary:
        locked = body.get("locked")
        return cls(
            name=str(body.get("name") or ""),
            teams=tuple(str(team) for team in body.get("teams") or ()),
            releases=tuple(NamedVersion.from_api(item) for item in body.get("releases") or ()),
            stemcells=tuple(NamedVersion.from_api(item) for item in body.get("stemcells") or ()),
            cloud_config=body.get("cloud_config"),
            locked=None if locked is None else bool(locked),
        )


@attrs.frozen
class ReleaseVersionSummary:
    """One version of one release, as ``GET /releases`` lists them (``bosh releases``)."""

    name: str
    version: str
    commit_hash: str
    uncommitted_changes: bool
    currently_deployed: bool
    job_names: tuple[str, ...]

    @classmethod
    def from_api(cls, name: str, body: Mapping[str, Any]) -> ReleaseVersionSummary:
        return cls(
            name=name,
            version=str(body.get("version") or ""),
            commit_hash=str(body.get("commit_hash") or ""),
            uncommitted_changes=bool(body.get("uncommitted_changes")),
            currently_deployed=bool(body.get("currently_deployed")),
            job_names=tuple(str(job) for job in body.get("job_names") or ()),
        )


@attrs.frozen
class ReleaseLink:
    """A link a release job consumes or provides."""

    name: str
    type: str
    optional: bool = False

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> ReleaseLink:
        return cls(
            name=str(body.get("name") or ""),
            type=str(body.get("type") or ""),
            optional=bool(body.get("optional")),
        )


@attrs.frozen
class ReleaseJob:
    """A job of an inspected release version; `blobstore_id` and `sha1` are its archive's."""

    name: str
    fingerprint: str
    blobstore_id: str
    sha1: str
    consumes: tuple[ReleaseLink, ...]
    provides: tuple[ReleaseLink, ...]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> ReleaseJob:
        return cls(
            name=str(body.get("name") or ""),
            fingerprint=str(body.get("fingerprint") or ""),
            blobstore_id=str(body.get("blobstore_id") or ""),
            sha1=str(body.get("sha1") or ""),
            consumes=tuple(ReleaseLink.from_api(link) for link in body.get("consumes") or ()),
            provides=tuple(ReleaseLink.from_api(link) for link in body.get("provides") or ()),
        )


@attrs.frozen
class CompiledPackageInfo:
    """A package compiled for `stemcell` (``os/version``)."""

    stemcell: str
    blobstore_id: str
    sha1: str

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> CompiledPackageInfo:
        return cls(
            stemcell=str(body.get("stemcell") or ""),
            blobstore_id=str(body.get("blobstore_id") or ""),
            sha1=str(body.get("sha1") or ""),
        )


@attrs.frozen
class ReleasePackage:
    """A package of an inspected release version: its source archive (empty ids for a
    package that came only compiled) and its compiled builds."""

    name: str
    fingerprint: str
    blobstore_id: str
    sha1: str
    compiled_packages: tuple[CompiledPackageInfo, ...]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> ReleasePackage:
        return cls(
            name=str(body.get("name") or ""),
            fingerprint=str(body.get("fingerprint") or ""),
            blobstore_id=str(body.get("blobstore_id") or ""),
            sha1=str(body.get("sha1") or ""),
            compiled_packages=tuple(
                CompiledPackageInfo.from_api(item) for item in body.get("compiled_packages") or ()
            ),
        )


@attrs.frozen
class InspectedRelease:
    """``GET /releases/:name?version=`` (``bosh inspect-release``)."""

    jobs: tuple[ReleaseJob, ...]
    packages: tuple[ReleasePackage, ...]

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> InspectedRelease:
        return cls(
            jobs=tuple(ReleaseJob.from_api(item) for item in body.get("jobs") or ()),
            packages=tuple(ReleasePackage.from_api(item) for item in body.get("packages") or ()),
        )


@attrs.frozen
class Stemcell:
    """One entry of ``GET /stemcells``; `deployments` names those using it."""

    name: str
    version: str
    operating_system: str
    cid: str
    cpi: str
    deployments: tuple[str, ...]
    api_version: int | None

    @property
    def currently_deployed(self) -> bool:
        return bool(self.deployments)

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Stemcell:
        api_version = body.get("api_version")
        return cls(
            name=str(body.get("name") or ""),
            version=str(body.get("version") or ""),
            operating_system=str(body.get("operating_system") or ""),
            cid=str(body.get("cid") or ""),
            cpi=str(body.get("cpi") or ""),
            deployments=tuple(
                str(item.get("name") or "") if isinstance(item, Mapping) else str(item)
                for item in body.get("deployments") or ()
            ),
            api_version=None if api_version is None else int(api_version),
        )


@attrs.frozen
class InstanceRecord:
    """An instance (or one of its VMs) as the director's database has it, without
    asking the agent: ``GET /deployments/:d/instances`` sets `expects_vm`,
    ``/vms`` sets `active`."""

    id: str
    job: str
    index: int
    az: str | None
    agent_id: str | None
    vm_cid: str | None
    ips: tuple[str, ...]
    vm_created_at: dt.datetime | None
    expects_vm: bool | None = None
    active: bool | None = None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> InstanceRecord:
        created = body.get("vm_created_at")
        return cls(
            id=str(body.get("id") or ""),
            job=str(body.get("job") or ""),
            index=int(body.get("index") or 0),
            az=body.get("az"),
            agent_id=body.get("agent_id"),
            vm_cid=body.get("cid"),
            ips=tuple(str(ip) for ip in body.get("ips") or ()),
            vm_created_at=dt.datetime.fromisoformat(created) if created else None,
            expects_vm=body.get("expects_vm"),
            active=body.get("active"),
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@attrs.frozen
class MemoryUsage:
    """Memory or swap in use, as the agent reports it (text: ``"12.5"``, ``"20480"``)."""

    kb: str = ""
    percent: str = ""

    @classmethod
    def from_api(cls, body: Any) -> MemoryUsage:
        body = body if isinstance(body, Mapping) else {}
        return cls(kb=_text(body.get("kb")), percent=_text(body.get("percent")))


@attrs.frozen
class DiskUsage:
    """A disk's use in percent of its space and of its inodes (text, as reported)."""

    percent: str = ""
    inode_percent: str = ""

    @classmethod
    def from_api(cls, body: Any) -> DiskUsage:
        body = body if isinstance(body, Mapping) else {}
        return cls(
            percent=_text(body.get("percent")), inode_percent=_text(body.get("inode_percent"))
        )


@attrs.frozen
class VMVitals:
    """A VM's vitals from its agent: load averages, CPU percentages, memory, swap, the
    use of its ``system``, ``ephemeral`` and ``persistent`` disks, uptime."""

    load: tuple[str, ...] = ()
    cpu_user: str = ""
    cpu_sys: str = ""
    cpu_wait: str = ""
    mem: MemoryUsage = MemoryUsage()
    swap: MemoryUsage = MemoryUsage()
    disks: Mapping[str, DiskUsage] = attrs.field(factory=dict)
    uptime_secs: int | None = None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> VMVitals:
        cpu = body.get("cpu") or {}
        return cls(
            load=tuple(_text(value) for value in body.get("load") or ()),
            cpu_user=_text(cpu.get("user")),
            cpu_sys=_text(cpu.get("sys")),
            cpu_wait=_text(cpu.get("wait")),
            mem=MemoryUsage.from_api(body.get("mem")),
            swap=MemoryUsage.from_api(body.get("swap")),
            disks={
                str(name): DiskUsage.from_api(usage)
                for name, usage in (body.get("disk") or {}).items()
            },
            uptime_secs=_optional_int((body.get("uptime") or {}).get("secs")),
        )


@attrs.frozen
class ProcessInfo:
    """One supervised process on a VM, with its own vitals when the agent gave them."""

    name: str
    state: str
    uptime_secs: int | None = None
    mem_kb: int | None = None
    mem_percent: float | None = None
    cpu_total: float | None = None

    @property
    def is_running(self) -> bool:
        return self.state == "running"

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> ProcessInfo:
        mem = body.get("mem") or {}
        return cls(
            name=_text(body.get("name")),
            state=_text(body.get("state")),
            uptime_secs=_optional_int((body.get("uptime") or {}).get("secs")),
            mem_kb=_optional_int(mem.get("kb")),
            mem_percent=_optional_float(mem.get("percent")),
            cpu_total=_optional_float((body.get("cpu") or {}).get("total")),
        )


@attrs.frozen
class VMInfo:
    """An instance (``bosh instances``) or one of its VMs (``bosh vms``) as the director
    and the VM's agent see it: one line of a ``vms`` task's result, from
    ``?format=full``. `job_state` is the agent's (``running``, ``failing``...,
    ``unresponsive agent``; None without a VM); `state` what the operator asked for."""

    deployment: str
    id: str
    job_name: str
    index: int | None
    az: str | None
    state: str
    job_state: str | None
    vm_cid: str | None
    agent_id: str | None
    active: bool | None
    vm_type: str | None
    ips: tuple[str, ...]
    disk_cids: tuple[str, ...]
    bootstrap: bool
    ignore: bool
    vm_created_at: dt.datetime | None
    cloud_properties: Mapping[str, Any]
    stemcell_name: str | None
    stemcell_version: str | None
    stemcell_api_version: int | None
    vitals: VMVitals | None
    processes: tuple[ProcessInfo, ...]

    @property
    def process_state(self) -> str:
        """The state the CLI shows: the agent's, except ``running`` without processes
        (nothing supervised), which says nothing and is shown empty."""
        state = self.job_state or ""
        return state if state != "running" or self.processes else ""

    @property
    def is_running(self) -> bool:
        """Running with every process running (``bosh instances --failing`` hides these)."""
        return self.process_state == "running" and all(p.is_running for p in self.processes)

    @classmethod
    def from_api(cls, body: Mapping[str, Any], *, deployment: str) -> VMInfo:
        """One result line; a single ``disk_cid`` stands for ``disk_cids`` when those
        are missing (older directors)."""
        created = body.get("vm_created_at")
        stemcell = body.get("stemcell") or {}
        vitals = body.get("vitals")
        disk_cids = tuple(str(cid) for cid in body.get("disk_cids") or ())
        if not disk_cids and body.get("disk_cid"):
            disk_cids = (str(body["disk_cid"]),)
        return cls(
            deployment=deployment,
            id=_text(body.get("id")),
            job_name=_text(body.get("job_name")),
            index=_optional_int(body.get("index")),
            az=body.get("az"),
            state=_text(body.get("state")),
            job_state=body.get("job_state"),
            vm_cid=body.get("vm_cid"),
            agent_id=body.get("agent_id"),
            active=body.get("active"),
            vm_type=body.get("vm_type") or body.get("resource_pool"),
            ips=tuple(str(ip) for ip in body.get("ips") or ()),
            disk_cids=disk_cids,
            bootstrap=bool(body.get("bootstrap")),
            ignore=bool(body.get("ignore")),
            vm_created_at=dt.datetime.fromisoformat(created) if created else None,
            cloud_properties=dict(body.get("cloud_properties") or {}),
            stemcell_name=stemcell.get("name"),
            stemcell_version=stemcell.get("version"),
            stemcell_api_version=_optional_int(stemcell.get("api_version")),
            vitals=VMVitals.from_api(vitals) if isinstance(vitals, Mapping) else None,
            processes=tuple(ProcessInfo.from_api(p) for p in body.get("processes") or ()),
        )


def normalize_url(environment: str) -> str:
    """``10.0.0.6`` -> ``https://10.0.0.6:25555``: https, the director's port by default."""
    text = environment.strip()
    if not text:
        raise ClientError("Expected non-empty Director URL")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme != "https":
        raise ClientError(f"Expected an https Director URL, not '{environment}'")
    netloc = parts.netloc if parts.port is not None else f"{parts.netloc}:{DEFAULT_PORT}"
    return urlunsplit(("https", netloc, parts.path.rstrip("/"), "", ""))


def _ssl_context(ca_cert: str | None) -> ssl.SSLContext:
    if ca_cert is None or not ca_cert.strip():
        return ssl.create_default_context()
    if "-----BEGIN" in ca_cert:
        return ssl.create_default_context(cadata=ca_cert)
    return ssl.create_default_context(cafile=ca_cert)


class Director:
    """The director at `url` (see `normalize_url`), as basic-auth user `client`."""

    def __init__(
        self,
        url: str,
        *,
        ca_cert: str | None = None,
        client: str | None = None,
        client_secret: str | None = None,
        timeout: float = 30.0,
        poll_interval: float = _POLL_INTERVAL,
    ) -> None:
        self.url = normalize_url(url)
        self.client = client
        self._poll_interval = poll_interval
        auth = (client, client_secret or "") if client else None
        self._http = httpx.Client(
            base_url=self.url,
            verify=_ssl_context(ca_cert),
            auth=auth,
            timeout=timeout,
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Director:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ClientError(f"Performing request {method} '{self.url}{path}': {error}") from error
        if response.status_code not in ok:
            raise _failure(method, path, response)
        return response

    def _json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = self._request("GET", path, params=params)
        try:
            return response.json()
        except ValueError as error:
            raise ClientError(f"Unmarshaling Director response of GET '{path}': {error}") from error

    # -- endpoints ---------------------------------------------------------------------

    def info(self) -> Info:
        return Info.from_api(self._json("/info"))

    def tasks(
        self,
        *,
        states: tuple[str, ...] = (),
        limit: int | None = None,
        all_types: bool = False,
        deployment: str | None = None,
        context_id: str | None = None,
    ) -> list[Task]:
        """Tasks newest first. ``all_types`` is ``verbose=2`` (ssh, vms, logs... too)."""
        params = {"verbose": "2" if all_types else "1"}
        if states:
            params["state"] = ",".join(states)
        if limit is not None:
            params["limit"] = str(limit)
        if deployment:
            params["deployment"] = deployment
        if context_id is not None:
            params["context_id"] = context_id
        return [Task.from_api(item) for item in self._json("/tasks", params)]

    def current_tasks(self, *, all_types: bool = True, deployment: str | None = None) -> list[Task]:
        """Queued, processing and cancelling tasks (``bosh tasks`` without ``--recent``)."""
        return self.tasks(
            states=("processing", "cancelling", "queued"),
            all_types=all_types,
            deployment=deployment,
        )

    def task(self, task_id: int) -> Task:
        return Task.from_api(self._json(f"/tasks/{task_id}"))

    def task_output(self, task_id: int, output_type: str = "event", offset: int = 0) -> TaskOutput:
        """The bytes of the task's `output_type` file from `offset` on (``Range``)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._request(
            "GET",
            f"/tasks/{task_id}/output",
            ok=(200, 204, 206, 416),
            params={"type": output_type},
            headers=headers,
        )
        data = b"" if response.status_code in (204, 416) else response.content
        return TaskOutput(data=data, offset=offset, next_offset=offset + len(data))

    def follow_task(
        self,
        task_id: int,
        on_event: Callable[[TaskEvent], None] | None = None,
        *,
        output_type: str = "event",
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> Task:
        """Poll the task until it leaves the running states, reporting new output as it
        comes: raw bytes to `on_chunk`, and (for ``event`` output) each whole event line
        to `on_event`. Returns the final task; a failed task is not an exception here."""
        offset = 0
        pending = b""
        while True:
            # The state first: output read after it is complete for a finished task.
            task = self.task(task_id)
            piece = self.task_output(task_id, output_type, offset)
            offset = piece.next_offset
            if piece.data:
                if on_chunk is not None:
                    on_chunk(piece.data)
                if on_event is not None and output_type == "event":
                    pending += piece.data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            on_event(TaskEvent.from_line(line.decode()))
            if not task.is_running:
                return task
            time.sleep(self._poll_interval)

    def cancel_task(self, task_id: int) -> None:
        self._request("DELETE", f"/task/{task_id}", ok=(200, 204))

    def locks(self) -> list[Lock]:
        return [Lock.from_api(item) for item in self._json("/locks")]

    def events(self, filters: EventFilter | None = None) -> list[Event]:
        query = (filters or EventFilter()).query()
        return [Event.from_api(item) for item in self._json("/events", query)]

    def iter_events(self, filters: EventFilter | None = None) -> Iterator[Event]:
        """Every matching event, page by page (200 a page), newest first."""
        base = filters or EventFilter()
        page = self.events(base)
        while page:
            yield from page
            if len(page) < 200:
                return
            page = self.events(attrs.evolve(base, before_id=page[-1].id))

    def event(self, event_id: str | int) -> Event:
        return Event.from_api(self._json(f"/events/{event_id}"))

    def certificate_expiry(self) -> list[CertificateExpiry]:
        """The director's certificates and when they expire (directors since v270)."""
        try:
            found = self._json("/director/certificate_expiry")
        except DirectorResponseError as error:
            if error.http_status == 404:
                raise ClientError(
                    f"Certificate expiry information not supported: {error}"
                ) from None
            raise
        return [CertificateExpiry.from_api(item) for item in found]

    def curl(
        self,
        method: str,
        path: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes | None = None,
    ) -> RawResponse:
        """Send one request as given and return the answer whatever its status; a
        redirect (a task-creating call) is followed with GET, as the reference does.

        `path` may carry a query string (``/tasks?limit=3``)."""
        target = path if path.startswith("/") else f"/{path}"
        try:
            response = self._http.request(method, target, headers=list(headers), content=body)
        except httpx.HTTPError as error:
            raise ClientError(
                f"Performing request {method} '{self.url}{target}': {error}"
            ) from error
        return RawResponse(
            http_version=response.http_version,
            status_code=response.status_code,
            reason=response.reason_phrase,
            headers=tuple(response.headers.multi_items()),
            body=response.content,
        )

    # -- deployments, releases, stemcells, packages, resources ---------------------------

    def deployments(
        self,
        *,
        exclude_configs: bool = False,
        exclude_releases: bool = False,
        exclude_stemcells: bool = False,
        exclude_lock: bool = False,
    ) -> list[DeploymentSummary]:
        """Deployments by name; each ``exclude_*`` spares the director that part."""
        flags = {
            "exclude_configs": exclude_configs,
            "exclude_releases": exclude_releases,
            "exclude_stemcells": exclude_stemcells,
            "exclude_lock": exclude_lock,
        }
        params = {name: "true" for name, excluded in flags.items() if excluded}
        return [DeploymentSummary.from_api(item) for item in self._json("/deployments", params)]

    def deployment_manifest(self, deployment: str) -> str:
        """The manifest text the deployment was last deployed with ("" if none)."""
        return str(self._json(f"/deployments/{deployment}").get("manifest") or "")

    def instances_db(self, deployment: str) -> list[InstanceRecord]:
        """The deployment's instances from the director's database (no agent asked)."""
        found = self._json(f"/deployments/{deployment}/instances")
        return [InstanceRecord.from_api(item) for item in found]

    def vms_db(self, deployment: str) -> list[InstanceRecord]:
        """Every VM of the deployment, inactive ones too, from the director's database."""
        found = self._json(f"/deployments/{deployment}/vms")
        return [InstanceRecord.from_api(item) for item in found]

    def instance_infos(self, deployment: str) -> list[VMInfo]:
        """Every instance of the deployment, also those without a VM, with what its
        agent says (a ``vms`` task the director runs; this waits for its end)."""
        return self._vm_infos(deployment, "instances")

    def vm_infos(self, deployment: str) -> list[VMInfo]:
        """Every VM of the deployment, inactive ones too, with what its agent says."""
        return self._vm_infos(deployment, "vms")

    def start_vm_infos(self, deployment: str, resource: Literal["instances", "vms"]) -> Task:
        """Queue the ``vms`` task behind `instance_infos` (`resource` ``instances``) or
        `vm_infos` (``vms``), to follow it yourself; then read `vm_infos_result`."""
        if not deployment:
            raise ClientError("Expected non-empty deployment name")
        path = f"/deployments/{quote(deployment, safe='')}/{resource}"
        return self._start_task("GET", path, {"format": "full"})

    def vm_infos_result(self, task_id: int, deployment: str) -> list[VMInfo]:
        """The lines of a finished ``vms`` task of `deployment`."""
        text = self.task_output(task_id, "result").data.decode()
        try:
            return [
                VMInfo.from_api(json.loads(line), deployment=deployment)
                for line in text.splitlines()
                if line.strip()
            ]
        except (ValueError, TypeError, AttributeError) as error:
            raise ClientError(f"Unmarshaling the result of task {task_id}: {error}") from error

    def _vm_infos(self, deployment: str, resource: Literal["instances", "vms"]) -> list[VMInfo]:
        task = self.follow_task(self.start_vm_infos(deployment, resource).id)
        if not task.succeeded:
            raise ClientError(f"Expected task '{task.id}' to succeed but state is '{task.state}'")
        return self.vm_infos_result(task.id, deployment)

    def releases(self) -> list[ReleaseVersionSummary]:
        """Every version of every release, releases by name, versions oldest first."""
        return [
            ReleaseVersionSummary.from_api(str(release.get("name") or ""), version)
            for release in self._json("/releases")
            for version in release.get("release_versions") or ()
        ]

    def release(self, name: str, version: str) -> InspectedRelease:
        """One release version's jobs and packages (``bosh inspect-release``)."""
        return InspectedRelease.from_api(self._json(f"/releases/{name}", {"version": version}))

    def stemcells(self) -> list[Stemcell]:
        return [Stemcell.from_api(item) for item in self._json("/stemcells")]

    def stemcell_needed(self, name: str, version: str) -> bool:
        """Whether some CPI of the director lacks this stemcell (else an upload is
        skipped)."""
        body = {"stemcell": {"name": name, "version": version}}
        return bool(self._post_for_json("/stemcell_uploads", json=body).get("needed"))

    def package_matches(self, manifest_yaml: str | bytes, *, compiled: bool = False) -> list[str]:
        """Fingerprints of the release.MF's packages (``compiled_packages`` with
        `compiled`) the director already has: an upload may leave them out."""
        path = "/packages/matches_compiled" if compiled else "/packages/matches"
        found = self._post_for_json(
            path, content=manifest_yaml, headers={"Content-Type": "text/yaml"}
        )
        return [str(fingerprint) for fingerprint in found]

    def download_resource(self, resource_id: str, destination: Path) -> Path:
        """Stream blob `resource_id` (fetched logs, an exported release) to
        `destination`, which appears only once it is complete."""
        path = f"/resources/{resource_id}"
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code != 200:
                    response.read()
                    raise _failure("GET", path, response)
                with staged_destination(destination) as staged, staged.open("wb") as file:
                    for chunk in response.iter_bytes():
                        file.write(chunk)
        except httpx.HTTPError as error:
            raise ClientError(f"Performing request GET '{self.url}{path}': {error}") from error
        return destination

    # -- configs -----------------------------------------------------------------------

    def configs(
        self, *, type_: str | None = None, name: str | None = None, limit: int = 1
    ) -> list[Config]:
        """The current config of each type and name (``limit`` 1), or up to ``limit``
        newest versions of each."""
        params = {"limit": str(limit), "latest": "true" if limit == 1 else "false"}
        if type_:
            params["type"] = type_
        if name:
            params["name"] = name
        return [Config.from_api(item) for item in self._json("/configs", params)]

    def config(self, config_id: str) -> Config:
        return Config.from_api(self._json(f"/configs/{config_id}"))

    def latest_config(self, type_: str, name: str) -> Config | None:
        found = self._json(
            "/configs", {"type": type_, "name": name, "limit": "1", "latest": "true"}
        )
        return Config.from_api(found[0]) if found else None

    def update_config(
        self, type_: str, name: str, content: str, *, expected_latest_id: str | None = None
    ) -> Config:
        """Store a new version (the director keeps the current one when unchanged). With
        `expected_latest_id`, fail when someone else changed the config meanwhile."""
        body: dict[str, str] = {"type": type_, "name": name, "content": content}
        if expected_latest_id:
            body["expected_latest_id"] = expected_latest_id
        response = self._request("POST", "/configs", ok=(201, 412), json=body)
        document = response.json()
        if response.status_code == 412:
            raise DirectorResponseError(
                "Config update rejected: The expected latest ID"
                f" '{document.get('expected_latest_id')}' doesn't match the latest ID"
                f" '{document.get('latest_id')}'. This most likely means that a concurrent"
                " update of the config happened. Please try to upload again.",
                http_status=412,
            )
        return Config.from_api(document)

    def delete_config(
        self, config_id: str | None = None, *, type_: str | None = None, name: str | None = None
    ) -> bool:
        """Delete one version by id, or every version of `type_`/`name`; False when
        there was nothing to delete."""
        if config_id is not None:
            response = self._request("DELETE", f"/configs/{config_id}", ok=(204, 404))
        else:
            params = {"type": type_ or "", "name": name or ""}
            response = self._request("DELETE", "/configs", ok=(204, 404), params=params)
        return response.status_code == 204

    def diff_config(self, type_: str, name: str, content: str) -> ConfigDiff:
        """What storing `content` would change; ``from_id`` is the current version's id
        (pass it to `update_config` as ``expected_latest_id``)."""
        body = {"type": type_, "name": name, "content": content}
        return self._config_diff("/configs/diff", json=body)

    def diff_configs(
        self,
        *,
        from_id: str = "",
        from_content: str = "",
        to_id: str = "",
        to_content: str = "",
    ) -> ConfigDiff:
        """The diff of two versions, each given by id or content."""
        body = {
            "from": {"id": from_id, "content": from_content},
            "to": {"id": to_id, "content": to_content},
        }
        return self._config_diff("/configs/diff", json=body)

    def latest_typed_config(self, kind: str, *, name: str = "") -> str | None:
        """The current ``cloud``, ``runtime`` or ``cpi`` config's text (older API)."""
        params = {"limit": "1"} if kind == "cpi" else {"name": name, "limit": "1"}
        found = self._json(f"/{kind}_configs", params)
        return str(found[0]["properties"]) if found else None

    def update_typed_config(self, kind: str, content: str, *, name: str = "") -> None:
        self._request(
            "POST",
            f"/{kind}_configs",
            ok=(200, 201),
            params=None if kind == "cpi" else {"name": name},
            content=content.encode(),
            headers={"Content-Type": "text/yaml"},
        )

    def diff_typed_config(
        self, kind: str, content: str, *, name: str = "", redact: bool = True
    ) -> ConfigDiff:
        params = {} if kind == "cpi" else {"name": name}
        if not redact:
            params["redact"] = "false"
        return self._config_diff(
            f"/{kind}_configs/diff",
            params=params,
            content=content.encode(),
            headers={"Content-Type": "text/yaml"},
        )

    def _config_diff(self, path: str, **kwargs: Any) -> ConfigDiff:
        response = self._request("POST", path, ok=(200, 404), **kwargs)
        if response.status_code == 404:
            try:
                document = response.json()
            except ValueError:
                document = None
            if isinstance(document, dict) and document.get("code") == 440012:
                raise DirectorResponseError(
                    str(document.get("description")), http_status=404, code=440012
                )
            # A director without the diff endpoint: nothing to show.
            return ConfigDiff(lines=(), from_id="")
        return ConfigDiff.from_api(response.json())

    # -- uploads (each answers with the queued task: follow it with `follow_task`) -------

    def upload_release_file(
        self,
        path: Path,
        *,
        fix: bool = False,
        rebase: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> Task:
        """Send the release tarball at `path` (``create release``). The file is streamed,
        so memory stays flat whatever its size; `progress` is called with (bytes sent,
        total) as it goes. `fix` replaces corrupt or missing jobs and packages."""
        return self._upload_file("/releases", path, _flags(fix=fix, rebase=rebase), progress)

    def upload_release_url(
        self, url: str, *, sha1: str | None = None, fix: bool = False, rebase: bool = False
    ) -> Task:
        """Have the director fetch the release tarball at `url` (checked against `sha1`,
        a digest as ``--sha1`` takes it, when given)."""
        return self._upload_url("/releases", url, sha1, _flags(fix=fix, rebase=rebase))

    def upload_stemcell_file(
        self, path: Path, *, fix: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> Task:
        """Send the stemcell tarball at `path` (``create stemcell``), streamed as
        `upload_release_file` sends a release. `fix` creates it in the clouds again."""
        return self._upload_file("/stemcells", path, _flags(fix=fix), progress)

    def upload_stemcell_url(self, url: str, *, sha1: str | None = None, fix: bool = False) -> Task:
        """Have the director fetch the stemcell tarball at `url`."""
        return self._upload_url("/stemcells", url, sha1, _flags(fix=fix))

    def has_release(self, name: str, version: str, *, stemcell: str | None = None) -> bool:
        """Whether the director has release `name`/`version` whole: every package with its
        source, or with `stemcell` (``os/version``) every package compiled for it. An
        upload is skipped when it has (the reference's HasRelease)."""
        if not any(found.name == name and found.version == version for found in self.releases()):
            return False
        packages = self.release(name, version).packages
        if stemcell:
            return all(
                any(compiled.stemcell == stemcell for compiled in package.compiled_packages)
                for package in packages
            )
        return all(package.blobstore_id for package in packages)

    def delete_release(self, name: str, version: str | None = None, *, force: bool = False) -> Task:
        """Delete release `name`, or only its `version` (a task); `force` carries on
        past blobstore errors."""
        params = {**({"version": version} if version else {}), **_flags(force=force)}
        return self._start_task("DELETE", f"/releases/{quote(name, safe='')}", params)

    def delete_stemcell(self, name: str, version: str, *, force: bool = False) -> Task:
        """Delete stemcell `name`/`version` from every CPI it was uploaded to (a task)."""
        path = f"/stemcells/{quote(name, safe='')}/{quote(version, safe='')}"
        return self._start_task("DELETE", path, _flags(force=force))

    def delete_deployment(self, name: str, *, force: bool = False) -> Task:
        """Delete deployment `name`: its VMs, then its records; disks are orphaned."""
        return self._start_task(
            "DELETE", f"/deployments/{quote(name, safe='')}", _flags(force=force)
        )

    # -- deploy ------------------------------------------------------------------------

    def diff_deployment(
        self, name: str, manifest_text: str, *, redact: bool = True
    ) -> DeploymentDiff:
        """What deploying `manifest_text` as deployment `name` would change; pass its
        ``context`` to `deploy` so the deploy uses the configs this diff used. A diff the
        director could not make has no lines and an ``error``."""
        response = self._request(
            "POST",
            f"/deployments/{quote(name, safe='')}/diff",
            params={"redact": "true" if redact else "false"},
            content=manifest_text.encode(),
            headers={"Content-Type": _YAML_CONTENT_TYPE},
        )
        try:
            return DeploymentDiff.from_api(response.json())
        except (ValueError, TypeError, IndexError) as error:
            raise ClientError(f"Fetching diff result: {error}") from error

    def deploy(
        self,
        manifest_text: str,
        *,
        options: DeployOptions | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Task:
        """Deploy `manifest_text` (a ``create deployment`` task) with the configs named
        by `context` (a `DeploymentDiff`'s; the director's current ones when None)."""
        params = (options or DeployOptions()).query()
        if context:
            params["context"] = json.dumps(dict(context))
        return self._start_task(
            "POST",
            "/deployments",
            params,
            content=manifest_text.encode(),
            headers={"Content-Type": _YAML_CONTENT_TYPE},
        )

    def cancel_tasks(
        self,
        *,
        types: Sequence[str] = (),
        states: Sequence[str] = (),
        deployment: str | None = None,
    ) -> None:
        """Cancel the tasks of `types` (all when empty) in `states` (the director's
        default: ``queued``), of `deployment` when given, at their next checkpoints."""
        body: dict[str, Any] = {"types": list(types), "states": list(states)}
        if deployment:
            body["deployment"] = deployment
        self._request("POST", "/tasks/cancel", ok=(200, 204), json=body)

    def _start_task(self, method: str, path: str, params: Mapping[str, str], **kwargs: Any) -> Task:
        """A task-creating request (`kwargs`: its body, as httpx takes it): the director
        answers 302 to the task, read here (the redirect is not followed blindly: httpx
        would repeat a DELETE on it)."""
        response = self._request(
            method, path, ok=(302,), params=params, follow_redirects=False, **kwargs
        )
        location = response.headers.get("location", "")
        task_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not task_id.isdigit():
            raise ClientError(f"The director answered {method} '{path}' with no task: {location!r}")
        return self.task(int(task_id))

    def _upload_file(
        self,
        path: str,
        tarball: Path,
        params: Mapping[str, str],
        progress: Callable[[int, int], None] | None,
    ) -> Task:
        size = tarball.stat().st_size
        # A declared length, as the reference sends it, rather than a chunked body.
        headers = {"Content-Type": _TARBALL_CONTENT_TYPE, "Content-Length": str(size)}
        body = _file_chunks(tarball, size, progress)
        return Task.from_api(
            self._post_for_json(path, params=params, content=body, headers=headers)
        )

    def _upload_url(self, path: str, url: str, sha1: str | None, params: Mapping[str, str]) -> Task:
        if not url:
            raise ClientError("Expected non-empty URL")
        body = {"location": url, **({"sha1": sha1} if sha1 else {})}
        return Task.from_api(self._post_for_json(path, params=params, json=body))

    def _post_for_json(self, path: str, **kwargs: Any) -> Any:
        response = self._request("POST", path, **kwargs)
        try:
            return response.json()
        except ValueError as error:
            raise ClientError(
                f"Unmarshaling Director response of POST '{path}': {error}"
            ) from error


__all__ += ["Config", "ConfigDiff"]


@attrs.frozen
class Config:
    """One config version (``GET /configs``); ``team`` is empty for admin configs and
    ``created_at`` is the director's text (``2026-11-25 15:00:00 UTC``)."""

    id: str
    type: str
    name: str
    content: str
    team: str
    created_at: str
    current: bool

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> Config:
        return cls(
            id=str(body.get("id") or ""),
            type=str(body.get("type") or ""),
            name=str(body.get("name") or ""),
            content=str(body.get("content") or ""),
            team=str(body.get("team") or ""),
            created_at=str(body.get("created_at") or ""),
            current=bool(body.get("current")),
        )


@attrs.frozen
class ConfigDiff:
    """A config diff: lines with ``added``, ``removed`` or None, and the id of the
    version it starts from (``"0"`` for none; empty when the director did not say)."""

    lines: tuple[tuple[str, str | None], ...]
    from_id: str

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> ConfigDiff:
        lines = tuple((str(line[0]), line[1]) for line in body.get("diff") or ())
        return cls(lines=lines, from_id=str((body.get("from") or {}).get("id") or ""))

    def text(self) -> str:
        """The diff as the CLI prints it: ``+ ``, ``- `` or two spaces before each line."""
        return _diff_text(self.lines)


def _diff_text(lines: Sequence[tuple[str, str | None]]) -> str:
    marks = {"added": "+ ", "removed": "- "}
    return "".join(f"{marks.get(str(status), '  ')}{line}\n" for line, status in lines)


__all__ += ["DeployOptions", "DeploymentDiff"]


@attrs.frozen
class DeploymentDiff:
    """``POST /deployments/:d/diff``: lines as in `ConfigDiff`, the ids of the configs
    the deploy would use (``context``), and the director's ``error`` when it could not
    diff (then no lines: the reference CLI deploys anyway)."""

    lines: tuple[tuple[str, str | None], ...]
    context: Mapping[str, Any]
    error: str | None = None

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> DeploymentDiff:
        lines = tuple((str(line[0]), line[1]) for line in body.get("diff") or ())
        error = body.get("error")
        return cls(
            lines=lines,
            context=dict(body.get("context") or {}),
            error=None if error is None else str(error),
        )

    def text(self) -> str:
        """The diff as the CLI prints it (see `ConfigDiff.text`)."""
        return _diff_text(self.lines)


@attrs.frozen
class DeployOptions:
    """The ``bosh deploy`` flags the director takes. `skip_drain` holds ``*`` (every
    instance) or instance groups and ``group/id`` slugs; `canaries` and `max_in_flight`
    override every update block (``"2"`` or ``"25%"``); `recreate_vms_created_before` is
    an RFC 3339 time and implies `recreate`."""

    dry_run: bool = False
    recreate: bool = False
    recreate_persistent_disks: bool = False
    recreate_vms_created_before: str | None = None
    fix: bool = False
    skip_drain: tuple[str, ...] = ()
    canaries: str | None = None
    max_in_flight: str | None = None
    force_latest_variables: bool = False

    def query(self) -> dict[str, str]:
        """The query parameters of ``POST /deployments``, as the reference CLI sends them."""
        params = _flags(
            recreate=self.recreate or self.recreate_vms_created_before is not None,
            recreate_persistent_disks=self.recreate_persistent_disks,
            fix=self.fix,
            dry_run=self.dry_run,
            force_latest_variables=self.force_latest_variables,
        )
        values = {
            "recreate_vms_created_before": self.recreate_vms_created_before,
            "skip_drain": "*" if "*" in self.skip_drain else ",".join(self.skip_drain),
            "canaries": self.canaries,
            "max_in_flight": self.max_in_flight,
        }
        params.update({key: value for key, value in values.items() if value})
        return params


def _flags(**flags: bool) -> dict[str, str]:
    """Query parameters ``name=true`` for the flags that are set (others are left out)."""
    return {name: "true" for name, value in flags.items() if value}


def _file_chunks(
    path: Path, size: int, progress: Callable[[int, int], None] | None
) -> Iterator[bytes]:
    """The file's bytes a chunk at a time; `progress` hears of each chunk once the
    transport has taken it (when it asks for the next one)."""
    sent = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_UPLOAD_CHUNK):
            yield chunk
            sent += len(chunk)
            if progress is not None:
                progress(sent, size)


def _failure(method: str, path: str, response: httpx.Response) -> ClientError:
    status = response.status_code
    if status == 401:
        return NotLoggedInError(
            "Not logged in: the director refused the credentials"
            " (set --client/--client-secret or BOSH_CLIENT/BOSH_CLIENT_SECRET, or log in)",
            http_status=status,
        )
    body = response.text
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and "description" in document:
        code = document.get("code")
        return DirectorResponseError(
            f"Director responded with non-successful status code '{status}' response"
            f" '{document['description']}'",
            http_status=status,
            code=int(code) if isinstance(code, int) else None,
        )
    detail = f" response '{body.strip()}'" if body.strip() else ""
    return DirectorResponseError(
        f"{method} '{path}': Director responded with non-successful status code '{status}'{detail}",
        http_status=status,
    )
