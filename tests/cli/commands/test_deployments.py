"""bosh deployments/manifest/releases/inspect-release/stemcells against a real director
over TLS, with the reference CLI's tables, marks, sort orders and footers."""

from __future__ import annotations

import json

import pytest

from bosh_core.director.db.models import CompiledPackage, Package, Release, ReleaseVersion, Template
from tests.cli.conftest import RunBosh
from tests.core.client.conftest import ADMIN, Served, served  # noqa: F401 (fixture)
from tests.core.director.records import add_deployment, add_stemcell

MANIFEST = "# comments survive\nname: cf\n\ninstance_groups: []\n"


def env_args(served: Served) -> list[str]:  # noqa: F811
    return ["-e", served.url, "--ca-cert", str(served.ca), "--client", ADMIN[0],
            "--client-secret", ADMIN[1], "--tty"]  # fmt: skip


def _using(served: Served) -> str:  # noqa: F811
    return f"Using environment '{served.url}' as client 'admin'\n\n"


def add_release(served: Served) -> None:  # noqa: F811
    """nginx 1.9 and 1.10 (deployed), with an uncommitted 1.2; one job with links and
    one package compiled for two stemcells."""
    with served.database.write() as session:
        release = Release(name="nginx")
        runtime = Package(
            release=release,
            name="runtime",
            version="aaa",
            fingerprint="aaa",
            blobstore_id="blob-runtime",
            sha1="sha-runtime",
            compiled_packages=[
                CompiledPackage(
                    stemcell_os=os_name,
                    stemcell_version="1.18",
                    dependency_key="[]",
                    dependency_key_sha1="x",
                    blobstore_id=f"blob-{os_name}",
                    sha1=f"sha-{os_name}",
                )
                for os_name in ("ubuntu-noble", "ubuntu-jammy")
            ],
        )
        web = Template(
            release=release,
            name="web",
            version="bbb",
            fingerprint="bbb",
            blobstore_id="blob-web",
            sha1="sha-web",
            spec={
                "consumes": [{"name": "db", "type": "postgres", "optional": True}],
                "provides": [{"name": "http", "type": "http"}],
            },
        )
        helper = Template(
            release=release,
            name="a-helper",
            version="ccc",
            fingerprint="ccc",
            blobstore_id="blob-helper",
            sha1="sha-helper",
        )
        release.versions = [
            ReleaseVersion(
                version="1.9", commit_hash="abc123", templates=[web], update_completed=True
            ),
            ReleaseVersion(
                version="1.10",
                commit_hash="def456",
                templates=[web, helper],
                packages=[runtime],
                update_completed=True,
            ),
            ReleaseVersion(version="1.2", commit_hash="0a1b2c", uncommitted_changes=True),
        ]
        session.add(release)
        session.add(Release(name="apache", versions=[ReleaseVersion(version="2", commit_hash="9")]))


@pytest.fixture
def director_state(served: Served) -> Served:  # noqa: F811
    add_release(served)
    add_stemcell(served.database, "jammy", "1.9", cid="cid-9")
    add_stemcell(served.database, "jammy", "1.18", cid="cid-18", cpi="east")
    add_stemcell(served.database, "alpine", "3", os="alpine", cid="cid-a")
    add_deployment(
        served.database,
        "zoo",
        manifest=MANIFEST,
        releases=[("nginx", "1.10"), ("apache", "2")],
        stemcells=[("jammy", "1.18")],
        teams=["ops", "dev"],
    )
    add_deployment(served.database, "cf")
    return served


def test_deployments_table(bosh: RunBosh, director_state: Served) -> None:
    run = bosh("deployments", *env_args(director_state))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        _using(director_state) + "Name  Release(s)  Stemcell(s)  Team(s)  \n"
        "cf    -           -            -  \n"
        "zoo   apache/2    jammy/1.18   dev  \n"
        "      nginx/1.10               ops  \n"
        "\n"
        "2 deployments\n"
        "\n"
        "Succeeded\n"
    )
    assert bosh("ds", *env_args(director_state)).stdout == run.stdout
    assert bosh("deps", *env_args(director_state)).stdout == run.stdout


def test_deployments_json(bosh: RunBosh, director_state: Served) -> None:
    run = bosh("deployments", *env_args(director_state), "--json")
    table = json.loads(run.stdout)["Tables"][0]
    assert table["Content"] == "deployments"
    assert table["Header"] == {
        "name": "Name",
        "release_s": "Release(s)",
        "stemcell_s": "Stemcell(s)",
        "team_s": "Team(s)",
    }
    assert table["Rows"][1] == {
        "name": "zoo",
        "release_s": "apache/2\nnginx/1.10",
        "stemcell_s": "jammy/1.18",
        "team_s": "dev\nops",
    }


