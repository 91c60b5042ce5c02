"""Errors of the director. Each carries BOSH's error code and HTTP status as class
attributes; the API translates them to ``{"code", "description"}`` at the edge."""

from __future__ import annotations

from typing import ClassVar

from bosh_core.errors import BoshError

__all__ = [
    "DirectorError",
    "QueueError",
    "ReservationLostError",
    "UnauthorizedToAccessDeploymentError",
]


class DirectorError(BoshError):
    """Root of the director's errors (BOSH's ``Bosh::Director::DirectorError``: 100, 500)."""

    error_code: ClassVar[int] = 100
    http_status: ClassVar[int] = 500


class QueueError(DirectorError):
    """The task queue cannot take, hand out or account for a job."""


class ReservationLostError(QueueError):
    """A reserved job is no longer held by its worker: its lease expired and
    ``recover_expired`` took it back (the task is reported as timed out or requeued)."""


class UnauthorizedToAccessDeploymentError(DirectorError):
    """The caller may not read this resource; also an unknown task output type
    (BOSH's ``UnauthorizedToAccessDeployment``: 600000, 401)."""

    error_code = 600000
    http_status = 401


__all__ += [
    "LockLostError",
    "LockTimeoutError",
    "ValidationInvalidType",
]


class LockTimeoutError(TimeoutError, DirectorError):
    """A named lock stayed held by another task past the acquire timeout
    (BOSH's ``Lock::TimeoutError``; the task fails with the director's code 100)."""


class LockLostError(DirectorError):
    """A held lock could not be renewed or released: it expired and another holder
    took it over (BOSH then marks the task ``cancelling``)."""


class ValidationInvalidType(DirectorError):
    """A request value has the wrong type or form (BOSH's 40000, 400)."""

    error_code = 40000
    http_status = 400


__all__ += [
    "ContextIdViolatedMaxError",
    "TaskCancelledError",
    "TaskNotFoundError",
    "TaskUnexpectedStateError",
]


class TaskNotFoundError(DirectorError):
    """No task has that id (BOSH's ``TaskNotFound``: 10000, 404)."""

    error_code = 10000
    http_status = 404


class TaskCancelledError(DirectorError):
    """Raised at a checkpoint of a task being cancelled (BOSH's ``TaskCancelled``: 10001)."""

    error_code = 10001
    http_status = 200


class TaskUnexpectedStateError(DirectorError):
    """The task is in a state that does not allow the action, e.g. cancelling a finished
    task (BOSH's ``TaskUnexpectedState``: 10002, 400)."""

    error_code = 10002
    http_status = 400


class ContextIdViolatedMaxError(DirectorError):
    """``X-Bosh-Context-Id`` is longer than 64 characters (BOSH's 70010, 400)."""

    error_code = 70010
    http_status = 400


__all__ += [
    "JobMissingMonitError",
    "JobMissingTemplateFileError",
    "ReleaseExistingJobFingerprintMismatchError",
    "ReleaseInvalidArchiveError",
    "ReleaseInvalidPackageError",
    "ReleasePackageDependencyError",
    "ReleasePackageDependencyKeyMismatchError",
    "ReleaseVersionCommitHashMismatchError",
    "ReleaseVersionInvalidError",
    "ValidationInvalidValue",
]


class ReleaseInvalidArchiveError(DirectorError):
    """An uploaded release tarball cannot be read or fails verification (BOSH's
    ``ReleaseInvalidArchive``: 30002, 400)."""

    error_code = 30002
    http_status = 400


class ReleaseVersionInvalidError(DirectorError):
    """``release.MF`` has a version that is not a release version (30010, 400)."""

    error_code = 30010
    http_status = 400


class ReleaseInvalidPackageError(DirectorError):
    """A package differs from the one of the same name in the already uploaded release
    version (BOSH's ``ReleaseInvalidPackage``: 30012, 400)."""

    error_code = 30012
    http_status = 400


class ReleaseExistingJobFingerprintMismatchError(DirectorError):
    """A job differs from the one of the same name in the already uploaded release
    version (30013, 400)."""

    error_code = 30013
    http_status = 400


class ReleaseVersionCommitHashMismatchError(DirectorError):
    """The release version exists with another commit hash (30014, 400)."""

    error_code = 30014
    http_status = 400


