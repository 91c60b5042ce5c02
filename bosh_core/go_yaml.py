"""YAML as the reference CLI reads and writes it (gopkg.in/yaml.v2).

Reading: plain scalars take yaml.v2's types, which are not PyYAML's: ``y``/``n`` are
booleans, ``0755`` is octal, ``1e3`` and ``08`` are floats, timestamps stay strings,
and a repeated map key keeps its last value, silently, as ``yaml.Unmarshal`` does.

Writing: map keys sorted as yaml.v2 sorts them (numbers first, then strings in natural
order: ``a2`` before ``a10``), strings that would read back as another type in double
quotes, multi-line strings as literal blocks, floats formatted as Go's ``%v``, long
lines folded at 80 columns. The emitter is libyaml's algorithm in both libraries, so
quoting and folding decisions agree.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from bosh_core import yaml_loading
from bosh_core.errors import BoshError

__all__ = [
    "GoYAMLError",
    "dump",
    "format_float",
    "key_order",
    "load",
    "resolve_plain",
    "sorted_maps",
]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"

_KEYWORDS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_MAP_HINTS = frozenset("yYnNtTfFoO~")
_NUMBER_HINTS = frozenset("+-0123456789")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_BASE60_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{1,2}):(?P<second>[0-9]{1,2})"
    r"(?:\.[0-9]+)?(?P<zone>Z|[-+][0-9]{2}:[0-9]{2})?)?"
)
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
_WIDTH = 80


# -- reading --------------------------------------------------------------------------


def resolve_plain(text: str) -> Any:
    """The value yaml.v2 gives a plain (unquoted) scalar when decoding into interface{}."""
    if text in _KEYWORDS:
        return _KEYWORDS[text]
    hint = text[0]
    if hint == ".":
        number = _go_parse_float(text)
        return text if number is None else number
    if hint not in _NUMBER_HINTS:
        return text
    if _is_timestamp(text):
        return text  # yaml.v2 keeps timestamp-looking values as strings
    plain = text.replace("_", "")
    integer = _go_parse_int(plain)
    if integer is not None:
        return integer
    if _YAML_FLOAT.fullmatch(plain):
        number = _go_parse_float(plain)
        if number is not None:
            return number
    for prefix, sign in (("0b", 1), ("-0b", -1)):
        if plain.startswith(prefix):
            try:
                value = sign * int(plain[len(prefix) :], 2)
            except ValueError:
                break
            if _INT64_MIN <= value <= (_UINT64_MAX if sign > 0 else _INT64_MAX):
                return value
    return text


def _plain_tag(text: str) -> str:
    """The tag yaml.v2 resolves a plain scalar to (timestamps included, as its encoder sees)."""
    if text == "<<":
        return _MERGE
    value = resolve_plain(text)
    if isinstance(value, str):
        return "tag:yaml.org,2002:timestamp" if text and _is_timestamp(text) else _STR
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _BOOL
    return _INT if isinstance(value, int) else _FLOAT


def _go_parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), then ParseUint: prefixes 0x 0o 0b and a leading 0."""
    body = text[1:] if text[:1] in "+-" else text
    negative = text.startswith("-")
    if not body:
        return None
    lowered = body.lower()
    try:
        if lowered.startswith("0x"):
            magnitude = int(body[2:], 16)
        elif lowered.startswith("0o"):
            magnitude = int(body[2:], 8)
        elif lowered.startswith("0b"):
            magnitude = int(body[2:], 2)
        elif body.startswith("0") and len(body) > 1:
            magnitude = int(body[1:], 8)
        else:
            magnitude = int(body, 10)
    except ValueError:
        return None
    if not body[-1:].isalnum() or not all(c.isalnum() for c in body):
        return None
    value = -magnitude if negative else magnitude
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    if not text.startswith(("+", "-")) and value <= _UINT64_MAX:
        return value
    return None


