"""Release directories to build in tests, with a quiet reporter and a private cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bosh_core.release.index import QuietReporter
from bosh_core.release.releasedir import ReleaseDir

OpenReleaseDir = Callable[..., ReleaseDir]


@pytest.fixture
def open_release_dir(tmp_path: Path) -> OpenReleaseDir:
    """``open_release_dir(path, **options)``: a ReleaseDir caching under tmp_path."""

    def open_dir(path: Path, **options: Any) -> ReleaseDir:
        return ReleaseDir(path, cache_dir=tmp_path / "cache", reporter=QuietReporter(), **options)

    return open_dir


def use_local_blobstore(release_dir: Path, store: Path, *, extra: str = "") -> None:
    """Point config/final.yml at a local blobstore in `store` (final builds go there)."""
    (release_dir / "config" / "final.yml").write_text(
        f"name: fixture\nblobstore:\n  provider: local\n  options:\n"
        f"    blobstore_path: {store}\n{extra}"
    )
