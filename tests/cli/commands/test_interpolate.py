"""`bosh int` against every case the reference CLI recorded: stdout, stderr and exit code."""

from __future__ import annotations

import subprocess
import sys
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


def test_bosh_int_loads_only_what_it_uses() -> None:
    # Start-up time matters for scripts calling `bosh int` in loops.
    code = (
        "import sys\n"
        "from bosh_cli.main import main\n"
        "try:\n"
        f"    main(['int', {str(CONFORMANCE / 'interpolate' / 'base.yml')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('attr', 'cattrs', 'cryptography', 'bosh_core.release', 'bosh_core.models')\n"
        "print(sorted(m for m in sys.modules if m.startswith(tuple(h + '.' for h in heavy))"
        " or m in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
