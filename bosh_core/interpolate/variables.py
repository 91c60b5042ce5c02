"""Where ((variables)) come from: -v, --var-file, -l, --vars-env, and a vars store.

Every source answers :meth:`Variables.get` with a value or :data:`MISSING`, and lists the
names it holds (for ``--var-errs-unused``). :func:`combine_variables` stacks them as the
reference does: ``--vars-env``, then ``-l`` files, then ``--var-file``, then ``-v``, each
later one overriding a top-level name of an earlier one, all before the vars store.

A :class:`VarsStore` generates what a definition of the manifest's ``variables:`` asks
for when the store file lacks it, and writes the file back as the reference writes it:
YAML with names sorted as yaml.v2 sorts them, values read from the file with their keys
sorted, and the value just generated with its keys in the reference's field order.

Values are plain YAML values as :func:`bosh_core.go_yaml.load` reads them. Errors are
InterpolateErrors whose text is the reference's; options and stored values that do not
decode get yaml.v2's ``unmarshal errors`` text, with the line numbers of the YAML the
reference re-encodes them to.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import yaml

from bosh_core import go_yaml, yaml_loading
from bosh_core.blobstore import staged_destination
from bosh_core.errors import BoshError
from bosh_core.interpolate.errors import InterpolateError, WrappedError
from bosh_core.yaml_loading import kind_of

if TYPE_CHECKING:
    from bosh_core.interpolate.generate import CertificateAuthority

__all__ = [
    "MISSING",
    "Missing",
    "MultiVariables",
    "StaticVariables",
    "VariableDefinition",
    "Variables",
    "VarsStore",
    "certificate_authority",
    "combine_variables",
    "definitions_from_document",
    "generate_value",
    "load_var_file",
    "load_vars_file",
    "parse_var_kv",
    "vars_from_env",
]


class Missing(enum.Enum):
    """The type of :data:`MISSING`."""

    MISSING = "MISSING"


MISSING = Missing.MISSING
"""What a source gives for a variable it does not have (None is a value: ``x: ~``)."""


class VariableDefinition(NamedTuple):
    """One item of a manifest's ``variables:``; a bare name for variables it does not define."""

    name: str
    type: str = ""
    options: Any = None


class Variables(Protocol):
    """A source of variable values."""

    def get(self, definition: VariableDefinition) -> Any:
        """The value of ``definition.name``, or :data:`MISSING`."""

    def names(self) -> list[str]:
        """The names this source holds."""