def test_manifest_prints_the_stored_text(bosh: RunBosh, director_state: Served) -> None:
    run = bosh("manifest", "-d", "zoo", *env_args(director_state))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        _using(director_state) + "Using deployment 'zoo'\n\n" + MANIFEST + "\nSucceeded\n"
    )
    assert bosh("man", "-d", "zoo", *env_args(director_state)).stdout == run.stdout

    missing = bosh("manifest", "-d", "nope", *env_args(director_state))
    assert missing.exit_code == 1
    assert (
        "Fetching manifest: Finding deployment 'nope': Director responded with non-successful"
        " status code '404' response 'Deployment 'nope' doesn't exist'" in missing.stderr
    )
    assert (
        "Expected non-empty deployment name" in bosh("manifest", *env_args(director_state)).stderr
    )


def test_releases_table_newest_version_first_with_marks(
    bosh: RunBosh, director_state: Served
) -> None:
    run = bosh("releases", *env_args(director_state))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        _using(director_state) + "Name    Version  Commit Hash  \n"
        "apache  2*       9  \n"
        "nginx   1.10*    def456  \n"
        "~       1.9      abc123  \n"
        "~       1.2      0a1b2c+  \n"
        "\n"
        "(*) Currently deployed\n"
        "(+) Uncommitted changes\n"
        "\n"
        "4 releases\n"
        "\n"
        "Succeeded\n"
    )
    assert bosh("rs", *env_args(director_state)).stdout == run.stdout


def test_releases_without_tty_are_tab_separated_data(bosh: RunBosh, director_state: Served) -> None:
    run = bosh("releases", *env_args(director_state)[:-1])
    assert run.stdout == (
        "apache\t2*   \t9\t\n"
        "nginx \t1.10*\tdef456\t\n"
        "nginx \t1.9  \tabc123\t\n"
        "nginx \t1.2  \t0a1b2c+\t\n"
    )


def test_inspect_release_tables(bosh: RunBosh, director_state: Served) -> None:
    run = bosh("inspect-release", "nginx/1.10", *env_args(director_state))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        _using(director_state)
        + "Job           Blobstore ID  Digest      Links Consumed    Links Provided  \n"
        "a-helper/ccc  blob-helper   sha-helper  -                 -  \n"
        "web/bbb       blob-web      sha-web     - name: db        - name: http  \n"
        "                                          type: postgres    type: http  \n"
        "                                          optional: true    \n"
        "\n"
        "2 jobs\n"
        "\n"
        "Package      Compiled for       Blobstore ID       Digest  \n"
        "runtime/aaa  (source)           blob-runtime       sha-runtime  \n"
        "~            ubuntu-jammy/1.18  blob-ubuntu-jammy  sha-ubuntu-jammy  \n"
        "~            ubuntu-noble/1.18  blob-ubuntu-noble  sha-ubuntu-noble  \n"
        "\n"
        "0 packages\n"
        "\n"
        "Succeeded\n"
    )


def test_inspect_release_json_and_failures(bosh: RunBosh, director_state: Served) -> None:
    run = bosh("inspect-release", "nginx/1.10", *env_args(director_state), "--json")
    tables = json.loads(run.stdout)["Tables"]
    assert [table["Content"] for table in tables] == ["jobs", "packages"]
    assert tables[1]["Notes"] is None
    assert tables[1]["Rows"][1] == {
        "package": "runtime/aaa",
        "compiled_for": "ubuntu-jammy/1.18",
        "blobstore_id": "blob-ubuntu-jammy",
        "digest": "sha-ubuntu-jammy",
    }

    missing = bosh("inspect-release", "nginx/7", *env_args(director_state))
    assert missing.exit_code == 1
    assert (
        "Expected to find release 'nginx/7': Finding release 'nginx/7': Director responded"
        " with non-successful status code '404' response 'Release version 'nginx/7'"
        " doesn't exist'" in missing.stderr
    )
    bad = bosh("inspect-release", "nginx", *env_args(director_state))
    assert "Expected release 'nginx' to be in format 'name/version'" in bad.stderr


def test_stemcells_table(bosh: RunBosh, director_state: Served) -> None:
    run = bosh("stemcells", *env_args(director_state))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == (
        _using(director_state) + "Name    Version  OS            CPI   CID  \n"
        "alpine  3        alpine        -     cid-a  \n"
        "jammy   1.18*    ubuntu-jammy  east  cid-18  \n"
        "~       1.9      ubuntu-jammy  -     cid-9  \n"
        "\n"
        "(*) Currently deployed\n"
        "\n"
        "3 stemcells\n"
        "\n"
        "Succeeded\n"
    )
    assert bosh("ss", *env_args(director_state)).stdout == run.stdout


def test_inspect_release_columns_may_name_either_table(
    bosh: RunBosh, director_state: Served
) -> None:
    args = ("inspect-release", "nginx/1.10", "--column", "job", "--column", "package")
    run = bosh(*args, *env_args(director_state), "--json")
    assert run.exit_code == 0, run.stderr
    document = json.loads(run.stdout)
    assert "Failed to find header" not in run.stdout
    assert [list(table["Rows"][0]) for table in document["Tables"]] == [["job"], ["package"]]
