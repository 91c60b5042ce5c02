"""go-patch: the operations of ops files, as cppforlife/go-patch v0.2.0 applies them.

A path is a pointer (RFC 6901, more or less): ``/instance_groups/name=web/jobs/-``.
Each step is a map key (``key``), an array index (``0``, ``-1``), the array item whose
map has ``name`` equal to a string (``name=web``), or the end of an array (``-``, last
step only). ``?`` after a key or a ``name=value`` makes that step and every later one
optional: replace creates what is missing, remove and find stop quietly. Index and
``name=value`` steps take modifiers: ``:prev`` and ``:next`` move the index, ``:before``
and ``:after`` (last step of a replace) insert instead of overwriting. ``~0``, ``~1``
and ``~7`` stand for ``~``, ``/`` and ``:``.

Error texts are the reference's, word for word, including Go type names where it prints
them (``found 'map[interface {}]interface {}'``). Documents are plain YAML values as
:func:`bosh_core.go_yaml.load` returns them.

The ``Error 'operation [0] in ops.yml failed': ...`` prefix of a failing op is go-patch's
DescriptiveOp; the ``operation [0] in ops.yml failed`` text inside it is the bosh CLI's
(its ops file flag names each operation of each file, counting from 0 in every file).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, Protocol

import yaml

from bosh_core import go_yaml, yaml_loading
from bosh_core.interpolate.errors import (
    MissingIndexError,
    MissingMapKeyError,
    OperationFailedError,
    OpsFileError,
    PatchError,
    PointerError,
)

__all__ = [
    "AfterLastIndexToken",
    "DescriptiveOp",
    "IndexToken",
    "KeyToken",
    "MatchingIndexToken",
    "Modifier",
    "Op",
    "Ops",
    "Pointer",
    "RemoveOp",
    "ReplaceOp",
    "TestOp",
    "Token",
    "find",
    "go_type",
    "ops_from_document",
    "ops_from_yaml",
]


# -- pointers ---------------------------------------------------------------------------


class Modifier(enum.Enum):
    """What follows ``:`` in an index or ``name=value`` step."""

    PREV = "prev"
    NEXT = "next"
    BEFORE = "before"
    AFTER = "after"

    @property
    def go_type(self) -> str:
        """The Go type name the reference prints for this modifier."""
        return f"patch.{self.value.capitalize()}Modifier"


class IndexToken(NamedTuple):
    """``/3``, ``/-1``, ``/0:next``: an array index; negative ones count from the end."""

    number: int
    modifiers: tuple[Modifier, ...] = ()


class AfterLastIndexToken(NamedTuple):
    """``/-``: past the last item of an array (replace appends there)."""


class MatchingIndexToken(NamedTuple):
    """``/name=web``: the one array item that is a map whose ``key`` is the string ``value``."""

    key: str
    value: str
    optional: bool = False
    modifiers: tuple[Modifier, ...] = ()


class KeyToken(NamedTuple):
    """``/key``: a map key (always a string key)."""

    key: str
    optional: bool = False


Token = IndexToken | AfterLastIndexToken | MatchingIndexToken | KeyToken

_UNESCAPES = {"~0": "~", "~1": "/", "~7": ":"}
_ESCAPED = re.compile("~[017]")
_ESCAPES = str.maketrans({"~": "~0", "/": "~1", ":": "~7"})
# strconv.Atoi: an optional sign, ASCII digits, within int64.
_DECIMAL = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


def _atoi(text: str) -> int | None:
    if not _DECIMAL.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


class Pointer(NamedTuple):
    """A path into a document: the steps after the root (no steps: the whole document)."""

    tokens: tuple[Token, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Pointer:
        """Read a path as go-patch does; a bad one raises :class:`PointerError`."""
        if not text:
            return cls()
        if not text.startswith("/"):
            raise PointerError("Expected to start with '/'")
        pieces = text.split("/")[1:]
        tokens: list[Token] = []
        optional = False  # a `?` applies to its step and to every step after it
        for position, piece in enumerate(pieces):
            name, *modifier_names = piece.split(":")
            try:
                modifiers = tuple(Modifier(modifier) for modifier in modifier_names)
            except ValueError:
                # The reference names the first modifier, whichever one is wrong.
                raise PointerError(
                    "Expected to find one of the following modifiers: 'prev', 'next',"
                    f" 'before', or 'after' but found '{modifier_names[0]}'"
                ) from None
            name = _ESCAPED.sub(lambda match: _UNESCAPES[match.group()], name)
            if name == "-" and position == len(pieces) - 1:
                if modifiers:
                    raise PointerError(
                        "Expected not to find any modifiers with after last index token"
                    )
                tokens.append(AfterLastIndexToken())
                continue
            index = _atoi(name)
            if index is not None:
                tokens.append(IndexToken(index, modifiers))
                continue
            optional = optional or name.endswith("?")
            key, equals, value = name.partition("=")
            if equals:
                tokens.append(MatchingIndexToken(key, value.removesuffix("?"), optional, modifiers))
                continue
            if modifiers:
                raise PointerError("Expected not to find any modifiers with key token")
            tokens.append(KeyToken(name.removesuffix("?"), optional))
        return cls(tuple(tokens))

    def __str__(self) -> str:
        parts = [""]
        optional_shown = False  # `?` is written once, on the first optional step
        for token in self.tokens:
            if isinstance(token, IndexToken):
                parts.append(f"{token.number}{_modifiers_text(token.modifiers)}")
            elif isinstance(token, AfterLastIndexToken):
                parts.append("-")
            elif isinstance(token, MatchingIndexToken):
                value = token.value.translate(_ESCAPES)
                if token.optional and not optional_shown:
                    value += "?"
                    optional_shown = True
                key = token.key.translate(_ESCAPES)
                parts.append(f"{key}={value}{_modifiers_text(token.modifiers)}")
            else:
                key = token.key.translate(_ESCAPES)
                if token.optional and not optional_shown:
                    key += "?"
                    optional_shown = True
                parts.append(key)
        return "/".join(parts)

    def prefix(self, length: int) -> Pointer:
        """The pointer of the first `length` steps."""
        return Pointer(self.tokens[:length])


def _modifiers_text(modifiers: tuple[Modifier, ...]) -> str:
    return "".join(f":{modifier.value}" for modifier in modifiers)


# -- errors and values as Go sees them --------------------------------------------------


def go_type(value: Any) -> str:
    """What Go's ``%T`` prints for a value yaml.v2 decoded into ``interface{}``."""
    if value is None:
        return "<nil>"
    if isinstance(value, dict):
        return "map[interface {}]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return "int"
        return "uint64" if 0 <= value <= _UINT64_MAX else "float64"
    if isinstance(value, float):
        return "float64"
    return type(value).__name__


