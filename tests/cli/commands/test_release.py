"""create-release and finalize-release against the reference CLI's recorded output."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.cli.conftest import RunBosh
from tests.core.blobstore.moto_s3 import moto_s3_server, new_bucket, s3_options

ARCHIVE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _masked(text: str) -> str:
    return ARCHIVE_DIGEST.sub("sha256:<archive digest>", text)


def _without_sha1_lines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("sha1:"))


def test_second_dev_release_prints_what_the_reference_printed(
    bosh: RunBosh, fixture_release: Path, conformance_dir: Path
) -> None:
    assert bosh("create-release", "--force", cwd=fixture_release).exit_code == 0
    second = bosh("create-release", "--tty", "--force", cwd=fixture_release)
    expected = (conformance_dir / "cli-output" / "create-release.tty.out").read_text()
    assert second.exit_code == 0, second.stderr
    assert _masked(second.stdout) == _masked(expected)


def test_first_dev_release_json_matches_the_reference(
    bosh: RunBosh, fixture_release: Path, conformance_dir: Path
) -> None:
    result = bosh("create-release", "--json", cwd=fixture_release)
    expected = json.loads((conformance_dir / "cli-output" / "create-release.json").read_text())
    actual = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert json.loads(_masked(json.dumps(actual["Tables"]))) == json.loads(
        _masked(json.dumps(expected["Tables"]))
    )
    assert actual["Blocks"] is expected["Blocks"] is None
    # Jobs and packages build in parallel: the progress lines interleave as they finish.
    assert sorted(actual["Lines"]) == sorted(expected["Lines"])
    assert actual["Lines"][-2:] == expected["Lines"][-2:]
    for line in actual["Lines"]:
        if line.startswith(("Added job", "Added package")):
            adding = line.replace("Added ", "Adding ", 1).replace("'\n", "'...\n")
            assert actual["Lines"].index(adding) < actual["Lines"].index(line)


def test_dev_release_files_match_the_reference(
    bosh: RunBosh, fixture_release: Path, conformance_dir: Path
) -> None:
    assert bosh("create-release", cwd=fixture_release).exit_code == 0
    written = fixture_release / "dev_releases" / "fixture" / "fixture-0+dev.1.yml"
    expected = conformance_dir / "release-fingerprints" / "expected-dev-release.yml"
    assert _without_sha1_lines(written.read_text()) == _without_sha1_lines(expected.read_text())
    index = (fixture_release / "dev_releases" / "fixture" / "index.yml").read_text()
    assert re.fullmatch(
        r"builds:\n  [0-9a-f-]{36}:\n    version: 0\+dev\.1\nformat-version: \"2\"\n", index
    ), index
    package_index = fixture_release / ".dev_builds" / "packages" / "runtime" / "index.yml"
    assert "version: 2eb45bfdf32092a1fec5371d9a64917e0a301cce551f8817f45e6656511f5292" in (
        package_index.read_text()
    )


def _layout_sections(text: str) -> dict[str, set[tuple[str, ...]]]:
    """Members per archive in release-tarball-layout.txt: (mode, owner, size, name)."""
    sections: dict[str, set[tuple[str, ...]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:]
            if title.startswith("outer tarball"):
                current = "outer"
            else:
                current = title if title.endswith(".tgz") and " " not in title else None
            if current is not None:
                sections[current] = set()
        elif current is not None and line.strip():
            mode, owner, size, _date, _time, name = line.split()
            sections[current].add((mode, owner, size, name))
    return sections


def _tar_listing(path: Path) -> set[tuple[str, ...]]:
    with tarfile.open(path) as archive:
        return {
            (
                stat.filemode(member.mode | (stat.S_IFDIR if member.isdir() else stat.S_IFREG)),
                f"{member.uname}/{member.gname}",
                str(member.size),
                member.name + ("/" if member.isdir() else ""),
            )
            for member in archive
        }


def test_tarball_layout_matches_the_reference(
    bosh: RunBosh, fixture_release: Path, conformance_dir: Path, tmp_path: Path
) -> None:
    tarball = tmp_path / "((name))-((version)).tgz"
    result = bosh("create-release", "--tarball", tarball, cwd=fixture_release)
    assert result.exit_code == 0, result.stderr
    written = tmp_path / "fixture-0+dev.1.tgz"
    expected = _layout_sections(
        (conformance_dir / "cli-output" / "release-tarball-layout.txt").read_text()
    )
    with tarfile.open(written) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    outer_sizes_vary = {
        (mode, owner, name)
        for mode, owner, _size, name in expected["outer"]
        if name != "release.MF"
    }
    outer = _tar_listing(written)
    assert {
        (mode, owner, name) for mode, owner, _size, name in outer if name != "release.MF"
    } == outer_sizes_vary
    assert ("-rw-r--r--", "root/root", "1225", "release.MF") in outer
    for member in (
        "jobs/web.tgz",
        "jobs/worker.tgz",
        "packages/webapp.tgz",
        "packages/runtime.tgz",
    ):
        assert _tar_listing(tmp_path / "unpacked" / member) == expected[member], member


def test_tarballs_are_reproducible_byte_for_byte(
    bosh: RunBosh, conformance_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests = []
    for attempt in ("one", "two"):
        release_dir = tmp_path / attempt / "fixture-release"
        shutil.copytree(conformance_dir / "release-fingerprints" / "fixture-release", release_dir)
        monkeypatch.setenv("HOME", str(tmp_path / attempt / "home"))
        tarball = tmp_path / attempt / "release.tgz"
        result = bosh("create-release", "--version", "1.0.0", "--tarball", tarball, cwd=release_dir)
        assert result.exit_code == 0, result.stderr
        digests.append(tarball.read_bytes())
    assert digests[0] == digests[1]


@pytest.fixture
def blobstore(fixture_release: Path, tmp_path: Path) -> Path:
    """A local final blobstore configured in the fixture's config/final.yml."""
    path = tmp_path / "blobstore"
    (fixture_release / "config" / "final.yml").write_text(
        f"name: fixture\nblobstore:\n  provider: local\n  options:\n    blobstore_path: {path}\n"
    )
    return path


