"""``GET /resources/:id``: a blob streamed from the director's blobstore; 404 when the
blobstore has no such blob; no copy left in the scratch directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeAlias

from litestar import Litestar
from litestar.testing import TestClient

from bosh_core.director.api.app import Director

Client: TypeAlias = TestClient[Litestar]


def test_a_blob_is_streamed_and_no_copy_stays(admin: Client, tmp_path: Path) -> None:
    director: Director = admin.app.state.director
    source = tmp_path / "logs.tgz"
    content = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(content)
    blob_id = director.blobstore.put(source)

    response = admin.get(f"/resources/{blob_id}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-gzip"
    assert response.headers["content-length"] == str(len(content))
    assert response.content == content
    assert list(director.config.tmp_dir.iterdir()) == []


def test_a_missing_blob_is_100002(admin: Client) -> None:
    response = admin.get("/resources/8a1b12bc-06b6-4aa2-994f-469444ac008c")
    assert response.status_code == 404
    assert response.json() == {
        "code": 100002,
        "description": "Resource '8a1b12bc-06b6-4aa2-994f-469444ac008c' not found in the blobstore",
    }


def test_resources_need_credentials(client: Client) -> None:
    assert client.get("/resources/anything").status_code == 401
