"""The sample release (examples/hello-release) and its deployment manifest are well-formed."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from email.message import Message
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bosh_core import serialization
from bosh_core.models.release import JobSpec, PackageSpec
from bosh_core.release.config import load_release_config
from bosh_core.release.generate import BUILD_OUTPUTS
from bosh_core.release.git import GITIGNORE
from bosh_core.release.source import read_release_source
from bosh_core.templates import (
    InstanceJob,
    InstanceSpec,
    InstanceToRender,
    JobTemplates,
    Link,
    LinkInstance,
    ReleaseRef,
    render_instance,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RELEASE = EXAMPLES / "hello-release"
JOB = RELEASE / "jobs" / "hello"
APP = RELEASE / "src" / "hello-app" / "hello_app.py"
LAUNCHER = RELEASE / "src" / "python-runtime" / "bin" / "python"
SCRIPT_TEMPLATES = ("ctl.erb", "pre-start.erb", "drain.erb")
ERB_TAG = re.compile(r"<%(.*?)%>", re.DOTALL)

needs_ruby = pytest.mark.skipif(
    shutil.which("ruby") is None or shutil.which("erb") is None,
    reason="ruby and erb are not installed (apt-get install ruby): ERB templates not compiled",
)


def load(path: Path, cls: type[Any]) -> Any:
    source = str(path.relative_to(EXAMPLES))
    return serialization.structure(
        serialization.load_yaml(path.read_bytes(), source=source), cls, source=source
    )


def job_spec() -> JobSpec:
    spec: JobSpec = load(JOB / "spec", JobSpec)
    return spec


@pytest.fixture(scope="module")
def hello_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hello_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Keep __pycache__ out of the release's src/ (create-release would see a dirty tree).
    previous, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = previous
    return module


@pytest.fixture
def serve(hello_app: ModuleType) -> Iterator[Any]:
    servers = []

    def start(config: dict[str, Any]) -> str:
        server = hello_app.make_server({"listen_address": "127.0.0.1", **config})
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def fetch(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, Message, str]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def get(url: str) -> tuple[int, str, str]:
    status, headers, body = fetch(url)
    return status, headers["Content-Type"], body


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_job_spec() -> None:
    spec = job_spec()

    assert spec.name == JOB.name
    assert spec.templates == {
        "ctl.erb": "bin/ctl",
        "pre-start.erb": "bin/pre-start",
        "drain.erb": "bin/drain",
        "hello.json.erb": "config/hello.json",
    }
    assert sorted(p.name for p in (JOB / "templates").iterdir()) == sorted(spec.templates)
    assert spec.packages == ("python-runtime", "hello-app")
    assert spec.properties["port"]["default"] == 8080
    assert "message" in spec.properties
    assert spec.properties["store_dir"]["default"] == "/var/vcap/store/hello"
    assert "default" not in spec.properties["password"]
    assert spec.provides == ({"name": "hello", "type": "http", "properties": ["port"]},)
    assert (JOB / "monit").read_text().startswith("check process hello\n")


def test_package_specs() -> None:
    specs = {
        directory.name: load(directory / "spec", PackageSpec)
        for directory in (RELEASE / "packages").iterdir()
    }

    assert {name: spec.name for name, spec in specs.items()} == {
        "hello-app": "hello-app",
        "python-runtime": "python-runtime",
    }
    assert specs["hello-app"].dependencies == ("python-runtime",)
    assert specs["python-runtime"].dependencies == ()


def test_the_release_reader_accepts_the_directory() -> None:
    source = read_release_source(RELEASE)

    assert [job.name for job in source.jobs] == ["hello"]
    assert {package.name: package.dependencies for package in source.packages} == {
        "hello-app": ("python-runtime",),
        "python-runtime": (),
    }


def test_release_config() -> None:
    config = load_release_config(RELEASE)

    assert config.release_name() == "hello"
    assert config.blobstore_provider == "local"
    assert Path(config.blobstore_options["blobstore_path"]).is_absolute()
    assert (RELEASE / "config" / "blobs.yml").read_text() == "--- {}\n"
    assert (RELEASE / ".gitignore").read_text() == GITIGNORE


def test_exactly_the_scripts_have_run_bits() -> None:
    executable = {
        str(path.relative_to(RELEASE))
        for path in RELEASE.rglob("*")
        if path.is_file() and path.stat().st_mode & stat.S_IXUSR
    }

    assert executable == {
        "jobs/hello/templates/ctl.erb",
        "jobs/hello/templates/drain.erb",
        "jobs/hello/templates/pre-start.erb",
        "src/python-runtime/bin/python",
    }


@pytest.mark.parametrize("template", sorted(p.name for p in (JOB / "templates").iterdir()))
def test_templates_use_only_declared_properties_and_links(template: str) -> None:
    spec = job_spec()
    text = (JOB / "templates" / template).read_text()
    assert text.count("<%") == text.count("%>") == len(ERB_TAG.findall(text))
    code = " ".join(ERB_TAG.findall(text))
    links = {link["name"] for link in (*spec.consumes, *spec.provides)}

    for name in re.findall(r"""\b(?:if_)?p\(\s*["']([^"']+)["']""", code):
        assert name in spec.properties, f"{template} reads undeclared property {name!r}"
    for name in re.findall(r"""\blink\(\s*["']([^"']+)["']""", code):
        assert name in links, f"{template} uses undeclared link {name!r}"


@pytest.mark.parametrize(
    "script",
    [
        LAUNCHER,
        RELEASE / "packages" / "python-runtime" / "packaging",
        RELEASE / "packages" / "hello-app" / "packaging",
    ],
    ids=lambda path: str(path.relative_to(RELEASE)),
)
def test_shell_scripts_parse(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no /usr/bin/python3 here")
def test_the_launcher_runs_python3() -> None:
    result = subprocess.run(
        [str(LAUNCHER), "-c", "import sys; print(sys.version_info >= (3, 8))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "True\n"


def test_app_serves_the_message(serve: Any) -> None:
    url = serve({"port": 0, "message": "hi there"})

    assert get(url + "/") == (200, "text/plain; charset=utf-8", "hi there\n")
    assert get(url + "/?probe=1")[2] == "hi there\n"


def test_app_serves_its_identity_and_peers(serve: Any) -> None:
    instance = {"name": "hello", "index": 1}
    url = serve({"port": 0, "message": "m", "instance": instance, "peers": ["http://a:1"]})

    status, content_type, body = get(url + "/info")

    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"instance": instance, "peers": ["http://a:1"]}


def test_app_answers_404_elsewhere(serve: Any) -> None:
    url = serve({"port": 0, "message": "m"})
    assert get(url + "/nope")[0] == 404


@contextlib.contextmanager
def app_process(command: list[str], config: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    """Run `command` ``--config <config>`` (the app's main, as ctl runs it); yield its URL.

    On leaving, the process gets TERM, as monit sends it, and must exit 0.
    """
    config_path = tmp_path / "hello.json"
    config_path.write_text(json.dumps(config))
    process = subprocess.Popen(
        [*command, "--config", str(config_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = int(line.rsplit(" ", 1)[1])
        yield f"http://127.0.0.1:{port}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def test_app_main_serves_until_terminated(tmp_path: Path) -> None:
    config = {"port": 0, "message": "from main"}
    with app_process([sys.executable, "-B", str(APP)], config, tmp_path) as url:
        assert get(url + "/")[2] == "from main\n"


def visits(url: str, headers: Mapping[str, str] | None = None) -> int:
    status, _, body = fetch(url + "/visits", headers)
    assert status == 200, body
    count: int = json.loads(body)["visits"]
    return count


def test_visits_are_kept_in_the_store_dir_across_restarts(tmp_path: Path) -> None:
    store = tmp_path / "store" / "hello"
    config = {"port": 0, "message": "m", "store_dir": str(store)}
    command = [sys.executable, "-B", str(APP)]

    with app_process(command, config, tmp_path) as url:
        assert visits(url) == 0
        for _ in range(2):
            assert get(url + "/")[0] == 200
        assert get(url + "/info")[0] == 200
        assert visits(url) == 2
    assert sorted(path.name for path in store.iterdir()) == ["visits"]
    assert (store / "visits").read_text() == "2\n"

    with app_process(command, config, tmp_path) as url:
        assert visits(url) == 2
        get(url + "/?probe=1")
        assert visits(url) == 3


def test_an_unwritable_store_dir_counts_in_memory_and_says_so_once(
    serve: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    url = serve({"port": 0, "message": "still here", "store_dir": str(blocker / "hello")})

    for _ in range(3):
        assert get(url + "/")[2] == "still here\n"

    assert visits(url) == 3
    assert capsys.readouterr().err.count("cannot keep the visit count in") == 1


def test_visits_are_public_without_a_password(serve: Any, tmp_path: Path) -> None:
    url = serve({"port": 0, "message": "m", "store_dir": str(tmp_path)})
    get(url + "/")

    status, headers, body = fetch(url + "/visits")

    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert json.loads(body) == {"visits": 1}


def test_visits_need_admin_and_the_password_when_one_is_set(
    serve: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "s3cret-pw"
    url = serve({"port": 0, "message": "m", "store_dir": str(tmp_path), "password": password})
    get(url + "/")

    for headers in (
        None,
        basic_auth("admin", "wrong"),
        basic_auth("root", password),
        {"Authorization": f"Bearer {password}"},
        {"Authorization": "Basic not-base64!"},
    ):
        status, answer, _ = fetch(url + "/visits", headers)
        assert status == 401, headers
        assert answer["WWW-Authenticate"] == 'Basic realm="hello"'
    assert visits(url, basic_auth("admin", password)) == 1
    logged = capsys.readouterr()
    assert password not in logged.out + logged.err
    assert basic_auth("admin", password)["Authorization"] not in logged.out + logged.err


def test_deployment_manifest() -> None:
    manifest = serialization.load_yaml(
        (EXAMPLES / "hello-deployment.yml").read_bytes(), source="hello-deployment.yml"
    )

    assert manifest["releases"] == [{"name": "hello", "version": "latest"}]
    assert manifest["stemcells"] == [
        {"alias": "default", "os": "ubuntu-jammy", "version": "latest"}
    ]
    assert {"canaries", "max_in_flight", "canary_watch_time", "update_watch_time"} <= set(
        manifest["update"]
    )
    [group] = manifest["instance_groups"]
    assert group["instances"] == 2
    assert group["azs"] == ["z1"]
    assert group["vm_type"] == "default"
    assert group["stemcell"] == "default"
    assert group["networks"] == [{"name": "default"}]
    assert group["persistent_disk"] == 1024
    [job] = group["jobs"]
    assert (job["name"], job["release"]) == ("hello", load_release_config(RELEASE).release_name())
    assert set(job["properties"]) <= set(job_spec().properties)
    assert job["properties"]["password"] == "((hello_password))"
    assert manifest["variables"] == [{"name": "hello_password", "type": "password"}]


def render(template: str, **properties_set: Any) -> str:
    """`template` rendered by ruby for instance 0 of two, with the spec's defaults, message
    "rendered" and `properties_set`."""
    spec = job_spec()
    properties = {name: schema.get("default") for name, schema in spec.properties.items()}
    peers = Link(
        instances=(
            LinkInstance(name="hello", id="a1b2", index=0, address="10.0.0.10"),
            LinkInstance(name="hello", id="c3d4", index=1, address="10.0.0.11"),
        ),
        properties={"port": properties["port"]},
    )
    job = InstanceJob(
        templates=JobTemplates.from_directory(JOB),
        release=ReleaseRef("hello", "0+dev.1"),
        properties={**properties, "message": "rendered", **properties_set},
        links={"peers": peers},
    )
    instance = InstanceSpec(
        deployment="hello", name="hello", index=0, id="a1b2", az="z1", address="10.0.0.10"
    )
    rendered = render_instance(InstanceToRender(instance, (job,)))
    return rendered.job("hello").file(spec.templates[template]).content.decode()


@needs_ruby
@pytest.mark.parametrize("template", sorted(p.name for p in (JOB / "templates").iterdir()))
def test_erb_templates_compile(template: str) -> None:
    ruby_source = subprocess.run(
        ["erb", "-x", "-T", "-", str(JOB / "templates" / template)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = subprocess.run(["ruby", "-c"], input=ruby_source, capture_output=True, text=True)
    assert result.stdout.strip() == "Syntax OK", result.stderr


@needs_ruby
@pytest.mark.parametrize("template", SCRIPT_TEMPLATES)
def test_rendered_scripts_parse(template: str, tmp_path: Path) -> None:
    script = tmp_path / template.removesuffix(".erb")
    script.write_text(render(template))
    assert script.read_text().startswith("#!/bin/bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True)


@needs_ruby
def test_rendered_drain_prints_zero(tmp_path: Path) -> None:
    script = tmp_path / "drain"
    script.write_text(render("drain.erb"))
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True)
    assert result.stdout == "0\n"


@needs_ruby
def test_rendered_config_drives_the_app(tmp_path: Path, serve: Any) -> None:
    config = json.loads(render("hello.json.erb"))

    assert config["port"] == 8080
    assert config["peers"] == ["http://10.0.0.10:8080", "http://10.0.0.11:8080"]
    assert config["instance"]["az"] == "z1"
    assert config["store_dir"] == "/var/vcap/store/hello"
    assert "password" not in config
    url = serve({**config, "port": 0, "store_dir": str(tmp_path)})
    assert get(url + "/")[2] == "rendered\n"
    assert visits(url) == 1


@needs_ruby
def test_rendered_config_carries_the_password_when_set(tmp_path: Path, serve: Any) -> None:
    config = json.loads(render("hello.json.erb", password="from-manifest"))

    assert config["password"] == "from-manifest"
    url = serve({**config, "port": 0, "store_dir": str(tmp_path)})
    assert fetch(url + "/visits")[0] == 401
    assert visits(url, basic_auth("admin", "from-manifest")) == 0


# What the agent gives a packaging script: bash -x in the unpacked package, with only these
# variables (bosh-agent's compiler runs it in an isolated environment).
COMPILE_PATH = "/usr/local/bin:/usr/bin:/bin"
PACKAGE_PATH = re.compile(r"/var/vcap/packages/([^/\s\"']+)/([^\s\"']+)")

needs_stemcell_python = pytest.mark.skipif(
    not any(Path(path).exists() for path in ("/usr/bin/python3", "/usr/local/bin/python3")),
    reason="no python3 where the python-runtime launcher looks for it",
)


def compilation_order(packages: list[dict[str, Any]]) -> list[str]:
    """Package names, each after its dependencies (as the director schedules compiles)."""
    pending = {package["name"]: set(package["dependencies"]) for package in packages}
    order: list[str] = []
    while pending:
        ready = sorted(name for name, dependencies in pending.items() if dependencies <= set(order))
        assert ready, f"dependency cycle among {sorted(pending)}"
        order.extend(ready)
        for name in ready:
            del pending[name]
    return order


@pytest.fixture
def compiled_packages(tmp_path: Path) -> Path:
    """Build the release with `bosh create-release --tarball`, then compile its packages from
    the tarball as a compilation VM would; returns the packages dir (/var/vcap/packages)."""
    source = tmp_path / "hello-release"
    shutil.copytree(RELEASE, source, ignore=shutil.ignore_patterns(*BUILD_OUTPUTS, "__pycache__"))
    tarball = tmp_path / "hello.tgz"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bosh_cli",
            "create-release",
            "--dir",
            str(source),
            "--tarball",
            str(tarball),
        ],
        check=True,
        capture_output=True,
    )
    unpacked = tmp_path / "release"
    with tarfile.open(tarball) as outer:
        outer.extractall(unpacked, filter="data")
    manifest = serialization.load_yaml((unpacked / "release.MF").read_bytes(), source="release.MF")
    packages_dir = tmp_path / "packages"
    for name in compilation_order(manifest["packages"]):
        compile_dir = tmp_path / "compile" / name
        with tarfile.open(unpacked / "packages" / f"{name}.tgz") as archive:
            archive.extractall(compile_dir, filter="data")
        (packages_dir / name).mkdir(parents=True)
        environment = {
            "BOSH_COMPILE_TARGET": str(compile_dir),
            "BOSH_INSTALL_TARGET": str(packages_dir / name),
            "BOSH_PACKAGE_NAME": name,
            "BOSH_PACKAGES_DIR": str(packages_dir),
            "PATH": COMPILE_PATH,
        }
        result = subprocess.run(
            ["bash", "-x", "packaging"],
            cwd=compile_dir,
            env=environment,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"packaging of {name} failed:\n{result.stderr}"
    return packages_dir


def test_packages_compile_in_dependency_order() -> None:
    packages = [
        {"name": "hello-app", "dependencies": ["python-runtime"]},
        {"name": "python-runtime", "dependencies": []},
    ]
    assert compilation_order(packages) == ["python-runtime", "hello-app"]


@needs_stemcell_python
def test_compiled_packages_hold_what_the_job_runs(compiled_packages: Path) -> None:
    referenced = set()
    for template in (JOB / "templates").iterdir():
        referenced |= set(PACKAGE_PATH.findall(template.read_text()))

    assert {package for package, _ in referenced} <= set(job_spec().packages)
    for package, path in sorted(referenced):
        assert (compiled_packages / package / path).is_file(), f"{package}/{path} not installed"
    assert os.access(compiled_packages / "python-runtime" / "bin" / "python", os.X_OK)


@needs_stemcell_python
def test_compiled_app_serves_the_message(compiled_packages: Path, tmp_path: Path) -> None:
    command = [
        str(compiled_packages / "python-runtime" / "bin" / "python"),
        str(compiled_packages / "hello-app" / "hello_app.py"),
    ]
    with app_process(command, {"port": 0, "message": "compiled"}, tmp_path) as url:
        assert get(url + "/") == (200, "text/plain; charset=utf-8", "compiled\n")
