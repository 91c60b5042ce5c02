"""SDK for the director's REST API (sync, httpx): what the CLI and scripts use.

Importing this package imports httpx; ``import bosh_core`` does not import it.
"""

from __future__ import annotations

from bosh_core.client.director import (
    DEFAULT_PORT,
    RUNNING_STATES,
    CertificateExpiry,
    ClientError,
    CompiledPackageInfo,
    DeploymentSummary,
    Director,
    DirectorResponseError,
    Event,
    EventFilter,
    Info,
    InspectedRelease,
    InstanceRecord,
    Lock,
    NamedVersion,
    NotLoggedInError,
    RawResponse,
    ReleaseJob,
    ReleaseLink,
    ReleasePackage,
    ReleaseVersionSummary,
    Stemcell,
    Task,
    TaskEvent,
    TaskOutput,
    normalize_url,
)

__all__ = [
    "DEFAULT_PORT",
    "RUNNING_STATES",
    "CertificateExpiry",
    "ClientError",
    "CompiledPackageInfo",
    "DeploymentSummary",
    "Director",
    "DirectorResponseError",
    "Event",
    "EventFilter",
    "Info",
    "InspectedRelease",
    "InstanceRecord",
    "Lock",
    "NamedVersion",
    "NotLoggedInError",
    "RawResponse",
    "ReleaseJob",
    "ReleaseLink",
    "ReleasePackage",
    "ReleaseVersionSummary",
    "Stemcell",
    "Task",
    "TaskEvent",
    "TaskOutput",
    "normalize_url",
]