def _expect_list(value: Any, path: Pointer) -> list[Any]:
    if not isinstance(value, list):
        raise PatchError(
            f"Expected to find an array at path '{path}' but found '{go_type(value)}'",
            path=str(path),
        )
    return value


def _expect_map(value: Any, path: Pointer) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise PatchError(
            f"Expected to find a map at path '{path}' but found '{go_type(value)}'",
            path=str(path),
        )
    return value


def _missing_key(key: str, mapping: dict[Any, Any], path: Pointer) -> MissingMapKeyError:
    keys = sorted(other for other in mapping if isinstance(other, str))
    siblings = (
        "found map keys: '" + "', '".join(keys) + "'" if mapping else "found no other map keys"
    )
    return MissingMapKeyError(
        f"Expected to find a map key '{key}' for path '{path}' ({siblings})", path=str(path)
    )


def _matching_indexes(array: list[Any], token: MatchingIndexToken) -> list[int]:
    # As Go's interface{} == string: only a string equals a string (`name: 5` is no "5").
    return [
        position
        for position, item in enumerate(array)
        if isinstance(item, dict) and item.get(token.key) == token.value
    ]


def _one_match(indexes: list[int], path: Pointer) -> int:
    if len(indexes) != 1:
        raise PatchError(
            f"Expected to find exactly one matching array item for path '{path}'"
            f" but found {len(indexes)}",
            path=str(path),
        )
    return indexes[0]


def _array_index(
    index: int, modifiers: tuple[Modifier, ...], array: list[Any], path: Pointer
) -> int:
    """go-patch ArrayIndex.Concrete: apply :prev/:next, then bound and resolve negatives."""
    result = index
    for modifier in modifiers:
        if modifier is Modifier.PREV:
            result -= 1
        elif modifier is Modifier.NEXT:
            result += 1
        else:
            raise PatchError(
                "Expected to find one of the following modifiers: 'prev', 'next',"
                f" but found modifier '{modifier.go_type}'"
            )
    if result >= len(array) or -result - 1 >= len(array):
        raise MissingIndexError(
            f"Expected to find array index '{result}' but found array of length"
            f" '{len(array)}' for path '{path}'",
            path=str(path),
        )
    return result + len(array) if result < 0 else result