class StaticVariables:
    """Fixed values by name. A dotted name (``-v db.host=x``) sets a key of a map value."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values: dict[str, Any] = {}
        for name, value in values.items():
            *parents, last = name.split(".")
            if not parents:
                self._values[name] = value
                continue
            # The reference's dotted names overwrite each other in random (Go map) order;
            # here later names win, and a dotted name adds to a map given before it.
            container = self._values
            for parent in parents:
                child = container.get(parent)
                child = dict(child) if isinstance(child, dict) else {}
                container[parent] = child
                container = child
            container[last] = value

    def get(self, definition: VariableDefinition) -> Any:
        return self._values.get(definition.name, MISSING)

    def names(self) -> list[str]:
        return list(self._values)


class MultiVariables:
    """Several sources; the first that has a variable gives it."""

    def __init__(self, sources: Sequence[Variables]) -> None:
        self.sources = tuple(sources)

    def get(self, definition: VariableDefinition) -> Any:
        for source in self.sources:
            value = source.get(definition)
            if value is not MISSING:
                return value
        return MISSING

    def names(self) -> list[str]:
        return [name for source in self.sources for name in source.names()]


def combine_variables(
    *,
    env: Iterable[Mapping[str, Any]] = (),
    vars_files: Iterable[Mapping[str, Any]] = (),
    var_files: Iterable[tuple[str, Any]] = (),
    kvs: Iterable[tuple[str, Any]] = (),
    store: VarsStore | None = None,
) -> MultiVariables:
    """The variables of ``bosh int``'s flags, with the reference's precedence.

    Each argument holds its flags in command-line order. The store, last, signs new
    certificates with CAs found in any of the sources.
    """
    values: dict[str, Any] = {}
    for mapping in (*env, *vars_files):
        values.update(mapping)
    values.update(var_files)
    values.update(kvs)
    sources: list[Variables] = [StaticVariables(values)]
    if store is not None:
        sources.append(store)
    combined = MultiVariables(sources)
    if store is not None:
        store.ca_source = combined
    return combined


# -- command-line sources ----------------------------------------------------------------


def _name_and(text: str, what: str) -> tuple[str, str]:
    """``name=<what>`` split at the first ``=``; neither side may be empty."""
    name, equals, rest = text.partition("=")
    if not equals:
        raise InterpolateError(f"Expected var '{text}' to be in format 'name={what}'")
    if not name:
        raise InterpolateError(f"Expected var '{text}' to specify non-empty name")
    if not rest:
        raise InterpolateError(f"Expected var '{text}' to specify non-empty {what}")
    return name, rest


def parse_var_kv(text: str) -> tuple[str, Any]:
    """``-v name=value``: the value read as YAML, but a string keeps its text as given."""
    name, raw = _name_and(text, "value")
    try:
        value = go_yaml.load(raw, source=f"var '{name}'")
    except BoshError as error:
        raise WrappedError(f"Deserializing variables '{text}'", error) from None
    if isinstance(value, str):
        # YAML would fold newlines; the reference keeps the text, minus one pair of quotes.
        if len(raw) > 1 and raw[0] == raw[-1] and raw[0] in "\"'":
            raw = raw[1:-1]
        return name, raw
    return name, value


def load_var_file(text: str) -> tuple[str, str]:
    """``--var-file name=path``: the file's content is the value, as a string."""
    name, path = _name_and(text, "path")
    absolute = _expand_path(path)
    try:
        content = _read(str(absolute))
    except InterpolateError as error:
        raise WrappedError(f"Reading variable from file '{absolute}'", error) from None
    return name, content.decode(errors="replace")


def load_vars_file(path: str) -> dict[str, Any]:
    """``-l path``: a YAML map of names to values."""
    if not path:
        raise InterpolateError("Expected file path to be non-empty")
    try:
        content = _read(path)
    except InterpolateError as error:
        raise WrappedError(f"Reading variables file '{path}'", error) from None
    return _load_names(content, source=path, context=f"Deserializing variables file '{path}'")


