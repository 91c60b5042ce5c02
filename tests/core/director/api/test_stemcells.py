"""``GET /stemcells`` and ``POST /stemcell_uploads`` (does any CPI still need it?)."""

from __future__ import annotations

from typing import TypeAlias

from litestar import Litestar
from litestar.testing import TestClient

from bosh_core.director.db import Database
from bosh_core.director.db.models import Config
from tests.core.director.records import add_deployment, add_stemcell

Client: TypeAlias = TestClient[Litestar]

JAMMY = "bosh-warden-boshlite-ubuntu-jammy-go_agent"


def _needed(client: Client, name: str, version: str) -> bool:
    response = client.post(
        "/stemcell_uploads", json={"stemcell": {"name": name, "version": version}}
    )
    assert response.status_code == 200, response.text
    needed: bool = response.json()["needed"]
    return needed


def test_stemcells_by_name_with_the_deployments_using_them(
    admin: Client, sqlite_database: Database
) -> None:
    add_stemcell(sqlite_database, JAMMY, "1.18", cid="cid-18")
    add_stemcell(sqlite_database, "alpha", "3", os="alpine", cpi="vsphere", cid="cid-a")
    add_deployment(sqlite_database, "zoo", stemcells=[(JAMMY, "1.18")])
    add_deployment(sqlite_database, "cf", stemcells=[(JAMMY, "1.18")])

    response = admin.get("/stemcells")

    assert response.status_code == 200
    body = response.json()
    assert body[0] == {
        "name": "alpha",
        "operating_system": "alpine",
        "version": "3",
        "cid": "cid-a",
        "cpi": "vsphere",
        "deployments": [],
        "api_version": 3,
        "id": body[0]["id"],
    }
    assert body[1]["name"] == JAMMY
    assert body[1]["deployments"] == [{"name": "cf"}, {"name": "zoo"}]


def test_a_stemcell_is_needed_until_the_default_cpi_has_it(
    admin: Client, sqlite_database: Database
) -> None:
    assert _needed(admin, JAMMY, "1.18") is True
    add_stemcell(sqlite_database, JAMMY, "1.18")
    assert _needed(admin, JAMMY, "1.18") is False
    assert _needed(admin, JAMMY, "1.19") is True


def test_with_a_cpi_config_every_cpi_or_a_former_name_must_have_it(
    admin: Client, sqlite_database: Database
) -> None:
    with sqlite_database.write() as session:
        session.add(
            Config(
                type="cpi",
                name="default",
                content=(
                    "cpis:\n"
                    "- {name: east, type: aws, migrated_from: [{name: old-east}]}\n"
                    "- {name: west, type: aws}\n"
                ),
            )
        )
    add_stemcell(sqlite_database, JAMMY, "1.18", cpi="old-east", cid="ami-1")
    assert _needed(admin, JAMMY, "1.18") is True
    add_stemcell(sqlite_database, JAMMY, "1.18", cpi="west", cid="ami-2")
    assert _needed(admin, JAMMY, "1.18") is False


def test_missing_fields_are_40001(admin: Client) -> None:
    for body, field in (({}, "stemcell"), ({"stemcell": {"version": "1"}}, "name")):
        response = admin.post("/stemcell_uploads", json=body)
        assert response.status_code == 400
        assert response.json() == {"code": 40001, "description": f"Missing '{field}' field"}
    response = admin.post("/stemcell_uploads", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["code"] == 40000
