"""BOSH's semi-semantic versions: ``release[-pre_release][+post_release]``.

Each segment is dot-separated components; a component is an integer (no leading zero) or
a word of ``[0-9A-Za-z_-]``. Integers sort before words, trailing zero components do not
count (``1.0 == 1``), a pre-release sorts before its release and a post-release after it
(``1-rc.1 < 1 < 1+dev.1``). Dev releases are ``<last>+dev.N``; final releases ``N``.
"""

from __future__ import annotations

import functools
import re

import attrs

from bosh_core.errors import BoshError

__all__ = ["DEV_POST_RELEASE", "Version", "VersionError", "version_order"]

_VERSION = re.compile(
    r"(?P<release>[0-9A-Za-z_.]+)(?:-(?P<pre>[0-9A-Za-z_.-]+))?(?:\+(?P<post>[0-9A-Za-z_.-]+))?"
)
_INT = re.compile(r"0|[1-9][0-9]*")
_WORD = re.compile(r"[0-9A-Za-z_-]+")

Component = int | str
Segment = tuple[Component, ...]


#: The post-release segment of a first dev version: ``1+dev.1`` after ``1``.
DEV_POST_RELEASE: Segment = ("dev", 1)


class VersionError(BoshError, ValueError):
    pass


def _parse_segment(text: str) -> Segment:
    components: list[Component] = []
    for piece in text.split("."):
        if _INT.fullmatch(piece):
            components.append(int(piece))
        elif _WORD.fullmatch(piece):
            components.append(piece)
        else:
            raise VersionError(
                f"Expected component '{piece}' from version segment '{text}'"
                " to be either an integer or a formatted string"
            )
    return tuple(components)


def _format_segment(segment: Segment) -> str:
    return ".".join(str(c) for c in segment)


def _compare_components(a: Component, b: Component) -> int:
    if isinstance(a, int) != isinstance(b, int):
        return -1 if isinstance(a, int) else 1
    return (a > b) - (a < b)  # type: ignore[operator]


def _compare_segments(a: Segment, b: Segment) -> int:
    for left, right in zip(a, b, strict=False):
        result = _compare_components(left, right)
        if result:
            return result
    longer, sign = (a, 1) if len(a) > len(b) else (b, -1)
    rest = longer[min(len(a), len(b)) :]
    return 0 if all(c == 0 for c in rest) else sign


def _without_trailing_zeros(segment: Segment) -> Segment:
    end = len(segment)
    while end and segment[end - 1] == 0:
        end -= 1
    return segment[:end]


def _increment(segment: Segment, *, what: str) -> Segment:
    if not segment or not isinstance(segment[-1], int):
        raise VersionError(
            f"Expected version segment '{_format_segment(segment)}' of {what}"
            " to end with an integer component to be incremented"
        )
    return (*segment[:-1], segment[-1] + 1)


@functools.total_ordering
@attrs.frozen(eq=False)
class Version:
    release: Segment
    pre_release: Segment = ()
    post_release: Segment = ()

    @classmethod
    def parse(cls, text: str) -> Version:
        if not text:
            raise VersionError("Expected version to be non-empty string")
        match = _VERSION.fullmatch(text)
        if not match:
            raise VersionError(f"Expected version '{text}' to match version format")
        pre, post = match["pre"], match["post"]
        return cls(
            _parse_segment(match["release"]),
            _parse_segment(pre) if pre else (),
            _parse_segment(post) if post else (),
        )

    def __str__(self) -> str:
        text = _format_segment(self.release)
        if self.pre_release:
            text += "-" + _format_segment(self.pre_release)
        if self.post_release:
            text += "+" + _format_segment(self.post_release)
        return text

    def compare(self, other: Version) -> int:
        result = _compare_segments(self.release, other.release)
        if result:
            return result
        for mine, theirs, empty_sorts in (
            (self.pre_release, other.pre_release, 1),
            (self.post_release, other.post_release, -1),
        ):
            if not mine and not theirs:
                continue
            if not mine:
                return empty_sorts
            if not theirs:
                return -empty_sorts
            result = _compare_segments(mine, theirs)
            if result:
                return result
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.compare(other) == 0

    def __lt__(self, other: Version) -> bool:
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash(
            tuple(
                _without_trailing_zeros(s)
                for s in (self.release, self.pre_release, self.post_release)
            )
        )

    def increment_release(self) -> Version:
        return Version(_increment(self.release, what=f"version '{self}'"))

    def increment_post_release(self, default: Segment = DEV_POST_RELEASE) -> Version:
        post = (
            _increment(self.post_release, what=f"version '{self}'")
            if self.post_release
            else default
        )
        return Version(self.release, self.pre_release, post)


def version_order(text: str) -> tuple[int, Version | str]:
    """A sort key for version texts: parsable ones by version, after the others (which
    sort as text), so ``max(texts, key=version_order)`` is the newest."""
    try:
        return (1, Version.parse(text))
    except VersionError:
        return (0, text)