def _replace_item(
    array: list[Any], index: int, modifiers: tuple[Modifier, ...], value: Any, path: Pointer
) -> list[Any]:
    """go-patch ArrayInsertion: overwrite the item, or insert with :before / :after."""
    before = after = False
    moves: list[Modifier] = []
    for modifier in modifiers:
        if before or after:
            raise PatchError(
                "Expected to not find any modifiers after"
                f" '{'before' if before else 'after'}' modifier,"
                f" but found modifier '{modifier.go_type}'"
            )
        if modifier is Modifier.BEFORE:
            before = True
        elif modifier is Modifier.AFTER:
            after = True
        else:
            moves.append(modifier)
    position = _array_index(index, tuple(moves), array, path)
    if before or after:
        position += after  # :after inserts behind the item
        return [*array[:position], value, *array[position:]]
    array[position] = value
    return array


def _copy(value: Any, *, through_yaml: bool) -> Any:
    """A copy of a YAML value sharing no map or list with it.

    `through_yaml` copies as the reference clones a replace's value (yaml.Marshal, then
    yaml.Unmarshal): a float that Go writes without a fraction or exponent (``1.0`` is
    written ``1``) reads back as an int.
    """
    if isinstance(value, dict):
        return {
            _copy(key, through_yaml=through_yaml): _copy(item, through_yaml=through_yaml)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_copy(item, through_yaml=through_yaml) for item in value]
    if through_yaml and isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return int(value)
    return value


