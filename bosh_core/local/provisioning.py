"""What a fresh local director gets: the local stemcell, the sample release, a
cloud-config for the local CPI's network, and the sample deployment; each skipped when
the director already has it, so a second ``bosh local up`` uploads and deploys nothing.
At the end the sample's URLs are shown: its job answers on every instance's address."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bosh_core.serialization import dump_yaml

if TYPE_CHECKING:
    from bosh_core.client import Director
    from bosh_core.client.director import TaskEvent
    from bosh_core.local.environment import LocalEnvironment

__all__ = ["cloud_config", "provision"]

STEMCELL_NAME = "bosh-local-ubuntu-jammy-go_agent"
STEMCELL_VERSION = "1"
AZS = ("z1", "z2")
#: The sample job's ``port`` default (examples/hello-release/jobs/hello/spec).
SAMPLE_PORT = 8080


def cloud_config(*, cidr: str, gateway: str) -> str:
    """A cloud-config for the local CPI: its network (one manual network on its CIDR,
    the host's address as gateway), two AZs, a default VM and disk type, compilation."""
    import ipaddress

    hosts = list(ipaddress.IPv4Network(cidr).hosts())
    # The upper quarter is for static IPs; dynamic ones come from the rest.
    static = f"{hosts[-len(hosts) // 4]}-{hosts[-1]}"
    document: dict[str, Any] = {
        "azs": [{"name": az} for az in AZS],
        "vm_types": [{"name": "default"}],
        "disk_types": [{"name": "default", "disk_size": 1024}],
        "networks": [
            {
                "name": "default",
                "type": "manual",
                "subnets": [
                    {
                        "range": cidr,
                        "gateway": gateway,
                        "static": [static],
                        "azs": list(AZS),
                    }
                ],
            }
        ],
        "compilation": {
            "workers": 2,
            "az": AZS[0],
            "reuse_compilation_vms": True,
            "vm_type": "default",
            "network": "default",
        },
    }
    return dump_yaml(document)


def provision(
    environment: LocalEnvironment, director: Director, *, progress: Callable[[str], None]
) -> None:
    _stemcell(environment, director, progress)
    _sample_release(environment, director, progress)
    _cloud_config(environment, director, progress)
    _sample_deployment(environment, director, progress)


def _follow(
    director: Director,
    task_id: int,
    what: str,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Wait for the task; with `progress`, each step it finishes is a line."""
    from bosh_core.local.environment import LocalEnvironmentError

    def step(event: TaskEvent) -> None:
        if progress is not None and event.state in ("finished", "failed") and event.stage:
            tags = f" {', '.join(event.tags)}" if event.tags else ""
            progress(f"  {event.stage}{tags}: {event.task} ({event.state})")

    task = director.follow_task(task_id, step)
    if not task.succeeded:
        raise LocalEnvironmentError(
            f"Task {task_id} ({what}) {task.state}: {task.result}; see 'bosh task {task_id}'"
        )


def _stemcell(
    environment: LocalEnvironment, director: Director, progress: Callable[[str], None]
) -> None:
    from bosh_core.cpi.local import make_stemcell

    if not director.stemcell_needed(STEMCELL_NAME, STEMCELL_VERSION):
        progress(f"Stemcell {STEMCELL_NAME}/{STEMCELL_VERSION} already uploaded")
        return
    progress(f"Making and uploading stemcell {STEMCELL_NAME}/{STEMCELL_VERSION}")
    path = make_stemcell(
        environment.directory / "stemcell.tgz", name=STEMCELL_NAME, version=STEMCELL_VERSION
    )
    _follow(director, director.upload_stemcell_file(path).id, "upload stemcell")


def _sample_release(
    environment: LocalEnvironment, director: Director, progress: Callable[[str], None]
) -> None:
    from bosh_core.client.uploads import write_release_for_upload
    from bosh_core.local.environment import LocalEnvironmentError
    from bosh_core.release.index import QuietReporter
    from bosh_core.release.releasedir import ReleaseDir

    source = environment.sample_release
    if not (source / "config" / "final.yml").is_file():
        raise LocalEnvironmentError(
            f"The sample release {source} is missing: run from a checkout of the repository"
        )
    copy = environment.directory / source.name
    if not copy.is_dir():
        shutil.copytree(source, copy)  # building writes dev_releases/ into the directory
    release_dir = ReleaseDir(
        copy, cache_dir=environment.directory / "cache", reporter=QuietReporter()
    )
    name = release_dir.default_name()
    if any(found.name == name for found in director.releases()):
        progress(f"Release {name} already uploaded")
        return
    progress(f"Building and uploading release {name} from {source}")
    release = release_dir.build_release(
        name=name, version=release_dir.next_dev_version(name), force=True
    )
    tarball = environment.directory / f"{name}-release.tgz"
    write_release_for_upload(director, release, tarball, fix=False)
    try:
        _follow(director, director.upload_release_file(tarball).id, "upload release")
    finally:
        tarball.unlink(missing_ok=True)


def _cloud_config(
    environment: LocalEnvironment, director: Director, progress: Callable[[str], None]
) -> None:
    network = environment.network
    content = cloud_config(cidr=network.cidr, gateway=network.host_address)
    current = director.latest_config("cloud", "default")
    if current is not None and current.content == content:
        progress("Cloud-config already set")
        return
    progress(f"Setting the cloud-config (network {network.cidr}, AZs {', '.join(AZS)})")
    director.update_config("cloud", "default", content)


def _sample_deployment(
    environment: LocalEnvironment, director: Director, progress: Callable[[str], None]
) -> None:
    from bosh_core.yaml_loading import load_yaml

    path = environment.sample_manifest
    text = path.read_text()
    manifest = load_yaml(text, source=str(path))
    name = str(manifest["name"])
    deployed = any(found.name == name for found in director.deployments(exclude_configs=True))
    if deployed and director.deployment_manifest(name) == text:
        progress(f"Deployment {name} already deployed")
    else:
        progress(f"Deploying {name} from {path}")
        task = director.deploy(text)
        _follow(director, task.id, f"deploy {name}", progress)
    port = _sample_port(manifest)
    for instance in director.instances_db(name):
        for ip in instance.ips:
            progress(
                f"{name}: {instance.job}/{instance.id} ({instance.index}) at http://{ip}:{port}/"
            )


def _sample_port(manifest: dict[str, Any]) -> int:
    """The port the sample job listens on: its ``port`` property, else the job's default."""
    for group in manifest.get("instance_groups") or []:
        for job in group.get("jobs") or []:
            port = (job.get("properties") or {}).get("port")
            if port is not None:
                return int(port)
    return SAMPLE_PORT
