"""Configs of the director: cloud, runtime, cpi, resurrection or any other type, each a
version history per (type, name).

    configs = ConfigStore(database)
    record, created = configs.create_if_changed("cloud", "default", text)
    configs.list(type_="cloud", limit=1)      # the current config of each name
    configs.get("7"); configs.delete("cloud", "default")

A new version is stored only when the content differs from the current one. Deleting
marks rows ``deleted``; the current config of a (type, name) is its newest row not
deleted, so deleting one version by id brings the one before it back, as in the
reference's ``ConfigManager``.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeVar

import attrs
from sqlalchemy import Select, case, func, select, update
from sqlalchemy.orm import Session

from bosh_core.director.changeset import dump_like_ruby
from bosh_core.director.db import Database
from bosh_core.director.db.models import Config
from bosh_core.director.errors import (
    BadConfigError,
    BadExpectedConfigIdError,
    BadManifestError,
    ConfigNotFoundError,
)
from bosh_core.errors import YAMLError
from bosh_core.yaml_loading import load_yaml

__all__ = [
    "DEFAULT_NAME",
    "ConfigRecord",
    "ConfigStore",
    "DeployConfigs",
    "parse_config_content",
    "parse_manifest",
    "release_versions_as_strings",
    "ruby_time",
]

DEFAULT_NAME: Final = "default"
"""The name the per-type routes (``/cloud_configs``...) use when none is given."""

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])
_ID = re.compile(r"-?(0|[1-9][0-9]*)")
_MAX_ID = 2**63 - 1


def ruby_time(moment: dt.datetime) -> str:
    """A time as Ruby's ``Time#to_s`` writes a UTC time: ``2026-11-25 15:00:00 UTC``."""
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


@attrs.frozen
class ConfigRecord:
    """One stored version; ``current`` when no newer version of its type and name is
    left; ``team`` None for configs made by a director admin."""

    id: int
    type: str
    name: str
    content: str
    team: str | None
    created_at: dt.datetime
    current: bool

    def to_api(self) -> dict[str, Any]:
        """The JSON of ``GET /configs`` (ids are strings: opaque to clients)."""
        return {
            "content": self.content,
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "team": self.team,
            "created_at": ruby_time(self.created_at),
            "current": self.current,
        }

    @classmethod
    def from_row(cls, row: Config, *, current: bool) -> ConfigRecord:
        return cls(
            id=row.id,
            type=row.type,
            name=row.name,
            content=row.content,
            team=None if row.team is None else row.team.name,
            created_at=row.created_at,
            current=current,
        )


@attrs.frozen
class DeployConfigs:
    """The cloud and runtime config versions a deploy uses: the ``context`` a deploy's
    diff answers and ``bosh deploy`` sends back, so the deploy uses the configs the
    user saw even when one changed meanwhile."""

    cloud_config_ids: tuple[int, ...] = ()
    runtime_config_ids: tuple[int, ...] = ()

    def to_api(self) -> dict[str, list[int]]:
        return {
            "cloud_config_ids": list(self.cloud_config_ids),
            "runtime_config_ids": list(self.runtime_config_ids),
        }

    @classmethod
    def from_api(cls, context: Mapping[str, Any]) -> DeployConfigs:
        """From `to_api`'s shape (ids already checked)."""
        return cls(
            cloud_config_ids=tuple(int(i) for i in context.get("cloud_config_ids") or ()),
            runtime_config_ids=tuple(int(i) for i in context.get("runtime_config_ids") or ()),
        )

    @property
    def ids(self) -> tuple[int, ...]:
        return (*self.cloud_config_ids, *self.runtime_config_ids)


def _live() -> Select[Config]:
    return select(Config).where(Config.deleted.is_(False))


def _filtered(query: _Query, type_: str | None, name: str | None) -> _Query:
    if type_ is not None:
        query = query.where(Config.type == type_)
    if name is not None:
        query = query.where(Config.name == name)
    return query


def _reference_order() -> tuple[Any, ...]:
    # By type, then the `default` name first, then the other names.
    return (Config.type, case((Config.name == DEFAULT_NAME, 1), else_=2), Config.name)