def _deep_equal(left: Any, right: Any) -> bool:
    """Go's reflect.DeepEqual on decoded YAML: types must match (1 is not 1.0 nor true)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return len(left) == len(right) and all(
            key in right and _deep_equal(item, right[key]) for key, item in left.items()
        )
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_deep_equal, left, right))
    return bool(left == right)  # NaN is not equal to itself, as in Go


# -- operations -------------------------------------------------------------------------


class Op(Protocol):
    """One operation. ``apply_to`` may change `document` in place and returns its new root.

    Use :meth:`Ops.apply` to leave the caller's document untouched.
    """

    def apply_to(self, document: Any) -> Any: ...


_Setter = Callable[[Any], None]


def _setter(container: Any, key: Any) -> _Setter:
    def set_item(value: Any) -> None:
        container[key] = value

    return set_item


class ReplaceOp(NamedTuple):
    """``type: replace``: set the value at `path`, creating optional steps that are missing."""

    path: Pointer
    value: Any

    def apply_to(self, document: Any) -> Any:
        value = _copy(self.value, through_yaml=True)
        tokens = self.path.tokens
        if not tokens:
            return value
        root = [document]
        # Where the current container hangs: a new array is written back through it.
        update: _Setter = _setter(root, 0)
        current = document
        for step, token in enumerate(tokens):
            last = step == len(tokens) - 1
            here = self.path.prefix(step + 1)
            if isinstance(token, IndexToken):
                array = _expect_list(current, here)
                if last:
                    update(_replace_item(array, token.number, token.modifiers, value, here))
                else:
                    position = _array_index(token.number, token.modifiers, array, here)
                    current = array[position]
                    update = _setter(array, position)
            elif isinstance(token, AfterLastIndexToken):
                array = _expect_list(current, here)
                if not last:
                    raise PatchError(
                        f"Expected after last index token to be last in path '{self.path}'"
                    )
                update([*array, value])
            elif isinstance(token, MatchingIndexToken):
                array = _expect_list(current, here)
                matches = _matching_indexes(array, token)
                if token.optional and not matches:
                    if last:
                        update([*array, value])
                    else:
                        current = {token.key: token.value}
                        update([*array, current])
                else:
                    match = _one_match(matches, here)
                    if last:
                        update(_replace_item(array, match, token.modifiers, value, here))
                    else:
                        # `update` stays the array's own: the reference does the same,
                        # which matters only when a modifier lands on a non-map item.
                        current = array[_array_index(match, token.modifiers, array, here)]
            else:
                mapping = _expect_map(current, here)
                found = token.key in mapping
                if not found and not token.optional:
                    raise _missing_key(token.key, mapping, here)
                if last:
                    mapping[token.key] = value
                    continue
                update = _setter(mapping, token.key)
                if found:
                    current = mapping[token.key]
                    continue
                following = tokens[step + 1]
                if isinstance(following, KeyToken):
                    current = {}
                elif isinstance(following, AfterLastIndexToken | MatchingIndexToken):
                    current = []
                else:
                    raise PatchError(
                        "Expected to find key, matching index or after last index token"
                        f" at path '{self.path.prefix(step + 2)}'"
                    )
                mapping[token.key] = current
        return root[0]


class RemoveOp(NamedTuple):
    """``type: remove``: delete the value at `path`; optional steps that are missing do nothing."""

    path: Pointer

    def apply_to(self, document: Any) -> Any:
        tokens = self.path.tokens
        if not tokens:
            raise PatchError("Cannot remove entire document")
        root = [document]
        update: _Setter = _setter(root, 0)
        current = document
        for step, token in enumerate(tokens):
            last = step == len(tokens) - 1
            here = self.path.prefix(step + 1)
            if isinstance(token, IndexToken):
                array = _expect_list(current, here)
                position = _array_index(token.number, token.modifiers, array, here)
                if last:
                    update([*array[:position], *array[position + 1 :]])
                else:
                    current = array[position]
                    update = _setter(array, position)
            elif isinstance(token, MatchingIndexToken):
                array = _expect_list(current, here)
                matches = _matching_indexes(array, token)
                if token.optional and not matches:
                    return root[0]
                match = _one_match(matches, here)
                position = _array_index(match, token.modifiers, array, here)
                if last:
                    update([*array[:position], *array[position + 1 :]])
                else:
                    current = array[position]  # `update` kept, as the reference does
            elif isinstance(token, KeyToken):
                mapping = _expect_map(current, here)
                if token.key not in mapping:
                    if token.optional:
                        return root[0]
                    raise _missing_key(token.key, mapping, here)
                if last:
                    del mapping[token.key]
                else:
                    current = mapping[token.key]
                    update = _setter(mapping, token.key)
            else:
                raise PatchError(
                    f"Expected to not find token 'patch.AfterLastIndexToken' at path '{here}'",
                    path=str(here),
                )
        return root[0]


def find(document: Any, pointer: Pointer) -> Any:
    """The value at `pointer` (``bosh int --path``): the document's own object, not a copy.

    A missing optional key finds None; a missing optional ``name=value`` item finds
    ``{name: value}``, as the reference does.
    """
    tokens = pointer.tokens
    current = document
    for step, token in enumerate(tokens):
        here = pointer.prefix(step + 1)
        if isinstance(token, IndexToken):
            array = _expect_list(current, here)
            current = array[_array_index(token.number, token.modifiers, array, here)]
        elif isinstance(token, AfterLastIndexToken):
            raise PatchError(
                f"Expected not to find after last index token in path '{pointer}'"
                " (not supported in find operations)"
            )
        elif isinstance(token, MatchingIndexToken):
            array = _expect_list(current, here)
            matches = _matching_indexes(array, token)
            if token.optional and not matches:
                current = {token.key: token.value}
            else:
                match = _one_match(matches, here)
                current = array[_array_index(match, token.modifiers, array, here)]
        else:
            mapping = _expect_map(current, here)
            if token.key in mapping:
                current = mapping[token.key]
                continue
            if not token.optional:
                raise _missing_key(token.key, mapping, here)
            if step == len(tokens) - 1:
                return None
            following = tokens[step + 1]
            if isinstance(following, KeyToken):
                current = {}
            elif isinstance(following, MatchingIndexToken):
                current = []
            else:
                raise PatchError(
                    "Expected to find key or matching index token"
                    f" at path '{pointer.prefix(step + 2)}'"
                )
    return current


class TestOp(NamedTuple):
    """``type: test``: fail unless `path` holds `value` (or, with `absent`, holds nothing)."""

    path: Pointer
    value: Any = None
    absent: bool = False

    def apply_to(self, document: Any) -> Any:
        try:
            found = find(document, self.path)
        except (MissingIndexError, MissingMapKeyError) as error:
            # Absent means missing at the last step, not somewhere before it.
            if self.absent and error.path == str(self.path):
                return document
            raise
        if self.absent:
            raise PatchError(f"Expected to not find '{self.path}'")
        if not _deep_equal(found, self.value):
            raise PatchError("Found value does not match expected value")
        return document


class DescriptiveOp(NamedTuple):
    """An op whose failure is prefixed with a description (an ops file's ``error:``)."""

    op: Op
    description: str

    def apply_to(self, document: Any) -> Any:
        try:
            return self.op.apply_to(document)
        except PatchError as error:
            raise OperationFailedError(self.description, error) from error


class Ops:
    """Operations applied in order; ``a + b`` applies the ops of `a`, then those of `b`."""

    __slots__ = ("ops",)

    def __init__(self, ops: Iterable[Op] = ()) -> None:
        self.ops: tuple[Op, ...] = tuple(ops)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ops) and self.ops == other.ops

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Ops({self.ops!r})"

    def apply(self, document: Any) -> Any:
        """A new document with every op applied; `document` itself is left as it was.

        The copy also unshares what YAML aliases share (yaml.v2 decodes each alias
        afresh), so an op changing one place never changes another.
        """
        result = _copy(document, through_yaml=False)
        for op in self.ops:
            result = op.apply_to(result)
        return result

    def __add__(self, other: Ops) -> Ops:
        return Ops(self.ops + other.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)


