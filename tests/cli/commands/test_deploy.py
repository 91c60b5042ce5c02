"""bosh deploy against a real director over TLS: the name check, release uploads, the
diff, the confirmation and the queued task; and a dry run of the sample deployment.

Most tests check the task the command queued and followed, not its outcome (their
manifest is not deployable); the last one checks a dry run of the sample end to end.
"""

from __future__ import annotations

import re
from pathlib import Path

from bosh_core.cpi.local import make_stemcell
from bosh_core.local.provisioning import STEMCELL_NAME, cloud_config
from tests.cli.commands.conftest import Env
from tests.cli.conftest import RunBosh
from tests.core.director.hello_release import ROOT, build_hello_tarball
from tests.core.director.release_tarballs import Tarballs

MANIFEST = """\
name: web
releases:
- name: fixture
  version: 0+dev.1
stemcells:
- alias: default
  os: ubuntu-jammy
  version: "1.5"
update: {canaries: 1, max_in_flight: 1, canary_watch_time: 1000, update_watch_time: 1000}
instance_groups:
- name: web
  instances: ((count))
  azs: [z1]
  vm_type: small
  stemcell: default
  networks: [{name: default}]
  jobs: []
  properties: {password: hunter2}
"""


def _write(tmp_path: Path, text: str = MANIFEST) -> Path:
    path = tmp_path / "manifest.yml"
    path.write_text(text)
    return path


def _deploy_tasks(env: Env) -> list[tuple[str, str | None]]:
    with env.director() as director:
        return [
            (task.description, task.deployment)
            for task in director.tasks(all_types=True)
            if task.description.startswith("create deployment")
        ]


def test_the_diff_is_printed_and_the_deploy_queued_with_n(
    bosh: RunBosh, env: Env, tmp_path: Path
) -> None:
    path = _write(tmp_path)
    run = bosh("deploy", path, "-v", "count=2", "-d", "web", "-n", "--dry-run", *env.args())
    assert "Using deployment 'web'" in run.stdout
    assert "+ name: web\n" in run.stdout
    assert "+   instances: 2\n" in run.stdout
    assert '+   properties:\n+     password: "<redacted>"\n' in run.stdout
    assert "hunter2" not in run.stdout
    assert "Continue? [yN]" not in run.stdout
    # The followed task: the job itself is not this test's subject.
    assert re.findall(r"^Task (\d+)$", run.stdout, re.MULTILINE) == ["1"]
    assert _deploy_tasks(env) == [("create deployment (dry run)", "web")]


def test_no_redact_shows_secrets(bosh: RunBosh, env: Env, tmp_path: Path) -> None:
    path = _write(tmp_path)
    run = bosh("d", path, "-v", "count=1", "-d", "web", "-n", "--no-redact", *env.args())
    assert "+     password: hunter2\n" in run.stdout


def test_without_an_answer_nothing_is_deployed(bosh: RunBosh, env: Env, tmp_path: Path) -> None:
    path = _write(tmp_path)
    run = bosh("deploy", path, "-v", "count=1", "-d", "web", *env.args())
    assert run.exit_code == 1
    assert "+ name: web\n" in run.stdout and "Continue? [yN]" in run.stdout
    assert _deploy_tasks(env) == []


def test_the_manifest_name_must_be_the_deployment(bosh: RunBosh, env: Env, tmp_path: Path) -> None:
    path = _write(tmp_path)
    run = bosh("deploy", path, "-v", "count=1", "-d", "other", "-n", *env.args())
    assert run.exit_code == 1
    assert "Expected manifest to specify deployment name 'other' but was 'web'" in run.stderr
    assert _deploy_tasks(env) == []
    no_deployment = bosh("deploy", path, "-n", *env.args())
    assert no_deployment.exit_code == 1 and "Expected non-empty deployment name" in (
        no_deployment.stderr
    )


def test_releases_with_a_url_are_uploaded_unless_the_director_has_them(
    bosh: RunBosh, env: Env, tarballs: Tarballs, tmp_path: Path
) -> None:
    text = MANIFEST.replace(
        "  version: 0+dev.1\n", f"  version: 0+dev.1\n  url: file://{tarballs.v1}\n"
    )
    path = _write(tmp_path, text)
    first = bosh("deploy", path, "-v", "count=1", "-d", "web", "-n", *env.args())
    assert "| Extracting release: " in first.stdout, first.stderr
    assert first.stdout.count("Using environment") == 1  # the uploads use its director
    with env.director() as director:
        assert [(r.name, r.version) for r in director.releases()] == [("fixture", "0+dev.1")]
    again = bosh("deploy", path, "-v", "count=1", "-d", "web", "-n", *env.args())
    assert "Release 'fixture/0+dev.1' already exists." in again.stdout
    skipped = bosh(
        "deploy", path, "-v", "count=1", "-d", "web", "-n", "--skip-upload-releases", *env.args()
    )
    assert "Release-Check skipped." in skipped.stdout
    # --fix-releases wins over --skip-upload-releases, as in the reference.
    fixed = bosh(
        "deploy", path, "-v", "count=1", "-d", "web", "-n", "--skip-upload-releases",
        "--fix-releases", *env.args(),
    )  # fmt: skip
    assert "Release-Check skipped." not in fixed.stdout and "already exists" not in fixed.stdout
    assert "| Extracting release: " in fixed.stdout, fixed.stderr
    assert len(_deploy_tasks(env)) == 4


def test_a_dry_run_of_the_sample_plans_and_renders_it(
    bosh: RunBosh, env: Env, tmp_path: Path
) -> None:
    """The sample release, a local stemcell and a local cloud-config on the director: a
    dry run prepares the deployment (variables, plan, every template rendered) and
    changes nothing; without --dry-run this director, which has no message bus to reach
    agents, says so (tests/e2e deploys for real)."""
    tarball = build_hello_tarball(tmp_path)
    stemcell = make_stemcell(tmp_path / "stemcell.tgz", name=STEMCELL_NAME)
    cloud = tmp_path / "cloud.yml"
    cloud.write_text(cloud_config(cidr="10.244.0.0/24", gateway="10.244.0.1"))
    for command in (
        ("upload-release", tarball),
        ("upload-stemcell", stemcell),
        ("-n", "update-cloud-config", cloud),
    ):
        assert bosh(*command, *env.args()).exit_code == 0
    manifest = ROOT / "examples" / "hello-deployment.yml"

    run = bosh("deploy", manifest, "-d", "hello", "-n", "--dry-run", *env.args())
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "Preparing deployment: Preparing deployment" in run.stdout
    assert "Preparing deployment: Rendering templates" in run.stdout
    with env.director() as director:
        [task] = [t for t in director.tasks(all_types=True) if "dry run" in t.description]
        assert (task.state, task.result) == ("done", "/deployments/hello")

    real = bosh("deploy", manifest, "-d", "hello", "-n", *env.args())
    assert real.exit_code == 1
    assert "no message bus to reach agents: configure 'mbus'" in real.stdout