class ReleasePackageDependencyKeyMismatchError(DirectorError):
    """A compiled package's dependencies differ from the stored package's (30016, 400)."""

    error_code = 30016
    http_status = 400


class ReleasePackageDependencyError(DirectorError):
    """Packages depend on each other in a cycle, or on a package the release lacks (the
    reference raises a plain error for both: code 100)."""


class ValidationInvalidValue(DirectorError):
    """A value has the right type but a wrong form, e.g. a name with a space in a release
    manifest (BOSH's 40005, 400)."""

    error_code = 40005
    http_status = 400


class JobMissingTemplateFileError(DirectorError):
    """A job's spec names a template its archive lacks (BOSH's 80002, 400)."""

    error_code = 80002
    http_status = 400


class JobMissingMonitError(DirectorError):
    """A job archive has neither ``monit`` nor ``*.monit`` (BOSH's 80004, 400)."""

    error_code = 80004
    http_status = 400


__all__ += ["EventNotFoundError"]


class EventNotFoundError(DirectorError):
    """``GET /events/:id`` names no stored event. The reference controller has no code of
    its own for this; the director's generic 100 is kept, with 404."""

    error_code = 100
    http_status = 404


class ResourceError(DirectorError):
    """A remote resource (a release or stemcell URL, a blob) could not be fetched
    (BOSH's ``ResourceError``: 100001, 400)."""

    error_code = 100001
    http_status = 400


class ResourceNotFoundError(DirectorError):
    """Nothing is at the URL or blob id given (BOSH's ``ResourceNotFound``: 100002, 404)."""

    error_code = 100002
    http_status = 404


class ReleaseSha1DoesNotMatchError(DirectorError):
    """The release tarball's digest is not the one given with the upload (BOSH's 30015)."""

    error_code = 30015
    http_status = 400


__all__ += ["ReleaseSha1DoesNotMatchError", "ResourceError", "ResourceNotFoundError"]


__all__ += [
    "BadManifestError",
    "DeploymentNotFoundError",
    "ReleaseNotFoundError",
    "ReleaseVersionNotFoundError",
    "ValidationMissingField",
]


class DeploymentNotFoundError(DirectorError):
    """No deployment has that name (BOSH's ``DeploymentNotFound``: 70000, 404)."""

    error_code = 70000
    http_status = 404


class ReleaseNotFoundError(DirectorError):
    """No release has that name (BOSH's ``ReleaseNotFound``: 30005, 404)."""

    error_code = 30005
    http_status = 404


class ReleaseVersionNotFoundError(DirectorError):
    """The release has no such version (BOSH's ``ReleaseVersionNotFound``: 30006, 404)."""

    error_code = 30006
    http_status = 404


class ValidationMissingField(DirectorError):
    """A required field of a request body is missing (BOSH's 40001, 400)."""

    error_code = 40001
    http_status = 400


class BadManifestError(DirectorError):
    """A manifest in a request body lacks what the route needs, e.g. a release.MF
    without a ``packages`` list (BOSH's ``BadManifest``: 440001, 400)."""

    error_code = 440001
    http_status = 400


__all__ += [
    "CpiNotConfiguredError",
    "CpiNotFoundError",
    "DeploymentIgnoredInstancesDeletionError",
    "ReleaseInUseError",
    "ReleaseVersionInUseError",
    "StemcellImageNotFoundError",
    "StemcellInUseError",
    "StemcellInvalidArchiveError",
    "StemcellNotFoundError",
    "StemcellNotSupportedError",
    "StemcellSha1DoesNotMatchError",
]


class StemcellInvalidArchiveError(DirectorError):
    """A stemcell tarball cannot be extracted (BOSH's ``StemcellInvalidArchive``: 50000)."""

    error_code = 50000
    http_status = 400


class StemcellImageNotFoundError(DirectorError):
    """A stemcell tarball has no ``image`` (BOSH's ``StemcellImageNotFound``: 50001)."""

    error_code = 50001
    http_status = 400


class StemcellNotFoundError(DirectorError):
    """No stemcell has that name and version (BOSH's ``StemcellNotFound``: 50003, 404)."""

    error_code = 50003
    http_status = 404


class StemcellInUseError(DirectorError):
    """A deployment still uses the stemcell being deleted (BOSH's 50004)."""

    error_code = 50004
    http_status = 400


class StemcellSha1DoesNotMatchError(DirectorError):
    """The stemcell tarball's digest differs from the one given (BOSH's 50007)."""

    error_code = 50007
    http_status = 400


