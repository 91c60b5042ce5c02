"""((variables)) in a document, evaluated as the reference's director/template does it.

``((name))`` as a whole string is replaced by the value, whatever its type;
``((name))`` inside a longer string by the value's text, which only strings and integers
have. ``((name.key.0))`` takes a part of a map or list value (a go-patch path; an index
that fails is tried again as a map key). ``((!name))`` reads like ``((name))`` here.
Map keys are interpolated like values. A variable that is not found stays as written;
``expect_all_keys`` (``--var-errs``) makes that an error listing every missing name,
``expect_all_vars_used`` (``--var-errs-unused``) one listing every name given and unused.

The manifest's ``variables:`` definitions are asked for in order before anything else,
so a vars store generates them (a certificate finds the CA generated before it), and the
options of a definition may use other variables. Definitions that were found are removed
from ``variables:`` in the result.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from bosh_core import go_yaml
from bosh_core.interpolate.errors import (
    InterpolateError,
    UnresolvedVariablesError,
    WrappedError,
)
from bosh_core.interpolate.patch import (
    IndexToken,
    KeyToken,
    MatchingIndexToken,
    Pointer,
    RemoveOp,
    find,
    go_type,
)
from bosh_core.interpolate.variables import (
    MISSING,
    VariableDefinition,
    Variables,
    definitions_from_document,
)

__all__ = ["evaluate", "variable_names"]

# Go's \w is ASCII; \pL (any letter) is checked after matching: see _is_name.
_VARIABLE = re.compile(r"\(\( ?(!?[-/.\w]+) ?\)\)")
_DEFINITIONS_CONTEXT = "Getting all variables from variable definitions sections"
_INTERPOLATABLE = frozenset(("string", "int", "uint64"))

Lookup = Callable[[str], Any]


def evaluate(
    document: Any,
    variables: Variables,
    *,
    expect_all_keys: bool = False,
    expect_all_vars_used: bool = False,
) -> Any:
    """`document` with its variables replaced; the input is left as it was."""
    definitions = definitions_from_document(document)
    by_name: dict[str, VariableDefinition] = {}
    for definition in definitions:
        by_name.setdefault(definition.name, definition)
    tracker = _Tracker(variables, by_name)

    for definition in definitions:
        if definition.type:
            _get_defined(tracker, definition.name)
    result = _interpolate(document, tracker.lookup)
    found = [d.name for d in definitions if _get_defined(tracker, d.name) is not MISSING]
    for name in found:
        path = Pointer((KeyToken("variables"), MatchingIndexToken("name", name)))
        result = RemoveOp(path).apply_to(result)

    missing = sorted(tracker.missing) if expect_all_keys else []
    unused = sorted(set(variables.names()) - tracker.used) if expect_all_vars_used else []
    if missing or unused:
        raise UnresolvedVariablesError(missing=missing, unused=unused)
    return result


def variable_names(text: str) -> list[str]:
    """The names of the variables in a string, in order, without ``!``."""
    return [
        match.group(1).removeprefix("!")
        for match in _VARIABLE.finditer(text)
        if _is_name(match.group(1))
    ]


def _is_name(name: str) -> bool:
    return all(char.isascii() or char.isalpha() for char in name)


def _is_whole(text: str) -> bool:
    match = _VARIABLE.fullmatch(text)
    return match is not None and _is_name(match.group(1))


def _get_defined(tracker: _Tracker, name: str) -> Any:
    try:
        return tracker.get(name)
    except InterpolateError as error:
        raise WrappedError(_DEFINITIONS_CONTEXT, error) from None


class _Tracker:
    """Looks variables up and remembers which were missing and which were asked for.

    Definition options are interpolated by a tracker of their own, which knows the
    variables being defined (to refuse a definition that needs itself); as in the
    reference, what it finds missing or uses is not counted by the outer tracker, and a
    definition whose options miss a variable is itself not found, silently.
    """

    def __init__(
        self,
        variables: Variables,
        definitions: dict[str, VariableDefinition],
        defining: frozenset[str] = frozenset(),
    ) -> None:
        self.variables = variables
        self.definitions = definitions
        self.defining = defining
        self.missing: set[str] = set()
        self.used: set[str] = set()

    def get(self, name: str) -> Any:
        self.used.add(name)
        if name in self.defining:
            raise InterpolateError("Detected recursion")
        options_tracker = _Tracker(self.variables, self.definitions, self.defining | {name})
        definition = self.definitions.get(name) or VariableDefinition(name)
        try:
            options = _interpolate(definition.options, options_tracker.lookup)
        except InterpolateError as error:
            raise WrappedError(
                f"Interpolating variable '{name}' definition options", error
            ) from None
        if options_tracker.missing:
            return MISSING
        value = self.variables.get(definition._replace(options=options))
        if value is MISSING:
            self.missing.add(name)
        return value

    def lookup(self, name: str) -> Any:
        """The value of ``name`` or ``name.path.to.part``, or MISSING."""
        first, *rest = name.split(".")
        value = self.get(first)
        if value is MISSING or not rest:
            return value
        pointer = Pointer.parse("/" + "/".join(rest))
        try:
            return find(value, pointer)
        except InterpolateError:
            as_keys = tuple(
                KeyToken(str(token.number)) if isinstance(token, IndexToken) else token
                for token in pointer.tokens
            )
            return find(value, Pointer(as_keys))


def _interpolate(node: Any, lookup: Lookup) -> Any:
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            new_value = _interpolate(value, lookup)
            new_key = _interpolate(key, lookup)
            try:
                result[new_key] = new_value
            except TypeError:
                raise InterpolateError(
                    f"Expected map key '{key}' to be interpolated into a string, number"
                    f" or boolean, but found '{go_type(new_key)}'"
                ) from None
        return result
    if isinstance(node, list):
        return [_interpolate(item, lookup) for item in node]
    if isinstance(node, str) and "((" in node:
        return _interpolate_string(node, lookup)
    return node


def _interpolate_string(text: str, lookup: Lookup) -> Any:
    # As the reference: names are taken from the text as written, and each found one is
    # replaced in the text as it is by then.
    for name in variable_names(text):
        try:
            value = lookup(name)
        except InterpolateError as error:
            raise WrappedError(f"Finding variable '{name}'", error) from None
        if value is MISSING:
            continue
        if _is_whole(text):
            return copy.deepcopy(value)  # each use its own copy, as Go's YAML writes them
        if go_type(value) not in _INTERPOLATABLE:
            # Unlike the reference, a map or list is not printed: certificates and keys
            # are maps, and their private keys must not reach an error message.
            shown = "<not shown>" if isinstance(value, dict | list) else _go_value(value)
            raise InterpolateError(
                f"Invalid type '{go_type(value)}' for value '{shown}' and variable"
                f" '{name}'. Supported types for interpolation within a string are integers"
                " and strings."
            )
        text = text.replace(f"(({name}))", str(value)).replace(f"((!{name}))", str(value))
    return text


def _go_value(value: Any) -> str:
    """Go's ``%v`` of a scalar yaml.v2 decoded into ``interface{}``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = go_yaml.format_float(value)
        return {".inf": "+Inf", "-.inf": "-Inf", ".nan": "NaN"}.get(text, text)
    return str(value)
