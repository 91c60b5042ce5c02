"""`bosh int` against every case the reference CLI recorded: stdout, stderr and exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bosh_core import go_yaml
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


def test_manifest_from_stdin(bosh: RunBosh, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a: ((x))\nb: [1, 2]\n")))
    result = bosh("int", "-", "-v", "x=on")
    # -v values are read as YAML: `on` is a boolean, as in the reference
    assert (result.exit_code, result.stdout) == (0, "a: true\nb:\n- 1\n- 2\n")


def test_vars_store_generates_every_type_once_and_keeps_it(bosh: RunBosh, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(
        "password: ((admin))\n"
        "ca: ((ca.certificate))\n"
        "cert: ((web.certificate))\n"
        "ssh: ((jump.public_key))\n"
        "rsa: ((signer.public_key))\n"
        "variables:\n"
        "- {name: admin, type: password}\n"
        "- {name: ca, type: certificate, options: {is_ca: true, common_name: ca}}\n"
        "- name: web\n  type: certificate\n"
        "  options: {ca: ca, common_name: web, alternative_names: [web.local, 10.0.0.1]}\n"
        "- {name: jump, type: ssh}\n"
        "- {name: signer, type: rsa}\n"
    )
    store = tmp_path / "creds.yml"
    first = bosh("int", manifest, "--vars-store", store)
    second = bosh("int", manifest, "--vars-store", store)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout.endswith("variables: []\n")  # found definitions are removed
    stored = go_yaml.load(store.read_bytes(), source=str(store))
    assert sorted(stored) == ["admin", "ca", "jump", "signer", "web"]
    assert len(stored["admin"]) == 20
    assert stored["jump"]["public_key"].startswith("ssh-rsa ")
    assert stored["web"]["ca"] == stored["ca"]["certificate"]
    assert bosh("int", manifest, "--vars-store", store, "--path", "/password").stdout == (
        stored["admin"] + "\n"
    )