def test_final_release_then_next_final_version(
    bosh: RunBosh, fixture_release: Path, blobstore: Path
) -> None:
    first = bosh("create-release", "--final", "--force", cwd=fixture_release)
    assert first.exit_code == 0, first.stderr
    assert (fixture_release / "releases" / "fixture" / "fixture-1.yml").is_file()
    assert len(list(blobstore.iterdir())) == 4  # two jobs, two packages uploaded once
    second = bosh("create-release", "--final", "--force", "--tty", cwd=fixture_release)
    assert "Added final release 'fixture/2'" in second.stdout
    assert len(list(blobstore.iterdir())) == 4
    final_index = (fixture_release / ".final_builds" / "jobs" / "web" / "index.yml").read_text()
    assert "blobstore_id:" in final_index


@pytest.mark.usefixtures("blobstore")
def test_finalize_release_records_a_dev_tarball_as_final(
    bosh: RunBosh, fixture_release: Path, tmp_path: Path
) -> None:
    tarball = tmp_path / "dev.tgz"
    assert bosh("create-release", "--tarball", tarball, cwd=fixture_release).exit_code == 0
    result = bosh("finalize-release", tarball, "--version", "7", "--tty", cwd=fixture_release)
    assert result.exit_code == 0, result.stderr
    assert "Added final release 'fixture/7'" in result.stdout
    assert (fixture_release / "releases" / "fixture" / "fixture-7.yml").is_file()


def test_dirty_git_release_dir_is_refused_without_force(
    bosh: RunBosh, fixture_release: Path
) -> None:
    subprocess.run(["git", "init", "-q"], cwd=fixture_release, check=True)
    result = bosh("create-release", cwd=fixture_release)
    assert result.exit_code == 1
    assert result.stderr.startswith("Git repository has local modifications:\n\n?? config/\n")
    assert "--force" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.rstrip().endswith("Exit code 1")