def _go_parse_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64) for the decimal forms YAML can reach (no overflow)."""
    if not _GO_FLOAT.fullmatch(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return False
    parts = match.groupdict()
    try:
        datetime.date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        return False
    if parts["hour"] is None:
        return True
    if parts["zone"] is not None and parts["sep"] == " ":
        return False
    if parts["zone"] is None and parts["sep"] != " ":
        return False
    return int(parts["hour"]) < 24 and int(parts["minute"]) < 60 and int(parts["second"]) < 60


class _GoLoader(yaml_loading.SafeLoader):  # type: ignore[misc, valid-type]
    """Safe loader with yaml.v2's scalar types and its last-key-wins maps."""

    yaml_implicit_resolvers: dict[Any, Any] = {}

    def construct_yaml_str(self, node: yaml.ScalarNode) -> Any:
        value = self.construct_scalar(node)
        return value if node.style else resolve_plain(value)  # plain: no style


_GoLoader.add_implicit_resolver(_MERGE, re.compile(r"^<<$"), ["<"])
_GoLoader.add_constructor(_STR, _GoLoader.construct_yaml_str)
# `<<` merges where it is a key; anywhere else it is the string itself, as in yaml.v2.
_GoLoader.add_constructor(_MERGE, _GoLoader.construct_scalar)


class GoYAMLError(BoshError):
    """A YAML syntax error worded as yaml.v2 words it: ``yaml: line 3: <problem>``."""


def _go_syntax_error(error: yaml.MarkedYAMLError) -> GoYAMLError:
    # yaml.v2 prints the problem mark's 0-based line, plus one for scanner errors only,
    # and falls back to the context mark's line (libyaml's problems read the same).
    problem, context = error.problem_mark, error.context_mark
    line = 0
    if problem is not None and problem.line != 0:
        line = problem.line + (1 if isinstance(error, yaml.scanner.ScannerError) else 0)
    elif context is not None:
        line = context.line
    where = f"line {line}: " if line else ""
    return GoYAMLError(f"yaml: {where}{error.problem or 'unknown problem parsing YAML content'}")


def load(text: str | bytes, *, source: str) -> Any:
    """Parse one document as ``yaml.Unmarshal`` into ``interface{}`` would; a syntax
    error is a :class:`GoYAMLError` with yaml.v2's text."""
    return yaml_loading.load_yaml(
        text, source=source, loader_class=_GoLoader, syntax_error=_go_syntax_error
    )


# -- writing --------------------------------------------------------------------------


def format_float(value: float) -> str:
    """A float as Go's strconv.FormatFloat(value, 'g', -1, 64), in YAML's spelling.

    Shortest round-trip digits (Python's repr finds the same ones), in exponent form
    when the exponent is below -4 or at least 6: ``1e+06``, ``1.5``, ``0.0001``.
    """
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return f"{sign}0"
    mantissa, _, exponent_text = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    digits = all_digits.lstrip("0")
    point = len(whole) + int(exponent_text or 0) - (len(all_digits) - len(digits))
    digits = digits.rstrip("0")
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        head, tail = digits[0], digits[1:]
        marker = "-" if exponent < 0 else "+"
        return f"{sign}{head}{'.' if tail else ''}{tail}e{marker}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _go_key_less(a: Any, b: Any) -> bool:
    """yaml.v2's keyList.Less: numbers (and booleans) by value, strings naturally."""
    a_number, b_number = _key_number(a), _key_number(b)
    if a_number is not None and b_number is not None:
        if a_number != b_number:
            return a_number < b_number
        return _kind(a) < _kind(b)
    if not isinstance(a, str) or not isinstance(b, str):
        return _kind(a) < _kind(b)
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x == y:
            continue
        x_letter, y_letter = x.isalpha(), y.isalpha()
        if x_letter and y_letter:
            return x < y
        if x_letter or y_letter:
            return y_letter
        x_number = y_number = 0
        if x == "0" or y == "0":
            # A zero that continues a number is not a leading zero: seed both as nonzero.
            for earlier in reversed(a[:index]):
                if not _is_digit(earlier):
                    break
                if earlier != "0":
                    x_number = y_number = 1
                    break
        x_end = index
        while x_end < len(a) and _is_digit(a[x_end]):
            x_number = x_number * 10 + ord(a[x_end]) - ord("0")
            x_end += 1
        y_end = index
        while y_end < len(b) and _is_digit(b[y_end]):
            y_number = y_number * 10 + ord(b[y_end]) - ord("0")
            y_end += 1
        if x_number != y_number:
            return x_number < y_number
        if x_end != y_end:
            return x_end < y_end
        return x < y
    return len(a) < len(b)


