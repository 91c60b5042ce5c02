"""A real, TLS-only embedded nats-server per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bosh_core.bus.embedded import EmbeddedNats


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    with EmbeddedNats(tmp_path_factory.mktemp("nats") / "state") as server:
        yield server


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "nats-state"