def test_missing_release_dir_config_is_a_one_line_error(bosh: RunBosh, tmp_path: Path) -> None:
    result = bosh("create-release", "--dir", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert "config/final.yml" in result.stderr
    assert "Traceback" not in result.stderr


def test_vendor_package_brings_a_package_and_its_dependencies_as_final_builds(
    bosh: RunBosh, fixture_release: Path, tmp_path: Path
) -> None:
    assert bosh("create-release", cwd=fixture_release).exit_code == 0
    consumer = tmp_path / "consumer-release"
    assert bosh("init-release", "--dir", consumer).exit_code == 0
    (consumer / "config" / "final.yml").write_text(
        "name: consumer\nblobstore:\n  provider: local\n"
        f"  options:\n    blobstore_path: {tmp_path / 'consumer-blobs'}\n"
    )

    result = bosh("vendor-package", "webapp", fixture_release, "--dir", consumer)

    assert result.exit_code == 0, result.stderr
    assert (consumer / "packages" / "webapp" / "spec.lock").read_text() == (
        "name: webapp\n"
        "fingerprint: 9874258d4d4a8f32592d614292dd6be86cb8ee45e3cf2879e47b847a70307731\n"
        "dependencies:\n- runtime\n"
    )
    assert (consumer / "packages" / "runtime" / "spec.lock").is_file()
    assert len(list((tmp_path / "consumer-blobs").iterdir())) == 2
    built = bosh("create-release", "--json", cwd=consumer)
    packages = json.loads(built.stdout)["Tables"][2]["Rows"]
    assert [row["package"] for row in packages] == [
        "runtime/2eb45bfdf32092a1fec5371d9a64917e0a301cce551f8817f45e6656511f5292",
        "webapp/9874258d4d4a8f32592d614292dd6be86cb8ee45e3cf2879e47b847a70307731",
    ]


def test_vendor_package_of_an_unknown_package_says_so(
    bosh: RunBosh, fixture_release: Path, tmp_path: Path
) -> None:
    assert bosh("create-release", cwd=fixture_release).exit_code == 0
    result = bosh("vendor-package", "nope", fixture_release, "--dir", tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith("Expected to find package 'nope'")


def test_final_release_uploads_to_s3_and_a_fresh_clone_downloads_from_it(
    bosh: RunBosh, fixture_release: Path, tmp_path: Path
) -> None:
    with moto_s3_server() as endpoint:
        options = s3_options(endpoint, new_bucket(endpoint))
        (fixture_release / "config" / "final.yml").write_text(
            "name: fixture\nblobstore:\n  provider: s3\n  options:\n"
            f"    bucket_name: {options['bucket_name']}\n    host: {options['host']}\n"
            f"    port: {options['port']}\n    use_ssl: false\n"
        )
        (fixture_release / "config" / "private.yml").write_text(
            "blobstore:\n  options:\n"
            f"    access_key_id: {options['access_key_id']}\n"
            f"    secret_access_key: {options['secret_access_key']}\n"
        )
        final = bosh("create-release", "--final", "--tty", cwd=fixture_release)
        assert final.exit_code == 0, final.stderr
        assert "-- Finished uploading 'runtime/2eb45bfdf3" in final.stdout
        assert options["secret_access_key"] not in final.stdout + final.stderr

        # Another machine: same release directory, empty ~/.bosh cache, no .dev_builds.
        clone = tmp_path / "clone"
        shutil.copytree(fixture_release, clone, ignore=shutil.ignore_patterns(".dev_builds"))
        shutil.rmtree(Path.home() / ".bosh")
        tarball = tmp_path / "fixture-1.tgz"
        rebuilt = bosh(
            "create-release",
            clone / "releases" / "fixture" / "fixture-1.yml",
            "--tarball",
            tarball,
            "--tty",
            cwd=clone,
        )
        assert rebuilt.exit_code == 0, rebuilt.stderr
        assert "-- Finished downloading 'webapp/9874258d4d" in rebuilt.stdout
        assert bosh("inspect-local-release", tarball).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--version", "1..x"], "Invalid --version '1..x': "),
        (["--tarball", "."], "--tarball '.' is a directory: give the file to write"),
        (["--dir", "/nonexistent/release"], "Check that you're in the top-level of the release"),
    ],
)
def test_create_release_user_errors_are_one_line(
    bosh: RunBosh, fixture_release: Path, args: list[str], message: str
) -> None:
    result = bosh("create-release", "--force", *args, cwd=fixture_release)
    assert result.exit_code == 1
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_tarball_destination_is_a_one_line_error(
    bosh: RunBosh, fixture_release: Path
) -> None:
    result = bosh("create-release", "--tarball", "/proc/release.tgz", cwd=fixture_release)
    assert result.exit_code == 1
    assert "/proc" in result.stderr.splitlines()[0]
    assert "Unexpected error" not in result.stderr


def test_uncompressed_packages_without_final_yml_no_compression_are_warned_about(
    bosh: RunBosh, fixture_release: Path
) -> None:
    spec = fixture_release / "packages" / "runtime" / "spec"
    spec.write_text(spec.read_text() + "no_compression: true\n")
    result = bosh("create-release", "--tty", cwd=fixture_release)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        "Warning: The following packages have no_compression: true in their spec files,"
        " but final.yml does not have no_compression: true. Consider setting"
        " no_compression: true in final.yml to avoid compression on the outer release"
        " tarball: runtime\n"
    )