def vars_from_env(prefix: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """``--vars-env PREFIX``: ``PREFIX_name=value`` variables, each value read as YAML."""
    if not prefix:
        raise InterpolateError("Expected environment variable prefix to be non-empty")
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(f"{prefix}_"):
            continue
        try:
            values[key.removeprefix(f"{prefix}_")] = go_yaml.load(raw, source=key)
        except BoshError as error:
            raise WrappedError(
                f"Deserializing YAML from environment variable '{key}'", error
            ) from None
    return values


# -- the vars store ----------------------------------------------------------------------


class VarsStore:
    """``--vars-store path``: values kept in a YAML file, generated when first asked for.

    ``ca_source`` is where a certificate's ``options.ca`` is looked up (the store itself
    unless set; :func:`combine_variables` sets it to every source of the command).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not os.fspath(path):
            raise InterpolateError("Expected file path to be non-empty")
        self.path = _expand_path(os.fspath(path))
        self.ca_source: Variables | None = None
        self._values: dict[str, Any] | None = None

    def get(self, definition: VariableDefinition) -> Any:
        values = self._load()
        if definition.name in values:
            value = values[definition.name]
            problem = _shape_problem(definition.type, value)
            if problem:
                raise InterpolateError(
                    f"Expected variable '{definition.name}' of type '{definition.type}'"
                    f" in vars store '{self.path}' to be {problem}"
                )
            return value
        if not definition.type:
            return MISSING
        try:
            value = self._generate(definition)
            values[definition.name] = value
            self._save(fresh=definition.name)
        except InterpolateError as error:
            raise WrappedError(f"Generating variable '{definition.name}'", error) from None
        return value

    def names(self) -> list[str]:
        return list(self._load())

    def _generate(self, definition: VariableDefinition) -> Any:
        return generate_value(definition, load_ca=self._load_ca)

    def _load_ca(self, name: str) -> CertificateAuthority:
        value = (self.ca_source or self).get(VariableDefinition(name))
        if value is MISSING:
            raise InterpolateError(f"Expected to find variable '{name}' with a certificate")
        return certificate_authority(name, value)

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            path = str(self.path)
            content = _read(path) if _file_exists(self.path) else b""
            context = f"Deserializing variables file store '{path}'"
            self._values = _load_names(content, source=path, context=context)
        return self._values

    def _save(self, *, fresh: str) -> None:
        """Write every value, as the reference re-encodes the file after each generation."""
        values = self._load()
        document = {
            name: values[name] if name == fresh else go_yaml.sorted_maps(values[name])
            for name in go_yaml.key_order(values)
        }
        text = go_yaml.dump(document, sort_keys=False)
        try:
            _write_private(self.path, text.encode())
        except OSError as error:
            raise WrappedError(
                f"Writing variables to file store '{self.path}'",
                _os_error("open", error, path=self.path),
            ) from None


def generate_value(
    definition: VariableDefinition, *, load_ca: Callable[[str], CertificateAuthority]
) -> Any:
    """A new value for `definition` (password, certificate, ssh or rsa), its options
    decoded as config-server decodes them; `load_ca` gives a certificate's ``ca``.

    Shared by the vars store and the director's config-server store."""
    from bosh_core.interpolate import generate  # hashing and crypto: only when generating

    kind = definition.type
    if kind == "password":
        params = _decode_options(definition.options, _PASSWORD_OPTIONS, what="password")
        return generate.generate_password(length=params["length"])
    if kind == "certificate":
        params = _decode_options(definition.options, _CERTIFICATE_OPTIONS, what="certificate")
        return generate.generate_certificate(
            generate.CertificateParams(
                common_name=params["common_name"],
                organization=params["organization"],
                alternative_names=tuple(params["alternative_names"]),
                is_ca=params["is_ca"],
                ca=params["ca"],
                extended_key_usage=tuple(params["extended_key_usage"]),
                duration=params["duration"],
                key_length=params["key_length"],
            ),
            load_ca=load_ca,
        )
    if kind == "ssh":
        return generate.generate_ssh_key()
    if kind == "rsa":
        return generate.generate_rsa_key()
    raise InterpolateError(f"Unsupported value type: {kind}")


def certificate_authority(name: str, value: Any) -> CertificateAuthority:
    """The CA held by variable `name` (a map with ``certificate`` and ``private_key``)."""
    from bosh_core.interpolate import generate

    problems = _type_problems(value, _CERTIFICATE_VALUE)
    if problems:
        raise WrappedError(
            f"Expected variable '{name}' to be deserializable", _type_error(value, problems)
        )
    fields = _decode(value, _CERTIFICATE_VALUE)
    return generate.parse_certificate_authority(fields["certificate"], fields["private_key"])


def _write_private(path: Path, content: bytes) -> None:
    """Replace `path` atomically; a new store is readable by its owner only (it holds keys)."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    with staged_destination(path, mode=mode) as staged:
        staged.write_bytes(content)


# -- shapes of stored values ------------------------------------------------------------

_STORED_KEYS = {
    "certificate": ("ca", "certificate", "private_key"),
    "ssh": ("private_key", "public_key", "public_key_fingerprint"),
    "rsa": ("private_key", "public_key"),
}


def _shape_problem(kind: str, value: Any) -> str | None:
    """Why a stored `value` cannot be a variable of type `kind`, or None if it can."""
    if kind == "password":
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return None
        return f"a string, but found {_described(value)}"
    keys = _STORED_KEYS.get(kind)
    if keys is None:
        return None  # other types are not generated here; any value will do
    expected = "a map with keys " + ", ".join(f"'{key}'" for key in keys)
    if not isinstance(value, dict):
        return f"{expected}, but found {_described(value)}"
    absent = [key for key in keys if not isinstance(value.get(key), str)]
    if absent:
        return f"{expected}, but '{absent[0]}' is {_described(value.get(absent[0]))}"
    return None


def _described(value: Any) -> str:
    return "missing or null" if value is None else kind_of(value)


# -- files -------------------------------------------------------------------------------


def _expand_path(path: str) -> Path:
    """Go's ExpandPath: a leading ``~`` is the home directory, then made absolute."""
    if path.startswith("~"):
        path = str(Path.home()) + "/" + path[1:]
    return Path(os.path.abspath(path))  # noqa: PTH100 - collapses `..` as Go's filepath.Abs


def _file_exists(path: Path) -> bool:
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # as Go's FileExists: only "does not exist" is absence
    return True


def _read(path: str) -> bytes:
    """A file's bytes; failures read as bosh-utils words them."""
    try:
        return Path(path).read_bytes()
    except IsADirectoryError as error:
        raise WrappedError(f"Reading file content {path}", _os_error("read", error)) from None
    except OSError as error:
        raise WrappedError(f"Opening file {path}", _os_error("open", error)) from None


def _os_error(operation: str, error: OSError, *, path: object = None) -> InterpolateError:
    """Go's os.PathError text: ``open /path: no such file or directory``."""
    reason = error.strerror or str(error)
    reason = reason[:1].lower() + reason[1:]
    return InterpolateError(f"{operation} {path or error.filename}: {reason}")


def _load_names(content: bytes, *, source: str, context: str) -> dict[str, Any]:
    """A YAML map of variables as yaml.v2 decodes it into ``map[string]interface{}``."""
    try:
        document = go_yaml.load(content, source=source)
    except BoshError as error:
        raise WrappedError(context, error) from None
    if document is None:
        return {}
    problems = _type_problems(document, _STATIC_VARIABLES)
    if problems:
        raise WrappedError(context, _type_error(document, problems))
    return {_go_string(name): value for name, value in document.items()}


# -- YAML decoded into the reference's Go types ------------------------------------------


class _GoType(NamedTuple):
    """A Go type the reference decodes YAML into: its name and what it accepts."""

    name: str
    kind: str  # "string" | "bool" | "int" | "any" | "slice" | "map" | "struct"
    item: _GoType | None = None
    fields: Mapping[str, _GoType] = MappingProxyType({})


_STRING = _GoType("string", "string")
_STRINGS = _GoType("[]string", "slice", _STRING)
_BOOL = _GoType("bool", "bool")
_INT = _GoType("int", "int")
_INT64 = _GoType("int64", "int")
_ANY = _GoType("interface {}", "any")
_STATIC_VARIABLES = _GoType("template.StaticVariables", "map")
_OPTIONS_MAP = _GoType("map[string]interface {}", "map")
_DEFINITIONS = _GoType(
    "[]template.VariableDefinition",
    "slice",
    _GoType(
        "template.VariableDefinition",
        "struct",
        fields={"name": _STRING, "type": _STRING, "options": _ANY},
    ),
)
_CERTIFICATE_VALUE = _GoType(
    "opts.CertVal", "struct", fields={"certificate": _STRING, "private_key": _STRING}
)
_PASSWORD_OPTIONS = _GoType("types.passwordParams", "struct", fields={"length": _INT})
_CERTIFICATE_OPTIONS = _GoType(
    "types.certParams",
    "struct",
    fields={
        "common_name": _STRING,
        "organization": _STRING,
        "alternative_names": _STRINGS,
        "is_ca": _BOOL,
        "ca": _STRING,
        "extended_key_usage": _STRINGS,
        "duration": _INT64,
        "key_length": _INT,
    },
)
_INT64_MAX = (1 << 63) - 1

# A problem: where (positions of map keys in yaml.v2 order, list indexes), the tag and
# text of what was found, and the Go type it did not fit.
_Problem = tuple[tuple[int, ...], str, str | None, str]


def _type_problems(value: Any, go_type: _GoType, at: tuple[int, ...] = ()) -> list[_Problem]:
    """What yaml.v2 refuses when decoding `value` into `go_type`, in its order."""
    if value is None or go_type.kind == "any":
        return []
    if isinstance(value, dict):
        if go_type.kind == "map":
            return []
        if go_type.kind != "struct":
            return [(at, "!!map", None, go_type.name)]
        problems = []
        for position, key in enumerate(go_yaml.key_order(value)):
            field = go_type.fields.get(_go_string(key))
            if field is not None:
                problems += _type_problems(value[key], field, (*at, position))
        return problems
    if isinstance(value, list):
        if go_type.kind != "slice" or go_type.item is None:
            return [(at, "!!seq", None, go_type.name)]
        problems = []
        for index, item in enumerate(value):
            problems += _type_problems(item, go_type.item, (*at, index))
        return problems
    if go_type.kind == "string" or (go_type.kind == "bool" and isinstance(value, bool)):
        return []
    if go_type.kind == "int" and _as_int(value) is not None:
        return []
    tag, text = _scalar_tag(value)
    return [(at, tag, text, go_type.name)]


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value <= _INT64_MAX else None
    if isinstance(value, float) and -float(_INT64_MAX) <= value <= _INT64_MAX:
        return int(value)
    return None


def _scalar_tag(value: Any) -> tuple[str, str]:
    if isinstance(value, bool):
        return "!!bool", "true" if value else "false"
    if isinstance(value, int):
        return "!!int", str(value)
    if isinstance(value, float):
        return "!!float", go_yaml.format_float(value)
    return "!!str", str(value)


def _go_string(value: Any) -> str:
    """A scalar decoded into a Go string: its YAML text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else _scalar_tag(value)[1]


def _type_error(root: Any, problems: list[_Problem], at: tuple[int, ...] = ()) -> InterpolateError:
    """yaml.v2's TypeError for `problems` found under position `at` of `root`.

    Lines are those of `root` as yaml.v2 encodes it, which the reference decodes again.
    """
    node: Any = yaml.compose(go_yaml.dump(root), Loader=yaml_loading.SafeLoader)
    lines = []
    for where, tag, text, type_name in problems:
        target = node
        for position in (*at, *where):
            entry = target.value[position]
            target = entry[1] if isinstance(target, yaml.MappingNode) else entry
        shown = ""
        if text is not None:
            raw = text.encode()
            shown = f" `{raw[:7].decode(errors='replace')}...`" if len(raw) > 10 else f" `{text}`"
        line = target.start_mark.line + 1
        lines.append(f"line {line}: cannot unmarshal {tag}{shown} into {type_name}")
    return InterpolateError("yaml: unmarshal errors:\n  " + "\n  ".join(lines))


def _decode(value: Any, go_type: _GoType) -> Any:
    """`value` (free of type problems) decoded into `go_type`; null is the zero value."""
    kind = go_type.kind
    if kind == "struct":
        fields = value if isinstance(value, dict) else {}
        given = {_go_string(key): item for key, item in fields.items()}
        return {name: _decode(given.get(name), field) for name, field in go_type.fields.items()}
    if kind == "slice" and go_type.item is not None:
        return [_decode(item, go_type.item) for item in value or ()]
    if kind == "string":
        return _go_string(value)
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return _as_int(value) or 0
    return value


def _decode_options(options: Any, go_type: _GoType, *, what: str) -> dict[str, Any]:
    """A generator's options as config-server's objToStruct reads them."""
    try:
        problems = _type_problems(options, _OPTIONS_MAP)
        if not problems:
            for key in options or {}:
                if _go_string(key) not in go_type.fields:
                    raise InterpolateError(f"Unsupported parameter '{_go_string(key)}'")
            problems = _type_problems(options, go_type)
        if problems:
            raise WrappedError(
                "Expected input to be deserializable", _type_error(options, problems)
            )
    except InterpolateError as error:
        raise WrappedError(f"Failed to generate {what}, parameters are invalid", error) from None
    decoded: dict[str, Any] = _decode(options, go_type)
    return decoded


def definitions_from_document(document: Any) -> list[VariableDefinition]:
    """The ``variables:`` of a manifest, decoded as the reference decodes them."""
    if not isinstance(document, dict):
        return []
    section = document.get("variables")
    problems = _type_problems(section, _DEFINITIONS)
    if problems:
        position = go_yaml.key_order(document).index("variables")
        raise _type_error(document, problems, (position,))
    return [VariableDefinition(**fields) for fields in _decode(section, _DEFINITIONS)]
