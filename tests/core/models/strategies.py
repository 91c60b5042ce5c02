"""Hypothesis strategies for the document models, derived from their field types.

Derived rather than written by hand, so a field added to a model is generated (and
round-tripped) without touching the tests.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from functools import cache
from typing import Any

import attrs
from hypothesis import strategies as st

from bosh_core.models.manifest import Amount, WatchTime

__all__ = ["models", "yaml_values"]


def _values(text: st.SearchStrategy[str], floats: st.SearchStrategy[float]) -> Any:
    scalars = st.none() | st.booleans() | st.integers() | floats | text
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3)
        ),
        max_leaves=8,
    )


_ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
# Text and floats that `dump_yaml` writes in a form `load_yaml` reads back unchanged.
_PLAIN_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).filter(
    lambda text: text != "="
)
_PLAIN_FLOATS = st.integers(-(10**9), 10**9).map(lambda number: number / 8)

yaml_values = _values(_ANY_TEXT, st.floats(allow_nan=False))


@st.composite
def _watch_times(draw: st.DrawFn) -> WatchTime:
    low = draw(st.integers(0, 10**7))
    return WatchTime(low, draw(st.integers(low, 10**7)))


def _leaves(plain: bool) -> dict[Any, st.SearchStrategy[Any]]:
    text = _PLAIN_TEXT if plain else _ANY_TEXT
    return {
        Amount: st.builds(Amount, st.integers(0, 100), st.booleans())
        | st.builds(Amount, st.integers(-5, 10**6)),
        WatchTime: _watch_times(),
        str: text,
        int: st.integers(),
        bool: st.booleans(),
        Any: _values(text, _PLAIN_FLOATS if plain else st.floats(allow_nan=False)),
    }


def _for_type(type_: Any, plain: bool) -> st.SearchStrategy[Any]:
    leaves = _leaves(plain)
    if type_ in leaves:
        return leaves[type_]
    origin = typing.get_origin(type_)
    arguments = typing.get_args(type_)
    if origin is typing.Annotated:
        return _for_type(arguments[0], plain)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_for_type(argument, plain) for argument in arguments])
    if type_ is type(None):
        return st.none()
    if origin is typing.Literal:
        return st.sampled_from(arguments)
    if origin is tuple:
        return st.lists(_for_type(arguments[0], plain), max_size=3).map(tuple)
    if origin is dict:
        keys, values = (_for_type(argument, plain) for argument in arguments)
        return st.dictionaries(keys, values, max_size=3)
    if isinstance(type_, type) and issubclass(type_, Enum):
        return st.sampled_from(list(type_))
    if attrs.has(type_):
        return models(type_, plain=plain)
    raise TypeError(f"no strategy for {type_!r}")


@cache
def models(cls: type[Any], *, plain: bool = False) -> st.SearchStrategy[Any]:
    """Instances of the attrs class `cls`; `plain`: only text and floats YAML keeps exactly."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {
        field.name: st.deferred(lambda type_=hints[field.name]: _for_type(type_, plain))
        for field in attrs.fields(cls)
    }
    return st.builds(cls, **fields)
