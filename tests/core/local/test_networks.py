"""Each local environment claims a network of its own (bosh_core.local.networks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bosh_core.local import networks
from bosh_core.local.networks import LocalNetwork, claim_network, release_network


@pytest.fixture(autouse=True)
def claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "claims"
    monkeypatch.setattr(networks, "_claims_dir", lambda: where)
    return where


def environment(tmp_path: Path, name: str) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    return directory


def test_environments_side_by_side_get_different_networks(tmp_path: Path) -> None:
    first = claim_network(environment(tmp_path, "a"))
    second = claim_network(environment(tmp_path, "b"))

    assert (first.index, second.index) == (0, 1)
    assert first.cidr != second.cidr and first.bridge != second.bridge
    assert first.cidr.endswith(".0.0/24") and second.cidr.endswith(".1.0/24")
    assert claim_network(tmp_path / "a").index == 0  # its own claim, again


def test_a_released_or_abandoned_network_is_free_again(tmp_path: Path) -> None:
    a, b = environment(tmp_path, "a"), environment(tmp_path, "b")
    claim_network(a)
    claim_network(b)
    release_network(a, 0)
    b.rmdir()  # deleted without releasing

    assert claim_network(environment(tmp_path, "c")).index == 0
    assert claim_network(environment(tmp_path, "d")).index == 1


def test_an_environment_claims_its_own_network_back_or_says_who_holds_it(tmp_path: Path) -> None:
    a, b = environment(tmp_path, "a"), environment(tmp_path, "b")
    assert claim_network(a, 3) == LocalNetwork.numbered(3)
    with pytest.raises(OSError, match=rf"used by the environment in {a}"):
        claim_network(b, 3)
    release_network(b, 3)  # not b's: nothing happens
    assert claim_network(a, 3).index == 3
