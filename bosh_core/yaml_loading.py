"""Loading YAML safely: the C parser when present, size and alias-expansion limits, and
duplicate keys refused with their lines. Kept apart from :mod:`bosh_core.serialization`
so that reading YAML does not import cattrs (start-up time of ``bosh int``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import yaml

from bosh_core.errors import Problem, YAMLError

__all__ = ["DEFAULT_MAX_NODES", "DEFAULT_MAX_YAML_BYTES", "SafeLoader", "kind_of", "load_yaml"]

DEFAULT_MAX_YAML_BYTES = 64 * 1024 * 1024
# Nodes a document may hold once every alias is expanded (a real manifest has thousands).
DEFAULT_MAX_NODES = 5_000_000

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (the fast path), else the pure-Python one."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(SafeLoader):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate keys and names their lines."""

    source = "<yaml>"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first_line = first_lines.get(key)
            except TypeError:
                raise _problem(
                    self.source, key_node.start_mark, "mapping key is not hashable"
                ) from None
            if first_line is not None:
                raise _problem(
                    self.source,
                    key_node.start_mark,
                    f"duplicate key {key!r} (first defined on line {first_line})",
                )
            first_lines[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


# A plain `=` is YAML 1.1's "value" key; PyYAML has no constructor for it, Go reads the
# string (and writes it plain): read it as the string it is.
_StrictLoader.add_constructor("tag:yaml.org,2002:value", _StrictLoader.construct_yaml_str)


def _problem(source: str, mark: Any, message: str) -> YAMLError:
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return YAMLError(f"YAML in {source}", [Problem(where, message)])


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Count the nodes of `root` with every alias expanded, stopping past `limit`."""
    memo: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = memo.get(id(node))
        if known is not None:
            return known
        memo[id(node)] = limit + 1  # a cycle expands without bound
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > limit:
                    break
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                total += size(key) + size(value)
                if total > limit:
                    break
        memo[id(node)] = total
        return total

    return size(root)


def load_yaml(
    text: str | bytes,
    *,
    source: str = "<yaml>",
    max_bytes: int = DEFAULT_MAX_YAML_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
    loader_class: type[yaml.SafeLoader] | None = None,
    syntax_error: Callable[[yaml.MarkedYAMLError], Exception] | None = None,
) -> Any:
    """Parse one YAML document safely; every failure is a YAMLError naming `source`.

    `loader_class` (a subclass of :data:`SafeLoader`) changes how scalars and maps are
    built; by default duplicate keys are refused with their lines. `syntax_error` words
    a syntax error differently (as another tool would).
    """
    if len(text) > max_bytes:
        raise YAMLError(
            f"YAML in {source}",
            [Problem("", f"document is {len(text)} bytes, more than the limit of {max_bytes}")],
        )
    loader = (loader_class or _StrictLoader)(text)
    if isinstance(loader, _StrictLoader):
        loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, max_nodes) > max_nodes:
            raise YAMLError(
                f"YAML in {source}",
                [
                    Problem(
                        "",
                        f"aliases expand to more than {max_nodes} nodes"
                        " (recursive or exponential anchors are refused)",
                    )
                ],
            )
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        if syntax_error is not None:
            raise syntax_error(exc) from None
        message = exc.problem or str(exc)
        if exc.context:
            message = f"{exc.context}: {message}"
        raise _problem(source, exc.problem_mark, message) from None
    except yaml.YAMLError as exc:
        raise YAMLError(f"YAML in {source}", [Problem("", str(exc))]) from None
    finally:
        loader.dispose()


def kind_of(value: Any) -> str:
    """What a decoded YAML/JSON value is, for messages: ``a list``, ``a string``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__