# -- ops files --------------------------------------------------------------------------

_FIELDS = ("type", "path", "value", "absent", "error")
_STRING_FIELDS = frozenset(("type", "path", "error"))


class _Definition(NamedTuple):
    """go-patch OpDefinition: None is a field the file leaves out (or sets to null)."""

    type: str
    path: str | None
    value: Any
    absent: bool | None
    error: str

    def shown(self) -> str:
        """The definition as the reference shows it in errors (Go's json.MarshalIndent)."""
        fields: list[tuple[str, Any]] = []
        if self.type:
            fields.append(("Type", self.type))
        if self.path is not None:
            fields.append(("Path", self.path))
        if self.value is not None:
            fields.append(("Value", "<redacted>"))  # a value may be a secret
        if self.absent is not None:
            fields.append(("Absent", self.absent))
        fields.append(("Error", self.error))
        body = ",\n".join(f"  {_go_json(name)}: {_go_json(value)}" for name, value in fields)
        text = "{\n" + body + "\n}"
        # go-patch turns Go's HTML escapes of < and > back (any such text, as it does).
        return text.replace("\\u003c", "<").replace("\\u003e", ">")


def _go_json(value: str | bool) -> str:
    """Go's json.Marshal of a string or bool: HTML characters and U+2028/9 escaped."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escape in (("<", "003c"), (">", "003e"), ("&", "0026"), ("\u2028", "2028")):
        text = text.replace(char, f"\\u{escape}")
    return text.replace("\u2029", "\\u2029")


class _Source:
    """Where values of an ops file are in its text, for yaml.v2-style messages.

    Composed only when a message needs it: a file that loads cleanly is parsed once.
    """

    def __init__(self, text: str | bytes | None) -> None:
        self._text = text
        self._root: yaml.Node | None = None

    def node(self, location: tuple[int | str, ...]) -> yaml.Node | None:
        if self._text is None:
            return None
        if self._root is None:
            self._root = yaml.compose(self._text, Loader=yaml_loading.SafeLoader)
        node = self._root
        for step in location:
            if isinstance(step, int) and isinstance(node, yaml.SequenceNode):
                node = node.value[step]
            elif isinstance(step, str) and isinstance(node, yaml.MappingNode):
                # yaml.v2 keeps the last of repeated keys
                values = [value for key, value in node.value if key.value == step]
                if not values:
                    return None
                node = values[-1]
            else:
                return None
        return node

    def scalar_text(self, location: tuple[int | str, ...], value: Any) -> str:
        """The text of a scalar as written (yaml.v2 puts it into a string field as is)."""
        node = self.node(location)
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return go_yaml.format_float(value)
        return str(value)

    def mismatch(self, location: tuple[int | str, ...], value: Any, into: str) -> str:
        """yaml.v2's "cannot unmarshal" line for `value` found where `into` was expected."""
        node = self.node(location)
        where = f"line {node.start_mark.line + 1}: " if node is not None else ""
        if isinstance(value, dict):
            return f"{where}cannot unmarshal !!map into {into}"
        if isinstance(value, list):
            return f"{where}cannot unmarshal !!seq into {into}"
        text = self.scalar_text(location, value)
        if len(text.encode()) > 10:  # yaml.v2 shortens by bytes
            text = text.encode()[:7].decode(errors="replace") + "..."
        return f"{where}cannot unmarshal !!{_yaml_kind(value, node)} `{text}` into {into}"


