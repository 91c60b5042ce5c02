"""What the manifest and config models share: strict YAML types, loading, merging, checks.

Loading a document has two passes. The first builds the typed model through the one
converter (every type error and missing field, each with its path); the second checks what
types cannot say (references, duplicates, IP ranges), again collecting every problem. The
second pass runs only when the first found nothing: its checks read the typed model.

The field types here are stricter than the converter's defaults, as the director is: an
integer field refuses ``"3"`` and ``3.5``, a string field refuses ``true`` (YAML reads
``yes`` as a boolean), and a list field refuses a string instead of reading its letters.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, TypeVar, get_args, get_origin

import attrs
from cattrs.errors import AttributeValidationNote, ClassValidationError

from bosh_core import serialization
from bosh_core.errors import ManifestError, Problem
from bosh_core.serialization import kind_of

__all__ = [
    "Choice",
    "Document",
    "IPBlock",
    "IPRanges",
    "Int",
    "Model",
    "Origins",
    "Seq",
    "Str",
    "canonical_name",
    "check_canonical_names",
    "check_unique",
    "cidr_block",
    "concatenate",
    "describe",
    "field_error",
    "ip_blocks",
    "load_parts",
    "single_owner",
    "tag",
]

T = TypeVar("T")

Document = str | bytes | Mapping[str, Any]
"""YAML text, or a document already parsed (as ``load_yaml`` returns it)."""


class _Strict:
    """Marks a field type read strictly (see the module docstring)."""


class _OneOrMany:
    """Marks a list field that also takes a single string, as IP lists do."""


Int = Annotated[int, _Strict]
"""A YAML integer (not a boolean, a float or a numeric string)."""

Str = Annotated[str, _Strict]
"""A YAML string; a number is read as its text (``version: 1.10`` is ``"1.1"``)."""

Seq = Annotated[tuple[T, ...], _Strict]
"""A YAML list, read into a tuple."""

IPRanges = Annotated[tuple[Str, ...], _OneOrMany]
"""IPs, CIDR blocks and ``first - last`` ranges: a list, or one string."""


def describe(value: Any) -> str:
    """A value for a message: short strings quoted (choices, amounts), anything else its kind."""
    if isinstance(value, str) and len(value) <= 64 and value.isprintable():
        return repr(value)
    return kind_of(value)


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"expected an integer, found {kind_of(value)}")


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, found {kind_of(value)}")


def _marked(marker: type) -> Callable[[Any], bool]:
    return lambda type_: get_origin(type_) is Annotated and marker in type_.__metadata__


def _strict_hook(type_: Any) -> Callable[[Any, Any], Any]:
    underlying = get_args(type_)[0]
    if underlying is int:
        return _structure_int
    if underlying is str:
        return _structure_str
    items = serialization.converter.get_structure_hook(underlying)

    def structure_list(value: Any, _: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a list, found {kind_of(value)}")
        return items(value, underlying)

    return structure_list


def _one_or_many_hook(type_: Any) -> Callable[[Any, Any], Any]:
    underlying = get_args(type_)[0]
    items = serialization.converter.get_structure_hook(underlying)

    def structure_one_or_many(value: Any, _: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        elif not isinstance(value, list | tuple):
            raise ValueError(f"expected a string or a list, found {kind_of(value)}")
        return items(value, underlying)

    return structure_one_or_many


class Choice(StrEnum):
    """A string field with a fixed set of values; messages list them."""

    @classmethod
    def expected(cls) -> str:
        values = [repr(member.value) for member in cls]
        return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _structure_choice(value: Any, cls: type[Choice]) -> Choice:
    if isinstance(value, str):
        for member in cls:
            if member.value == value:
                return member
    raise ValueError(f"expected {cls.expected()}, found {describe(value)}")


class Model:
    """Base of the document models: written back without the keys left at their defaults.

    A dumped manifest then reads as its author wrote it, and stays one the director
    accepts (it refuses ``azs: null`` where it accepts no ``azs`` at all).
    """

    __slots__ = ()


_WRITTEN = "bosh_core.written"


def tag(value: str) -> Any:
    """A field fixed to `value` and always written: the ``type`` that tells variants apart."""
    return attrs.field(default=value, metadata={_WRITTEN: True})


def _is_model(type_: Any) -> bool:
    return isinstance(type_, type) and issubclass(type_, Model)


def _unstructure_model(cls: Any) -> Callable[[Model], dict[str, Any]]:
    """Fields in declaration order (the order a manifest is written in), defaults left out."""
    converter = serialization.converter
    attrs.resolve_types(cls)
    plan = []
    for field in attrs.fields(cls):
        default: Any = attrs.NOTHING if field.metadata.get(_WRITTEN) else field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        plan.append((field.name, default, converter.get_unstructure_hook(field.type)))

    def unstructure(instance: Model) -> dict[str, Any]:
        document = {}
        for name, default, hook in plan:
            value = getattr(instance, name)
            if default is attrs.NOTHING or value != default:
                document[name] = hook(value)
        return document

    return unstructure


def _register() -> None:
    converter = serialization.converter
    converter.register_structure_hook_factory(_marked(_Strict), _strict_hook)
    converter.register_structure_hook_factory(_marked(_OneOrMany), _one_or_many_hook)
    # Registered for the base class, these serve every Choice (dispatch follows the MRO,
    # where Choice comes before str, which cattrs would pass through as the member itself).
    converter.register_structure_hook(Choice, _structure_choice)
    converter.register_unstructure_hook(Choice, lambda member: member.value)
    converter.register_unstructure_hook_factory(_is_model, _unstructure_model)


_register()


def field_error(cls: type[Any], field: str, message: str) -> ClassValidationError:
    """An error of one field of `cls`, raised from a structure hook so its path names the field."""
    error = ValueError(message)
    error.__notes__ = [AttributeValidationNote(f"Structuring @ attribute {field}", field, str)]
    return ClassValidationError(f"While structuring {cls.__name__}", [error], cls)


def load_parts(
    documents: Sequence[tuple[str, Document]],
    cls: type[T],
    *,
    source: str,
    prefixed: bool,
    check_raw: Callable[[Any, str], Iterable[Problem]] | None = None,
) -> tuple[list[tuple[str, T]], list[Problem]]:
    """Build each named document into `cls`, with the problems `check_raw` found.

    `check_raw(data, prefix)` reports what only the raw document shows (keys the director
    refuses, which the typed model would drop); those problems come back for the caller
    to report with its own checks. When a document cannot be built, one ManifestError
    names every problem of every document. With `prefixed`, paths start with the
    document's name (``default:$.networks[0]``).
    """
    problems: list[Problem] = []
    parts: list[tuple[str, T]] = []
    built = True
    for name, document in documents:
        prefix = f"{name}:" if prefixed else ""
        data: Any = document
        if isinstance(document, str | bytes):
            try:
                data = serialization.load_yaml(document, source=source)
            except ManifestError as error:
                if not prefixed:
                    raise  # the YAMLError names the document already
                problems.extend(_prefixed(error.problems, prefix))
                built = False
                continue
            if data is None:
                data = {}
        if check_raw is not None:
            problems.extend(check_raw(data, prefix))
        try:
            parts.append((name, serialization.structure(data, cls, source=source)))
        except ManifestError as error:
            problems.extend(_prefixed(error.problems, prefix))
            built = False
    if not built:
        raise ManifestError(source, problems)
    return parts, problems


def _prefixed(problems: Iterable[Problem], prefix: str) -> list[Problem]:
    return [Problem(prefix + problem.path, problem.message) for problem in problems]


@attrs.frozen
class Origins:
    """Where each item of a merged document came from: ``lists[section][i]`` is its path."""

    lists: Mapping[str, tuple[str, ...]]

    def path(self, section: str, index: int) -> str:
        return self.lists[section][index]


def concatenate(
    parts: Sequence[tuple[str, Any]], sections: Sequence[str], *, prefixed: bool
) -> tuple[dict[str, tuple[Any, ...]], Origins]:
    """Join the list `sections` of several documents in order, as the director merges configs."""
    merged: dict[str, tuple[Any, ...]] = {}
    origins: dict[str, tuple[str, ...]] = {}
    for section in sections:
        items: list[Any] = []
        paths: list[str] = []
        for name, part in parts:
            prefix = f"{name}:" if prefixed else ""
            for index, item in enumerate(getattr(part, section)):
                items.append(item)
                paths.append(f"{prefix}$.{section}[{index}]")
        merged[section] = tuple(items)
        origins[section] = tuple(paths)
    return merged, Origins(origins)


def single_owner(
    parts: Sequence[tuple[str, Any]],
    section: str,
    *,
    message: str,
    prefixed: bool,
    problems: list[Problem],
) -> tuple[Any, str]:
    """The value of a section only one document may set (None if none does), and its path."""
    owner: Any = None
    owner_path = f"$.{section}"
    for name, part in parts:
        value = getattr(part, section)
        if value is None:
            continue
        path = f"{name}:$.{section}" if prefixed else f"$.{section}"
        if owner is not None:
            problems.append(Problem(path, message))
        else:
            owner, owner_path = value, path
    return owner, owner_path


def check_unique(entries: Iterable[tuple[str, str]], *, what: str, problems: list[Problem]) -> None:
    """Report each repeated name of `(name, path)` entries, naming where it first appeared."""
    first: dict[str, str] = {}
    for name, path in entries:
        if name in first:
            problems.append(
                Problem(path, f"Duplicate {what} '{name}' (first defined at {first[name]})")
            )
        else:
            first[name] = path


def check_canonical_names(
    entries: Iterable[tuple[str, str]], *, what: str, problems: list[Problem]
) -> None:
    """Names of `(name, item path)` entries must differ in their DNS form, as DNS needs."""
    taken: dict[str, str] = {}
    for name, path in entries:
        try:
            canonical = canonical_name(name)
        except ValueError as error:
            problems.append(Problem(f"{path}.name", str(error)))
            continue
        if canonical in taken:
            problems.append(
                Problem(
                    f"{path}.name",
                    f"Invalid {what} name '{name}', canonical name already taken"
                    f" (by {taken[canonical]})",
                )
            )
        else:
            taken[canonical] = path


def canonical_name(name: str) -> str:
    """The director's DNS form of a name; ValueError when it cannot be one."""
    canonical = re.sub(r"[^a-z0-9-]", "", name.lower().replace("_", "-"))
    if canonical.startswith("-"):
        raise ValueError(f"Invalid DNS canonical name '{canonical}', cannot start with a hyphen")
    if canonical.endswith("-"):
        raise ValueError(f"Invalid DNS canonical name '{canonical}', cannot end with a hyphen")
    return canonical