def _is_digit(char: str) -> bool:
    return unicodedata.category(char) == "Nd"  # Go's unicode.IsDigit


def _key_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _kind(value: Any) -> int:
    """Go reflect.Kind order of what a decoded YAML key can be."""
    if value is None:
        return 20  # a nil interface sorts as reflect.Interface
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 2 if value <= _INT64_MAX else 11
    if isinstance(value, float):
        return 14
    if isinstance(value, str):
        return 24
    return 25


def _go_key_compare(a: Any, b: Any) -> int:
    return -1 if _go_key_less(a, b) else (1 if _go_key_less(b, a) else 0)


def key_order(keys: Iterable[Any]) -> list[Any]:
    """`keys` in the order yaml.v2 writes map keys."""
    return sorted(keys, key=functools.cmp_to_key(_go_key_compare))


def sorted_maps(value: Any) -> Any:
    """`value` with every map in it rebuilt in yaml.v2's key order (for documents that
    mix struct-ordered fields with maps, such as config/final.yml)."""
    if isinstance(value, Mapping):
        return {key: sorted_maps(value[key]) for key in key_order(value)}
    if isinstance(value, list):
        return [sorted_maps(item) for item in value]
    return value


_FastDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _GoDumper(_FastDumper):  # type: ignore[misc, valid-type]
    """libyaml's own emitter (the C one when PyYAML has it, as yaml.v2 ports it) driven
    with yaml.v2's scalar decisions."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _plain_tag(value)
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        style = "|"
    elif _plain_tag(value) != _STR or _is_base60_float(value):
        style = '"'
    else:
        style = None
    return dumper.represent_scalar(_STR, value, style=style)


def _is_base60_float(text: str) -> bool:
    return ":" in text and bool(_BASE60_FLOAT.fullmatch(text))


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    text = format_float(value)
    # Go writes 1.0 as a bare `1`: tag it as what it reads back as, so no tag is shown.
    return dumper.represent_scalar(_plain_tag(text), text)


def _represent_int(dumper: yaml.SafeDumper, value: int) -> yaml.ScalarNode:
    return dumper.represent_scalar(_INT, str(value))


def _represent_dict(dumper: yaml.SafeDumper, value: Mapping[Any, Any]) -> yaml.MappingNode:
    if isinstance(dumper, _GoStructDumper):
        items = list(value.items())
    else:
        items = [(key, value[key]) for key in key_order(value)]
    return dumper.represent_mapping("tag:yaml.org,2002:map", items)


_GoDumper.add_representer(str, _represent_str)
_GoDumper.add_representer(float, _represent_float)
_GoDumper.add_representer(int, _represent_int)
_GoDumper.add_representer(dict, _represent_dict)


class _GoStructDumper(_GoDumper):
    """For documents built from attrs classes: Go structs keep their field order."""


def dump(data: Any, *, sort_keys: bool = True) -> str:
    """``yaml.Marshal(data)``: maps sorted as Go sorts them unless `sort_keys` is False
    (the document then stands for Go structs, whose fields keep their order)."""
    text = yaml.dump(
        data,
        Dumper=_GoDumper if sort_keys else _GoStructDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=_WIDTH,
    )
    if text.endswith("\n...\n"):
        text = text[: -len("...\n")]  # libyaml ends an open scalar document; yaml.v2 does not
    return text