class ConfigStore:
    """The configs of one director database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def current(self, type_: str, name: str) -> ConfigRecord | None:
        """The current version of `type_`/`name`, if any."""
        found = self.list(type_=type_, name=name, limit=1)
        return found[0] if found else None

    def list(
        self, *, type_: str | None = None, name: str | None = None, limit: int = 1
    ) -> builtins.list[ConfigRecord]:
        """Up to `limit` newest versions of each (type, name) that has any left, filtered
        by `type_` and `name`; ordered by type, ``default`` first, name, newest first."""
        if limit < 1:
            return []
        with self._db.read() as session:
            newest = _filtered(
                select(Config.type, Config.name, func.max(Config.id).label("newest_id"))
                .where(Config.deleted.is_(False))
                .group_by(Config.type, Config.name),
                type_,
                name,
            ).subquery()
            if limit == 1:
                query = _live().where(Config.id.in_(select(newest.c.newest_id)))
            else:
                # Rank each version within its (type, name), newest first.
                rank = (
                    func.row_number()
                    .over(partition_by=(Config.type, Config.name), order_by=Config.id.desc())
                    .label("rank")
                )
                ranked = _filtered(
                    select(Config.id, rank).where(Config.deleted.is_(False)), type_, name
                ).subquery()
                query = _live().where(
                    Config.id.in_(select(ranked.c.id).where(ranked.c.rank <= limit))
                )
            rows = session.scalars(query.order_by(*_reference_order(), Config.id.desc()))
            current_ids = set(session.scalars(select(newest.c.newest_id)))
            return [ConfigRecord.from_row(row, current=row.id in current_ids) for row in rows]

    def deploy_configs(self) -> DeployConfigs:
        """The current cloud and runtime configs (every name of each)."""
        return DeployConfigs(
            cloud_config_ids=tuple(record.id for record in self.list(type_="cloud")),
            runtime_config_ids=tuple(record.id for record in self.list(type_="runtime")),
        )

    def records(self, ids: Iterable[int]) -> builtins.list[ConfigRecord]:
        """The versions with these ids, deleted ones too, in the reference's order."""
        with self._db.read() as session:
            rows = session.scalars(
                select(Config).where(Config.id.in_(list(ids))).order_by(*_reference_order())
            )
            return [ConfigRecord.from_row(row, current=_is_current(session, row)) for row in rows]

    def max_id(self) -> int:
        """The highest config id ever given (0 without configs): ``latest=false`` lists
        this many versions of each config, that is all of them."""
        with self._db.read() as session:
            return session.scalar(select(func.max(Config.id))) or 0

    def get(self, config_id: str) -> ConfigRecord:
        """The version with id `config_id` (as the API gives it: text)."""
        with self._db.read() as session:
            row = _find(session, config_id)
            return ConfigRecord.from_row(row, current=_is_current(session, row))

    def create_if_changed(
        self,
        type_: str,
        name: str,
        content: str,
        *,
        expected_latest_id: str | None = None,
        team_id: int | None = None,
    ) -> tuple[ConfigRecord, bool]:
        """Store `content` as the new version of `type_`/`name` unless it equals the
        current one; returns the current version afterwards and whether it is new.

        With `expected_latest_id` the current version's id (``"0"`` for none) must be
        that, else `BadExpectedConfigIdError`: someone else updated it meanwhile.
        """
        with self._db.write() as session:
            latest = session.scalars(
                _live()
                .where(Config.type == type_, Config.name == name)
                .order_by(Config.id.desc())
                .limit(1)
            ).first()
            latest_id = "0" if latest is None else str(latest.id)
            if expected_latest_id is not None and expected_latest_id != latest_id:
                raise BadExpectedConfigIdError(
                    latest_id=latest_id, expected_latest_id=expected_latest_id
                )
            if latest is not None and latest.content == content:
                return ConfigRecord.from_row(latest, current=True), False
            row = Config(type=type_, name=name, content=content, team_id=team_id)
            session.add(row)
            session.flush()
            return ConfigRecord.from_row(row, current=True), True

    def delete_by_id(self, config_id: str) -> bool:
        """Delete one version; False when there is no such version left."""
        if not _is_id(config_id):
            return False
        with self._db.write() as session:
            result = session.execute(
                update(Config)
                .where(Config.id == int(config_id), Config.deleted.is_(False))
                .values(deleted=True)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, type_: str, name: str) -> bool:
        """Delete every version of `type_`/`name`; False when none was left."""
        with self._db.write() as session:
            result = session.execute(
                update(Config)
                .where(Config.type == type_, Config.name == name, Config.deleted.is_(False))
                .values(deleted=True)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


def _is_id(text: str) -> bool:
    # The reference takes an id only when it is an integer written plainly ("07" is not).
    return bool(_ID.fullmatch(text)) and abs(int(text)) <= _MAX_ID


def _find(session: Session, config_id: str) -> Config:
    row = session.get(Config, int(config_id)) if _is_id(config_id) else None
    if row is None or row.deleted:
        raise ConfigNotFoundError(f"Config {config_id} not found")
    return row


def _is_current(session: Session, row: Config) -> bool:
    if row.deleted:
        return False
    newer = session.scalar(
        select(func.count())
        .select_from(Config)
        .where(
            Config.type == row.type,
            Config.name == row.name,
            Config.deleted.is_(False),
            Config.id > row.id,
        )
    )
    return not newer


# -- content ----------------------------------------------------------------------------


def parse_config_content(content: Any) -> dict[str, Any]:
    """The map a ``/configs`` request's YAML ``content`` holds (`BadConfigError` if none)."""
    if not isinstance(content, str | bytes):
        raise BadConfigError(
            "Config must be valid YAML: expected the YAML text as a string in 'content'"
        )
    try:
        document = load_yaml(content, source="config content")
    except YAMLError as error:
        raise BadConfigError(f"Config must be valid YAML: {error}") from None
    if not isinstance(document, Mapping):
        raise BadConfigError("YAML hash expected")
    return dict(document)


def parse_manifest(text: str | bytes, *, source: str) -> dict[str, Any]:
    """The map an uploaded YAML body (``/cloud_configs``...) holds (`BadManifestError`)."""
    if not text:
        raise BadManifestError("Manifest should not be empty")
    try:
        document = load_yaml(text, source=source)
    except YAMLError as error:
        raise BadManifestError(
            f"Incorrect YAML structure of the uploaded manifest: {error}"
        ) from None
    if not isinstance(document, Mapping):
        raise BadManifestError("Manifest should be a hash")
    return dict(document)


def release_versions_as_strings(document: Mapping[str, Any]) -> str:
    """A runtime config as the reference stores it: ``releases[].version`` made text
    (a version YAML read as a number), the whole dumped again as Ruby dumps it."""
    normalized = dict(document)
    releases = normalized.get("releases")
    if isinstance(releases, list):
        normalized["releases"] = [
            {**release, "version": _ruby_to_s(release["version"])}
            if isinstance(release, Mapping) and release.get("version") not in _RUBY_FALSE
            else release
            for release in releases
        ]
    return dump_like_ruby(normalized, document_start=True)


_RUBY_FALSE: Final = (None, False)


def _ruby_to_s(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int | float | str):
        return str(value)
    return value
