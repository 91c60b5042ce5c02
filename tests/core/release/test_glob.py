from __future__ import annotations

from pathlib import Path

import pytest

from bosh_core.release.glob import expand_braces, recursive_glob


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("a/x.py", "a/.hidden", "a/b/y.py", "a/b/c/z.txt", "d/w.py", "e[1].txt"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return tmp_path


def names(base: Path, pattern: str) -> list[str]:
    return sorted(p.relative_to(base).as_posix() for p in recursive_glob(base, pattern))


def test_star_matches_hidden_files_and_not_separators(tree: Path) -> None:
    assert names(tree, "a/*") == ["a/.hidden", "a/b", "a/x.py"]


def test_double_star_matches_any_depth(tree: Path) -> None:
    assert names(tree, "a/**/*.py") == ["a/b/y.py", "a/x.py"]
    assert names(tree, "**/z.txt") == ["a/b/c/z.txt"]
    assert names(tree, "a/**") == ["a/.hidden", "a/b", "a/b/c", "a/b/c/z.txt", "a/b/y.py", "a/x.py"]


def test_braces_classes_and_escapes(tree: Path) -> None:
    assert names(tree, "{a,d}/*.py") == ["a/x.py", "d/w.py"]
    assert names(tree, "[a-c]/x.py") == ["a/x.py"]
    assert names(tree, "[^a]/*.py") == ["d/w.py"]
    assert names(tree, "e\\[1\\].txt") == ["e[1].txt"]
    assert names(tree, "?/w.py") == ["d/w.py"]


def test_symlinked_directories_are_followed_without_looping(tree: Path) -> None:
    (tree / "a" / "b" / "up").symlink_to("..")
    found = names(tree, "a/**/z.txt")
    assert "a/b/c/z.txt" in found
    assert len(found) < 10


def test_nested_braces_expand() -> None:
    assert expand_braces("x/{a,b{c,d}}/y") == ["x/a/y", "x/bc/y", "x/bd/y"]
    assert expand_braces("no{brace") == ["no{brace"]