@attrs.frozen
class IPBlock:
    """A contiguous run of addresses, from an IP, a CIDR block or a ``first - last`` range."""

    text: str
    version: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def address(self, value: int) -> str:
        """An address of this block's IP version, as text."""
        if self.version == 4:
            return str(ipaddress.IPv4Address(value))
        return str(ipaddress.IPv6Address(value))

    def within(self, other: IPBlock) -> bool:
        return self.version == other.version and other.first <= self.first <= self.last <= (
            other.last
        )

    def overlaps(self, other: IPBlock) -> bool:
        return (
            self.version == other.version and self.first <= other.last and other.first <= self.last
        )


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"Invalid IP or CIDR '{text}'") from None


def cidr_block(text: str) -> IPBlock:
    """An IP or a CIDR block (host bits ignored, as the director reads ``10.0.0.5/24``)."""
    network = _network(text)
    return IPBlock(text, network.version, int(network[0]), int(network[-1]))


def ip_blocks(entries: Iterable[str]) -> list[IPBlock]:
    """Parse each entry (``10.0.0.5``, ``10.0.0.0/28``, ``10.0.0.5 - 10.0.0.9``).

    ValueError names the first entry that is none of these.
    """
    blocks = []
    for text in entries:
        parts = text.split("-")
        if len(parts) == 1:
            blocks.append(cidr_block(text))
            continue
        start, end = (_network(part) for part in parts) if len(parts) == 2 else (None, None)
        if (
            start is None
            or end is None
            or start.num_addresses != 1
            or end.num_addresses != 1
            or start.version != end.version
            or int(start[0]) > int(end[0])
        ):
            raise ValueError(f"Invalid IP range format: {text}")
        blocks.append(IPBlock(text, start.version, int(start[0]), int(end[0])))
    return blocks
