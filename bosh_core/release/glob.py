"""Recursive globbing as package specs mean it (the reference uses doublestar v1).

Unlike :mod:`glob`, ``*`` matches names that start with a dot, ``**`` as a whole path
component matches any number of directories (and, as the last component, every file and
directory below), symlinked directories are followed, and ``{a,b}`` alternatives,
``[...]``/``[^...]`` classes, ``?`` and backslash escapes are understood.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path

__all__ = ["expand_braces", "recursive_glob"]


def expand_braces(pattern: str) -> list[str]:
    """``a/{b,c{d,e}}`` -> ``a/b``, ``a/cd``, ``a/ce`` (escaped braces stay literal)."""
    start = _find_unescaped(pattern, "{", 0)
    if start < 0:
        return [pattern]
    depth, index, commas = 0, start, []
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                break
        elif char == "," and depth == 1:
            commas.append(index)
        index += 1
    else:
        return [pattern]  # unbalanced: the brace is literal, as a shell would treat it
    bounds = [start, *commas, index]
    head, tail = pattern[:start], pattern[index + 1 :]
    expanded: list[str] = []
    for left, right in itertools.pairwise(bounds):
        expanded.extend(expand_braces(head + pattern[left + 1 : right] + tail))
    return expanded


def _find_unescaped(text: str, char: str, start: int) -> int:
    index = start
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == char:
            return index
        index += 1
    return -1


def _component_regex(component: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(component):
        char = component[index]
        if char == "\\" and index + 1 < len(component):
            parts.append(re.escape(component[index + 1]))
            index += 2
            continue
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[":
            end = component.find("]", index + 2)
            if end < 0:
                parts.append(re.escape(char))
            else:
                body = component[index + 1 : end]
                negate = body.startswith("^")
                body = body[1:] if negate else body
                escaped = body.replace("\\", "\\\\").replace("]", "\\]")
                parts.append(f"[{'^' if negate else ''}{escaped}]")
                index = end
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()  # follows symlinks, as the reference does
    except OSError:
        return False


def _entries(directory: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in directory.iterdir())
    except OSError:
        return []


def _glob(base: Path, components: list[str], walked: frozenset[str]) -> Iterator[Path]:
    if not components:
        yield base
        return
    head, rest = components[0], components[1:]
    if head == "**":
        # A symlink loop would recurse forever; each real directory is walked once per chain.
        walked = walked | {os.path.realpath(base)}
        for name in _entries(base):
            child = base / name
            if _is_dir(child):
                if not rest:
                    yield child
                if os.path.realpath(child) not in walked:
                    yield from _glob(child, components, walked)
            elif not rest:
                yield child
        if rest:
            yield from _glob(base, rest, walked)
        return
    if not any(c in head for c in "*?[\\"):
        child = base / head
        if os.path.lexists(child):
            yield from _glob(child, rest, walked)
        return
    regex = _component_regex(head)
    for name in _entries(base):
        if regex.fullmatch(name):
            yield from _glob(base / name, rest, walked)


def recursive_glob(base: Path, pattern: str) -> list[Path]:
    """Every path under `base` matching `pattern` (relative, ``/``-separated)."""
    matches: list[Path] = []
    for alternative in expand_braces(pattern):
        components = [c for c in alternative.split("/") if c not in ("", ".")]
        if not _is_dir(base):
            continue
        matches.extend(_glob(base, components, frozenset()))
    return matches
