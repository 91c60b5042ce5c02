from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bosh_core.models.version import Version, VersionError


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("0+dev.9", "0+dev.10"),
        ("1-rc.1", "1"),
        ("1", "1+dev.1"),
        ("1.9", "1.10"),
        ("1.a", "1.b"),
        ("1.9", "1.a"),
        ("2", "10"),
    ],
)
def test_ordering(smaller: str, larger: str) -> None:
    assert Version.parse(smaller) < Version.parse(larger)


def test_trailing_zeros_are_equal() -> None:
    assert Version.parse("1.0.0") == Version.parse("1")
    assert hash(Version.parse("1.0")) == hash(Version.parse("1"))


def test_increments() -> None:
    assert str(Version.parse("0+dev.0").increment_post_release(("dev", 1))) == "0+dev.1"
    assert str(Version.parse("3").increment_post_release(("dev", 1))) == "3+dev.1"
    assert str(Version.parse("3+dev.7").increment_post_release(("dev", 1))) == "3+dev.8"
    assert str(Version.parse("3.1").increment_release()) == "3.2"


@pytest.mark.parametrize("text", ["", "1..2", "1 2", "01x!"])
def test_invalid(text: str) -> None:
    with pytest.raises(VersionError):
        Version.parse(text)


release_components = st.one_of(
    st.integers(0, 10_000), st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True)
)
components = st.one_of(
    st.integers(0, 10_000), st.from_regex(r"[a-z][a-z0-9_-]{0,5}", fullmatch=True)
)
release_segments = st.lists(release_components, min_size=1, max_size=3).map(tuple)
segments = st.lists(components, min_size=1, max_size=3).map(tuple)


@given(release_segments, st.one_of(st.just(()), segments), st.one_of(st.just(()), segments))
def test_round_trip(release: tuple, pre: tuple, post: tuple) -> None:  # type: ignore[type-arg]
    version = Version(release, pre, post)
    assert Version.parse(str(version)) == version
    assert str(Version.parse(str(version))) == str(version)
