"""((variables)) of deployments: config servers and the variable sets that version them.

The director never keeps a variable's value with a deployment. It asks a *config server*
(the protocol :class:`ConfigServer`, shaped as config-server's HTTP API: get the latest
version by name, get one version by id, set, generate) and records, per deploy, which
version (id) of each variable the deployment uses: a *variable set*. A restart,
recreate or cck later interpolates with the recorded ids, so it sees the same values
even if the variable changed since; the next deploy makes a new set.

Two config servers:

- :class:`DatabaseConfigServer`, the default: versions are rows of
  ``config_server_values``, each value (with the type and options it was generated
  with) encrypted with AES-256-GCM under a key derived (HKDF-SHA256) from the
  director's ``encryption_key``. The row's name is bound into the ciphertext, so a value
  copied to another name does not decrypt.
- :class:`HTTPConfigServer`: the config-server HTTP API (``GET /v1/data?name=``,
  ``GET /v1/data/:id``, ``PUT /v1/data``, ``POST /v1/data``) over HTTPS with a given CA.
  The real config-server checks UAA tokens: this client sends a bearer token obtained
  elsewhere, or basic auth for servers that take it; it does not fetch UAA tokens.

:class:`VariableResolver` does what the reference's ``ConfigServerClient`` does with them:
names (``((x))`` is ``/<director>/<deployment>/x``; ``((/abs/x))`` as written), generation
of a manifest's ``variables:`` into the deploy's set (``update_mode``,
``update.strategy``, ``--force-latest-variables``), and interpolation of a document
against a set. Values stay in memory and never reach logs or errors.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bosh_core.director.db.models import ConfigServerValue, Variable, VariableSet
from bosh_core.director.errors import (
    ConfigServerFetchError,
    ConfigServerGenerationError,
    ConfigServerInconsistentVariableState,
    ConfigServerIncorrectNameSyntax,
    ConfigServerMissingName,
)
from bosh_core.director.views import find_deployment
from bosh_core.errors import BoshError
from bosh_core.interpolate.errors import InterpolateError, one_line
from bosh_core.interpolate.template import evaluate
from bosh_core.interpolate.variables import (
    MISSING,
    VariableDefinition,
    certificate_authority,
    generate_value,
)

if TYPE_CHECKING:
    import httpx

    from bosh_core.director.api.config import ConfigServerConfig, DirectorConfig
    from bosh_core.director.db import Database
    from bosh_core.interpolate.generate import CertificateAuthority

__all__ = [
    "KEY_FILE_NAME",
    "ConfigServer",
    "DatabaseConfigServer",
    "HTTPConfigServer",
    "StoredVariable",
    "UpdateMode",
    "UpdateStrategy",
    "VariableResolver",
    "absolute_name",
    "open_config_server",
    "validate_variable_name",
]

#: The built-in store's key file under the data directory, when the config gives none.
KEY_FILE_NAME: Final = "config_server.key"
_KEY_INFO: Final = b"bosh director config server values v1"
_CIPHERTEXT_PREFIX: Final = "v1:"
_NAME_CHARACTERS = re.compile(r"[a-zA-Z0-9_\-/]+")


class UpdateMode(enum.StrEnum):
    """A variable's ``update_mode``: when an existing value is generated again."""

    NO_OVERWRITE = "no-overwrite"
    OVERWRITE = "overwrite"
    CONVERGE = "converge"  # when the type or options (or a certificate's CA) changed


class UpdateStrategy(enum.StrEnum):
    """A variable's ``update.strategy``: when a deploy takes its latest version."""

    ON_DEPLOY = "on-deploy"
    ON_STEMCELL_CHANGE = "on-stemcell-change"


@attrs.frozen
class StoredVariable:
    """One version of a variable on a config server: ids are strings, as on the wire."""

    id: str
    name: str
    value: Any = attrs.field(repr=False)


