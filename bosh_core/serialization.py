"""The one converter and the one YAML/JSON layer of bosh_core.

Loading is defensive: a safe loader, a size limit, a limit on alias expansion (so a
"billion laughs" document is refused instead of exhausting memory when walked), and
duplicate mapping keys rejected with their line numbers, since BOSH documents are
written by hand and a silently dropped key is a silent misconfiguration.

Dumping follows the reference Go CLI (gopkg.in/yaml): two-space indentation, sequences
flush with their parent key, double quotes where a scalar needs quoting, literal blocks
for multi-line strings, keys in the order given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    is_mapping,
    list_structure_factory,
    mapping_structure_factory,
)

from bosh_core import go_yaml
from bosh_core.errors import ManifestError, Problem
from bosh_core.yaml_loading import kind_of, load_yaml

__all__ = [
    "converter",
    "dump_json",
    "dump_yaml",
    "kind_of",
    "load_yaml",
    "load_yaml_as",
    "register_renames",
    "structure",
    "unstructure",
]

T = TypeVar("T")


converter = cattrs.Converter(forbid_extra_keys=False)


def _structure_str(value: Any, _: type[str]) -> str:
    # Go's yaml decodes scalars into string fields (`version: 1` is "1"); collections are errors.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        # A !!binary scalar, as the old Ruby CLI wrote digests in indexes; Go decodes it
        # into a string field too. Bytes that are not UTF-8 then fail whatever checks the
        # string (a digest is refused by name) instead of failing here without a path.
        return value.decode(errors="replace")
    raise ValueError(f"expected a string, found {kind_of(value)}")


def _structure_int(value: Any, _: type[int]) -> int:
    # As Go's yaml into an int field: "3", 3.5 and true are errors, not 3, 3 and 1.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"expected an integer, found {kind_of(value)}")


def _is_homogeneous_sequence(type_: Any) -> bool:
    origin = get_origin(type_)
    if origin is list:
        return True
    arguments = get_args(type_)
    return origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis


def _list_only(type_: Any) -> Callable[[Any, Any], Any]:
    """A list or tuple field built only from a list: a string is not read letter by letter."""
    if get_origin(type_) is list:
        structure_fn = list_structure_factory(type_, converter)
    else:
        structure_fn = homogenous_tuple_structure_factory(type_, converter)

    def structure_list(value: Any, cls: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a list, found {kind_of(value)}")
        return structure_fn(value, cls)

    return structure_list


def _structure_bool(value: Any, _: type[bool]) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, found {kind_of(value)}")


def _mapping_only(structure_fn: Callable[[Any, Any], T]) -> Callable[[Any, Any], T]:
    """`structure_fn` for a class or dict type, refusing anything that is not a map.

    cattrs would read a list or a string as an attrs class with every field defaulted
    (an index.yml that is a list would become an empty index, then be overwritten).
    """

    def structure_mapping(value: Any, cls: Any) -> T:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected a map, found {kind_of(value)}")
        return structure_fn(value, cls)

    return structure_mapping


converter.register_structure_hook(str, _structure_str)
converter.register_structure_hook(bool, _structure_bool)
converter.register_structure_hook(int, _structure_int)
converter.register_structure_hook_factory(_is_homogeneous_sequence, _list_only)
converter.register_structure_hook_factory(
    attrs.has, lambda cls: _mapping_only(converter.gen_structure_attrs_fromdict(cls))
)
converter.register_structure_hook_factory(
    is_mapping,
    # Not converter.gen_structure_mapping: it registers its unchecked hook for `cls` too.
    lambda cls: _mapping_only(mapping_structure_factory(cls, converter)),
)


def load_yaml_as(text: str | bytes, cls: type[T], *, source: str) -> T:
    """Parse one YAML document into `cls`; an empty document reads as an empty map."""
    document = load_yaml(text, source=source)
    return structure({} if document is None else document, cls, source=source)


def dump_yaml(data: Any, *, sort_keys: bool = False) -> str:
    """Serialize `data` as the reference CLI writes YAML (see :mod:`bosh_core.go_yaml`).

    Documents made from attrs classes keep their field order, as Go structs do; pass
    `sort_keys` for plain maps, which Go writes sorted.
    """
    return go_yaml.dump(data, sort_keys=sort_keys)


def dump_json(data: Any, *, indent: int | None = None) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=False)


def unstructure(value: Any) -> Any:
    return converter.unstructure(value)


def structure(data: Any, cls: type[T], *, source: str) -> T:
    """Build `cls` from plain data; type errors become one ManifestError naming paths.

    An attrs class or a dict is built only from a map: a document whose top level is a
    list or a scalar is refused ("expected a map, found a list"), not read as empty.
    """
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise ManifestError(source, _problems_from(exc)) from None


def _problems_from(exc: BaseException) -> list[Problem]:
    if isinstance(exc, cattrs.BaseValidationError):
        problems = []
        for text in cattrs.transform_error(exc, path="$", format_exception=_describe):
            message, _, path = text.rpartition(" @ ")
            problems.append(Problem(path, message or text))
        return problems
    return [Problem("$", str(exc))]


def _describe(exc: BaseException, type_: type[Any] | None) -> str:
    if isinstance(exc, ValueError) and str(exc).startswith("expected "):
        # Our own hooks already say what was expected and found.
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


def register_renames(cls: type[Any], renames: Mapping[str, str]) -> None:
    """Map attribute names to document keys (e.g. ``format_version`` -> ``format-version``)."""
    overrides: dict[str, Any] = {
        attr: cattrs.gen.override(rename=key) for attr, key in renames.items()
    }
    converter.register_structure_hook(
        cls, _mapping_only(cattrs.gen.make_dict_structure_fn(cls, converter, **overrides))
    )
    converter.register_unstructure_hook(
        cls, cattrs.gen.make_dict_unstructure_fn(cls, converter, **overrides)
    )