class StemcellNotSupportedError(DirectorError):
    """No CPI takes the stemcell's formats (BOSH's ``StemcellNotSupported``: 50008)."""

    error_code = 50008
    http_status = 400


class ReleaseInUseError(DirectorError):
    """A deployment still uses a version of the release being deleted (BOSH's 30007)."""

    error_code = 30007
    http_status = 400


class ReleaseVersionInUseError(DirectorError):
    """A deployment still uses the release version being deleted (BOSH's 30008)."""

    error_code = 30008
    http_status = 400


class DeploymentIgnoredInstancesDeletionError(DirectorError):
    """A deployment with ignored instances cannot be deleted (BOSH's 190021)."""

    error_code = 190021
    http_status = 400


class CpiNotFoundError(DirectorError):
    """An AZ names no CPI although a cpi-config is set (BOSH's ``CpiNotFound``: 550001)."""

    error_code = 550001
    http_status = 400


class CpiNotConfiguredError(DirectorError):
    """A CPI name (of a row, an AZ or a request) that no cpi-config entry has, or no CPI
    at all. The reference raises a plain error here: the director's generic code 100."""


__all__ += [
    "BadConfigError",
    "BadConfigRequestError",
    "BadExpectedConfigIdError",
    "ConfigNotFoundError",
    "InvalidJsonError",
]


class BadConfigRequestError(DirectorError):
    """A ``/configs`` request lacks a field or has one of the wrong type (BOSH's
    ``BadConfigRequest``: 440010, 400)."""

    error_code = 440010
    http_status = 400


class BadConfigError(DirectorError):
    """A config's content is not a YAML map (BOSH's ``BadConfig``: 440011, 400)."""

    error_code = 440011
    http_status = 400


class ConfigNotFoundError(DirectorError):
    """No config version has that id, or it was deleted (BOSH's 440012, 404)."""

    error_code = 440012
    http_status = 404


class BadExpectedConfigIdError(DirectorError):
    """``expected_latest_id`` is not the current version's id: the config changed since
    the caller looked (BOSH's ``BadExpectedConfigID``: 440013; the API answers 412 with
    both ids)."""

    error_code = 440013
    http_status = 412

    def __init__(self, *, latest_id: str, expected_latest_id: str) -> None:
        super().__init__(f"Latest Id: '{latest_id}' does not match expected latest id")
        self.latest_id = latest_id
        self.expected_latest_id = expected_latest_id


class InvalidJsonError(DirectorError):
    """A request body is not JSON (BOSH's ``InvalidJsonError``: 710001, 400)."""

    error_code = 710001
    http_status = 400


__all__ += ["PackageInvalidArchiveError"]


class PackageInvalidArchiveError(DirectorError):
    """A package archive an upload must store is unusable, or absent from a tarball that
    left it out although the director has no package with its fingerprint (BOSH's
    ``PackageInvalidArchive``: 60000, 400)."""

    error_code = 60000
    http_status = 400


__all__ += [
    "AgentJobNotRunningError",
    "PackageMissingExportedFromError",
    "PackageMissingSourceCodeError",
    "StemcellNotPresentInExportedFromError",
]


class PackageMissingSourceCodeError(DirectorError):
    """A deployment needs a package that has no source and no compiled build usable on
    the instance group's stemcell (BOSH's ``PackageMissingSourceCode``: 60001, 400)."""

    error_code = 60001
    http_status = 400


class PackageMissingExportedFromError(DirectorError):
    """A release pinned to ``exported_from`` stemcells lacks a package compiled for one
    of them (BOSH's ``PackageMissingExportedFrom``: 60003, 400)."""

    error_code = 60003
    http_status = 400


class StemcellNotPresentInExportedFromError(DirectorError):
    """No ``exported_from`` stemcell of a release fits the instance group's stemcell
    (BOSH's ``StemcellNotPresentInExportedFrom``: 60004, 400)."""

    error_code = 60004
    http_status = 400


class AgentJobNotRunningError(DirectorError):
    """An instance's jobs are not running when its watch time ends (BOSH's
    ``AgentJobNotRunning``: 400007)."""

    error_code = 400007


# -------------------------------------------------------------------- config server


