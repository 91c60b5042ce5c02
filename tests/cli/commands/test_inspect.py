"""bosh inspect-local-release, held to the reference's recorded output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bosh_core.release.index import QuietReporter
from bosh_core.release.releasedir import ReleaseDir, write_release_tarball
from tests.cli.conftest import RunBosh

TARBALL = "fixture-0+dev.1.tgz"
ARCHIVE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def masked(text: str) -> str:
    """Archive digests depend on compression and timestamps: everything else must match."""
    return ARCHIVE_DIGEST.sub("sha256:<digest>", text)


@pytest.fixture
def fixture_tarball(fixture_release: Path, tmp_path: Path) -> Path:
    """The first dev release of the conformance fixture, as the reference recorded it."""
    release_dir = ReleaseDir(
        fixture_release, cache_dir=tmp_path / "cache", reporter=QuietReporter()
    )
    release = release_dir.build_release(
        name="fixture", version=release_dir.next_dev_version("fixture"), force=True
    )
    tarball = tmp_path / "tarballs" / TARBALL
    tarball.parent.mkdir()
    write_release_tarball(release, tarball)
    return tarball


def test_tty_output_matches_the_reference(
    bosh: RunBosh, fixture_tarball: Path, conformance_dir: Path
) -> None:
    result = bosh("--tty", "inspect-local-release", TARBALL, cwd=fixture_tarball.parent)
    expected = (conformance_dir / "cli-output" / "inspect-local-release.tty.out").read_text()
    assert (result.exit_code, result.stderr) == (0, "")
    assert masked(result.stdout) == masked(expected)


def test_json_output_matches_the_reference(
    bosh: RunBosh, fixture_tarball: Path, conformance_dir: Path
) -> None:
    result = bosh("inspect-local-release", TARBALL, "--json", cwd=fixture_tarball.parent)
    expected = (conformance_dir / "cli-output" / "inspect-local-release.json").read_text()
    assert result.exit_code == 0

    def document(text: str) -> Any:
        return json.loads(masked(text))

    assert document(result.stdout) == document(expected)


def test_the_archive_row_shows_the_path_as_given(bosh: RunBosh, fixture_tarball: Path) -> None:
    given = f"tarballs/{TARBALL}"
    result = bosh("--tty", "inspect-local-release", given, cwd=fixture_tarball.parent.parent)
    assert re.search(rf"^Archive +{re.escape(given)} *$", result.stdout, re.MULTILINE)


def test_a_tampered_tarball_fails_in_one_line(
    bosh: RunBosh, fixture_tarball: Path, tmp_path: Path
) -> None:
    data = bytearray(fixture_tarball.read_bytes())
    data[-8] ^= 0xFF  # the gzip CRC
    tampered = tmp_path / "tampered.tgz"
    tampered.write_bytes(bytes(data))
    result = bosh("inspect-local-release", str(tampered))
    assert result.exit_code == 1
    assert result.stdout.strip() == ""
    first, *rest = result.stderr.splitlines()
    assert first.startswith(f"Release tarball '{tampered}' is corrupted")
    assert "Traceback" not in result.stderr
    assert rest == ["Exit code 1"]