class ConfigServer(Protocol):
    """What the director needs of a config server (config-server's HTTP API).

    ``get`` and ``get_by_id`` raise :class:`ConfigServerMissingName` for an unknown name
    or id, and :class:`ConfigServerFetchError` when the server cannot answer.
    """

    def get(self, name: str) -> StoredVariable:
        """The latest version of `name`."""
        ...

    def get_by_id(self, variable_id: str) -> StoredVariable: ...

    def set(self, name: str, value: Any) -> StoredVariable:
        """A new version of `name` holding `value`."""
        ...

    def generate(
        self, name: str, variable_type: str, parameters: Mapping[str, Any], *, mode: UpdateMode
    ) -> StoredVariable:
        """The version of `name` to use, generated (password, certificate, ssh, rsa)
        unless `mode` keeps the existing one."""
        ...


# ------------------------------------------------------------------------- names


def validate_variable_name(name: str) -> None:
    """The reference's rules for a variable's name (``!`` and ``.key`` already removed)."""
    if not _NAME_CHARACTERS.fullmatch(name):
        raise ConfigServerIncorrectNameSyntax(
            f"Variable name '{name}' must only contain alphanumeric, underscores, dashes,"
            " or forward slash characters"
        )
    if name.endswith("/"):
        raise ConfigServerIncorrectNameSyntax(
            f"Variable name '{name}' must not end with a forward slash"
        )
    if "//" in name:
        raise ConfigServerIncorrectNameSyntax(
            f"Variable name '{name}' must not contain two consecutive forward slashes"
        )


def absolute_name(name: str, *, director_name: str, deployment_name: str) -> str:
    """``/<director>/<deployment>/<name>`` for a relative name; an absolute one as is."""
    return name if name.startswith("/") else f"/{director_name}/{deployment_name}/{name}"


# ------------------------------------------------------------ the built-in store


class DatabaseConfigServer:
    """The director's own config server: encrypted versions in its database.

    `key` is the director's ``encryption_key`` (any string of 16 characters or more);
    the AES key is derived from it, so the same key reads what an earlier director
    wrote. Checking for an existing version and adding a new one happen in one write
    transaction (on PostgreSQL under an advisory lock per name), so two deploys asking
    to generate the same name with ``no-overwrite`` get one value.
    """

    def __init__(self, database: Database, *, key: str | bytes) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        secret = key.encode() if isinstance(key, str) else key
        if len(secret) < 16:
            raise ConfigServerFetchError("The config server's encryption key is too short")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO)
        self._cipher = AESGCM(derived.derive(secret))
        self._database = database

    def get(self, name: str) -> StoredVariable:
        with self._database.read() as session:
            row = _latest(session, name)
            if row is None:
                raise ConfigServerMissingName(
                    f"Failed to find variable '{name}' from config server: no such name"
                )
            return self._stored(row)

    def get_by_id(self, variable_id: str) -> StoredVariable:
        with self._database.read() as session:
            row = (
                session.get(ConfigServerValue, int(variable_id)) if variable_id.isdigit() else None
            )
            if row is None:
                raise ConfigServerMissingName(
                    f"Failed to find variable with id '{variable_id}' from config server:"
                    " no such id"
                )
            return self._stored(row)

    def set(self, name: str, value: Any) -> StoredVariable:
        validate_variable_name(name)
        with self._database.write() as session:
            return self._add(session, name, {"value": value})

    def generate(
        self, name: str, variable_type: str, parameters: Mapping[str, Any], *, mode: UpdateMode
    ) -> StoredVariable:
        validate_variable_name(name)
        with self._database.write() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name}
                )
            latest = _latest(session, name)
            if latest is not None and mode is not UpdateMode.OVERWRITE:
                record = self._decrypt(latest)
                if mode is UpdateMode.NO_OVERWRITE or self._converged(
                    session, record, variable_type, parameters
                ):
                    return StoredVariable(str(latest.id), name, record["value"])
            used_ca: list[ConfigServerValue] = []

            def load_ca(ca_name: str) -> CertificateAuthority:
                row = _latest(session, ca_name)
                if row is None:
                    raise InterpolateError(
                        f"Expected to find variable '{ca_name}' with a certificate"
                    )
                used_ca.append(row)
                return certificate_authority(ca_name, self._decrypt(row)["value"])

            definition = VariableDefinition(name, variable_type, dict(parameters))
            try:
                value = generate_value(definition, load_ca=load_ca)
            except InterpolateError as error:
                raise ConfigServerGenerationError(
                    f"Config Server failed to generate value for '{name}' with type"
                    f" '{variable_type}'. Error: '{one_line(error)}'"
                ) from None
            record = {"value": value, "type": variable_type, "parameters": dict(parameters)}
            if used_ca:
                record["ca_id"] = used_ca[0].id
            return self._add(session, name, record)

    def _converged(
        self,
        session: Session,
        record: Mapping[str, Any],
        variable_type: str,
        parameters: Mapping[str, Any],
    ) -> bool:
        """Whether a stored version still fits: same type, same options, same CA version."""
        if record.get("type") != variable_type or record.get("parameters") != dict(parameters):
            return False
        ca_name = parameters.get("ca")
        if not ca_name:
            return True
        current_ca = _latest(session, str(ca_name))
        return current_ca is not None and current_ca.id == record.get("ca_id")

    def _add(self, session: Session, name: str, record: Mapping[str, Any]) -> StoredVariable:
        row = ConfigServerValue(name=name, value=self._encrypt(name, record))
        session.add(row)
        session.flush()
        return StoredVariable(str(row.id), name, record["value"])

    def _stored(self, row: ConfigServerValue) -> StoredVariable:
        return StoredVariable(str(row.id), row.name, self._decrypt(row)["value"])

    def _encrypt(self, name: str, record: Mapping[str, Any]) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._cipher.encrypt(nonce, json.dumps(record).encode(), name.encode())
        return _CIPHERTEXT_PREFIX + base64.b64encode(nonce + sealed).decode()

    def _decrypt(self, row: ConfigServerValue) -> dict[str, Any]:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(row.value.removeprefix(_CIPHERTEXT_PREFIX), validate=True)
            plain = self._cipher.decrypt(raw[:12], raw[12:], row.name.encode())
        except (InvalidTag, ValueError):
            raise ConfigServerFetchError(
                f"Failed to fetch variable '{row.name}' with id '{row.id}' from config server:"
                " it does not decrypt with the director's encryption_key (was the key changed?)"
            ) from None
        record: dict[str, Any] = json.loads(plain)
        return record