def _yaml_kind(value: Any, node: yaml.Node | None) -> str:
    """The short tag yaml.v2 resolved a scalar to (timestamps are strings once loaded)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if node is not None and node.tag == "tag:yaml.org,2002:timestamp":
        return "timestamp"
    return "str"


def _definitions(document: Any, *, source: str, text: _Source) -> list[_Definition]:
    """Decode an ops file as ``yaml.Unmarshal`` into ``[]patch.OpDefinition`` does."""
    if document is None:
        return []
    if not isinstance(document, list):
        problems = [text.mismatch((), document, "[]patch.OpDefinition")]
        raise _deserializing(source, problems)
    definitions = []
    problems = []
    for index, item in enumerate(document):
        if item is None:
            item = {}  # a null item is an empty definition, as in Go
        if not isinstance(item, dict):
            problems.append(text.mismatch((index,), item, "patch.OpDefinition"))
            continue
        fields: dict[str, Any] = {}
        for name in _FIELDS:
            value = item.get(name)
            if value is None:
                continue
            location = (index, name)
            if name in _STRING_FIELDS and not isinstance(value, str):
                if isinstance(value, dict | list):
                    problems.append(text.mismatch(location, value, "string"))
                    continue
                value = text.scalar_text(location, value)
            elif name == "absent" and not isinstance(value, bool):
                problems.append(text.mismatch(location, value, "bool"))
                continue
            fields[name] = value
        definitions.append(
            _Definition(
                type=fields.get("type", ""),
                path=fields.get("path"),
                value=fields.get("value"),
                absent=fields.get("absent"),
                # The CLI replaces any `error:` of the file with its own description.
                error=f"operation [{index}] in {source} failed",
            )
        )
    if problems:
        raise _deserializing(source, problems)
    return definitions


def _deserializing(source: str, problems: list[str]) -> OpsFileError:
    lines = "\n  ".join(problems)
    return OpsFileError(f"Deserializing ops file '{source}': yaml: unmarshal errors:\n  {lines}")


_KINDS = ("replace", "remove", "test")


def _definition_problem(definition: _Definition) -> str | None:
    """What go-patch finds wrong with a definition's fields, in its order of checks."""
    if definition.path is None:
        return "Missing path"
    kind, has_value = definition.type, definition.value is not None
    if kind == "replace" and not has_value:
        return "Missing value"
    if kind == "remove" and has_value:
        return "Cannot specify value"
    if kind == "test" and not has_value and definition.absent is None:
        return "Missing value or absent"
    return None


def _op(definition: _Definition, index: int) -> Op:
    """go-patch NewOpsFromDefinitions for one definition (bosh names every op's failure)."""
    kind = definition.type
    if kind not in _KINDS:
        message = f"Unknown operation [{index}] with type '{kind}'"
    else:
        problem = _definition_problem(definition)
        if problem is None:
            assert definition.path is not None  # checked by _definition_problem
            try:
                path = Pointer.parse(definition.path)
            except PointerError as error:
                problem = f"Invalid path: {error}"
            else:
                op: Op
                if kind == "replace":
                    op = ReplaceOp(path, definition.value)
                elif kind == "remove":
                    op = RemoveOp(path)
                else:
                    op = TestOp(path, definition.value, absent=bool(definition.absent))
                return DescriptiveOp(op, definition.error)
        message = f"{kind.capitalize()} operation [{index}]: {problem}"
    raise OpsFileError(f"Building ops: {message} within\n{definition.shown()}")


def _build(document: Any, *, source: str, text: _Source) -> Ops:
    definitions = _definitions(document, source=source, text=text)
    return Ops(tuple(_op(definition, index) for index, definition in enumerate(definitions)))


def ops_from_document(document: Any, *, source: str) -> Ops:
    """The ops of an ops file already parsed (a list of maps with ``type``, ``path``...).

    `source` is the file as the user named it: failures say ``operation [0] in
    <source> failed``. A malformed file raises :class:`OpsFileError` with the reference's
    text; without the file's text, its ``line N:`` and scalar spellings are unknown.
    """
    return _build(document, source=source, text=_Source(None))


def ops_from_yaml(text: str | bytes, *, source: str) -> Ops:
    """The ops of an ops file's text, read as yaml.v2 reads it (:func:`go_yaml.load`).

    The CLI adds the go-flags prefix to an :class:`OpsFileError`: ``invalid argument
    for flag `-o, --ops-file' (expected []opts.OpsFileArg): ``.
    """
    return _build(go_yaml.load(text, source=source), source=source, text=_Source(text))