__all__ += [
    "ConfigServerFetchError",
    "ConfigServerGenerationError",
    "ConfigServerInconsistentVariableState",
    "ConfigServerIncorrectNameSyntax",
    "ConfigServerMissingName",
]


class ConfigServerFetchError(DirectorError):
    """A variable's value could not be fetched from the config server, or several could
    not (one ``- reason`` line each) (BOSH's ``ConfigServerFetchError``: 540001)."""

    error_code = 540001


class ConfigServerMissingName(ConfigServerFetchError):
    """The config server holds no variable by that name or id (BOSH's
    ``ConfigServerMissingName``: 540002)."""

    error_code = 540002


class ConfigServerIncorrectNameSyntax(DirectorError):
    """A ``((placeholder))`` or a ``variables:`` name breaks the naming rules (BOSH's
    ``ConfigServerIncorrectNameSyntax``: 540004)."""

    error_code = 540004


class ConfigServerGenerationError(DirectorError):
    """The config server could not generate a variable (BOSH's
    ``ConfigServerGenerationError``: 540005)."""

    error_code = 540005


class ConfigServerInconsistentVariableState(DirectorError):
    """A variable set that may no longer change lacks a variable (BOSH's
    ``ConfigServerInconsistentVariableState``: 540008)."""

    error_code = 540008


__all__ += [
    "DeploymentIgnoredInstancesModificationError",
    "InstanceGroupNetworkInstanceIpMismatchError",
    "JobInvalidAvailabilityZoneError",
    "JobNetworkMissingRequiredAvailabilityZoneError",
    "JobStaticIPNotSupportedOnDynamicNetworkError",
    "JobStaticIpsFromInvalidAvailabilityZoneError",
    "JobUnknownAvailabilityZoneError",
    "JobUnknownNetworkError",
    "NetworkReservationAlreadyInUseError",
    "NetworkReservationError",
    "NetworkReservationIpOutsideSubnetError",
    "NetworkReservationIpReservedError",
    "NetworkReservationNotEnoughCapacityError",
    "NetworkReservationVipDefaultProvidedError",
    "NetworkReservationVipMisconfiguredError",
    "NetworkSubnetInvalidAvailabilityZoneError",
]


class NetworkReservationError(DirectorError):
    """Static IPs cannot be given out as the placement needs them (BOSH's 130010, 400);
    the root of the IP reservation errors below, which keep BOSH's own codes."""

    error_code = 130010
    http_status = 400


class NetworkReservationVipDefaultProvidedError(NetworkReservationError):
    """A vip network was named default for dns/gateway (BOSH's 130007)."""

    error_code = 130007


class NetworkReservationAlreadyInUseError(NetworkReservationError):
    """The IP is held by another instance, of this or another deployment (130008)."""

    error_code = 130008


class NetworkReservationNotEnoughCapacityError(NetworkReservationError):
    """No free IP is left in the subnets an instance may use (130011)."""

    error_code = 130011


class NetworkReservationIpOutsideSubnetError(NetworkReservationError):
    """A static IP lies in none of the network's subnets (130012)."""

    error_code = 130012


class NetworkReservationIpReservedError(NetworkReservationError):
    """A static IP lies in a reserved range, or is the gateway/network/broadcast (130013)."""

    error_code = 130013


class NetworkReservationVipMisconfiguredError(NetworkReservationError):
    """A vip network has IPs both in the instance group and in the cloud config (130014)."""

    error_code = 130014


class JobInvalidAvailabilityZoneError(DirectorError):
    """Subnets declare AZs but the instance group does not (BOSH's 140016, 400)."""

    error_code = 140016
    http_status = 400


class JobUnknownAvailabilityZoneError(DirectorError):
    """An instance group names an AZ the cloud config lacks (BOSH's 140018, 400)."""

    error_code = 140018
    http_status = 400


class JobUnknownNetworkError(DirectorError):
    """An instance group names a network the cloud config lacks (BOSH's 150001, 400)."""

    error_code = 150001
    http_status = 400


class InstanceGroupNetworkInstanceIpMismatchError(DirectorError):
    """Static IPs do not fit the subnets or the AZs evenly (BOSH's 150002, 400)."""

    error_code = 150002
    http_status = 400


class JobNetworkMissingRequiredAvailabilityZoneError(DirectorError):
    """A network has no subnet in one of the instance group's AZs (BOSH's 150006, 400)."""

    error_code = 150006
    http_status = 400


