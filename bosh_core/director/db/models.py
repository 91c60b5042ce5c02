"""The director's tables as SQLAlchemy 2 typed ORM classes.

The schema follows the reference director's (``bosh-director`` Sequel models) where that
helps: names, columns and uniqueness are the same unless a comment says why not. JSON
documents are ``JSON`` columns (the reference keeps ``*_json`` text). Times are stored in
UTC and always read back timezone-aware, on SQLite too.

The migrations in ``migrations/versions`` create exactly this metadata; a test compares the
two, so a change here needs a new migration.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

__all__ = [
    "NAMING_CONVENTION",
    "VM",
    "Base",
    "CompiledPackage",
    "Config",
    "ConfigServerValue",
    "Deployment",
    "DeploymentProblem",
    "DirectorAttribute",
    "Event",
    "IPAddress",
    "IPInteger",
    "Instance",
    "Lock",
    "OrphanDisk",
    "Package",
    "PersistentDisk",
    "QueuedJob",
    "Release",
    "ReleaseVersion",
    "Stemcell",
    "Task",
    "Team",
    "Template",
    "UTCDateTime",
    "Variable",
    "VariableSet",
    "deployments_configs",
    "deployments_release_versions",
    "deployments_stemcells",
    "deployments_teams",
    "latest_configs",
    "packages_release_versions",
    "release_versions_templates",
    "tasks_teams",
    "utcnow",
]

# Constraint names are fixed so that migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and read back aware (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give the director's times in UTC")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC)


class IPInteger(TypeDecorator[int]):
    """An IPv4 or IPv6 address as an int, stored as 39 zero-padded digits.

    The reference keeps the integer as text (``address_str``) because IPv6 does not fit
    a BIGINT; padding keeps the text unique and ordered like the numbers.
    """

    impl = String(39)
    cache_ok = True
    _WIDTH = len(str(int(ipaddress.IPv6Address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not 0 <= value < 2**128:
            raise ValueError(f"{value} is not an IP address as an integer")
        return str(value).zfill(self._WIDTH)

    def process_result_value(self, value: str | None, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


# SQLite assigns rowids only to INTEGER PRIMARY KEY, not BIGINT.
_BigID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        str: String(255),
    }


def _fk(target: str, *, cascade: bool = False) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE" if cascade else None)


def _link_table(name: str, left: str, right: str) -> Table:
    """A many-to-many table: both ids form the key; rows go with either end."""
    left_table, right_table = left.split(".")[0], right.split(".")[0]
    return Table(
        name,
        Base.metadata,
        Column(f"{left_table.removesuffix('s')}_id", _fk(left, cascade=True), primary_key=True),
        Column(f"{right_table.removesuffix('s')}_id", _fk(right, cascade=True), primary_key=True),
    )


# ----------------------------------------------------------------------------- teams


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)


# --------------------------------------------------------------------------- configs


class Config(Base):
    """A cloud, runtime, cpi or resurrection config, or any other type.

    Versioned: an update inserts a row; the latest non-deleted row of a (type, name) is
    the current one (see :func:`latest_configs`).
    """

    __tablename__ = "configs"
    __table_args__ = (Index(None, "type", "name", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str]
    name: Mapped[str]
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted: Mapped[bool] = mapped_column(default=False)
    team_id: Mapped[int | None] = mapped_column(_fk("teams.id"))

    team: Mapped[Team | None] = relationship()


def latest_configs(
    session: Session, type_: str | None = None, name: str | None = None
) -> list[Config]:
    """The current (newest, not deleted) config of each type and name, filtered."""
    newest = select(func.max(Config.id)).group_by(Config.type, Config.name)
    if type_ is not None:
        newest = newest.where(Config.type == type_)
    if name is not None:
        newest = newest.where(Config.name == name)
    query = (
        select(Config)
        .where(Config.id.in_(newest.scalar_subquery()), Config.deleted.is_(False))
        .order_by(Config.type, Config.name)
    )
    return list(session.scalars(query))


# ----------------------------------------------------------------- releases and jobs


class Release(Base):
    __tablename__ = "releases"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)

    versions: Mapped[list[ReleaseVersion]] = relationship(
        back_populates="release", cascade="all, delete-orphan", passive_deletes=True
    )


release_versions_templates = _link_table(
    "release_versions_templates", "release_versions.id", "templates.id"
)
packages_release_versions = _link_table(
    "packages_release_versions", "packages.id", "release_versions.id"
)


class ReleaseVersion(Base):
    __tablename__ = "release_versions"
    __table_args__ = (UniqueConstraint("release_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(_fk("releases.id", cascade=True))
    version: Mapped[str]
    commit_hash: Mapped[str | None] = mapped_column(default="unknown")
    uncommitted_changes: Mapped[bool] = mapped_column(default=False)
    # False while an upload is storing blobs: such a version is finished by a --fix upload.
    update_completed: Mapped[bool] = mapped_column(default=False)

    release: Mapped[Release] = relationship(back_populates="versions")
    templates: Mapped[list[Template]] = relationship(secondary=release_versions_templates)
    packages: Mapped[list[Package]] = relationship(secondary=packages_release_versions)


class Template(Base):
    """A release job (the reference's name for it, kept from BOSH v1)."""

    __tablename__ = "templates"
    __table_args__ = (
        UniqueConstraint("release_id", "name", "version"),
        Index(None, "fingerprint"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(_fk("releases.id", cascade=True))
    name: Mapped[str]
    version: Mapped[str]
    fingerprint: Mapped[str]
    blobstore_id: Mapped[str]
    sha1: Mapped[str]
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    package_names: Mapped[list[Any]] = mapped_column(default=list)

    release: Mapped[Release] = relationship()


class Package(Base):
    __tablename__ = "packages"
    __table_args__ = (
        UniqueConstraint("release_id", "name", "version"),
        Index(None, "fingerprint"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(_fk("releases.id", cascade=True))
    name: Mapped[str]
    version: Mapped[str]
    fingerprint: Mapped[str]
    # Null for a package that came only compiled (a compiled release has no sources).
    blobstore_id: Mapped[str | None]
    sha1: Mapped[str | None]
    dependency_set: Mapped[list[Any]] = mapped_column(default=list)

    release: Mapped[Release] = relationship()
    compiled_packages: Mapped[list[CompiledPackage]] = relationship(
        back_populates="package", cascade="all, delete-orphan", passive_deletes=True
    )


class CompiledPackage(Base):
    __tablename__ = "compiled_packages"
    __table_args__ = (
        UniqueConstraint("package_id", "stemcell_os", "stemcell_version", "dependency_key_sha1"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(_fk("packages.id", cascade=True))
    stemcell_os: Mapped[str]
    stemcell_version: Mapped[str]
    # The compiled versions of the dependencies, as JSON text, and its digest for the key.
    dependency_key: Mapped[str] = mapped_column(Text)
    dependency_key_sha1: Mapped[str]
    blobstore_id: Mapped[str]
    sha1: Mapped[str]
    build: Mapped[int] = mapped_column(default=1)

    package: Mapped[Package] = relationship(back_populates="compiled_packages")


# ------------------------------------------------------------------------- stemcells


class Stemcell(Base):
    __tablename__ = "stemcells"
    __table_args__ = (UniqueConstraint("name", "version", "cpi"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    version: Mapped[str]
    operating_system: Mapped[str]
    cid: Mapped[str]
    # "" without a cpi-config: the director's one CPI.
    cpi: Mapped[str] = mapped_column(default="")
    api_version: Mapped[int | None]


# ----------------------------------------------------------------------- deployments

deployments_teams = _link_table("deployments_teams", "deployments.id", "teams.id")
deployments_configs = _link_table("deployments_configs", "deployments.id", "configs.id")
deployments_release_versions = _link_table(
    "deployments_release_versions", "deployments.id", "release_versions.id"
)
deployments_stemcells = _link_table("deployments_stemcells", "deployments.id", "stemcells.id")


class Deployment(Base):
    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    # The manifest as uploaded (the text, so comments and order survive `bosh manifest`).
    manifest_text: Mapped[str | None] = mapped_column(Text)
    links_serial_id: Mapped[int] = mapped_column(default=0)

    teams: Mapped[list[Team]] = relationship(secondary=deployments_teams)
    # The cloud and runtime configs the last successful deploy used.
    configs: Mapped[list[Config]] = relationship(secondary=deployments_configs)
    release_versions: Mapped[list[ReleaseVersion]] = relationship(
        secondary=deployments_release_versions
    )
    stemcells: Mapped[list[Stemcell]] = relationship(secondary=deployments_stemcells)
    instances: Mapped[list[Instance]] = relationship(
        back_populates="deployment", cascade="all, delete-orphan", passive_deletes=True
    )
    variable_sets: Mapped[list[VariableSet]] = relationship(
        back_populates="deployment",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="VariableSet.id",
    )


class VariableSet(Base):
    __tablename__ = "variable_sets"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(_fk("deployments.id", cascade=True))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deployed_successfully: Mapped[bool] = mapped_column(default=False)
    writable: Mapped[bool] = mapped_column(default=False)

    deployment: Mapped[Deployment] = relationship(back_populates="variable_sets")
    variables: Mapped[list[Variable]] = relationship(
        back_populates="variable_set", cascade="all, delete-orphan", passive_deletes=True
    )


class Variable(Base):
    """A variable's id on the config server, as one variable set saw it."""

    __tablename__ = "variables"
    __table_args__ = (UniqueConstraint("variable_set_id", "variable_name", "provider_deployment"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    variable_set_id: Mapped[int] = mapped_column(_fk("variable_sets.id", cascade=True))
    variable_id: Mapped[str]
    variable_name: Mapped[str]
    is_local: Mapped[bool] = mapped_column(default=True)
    provider_deployment: Mapped[str] = mapped_column(default="")

    variable_set: Mapped[VariableSet] = relationship(back_populates="variables")


class ConfigServerValue(Base):
    """One version of a variable in the director's built-in config server.

    ``value`` is ciphertext (``bosh_core.director.variables``): the value with the type
    and options it was generated with, encrypted with the director's key. A name has one
    row per version; the newest id is the current one.
    """

    __tablename__ = "config_server_values"
    __table_args__ = (Index(None, "name", "id"),)
    id: Mapped[int] = mapped_column(_BigID, primary_key=True)
    name: Mapped[str] = mapped_column(String(1024))
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Instance(Base):
    __tablename__ = "instances"
    __table_args__ = (UniqueConstraint("deployment_id", "job", "index"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(_fk("deployments.id", cascade=True))
    job: Mapped[str]
    index: Mapped[int]
    uuid: Mapped[str] = mapped_column(unique=True)
    az: Mapped[str | None]
    # started, stopped or detached: what the operator asked for.
    state: Mapped[str] = mapped_column(default="started")
    bootstrap: Mapped[bool] = mapped_column(default=False)
    compilation: Mapped[bool] = mapped_column(default=False)
    ignore: Mapped[bool] = mapped_column(default=False)
    # False between the start and the end of an update: the next deploy updates it fully.
    update_completed: Mapped[bool] = mapped_column(default=False)
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cloud_properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    variable_set_id: Mapped[int | None] = mapped_column(_fk("variable_sets.id"))

    deployment: Mapped[Deployment] = relationship(back_populates="instances")
    variable_set: Mapped[VariableSet | None] = relationship()
    vms: Mapped[list[VM]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", passive_deletes=True
    )
    persistent_disks: Mapped[list[PersistentDisk]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", passive_deletes=True
    )
    ip_addresses: Mapped[list[IPAddress]] = relationship(
        back_populates="instance", cascade="all, delete-orphan", passive_deletes=True
    )


class VM(Base):
    __tablename__ = "vms"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(_fk("instances.id", cascade=True))
    cid: Mapped[str | None] = mapped_column(unique=True)
    agent_id: Mapped[str | None] = mapped_column(unique=True)
    cpi: Mapped[str] = mapped_column(default="")
    # One VM of an instance is active; create-swap-delete briefly has a second, inactive one.
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stemcell_api_version: Mapped[int | None]
    env: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    network_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    instance: Mapped[Instance] = relationship(back_populates="vms")


class IPAddress(Base):
    __tablename__ = "ip_addresses"
    __table_args__ = (UniqueConstraint("network_name", "address"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    network_name: Mapped[str]
    address: Mapped[int] = mapped_column(IPInteger())
    static: Mapped[bool] = mapped_column(default=False)
    instance_id: Mapped[int | None] = mapped_column(_fk("instances.id", cascade=True))
    vm_id: Mapped[int | None] = mapped_column(_fk("vms.id"))
    task_id: Mapped[str | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    instance: Mapped[Instance | None] = relationship(back_populates="ip_addresses")


class PersistentDisk(Base):
    __tablename__ = "persistent_disks"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(_fk("instances.id", cascade=True))
    disk_cid: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(default="")
    size: Mapped[int]
    cloud_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cpi: Mapped[str] = mapped_column(default="")
    active: Mapped[bool] = mapped_column(default=False)

    instance: Mapped[Instance] = relationship(back_populates="persistent_disks")


class OrphanDisk(Base):
    """A persistent disk no instance owns any more, kept until cleaned up."""

    __tablename__ = "orphan_disks"
    id: Mapped[int] = mapped_column(primary_key=True)
    disk_cid: Mapped[str] = mapped_column(unique=True)
    size: Mapped[int | None]
    availability_zone: Mapped[str | None]
    deployment_name: Mapped[str]
    instance_name: Mapped[str]
    cloud_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cpi: Mapped[str] = mapped_column(default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeploymentProblem(Base):
    """A problem a cloud check found (`bosh cck`)."""

    __tablename__ = "deployment_problems"
    __table_args__ = (Index(None, "deployment_id", "type", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(_fk("deployments.id", cascade=True))
    # open, resolved or closed
    state: Mapped[str] = mapped_column(default="open")
    resource_id: Mapped[int]
    type: Mapped[str]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    counter: Mapped[int] = mapped_column(default=0)

    deployment: Mapped[Deployment] = relationship()


# ----------------------------------------------------------- tasks, locks and events

tasks_teams = _link_table("tasks_teams", "tasks.id", "teams.id")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index(None, "state"),
        Index(None, "deployment_name"),
        Index(None, "context_id"),
        Index(None, "type"),
        Index(None, "timestamp"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # queued, processing, cancelling, done, error, cancelled, timeout
    state: Mapped[str] = mapped_column(default="queued")
    type: Mapped[str]
    description: Mapped[str] = mapped_column(Text)
    # When the task was queued, started, then ended: tasks are listed newest first by it
    # (the API reports it as `timestamp` once the task has ended, null until then).
    timestamp: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    checkpoint_time: Mapped[dt.datetime | None]
    result: Mapped[str | None] = mapped_column(Text)
    # Directory of the debug and cpi logs.
    output: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str] = mapped_column(default="admin")
    deployment_name: Mapped[str | None]
    context_id: Mapped[str] = mapped_column(String(64), default="")
    event_output: Mapped[str] = mapped_column(Text, default="")
    result_output: Mapped[str] = mapped_column(Text, default="")

    teams: Mapped[list[Team]] = relationship(secondary=tasks_teams)


class Lock(Base):
    __tablename__ = "locks"
    id: Mapped[int] = mapped_column(primary_key=True)
    # lock:deployment:<name>, lock:release:<name>, lock:compile:<id>:<os/version>...
    name: Mapped[str] = mapped_column(unique=True)
    # Who holds it: only the holder may renew or release it.
    uid: Mapped[str]
    expired_at: Mapped[dt.datetime]
    task_id: Mapped[str] = mapped_column(default="")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index(None, "timestamp"),)
    id: Mapped[int] = mapped_column(_BigID, primary_key=True)
    # The event this one ends (a "release lock" for its "acquire lock"); no foreign key,
    # because old events are pruned independently.
    parent_id: Mapped[int | None] = mapped_column(BigInteger)
    timestamp: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user: Mapped[str]
    action: Mapped[str]
    object_type: Mapped[str]
    object_name: Mapped[str | None]
    error: Mapped[str | None] = mapped_column(Text)
    task: Mapped[str | None]
    deployment: Mapped[str | None]
    instance: Mapped[str | None]
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)


# -------------------------------------------------------------------------- director


class DirectorAttribute(Base):
    """Facts about the director itself, as name/value rows (``uuid``, resurrection)."""

    __tablename__ = "director_attributes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    value: Mapped[str | None] = mapped_column(Text)


# ---------------------------------------------------------------------- task queue


class QueuedJob(Base):
    """A job of the database task queue (``bosh_core.director.queue.database``).

    A row is waiting while ``worker_id`` is null and reserved while it is set; a finished
    job's row is deleted. Rows are taken per queue by ``position`` then ``id``: enqueued
    jobs have position 0, jobs given back get ever smaller negative positions so they
    are taken next. ``task_id`` has no foreign key: the queue does not own task rows.
    """

    __tablename__ = "queued_jobs"
    __table_args__ = (
        Index(None, "queue", "worker_id", "position", "id"),
        Index(None, "lease_expires_at"),
    )
    id: Mapped[int] = mapped_column(_BigID, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), unique=True)
    task_id: Mapped[int] = mapped_column(BigInteger)
    job_type: Mapped[str]
    payload: Mapped[dict[str, Any]]
    queue: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    enqueued_at: Mapped[dt.datetime]
    worker_id: Mapped[str | None]
    # A fresh value per reservation: a worker's stale handle never matches a later one.
    reservation: Mapped[str | None] = mapped_column(String(32))
    reserved_at: Mapped[dt.datetime | None]
    lease_expires_at: Mapped[dt.datetime | None]