def _latest(session: Session, name: str) -> ConfigServerValue | None:
    return session.scalars(
        select(ConfigServerValue)
        .where(ConfigServerValue.name == name)
        .order_by(ConfigServerValue.id.desc())
        .limit(1)
    ).first()


# -------------------------------------------------------- the HTTP config server


class HTTPConfigServer:
    """A config server reached over its HTTP API (cloudfoundry/config-server).

    TLS is verified against `config.ca_cert` (or the system's CAs); requests carry
    ``Authorization: Bearer <token>`` or basic auth. Error texts are the reference
    director's. Close it when done (or use it as a context manager).
    """

    def __init__(self, config: ConfigServerConfig, *, timeout: float = 30.0) -> None:
        import ssl

        import httpx

        verify: ssl.SSLContext | bool = True
        if config.ca_cert is not None:
            verify = ssl.create_default_context(cafile=str(config.ca_cert))
        headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
        auth = (config.user.name, config.user.password) if config.user else None
        self._client = httpx.Client(
            base_url=config.url.rstrip("/") + "/",
            verify=verify,
            headers=headers,
            auth=auth,
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HTTPConfigServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(self, name: str) -> StoredVariable:
        what = f"variable '{name}'"
        response = self._request("GET", "v1/data", what, params={"name": name, "current": "true"})
        body = _json_body(response, what)
        if response.status_code == 404:
            raise ConfigServerMissingName(
                f"Failed to find {what} from config server: HTTP Code '404',"
                f" Error: '{_error_text(body)}'"
            )
        _check_status(response, body, what)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise ConfigServerFetchError(
                f"Failed to fetch {what} from config server: Expected data to be an array"
            )
        if not data:
            raise ConfigServerFetchError(
                f"Failed to fetch {what} from config server: Expected data to be non empty array"
            )
        return _stored(data[0], what, prefix="data[0]")

    def get_by_id(self, variable_id: str) -> StoredVariable:
        what = f"variable with id '{variable_id}'"
        response = self._request("GET", f"v1/data/{variable_id}", what)
        body = _json_body(response, what)
        if response.status_code == 404:
            raise ConfigServerMissingName(
                f"Failed to find {what} from config server: HTTP Code '404',"
                f" Error: '{_error_text(body)}'"
            )
        _check_status(response, body, what)
        return _stored(body, what, prefix="response")

    def set(self, name: str, value: Any) -> StoredVariable:
        what = f"variable '{name}'"
        response = self._request("PUT", "v1/data", what, json={"name": name, "value": value})
        body = _json_body(response, what)
        _check_status(response, body, what)
        return _stored(body, what, prefix="response")

    def generate(
        self, name: str, variable_type: str, parameters: Mapping[str, Any], *, mode: UpdateMode
    ) -> StoredVariable:
        request = {
            "name": name,
            "type": variable_type,
            "parameters": dict(parameters),
            "mode": str(mode),
        }
        what = f"'{name}' with type '{variable_type}'"
        response = self._request("POST", "v1/data", what, json=request)
        try:
            body = response.json()
        except ValueError:
            raise ConfigServerGenerationError(
                f"Config Server returned a NON-JSON body while generating value for {what}"
            ) from None
        if not response.is_success:
            raise ConfigServerGenerationError(
                f"Config Server failed to generate value for {what}. HTTP Code"
                f" '{response.status_code}', Error: '{_error_text(body)}'"
            )
        if not isinstance(body, dict) or "id" not in body:
            raise ConfigServerGenerationError(
                f"Failed to version generated variable '{name}'. Expected Config Server"
                " response to have key 'id'"
            )
        return StoredVariable(str(body["id"]), str(body.get("name", name)), body.get("value"))

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            return self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            # Only the transport's text: request bodies (values) are never shown.
            raise ConfigServerFetchError(
                f"Failed to reach the config server at {self._client.base_url} for {what}:"
                f" {type(error).__name__}: {error}"
            ) from None


def _json_body(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ConfigServerFetchError(
            f"Failed to fetch {what} from config server: Invalid JSON response"
        ) from None


def _check_status(response: httpx.Response, body: Any, what: str) -> None:
    if not response.is_success:
        raise ConfigServerFetchError(
            f"Failed to fetch {what} from config server: HTTP Code '{response.status_code}',"
            f" Error: '{_error_text(body)}'"
        )


def _error_text(body: Any) -> str:
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _stored(item: Any, what: str, *, prefix: str) -> StoredVariable:
    if not isinstance(item, dict):
        raise ConfigServerFetchError(
            f"Failed to fetch {what} from config server: Expected {prefix} to be a hash"
        )
    for key in ("id", "value"):
        if key not in item:
            raise ConfigServerFetchError(
                f"Failed to fetch {what} from config server: Expected {prefix} to have key '{key}'"
            )
    return StoredVariable(str(item["id"]), str(item.get("name", "")), item["value"])


def open_config_server(config: DirectorConfig, database: Database) -> ConfigServer:
    """The config server `config` asks for: the external one, else the built-in one.

    Without an ``encryption_key`` the built-in store keeps a random key in
    ``<data_dir>/config_server.key`` (owner-only), made on first use: keep that file with
    the database, or the stored values cannot be read.
    """
    if config.config_server is not None:
        return HTTPConfigServer(config.config_server)
    key = config.encryption_key or _key_file(config.data_dir / KEY_FILE_NAME)
    return DatabaseConfigServer(database, key=key)


def _key_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


# -------------------------------------------------------------- variable sets


class VariableResolver:
    """Variable sets of deployments, and documents interpolated against them.

    Each method runs its own short transactions, so it can be called while no session
    is open (the built-in store writes to the same database). Values fetched by id are
    cached for the resolver's life: a deploy interpolates many instances with the same
    set, and a version's value never changes.
    """

    def __init__(self, database: Database, server: ConfigServer, *, director_name: str) -> None:
        self.database = database
        self.server = server
        self.director_name = director_name
        self._by_id: dict[str, StoredVariable] = {}

    def add_variable_set(self, deployment_name: str) -> int:
        """A new, writable variable set for a deploy of `deployment_name`: its id."""
        with self.database.write() as session:
            deployment = find_deployment(session, deployment_name)
            variable_set = VariableSet(deployment=deployment, writable=True)
            session.add(variable_set)
            session.flush()
            return variable_set.id

    def mark_deployed(self, variable_set_id: int) -> None:
        """The deploy using the set succeeded: later actions reuse it; it no longer changes."""
        with self.database.write() as session:
            variable_set = session.get_one(VariableSet, variable_set_id)
            variable_set.deployed_successfully = True
            variable_set.writable = False

    def variable_ids(self, variable_set_id: int) -> dict[str, str]:
        """Name to config-server id of every variable the set records."""
        with self.database.read() as session:
            rows = session.execute(
                select(Variable.variable_name, Variable.variable_id).where(
                    Variable.variable_set_id == variable_set_id
                )
            )
            return {row.variable_name: row.variable_id for row in rows}

    def generate_values(
        self,
        definitions: Sequence[Mapping[str, Any]],
        *,
        variable_set_id: int,
        converge_variables: bool = False,
        force_latest: bool = False,
    ) -> dict[str, str]:
        """Generate (or keep) the manifest's ``variables:`` and record them in the set.

        A definition is ``{name, type, options, update_mode, update: {strategy}}``. Its
        latest version is used with strategy ``on-deploy`` (the default), when the
        previous set lacks it, or with ``on-stemcell-change`` when `force_latest` (the
        deploy's ``--force-latest-variables``, or every stemcell changed); otherwise the
        previous set's id is kept. ``update_mode`` defaults to ``converge`` under
        ``features.converge_variables`` and to ``no-overwrite`` otherwise. Returns the
        absolute names and the ids recorded.
        """
        with self.database.read() as session:
            variable_set = session.get_one(VariableSet, variable_set_id)
            deployment_name = variable_set.deployment.name
            writable = variable_set.writable
            previous = session.scalars(
                select(VariableSet)
                .where(
                    VariableSet.deployment_id == variable_set.deployment_id,
                    VariableSet.id < variable_set_id,
                )
                .order_by(VariableSet.id.desc())
                .limit(1)
            ).first()
            previous_ids = {} if previous is None else _ids(previous)
        recorded: dict[str, str] = {}
        for definition in definitions:
            name = str(definition.get("name", ""))
            validate_variable_name(name)
            full_name = self._absolute(name, deployment_name)
            update = definition.get("update") or {}
            strategy = UpdateStrategy(update.get("strategy") or UpdateStrategy.ON_DEPLOY)
            use_latest = (
                strategy is UpdateStrategy.ON_DEPLOY
                or (force_latest and strategy is UpdateStrategy.ON_STEMCELL_CHANGE)
                or full_name not in previous_ids
            )
            if use_latest:
                if not writable:
                    raise ConfigServerGenerationError(
                        f"Variable '{full_name}' cannot be generated. Variable generation"
                        " allowed only during deploy action"
                    )
                recorded[full_name] = self._generate(
                    definition, full_name, deployment_name, converge_variables
                )
            else:
                recorded[full_name] = previous_ids[full_name]
            recorded[full_name] = self._record(variable_set_id, full_name, recorded[full_name])
        return recorded

    def interpolate(self, document: Any, *, variable_set_id: int) -> Any:
        """`document` with its ``((placeholders))`` replaced by the set's versions.

        A name the set lacks is fetched at its latest version and recorded, if the set
        is still writable (a deploy); otherwise that is an error. Every variable that
        cannot be resolved is reported, one ``- reason`` line each. A top-level
        ``variables:`` (definitions, generated by :meth:`generate_values`) is kept as is.
        """
        with self.database.read() as session:
            variable_set = session.get_one(VariableSet, variable_set_id)
            source = _SetVariables(
                self,
                variable_set_id,
                deployment_name=variable_set.deployment.name,
                writable=variable_set.writable,
                ids=_ids(variable_set),
            )
        definitions = None
        if isinstance(document, dict) and "variables" in document:
            definitions = document["variables"]
            document = {key: value for key, value in document.items() if key != "variables"}
        try:
            result = evaluate(document, source)
        except InterpolateError as error:
            raise ConfigServerFetchError(one_line(error)) from None
        if source.errors:
            raise ConfigServerFetchError("\n".join(f"- {message}" for message in source.errors))
        if definitions is not None:
            result["variables"] = definitions
        return result

    def _absolute(self, name: str, deployment_name: str) -> str:
        return absolute_name(
            name, director_name=self.director_name, deployment_name=deployment_name
        )

    def _generate(
        self,
        definition: Mapping[str, Any],
        full_name: str,
        deployment_name: str,
        converge_variables: bool,
    ) -> str:
        variable_type = str(definition.get("type", ""))
        options = dict(definition.get("options") or {})
        if variable_type == "certificate" and options.get("ca"):
            options["ca"] = self._absolute(str(options["ca"]), deployment_name)
        default_mode = UpdateMode.CONVERGE if converge_variables else UpdateMode.NO_OVERWRITE
        try:
            mode = UpdateMode(definition.get("update_mode") or default_mode)
        except ValueError:
            raise ConfigServerGenerationError(
                f"Variable '{full_name}': update_mode '{definition.get('update_mode')}' is not"
                f" one of {', '.join(mode.value for mode in UpdateMode)}"
            ) from None
        stored = self.server.generate(full_name, variable_type, options, mode=mode)
        self._by_id[stored.id] = stored
        return stored.id

    def _record(self, variable_set_id: int, name: str, variable_id: str) -> str:
        """Record `name` at `variable_id` in the set, unless a concurrent writer did it
        first: the id recorded is the one to use."""
        try:
            with self.database.write() as session:
                existing = session.scalars(
                    select(Variable).where(
                        Variable.variable_set_id == variable_set_id,
                        Variable.variable_name == name,
                        Variable.provider_deployment == "",
                    )
                ).first()
                if existing is not None:
                    return existing.variable_id
                session.add(
                    Variable(
                        variable_set_id=variable_set_id,
                        variable_name=name,
                        variable_id=variable_id,
                    )
                )
                return variable_id
        except IntegrityError:
            return self.variable_ids(variable_set_id)[name]

    def _value_by_id(self, name: str, variable_id: str) -> Any:
        stored = self._by_id.get(variable_id)
        if stored is None:
            try:
                stored = self.server.get_by_id(variable_id)
            except ConfigServerMissingName:
                raise ConfigServerMissingName(
                    f"Failed to find variable '{name}' with id '{variable_id}' from config server"
                ) from None
            self._by_id[variable_id] = stored
        return stored.value


def _ids(variable_set: VariableSet) -> dict[str, str]:
    return {
        variable.variable_name: variable.variable_id
        for variable in variable_set.variables
        if not variable.provider_deployment
    }


class _SetVariables:
    """The :class:`~bosh_core.interpolate.variables.Variables` of one variable set.

    Failures are collected, not raised, so one interpolation reports every variable
    that is wrong; the placeholder stays as written meanwhile.
    """

    def __init__(
        self,
        resolver: VariableResolver,
        variable_set_id: int,
        *,
        deployment_name: str,
        writable: bool,
        ids: dict[str, str],
    ) -> None:
        self.resolver = resolver
        self.variable_set_id = variable_set_id
        self.deployment_name = deployment_name
        self.writable = writable
        self.ids = ids
        self.errors: list[str] = []

    def get(self, definition: VariableDefinition) -> Any:
        try:
            validate_variable_name(definition.name)
            name = self.resolver._absolute(definition.name, self.deployment_name)
            variable_id = self.ids.get(name)
            if variable_id is not None:
                return self.resolver._value_by_id(name, variable_id)
            if not self.writable:
                raise ConfigServerInconsistentVariableState(
                    f"Expected variable '{name}' to be already versioned in deployment"
                    f" '{self.deployment_name}'"
                )
            stored = self.resolver.server.get(name)
            self.resolver._by_id[stored.id] = stored
            self.ids[name] = self.resolver._record(self.variable_set_id, name, stored.id)
            return self.resolver._value_by_id(name, self.ids[name])
        except BoshError as error:
            message = str(error)
            if message not in self.errors:
                self.errors.append(message)
            return MISSING

    def names(self) -> list[str]:
        return list(self.ids)