class JobStaticIpsFromInvalidAvailabilityZoneError(DirectorError):
    """A static IP's subnet is in none of the instance group's AZs (BOSH's 150007, 400)."""

    error_code = 150007
    http_status = 400


class JobStaticIPNotSupportedOnDynamicNetworkError(DirectorError):
    """Static IPs were given on a dynamic network (BOSH's 150008, 400)."""

    error_code = 150008
    http_status = 400


class NetworkSubnetInvalidAvailabilityZoneError(DirectorError):
    """A dynamic network has no subnet for the instance's AZ (BOSH's 160009, 400)."""

    error_code = 160009
    http_status = 400


class DeploymentIgnoredInstancesModificationError(DirectorError):
    """A deploy would move, delete or re-network an ignored instance (BOSH's 190020, 400)."""

    error_code = 190020
    http_status = 400


# Planning: properties, links and addons (bosh_core.planning).
__all__ += [
    "ColocatedJobError",
    "LinkDefinitionError",
    "LinkResolutionError",
    "PropertyTypeError",
    "RuntimeInvalidDeploymentReleaseError",
]


class PropertyTypeError(DirectorError):
    """A dotted property name crosses a value that is not a map (``Property 'a.b' expects
    a hash, but received 'String'``; the reference raises a plain error: code 100)."""


class LinkDefinitionError(DirectorError):
    """A job's ``consumes``/``provides``/``custom_provider_definitions`` in the manifest
    cannot be used; one line per problem (a plain error in the reference: code 100)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = tuple(errors)


class LinkResolutionError(DirectorError):
    """Links of a deployment that did not resolve, every one with its consumer and the
    providers found (D/links/links_manager.rb; a plain error: code 100)."""

    def __init__(self, deployment: str, errors: list[str]) -> None:
        super().__init__(
            f"Failed to resolve links from deployment '{deployment}'. See errors below:\n  - "
            + "\n  - ".join(errors)
        )
        self.errors = tuple(errors)


class ColocatedJobError(DirectorError):
    """An addon adds a job its instance group already has (a plain error: code 100)."""


class RuntimeInvalidDeploymentReleaseError(DirectorError):
    """A runtime config names a release of the deployment at another version (BOSH's
    ``RuntimeInvalidDeploymentRelease``: 530003)."""

    error_code = 530003


__all__ += ["DeploymentInvalidConfigReferenceError"]


class DeploymentInvalidConfigReferenceError(DirectorError):
    """``POST /deployments`` got a ``context`` naming a config id the director does not
    have (BOSH's ``DeploymentInvalidConfigReference``: 190025, 400)."""

    error_code = 190025
    http_status = 400


__all__ += [
    "DeploymentPlanErrors",
    "DeploymentUnknownTemplateError",
    "InstanceGroupUnknownDiskTypeError",
    "InstanceGroupUnknownVmExtensionError",
    "InstanceGroupUnknownVmTypeError",
]


class InstanceGroupUnknownVmTypeError(DirectorError):
    """An instance group names a vm type no cloud config has (BOSH's
    ``InstanceGroupUnknownVmType``: 140004)."""

    error_code = 140004


class InstanceGroupUnknownDiskTypeError(DirectorError):
    """An instance group names a disk type no cloud config has (BOSH's
    ``InstanceGroupUnknownDiskType``: 140012)."""

    error_code = 140012


class InstanceGroupUnknownVmExtensionError(DirectorError):
    """An instance group names a vm extension no cloud config has (a plain error in the
    reference's cloud manifest parser: code 100)."""


class DeploymentUnknownTemplateError(DirectorError):
    """A job is not in the release version the manifest names (BOSH's
    ``DeploymentUnknownTemplate``: 190011)."""

    error_code = 190011


class DeploymentPlanErrors(DirectorError):
    """Several problems found while planning a deploy, reported together so one deploy
    attempt shows them all (each line is the reference's message for it)."""

    def __init__(self, deployment: str, errors: list[str]) -> None:
        super().__init__(
            f"Deployment '{deployment}' cannot be planned:\n  - " + "\n  - ".join(errors)
        )
        self.errors = tuple(errors)


class InstanceNotFoundError(DirectorError):
    """No such instance in the deployment (BOSH's ``InstanceNotFound``: 70001, 404)."""

    error_code = 70001
    http_status = 404


__all__ += ["InstanceNotFoundError"]
