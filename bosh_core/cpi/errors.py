"""The CPI error tree; each class carries its wire type (``Bosh::Clouds::...``).

Every error may say ``ok_to_retry`` (the director retries VM creation when a CPI says
so). The wire type is translated only at the edges: `bosh_core.cpi.rpc` writes it into
a response and turns a response's type back into one of these classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from bosh_core.errors import BoshError

__all__ = [
    "WIRE_TYPES",
    "CPIError",
    "CPIPluginError",
    "CPIResponseError",
    "CPITimeoutError",
    "CloudError",
    "DiskNotAttachedError",
    "DiskNotFoundError",
    "NetworkNotFoundError",
    "NoDiskSpaceError",
    "NotImplementedError_",
    "NotSupportedError",
    "VMCreationFailedError",
    "VMNotFoundError",
]


class CPIError(BoshError):
    """A CPI call failed; ``wire_type`` names the condition in the external CPI protocol."""

    wire_type: ClassVar[str] = "Bosh::Clouds::CpiError"

    def __init__(self, message: str, *, ok_to_retry: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.ok_to_retry = ok_to_retry


class NotSupportedError(CPIError):
    """The CPI does not offer this method (the director then takes another way)."""

    wire_type = "Bosh::Clouds::NotSupported"

    def __init__(self, method: str, message: str | None = None) -> None:
        super().__init__(message or f"'{method}' is not supported by this CPI")
        self.method = method


class NotImplementedError_(CPIError):  # the builtin's name is taken
    """The CPI does not know this method at all."""

    wire_type = "Bosh::Clouds::NotImplemented"


class CloudError(CPIError):
    """The infrastructure refused or failed an operation."""

    wire_type = "Bosh::Clouds::CloudError"


class VMNotFoundError(CloudError):
    wire_type = "Bosh::Clouds::VMNotFound"


class NetworkNotFoundError(CloudError):
    wire_type = "Bosh::Clouds::NetworkNotFound"


class NoDiskSpaceError(CloudError):
    wire_type = "Bosh::Clouds::NoDiskSpace"


class DiskNotAttachedError(CloudError):
    wire_type = "Bosh::Clouds::DiskNotAttached"


class DiskNotFoundError(CloudError):
    wire_type = "Bosh::Clouds::DiskNotFound"


class VMCreationFailedError(CloudError):
    """The VM could not be made; ``ok_to_retry`` tells the director whether to try again."""

    wire_type = "Bosh::Clouds::VMCreationFailed"


class CPIPluginError(CPIError):
    """A CPI plugin cannot be loaded: unknown name, missing dependency, or broken class."""


class CPIResponseError(CPIError):
    """An external CPI executable could not be run or answered something unreadable."""


class CPITimeoutError(CPIError, TimeoutError):
    """An external CPI executable did not answer in time (it has been killed)."""


WIRE_TYPES: Mapping[str, type[CPIError]] = {
    cls.wire_type: cls
    for cls in (
        CPIError,
        NotSupportedError,
        NotImplementedError_,
        CloudError,
        VMNotFoundError,
        NetworkNotFoundError,
        NoDiskSpaceError,
        DiskNotAttachedError,
        DiskNotFoundError,
        VMCreationFailedError,
    )
}
"""The error types a director knows, by wire type."""
