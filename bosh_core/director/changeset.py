"""The director's line diff of two YAML documents (configs now, deployment manifests later).

    diff_documents(before, after, redact=True)
    # [("azs:", None), ("- name: z1", None), ("  cloud_properties:", None),
    #  ("    zone: a", "removed"), ("    zone: b", "added")]

The lines are what the reference's ``Changeset#diff(...).order`` gives and what the CLI
prints with ``+``/``-``: changed keys only, each subtree dumped as Ruby's Psych dumps it
(libyaml's emitter with Psych's choice of quoting), list items matched by ``name`` (or
``range``), top-level sections in the director's manifest order. With ``redact`` the
values under any ``properties`` or ``bosh`` map become ``<redacted>`` and credentials in
release URLs are hidden, so secrets never reach the CLI; the comparison itself always
uses the real values.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import yaml

__all__ = ["REDACTED", "DiffLine", "diff_documents", "dump_like_ruby", "redact"]

REDACTED: Final = "<redacted>"
_REDACTED_KEYS: Final = frozenset({"properties", "bosh"})
_INDENT: Final = 2
# Top-level sections first in this order, then the others as they came.
_SECTION_ORDER: Final = (
    "azs", "vm_types", "vm_extensions", "resource_pools", "compilation", "networks",
    "disk_types", "name", "stemcells", "releases", "update", "jobs", "release", "addons",
    "variables",
)  # fmt: skip

Status = Literal["added", "removed"] | None
DiffLine = tuple[str, Status]
"""One line of a diff: its text (indented) and ``added``, ``removed`` or None (context)."""


# -- redaction -------------------------------------------------------------------------


def redact(document: Any) -> Any:
    """A copy of `document` with every leaf under a ``properties``/``bosh`` map and the
    user and password of ``releases[].url`` replaced by ``<redacted>``."""
    copied = copy.deepcopy(document)
    _redact_known_keys(copied)
    if isinstance(copied, dict) and isinstance(copied.get("releases"), list):
        for release in copied["releases"]:
            if isinstance(release, dict) and isinstance(release.get("url"), str):
                release["url"] = _without_credentials(release["url"])
    return copied


def _redact_known_keys(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _REDACTED_KEYS and isinstance(item, dict):
                _redact_leaves(item)
            else:
                _redact_known_keys(item)
    elif isinstance(value, list):
        for item in value:
            # The reference descends into a nested list through its last item only.
            _redact_known_keys(item[-1] if isinstance(item, list) and item else item)


def _redact_leaves(container: dict[Any, Any] | list[Any]) -> None:
    keys: Sequence[Any] = list(container) if isinstance(container, dict) else range(len(container))
    for key in keys:
        item = container[key]
        if isinstance(item, dict | list):
            _redact_leaves(item)
        else:
            container[key] = REDACTED


def _without_credentials(url: str) -> str:
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return url
    for secret in (user, password):
        if secret:
            url = url.replace(secret, REDACTED, 1)
    return url


# -- YAML as Ruby dumps it ----------------------------------------------------------------

# Psych's ScalarScanner reads these as something other than a string, so it quotes them.
_NOT_A_STRING = re.compile(
    r"""~|null|Null|NULL|
    yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|
    [-+]?0b[0-1_,]+|[-+]?0[0-7_,]+|[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)|[-+]?0x[0-9a-fA-F_,]+|
    [-+]?(?:[0-9][0-9_,]*)?\.[0-9]*(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|
    [-+]?[0-9][0-9_]*(?::[0-5]?[0-9]){1,2}(?:\.[0-9_]*)?|
    \d{4}-\d{1,2}-\d{1,2}(?:[Tt ].*)?|:.+""",
    re.VERBOSE,
)


def _psych_style(text: str) -> str | None:
    """The scalar style Psych asks libyaml for (``None``: plain where possible)."""
    if re.search(r"\n(?!\n?\Z)", text):
        return "|"
    if text == "<<":
        return "'"
    if text in ("y", "Y", "n", "N"):
        return '"'
    if re.search(r'^[^\w][^"]*$', text, re.MULTILINE):
        return '"'
    if not text or _NOT_A_STRING.fullmatch(text) or re.match(r"0[0-7]*[89]", text):
        return "'"
    return None


class _RubyDumper(yaml.SafeDumper):
    """PyYAML's emitter is a port of libyaml's, which Psych drives; only the scalar
    styles Psych asks for differ, and ``nil`` is an empty scalar."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=_psych_style(value))


def _represent_none(dumper: yaml.SafeDumper, _: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


_RubyDumper.add_representer(str, _represent_str)
_RubyDumper.add_representer(type(None), _represent_none)


def dump_like_ruby(value: Any, *, document_start: bool = False) -> str:
    """`value` as Ruby's ``to_yaml`` writes it (``---`` first when `document_start`,
    as ``YAML.dump`` does)."""
    text: str = yaml.dump(
        value,
        Dumper=_RubyDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        indent=_INDENT,
        explicit_start=document_start,
    )
    return text


# -- the diff ---------------------------------------------------------------------------


class _Line:
    __slots__ = ("indent", "status", "text")

    def __init__(self, indent: int, text: str, status: Status) -> None:
        self.indent = indent
        self.text = text
        self.status = status

    def render(self) -> DiffLine:
        return (" " * _INDENT * self.indent + self.text, self.status)


def diff_documents(before: Any, after: Any, *, redact_values: bool = True) -> list[DiffLine]:
    """The diff from `before` to `after` (maps; None is empty), ordered as the director
    orders it. With `redact_values`, shown values are redacted (see `redact`)."""
    old = dict(before or {})
    new = dict(after or {})
    shown_old, shown_new = (redact(old), redact(new)) if redact_values else (old, new)
    return [line.render() for line in _ordered(_diff_maps(old, new, shown_old, shown_new, 0))]


def _differ(one: Any, other: Any) -> bool:
    """Ruby's ``!=``: true is not 1 (Python's ``==`` says it is)."""
    return bool(_ruby_key(one) != _ruby_key(other))


def _ruby_key(value: Any) -> Any:
    """A hashable stand-in with Ruby's equality: maps equal whatever their order,
    booleans apart from numbers."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict):
        return ("map", frozenset((_ruby_key(k), _ruby_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_ruby_key(item) for item in value))
    if isinstance(value, dt.date):
        return ("time", value.isoformat())
    return ("value", value)


def _yaml_lines(value: Any, indent: int, status: Status) -> list[_Line]:
    # Ruby's split("\n"): blank lines inside kept, trailing ones dropped.
    texts = dump_like_ruby(value).split("\n")
    while texts and not texts[-1]:
        texts.pop()
    return [_Line(indent, text, status) for text in texts]


def _diff_maps(
    before: dict[Any, Any],
    after: dict[Any, Any],
    shown_before: dict[Any, Any],
    shown_after: dict[Any, Any],
    indent: int,
) -> list[_Line]:
    lines: list[_Line] = []
    for key in {**before, **after}:
        old, new = before.get(key), after.get(key)
        if not _differ(old, new):
            continue
        if old is None:
            lines += _yaml_lines({key: shown_after.get(key)}, indent, "added")
        elif new is None:
            lines += _yaml_lines({key: shown_before.get(key)}, indent, "removed")
        elif isinstance(old, list) and isinstance(new, list):
            lines += _diff_lists(old, new, shown_before.get(key), shown_after.get(key), key, indent)
        elif isinstance(old, dict) and isinstance(new, dict):
            nested = _diff_maps(old, new, shown_before[key], shown_after[key], indent + 1)
            if nested:
                lines.append(_Line(indent, f"{key}:", None))
                lines += nested
        else:
            lines += _yaml_lines({key: shown_before.get(key)}, indent, "removed")
            lines += _yaml_lines({key: shown_after.get(key)}, indent, "added")
    return lines


def _lookup(value: Any, key: str) -> Any:
    """Ruby's ``value[key]`` as the reference uses it on list items: a map's entry; on
    a string, the key itself when it occurs in it."""
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, str):
        return key if key in value else None
    return None


def _diff_lists(
    before: list[Any],
    after: list[Any],
    shown_before: Any,
    shown_after: Any,
    parent: Any,
    indent: int,
) -> list[_Line]:
    # Items are compared as they are and shown redacted: pair them up.
    old_pairs = list(zip(before, _padded(shown_before, len(before)), strict=True))
    new_pairs = list(zip(after, _padded(shown_after, len(after)), strict=True))
    old_keys = {_pair_key(pair) for pair in old_pairs}
    new_keys = {_pair_key(pair) for pair in new_pairs}
    added = [pair for pair in new_pairs if _pair_key(pair) not in old_keys]
    removed = [pair for pair in old_pairs if _pair_key(pair) not in new_keys]
    lines: list[_Line] = []
    for item, shown in added:
        match_key = _matching_key(added + removed) if isinstance(item, dict) else None
        if match_key is None:
            lines += _yaml_lines([shown], indent, "added")
            continue
        counterpart = next(
            (pair for pair in removed if _lookup(pair[0], match_key) == item.get(match_key)),
            None,
        )
        if counterpart is None or not isinstance(counterpart[0], dict):
            lines += _yaml_lines([shown], indent, "added")
            continue
        removed = [pair for pair in removed if _pair_key(pair) != _pair_key(counterpart)]
        nested = _diff_maps(counterpart[0], item, counterpart[1], shown, indent + 1)
        if nested:
            lines += _yaml_lines([{match_key: shown[match_key]}], indent, None)
            lines += nested
    if removed:
        lines += _yaml_lines([shown for _, shown in removed], indent, "removed")
    if lines:
        lines.insert(0, _Line(indent, f"{parent}:", None))
    return lines


def _padded(shown: Any, length: int) -> list[Any]:
    items = list(shown) if isinstance(shown, list) else []
    return (items + [None] * length)[:length]


def _pair_key(pair: tuple[Any, Any]) -> Any:
    return (_ruby_key(pair[0]), _ruby_key(pair[1]))


def _matching_key(pairs: Sequence[tuple[Any, Any]]) -> str | None:
    """``name`` when every changed item has one (else ``range``), as the reference
    matches changed list items; None to show them whole."""
    present = [item for item, _ in pairs if item is not None]
    for key in ("name", "range"):
        # Ruby's truth: only nil and false are false.
        if all(
            _lookup(item, key) is not None and _lookup(item, key) is not False for item in present
        ):
            return key
    return None


def _ordered(lines: list[_Line]) -> list[_Line]:
    """Group the lines by top-level section, put the known sections in manifest order,
    and set sections apart by an empty line (``DiffLines#order``)."""
    sections: dict[str | None, list[_Line]] = {}
    current: str | None = None
    for line in lines:
        if line.indent == 0 and not line.text.startswith((" ", "-")):
            current = line.text
            sections[current] = [_Line(0, "", None)]
        sections.setdefault(current, []).append(line)
    ordered: list[_Line] = []
    for name in _SECTION_ORDER:
        ordered += sections.pop(f"{name}:", [])
    for section in sections.values():
        ordered += section
    return ordered[1:]
