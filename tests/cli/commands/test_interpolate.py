"""`bosh int` against every case the reference CLI recorded: stdout, stderr and exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import RunBosh
from tests.conftest import CONFORMANCE

CASES = sorted((CONFORMANCE / "interpolate" / "cases").glob("*"))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_conformance_case(bosh: RunBosh, case: Path) -> None:
    args = ["interpolate", "../../base.yml"]
    if (case / "ops.yml").exists():
        args += ["-o", "ops.yml"]
    if (case / "args").exists():
        args += (case / "args").read_text().splitlines()

    result = bosh(*args, cwd=case)

    assert result.stdout == (case / "expected.out").read_text()
    assert result.stderr == (case / "expected.err").read_text()
    assert result.exit_code == int((case / "expected.rc").read_text())


def test_the_recorded_cases_are_there() -> None:
    assert len(CASES) >= 15
