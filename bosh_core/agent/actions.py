"""The agent's actions: what each NATS method does on the VM, with the real arguments.

`Actions.table` maps a method name to its coroutine and whether it runs as an agent task
(the director then polls ``get_task``). Every path is under the agent's base directory
(``/var/vcap`` on a VM). Blocking file work runs in threads; scripts and packaging run
as child processes that are killed when their task is cancelled.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import shutil
import tarfile
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from bosh_core.agent.errors import AgentError
from bosh_core.agent.settings import BlobstoreSettings, Settings, vm_path
from bosh_core.agent.supervisor import system_uptime
from bosh_core.blobstore import Blobstore, staged_destination
from bosh_core.digest import Digest, MultipleDigest, file_digest

__all__ = [
    "AGENT_API_VERSION",
    "Action",
    "Actions",
    "JobSupervisorAPI",
    "VitalsSampler",
    "blobstore_from_settings",
    "disk_source",
]

AGENT_API_VERSION = 1
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_OUTPUT_CAP = 256 * 1024  # per stream, so a reply stays under the 1 MiB envelope cap
_SCRIPTS = ("pre-start", "post-start", "post-deploy", "pre-stop", "post-stop")

Action = Callable[..., Awaitable[Any]]


class JobSupervisorAPI(Protocol):
    """What the agent needs of the job supervisor (bosh_core.agent.supervisor)."""

    @property
    def stopped(self) -> bool: ...
    async def load(self, job_names: Iterable[str]) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def monitor(self) -> None: ...
    async def status(self) -> tuple[str, list[dict[str, Any]]]: ...


def disk_source(hint: Any, *, base_dir: Path) -> Path:
    """Where a persistent disk is, from the CPI's attach hint.

    The local CPI's hint is ``{"path": "<path inside the VM>"}`` (a directory or a
    filesystem image); a plain string is a device path, as IaaS CPIs give.
    """
    path = hint.get("path") if isinstance(hint, Mapping) else hint
    if not isinstance(path, str) or not path:
        raise AgentError(f"Unsupported persistent disk hint {hint!r}: expected {{'path': ...}}")
    return vm_path(base_dir, path)


def blobstore_from_settings(settings: BlobstoreSettings, *, base_dir: Path) -> Blobstore:
    """The blobstore the settings name: ``local`` (a directory on the VM) or ``dav``."""
    options = settings.options
    if settings.provider == "local":
        from bosh_core.blobstore.local import LocalBlobstore

        path = options.get("blobstore_path")
        if not isinstance(path, str) or not path:
            raise AgentError("The local blobstore settings need options.blobstore_path")
        return LocalBlobstore(vm_path(base_dir, path))
    if settings.provider == "dav":
        from bosh_core.blobstore.dav import DavBlobstore

        return DavBlobstore.from_options(options, source="agent settings $.blobstore.options")
    raise AgentError(
        f"Unsupported blobstore provider '{settings.provider}' in the agent settings:"
        " expected local or dav"
    )


@attrs.frozen
class _Output:
    exit_code: int
    stdout: str
    stderr: str


class VitalsSampler:
    """Vitals as the heartbeat and get_state report them (every value a string)."""

    def __init__(self, base_dir: Path) -> None:
        self._base_dir = base_dir
        self._cpu = _cpu_times()

    def sample(self) -> dict[str, Any]:
        current = _cpu_times()
        deltas = [now - before for now, before in zip(current, self._cpu, strict=True)]
        self._cpu = current
        total = sum(deltas) or 1
        user, nice, system, _idle, iowait = deltas[:5]
        meminfo = _meminfo()
        mem_total = meminfo.get("MemTotal", 0)
        mem_used = mem_total - meminfo.get("MemAvailable", meminfo.get("MemFree", 0))
        swap_total = meminfo.get("SwapTotal", 0)
        swap_used = swap_total - meminfo.get("SwapFree", 0)
        return {
            "load": _loadavg(),
            "cpu": {
                "user": f"{100 * (user + nice) / total:.1f}",
                "sys": f"{100 * system / total:.1f}",
                "wait": f"{100 * iowait / total:.1f}",
            },
            "mem": {"percent": _percent(mem_used, mem_total), "kb": str(mem_used)},
            "swap": {"percent": _percent(swap_used, swap_total), "kb": str(swap_used)},
            "disk": self._disks(),
            "uptime": {"secs": int(system_uptime())},
        }

    def _disks(self) -> dict[str, Any]:
        disks = {"system": _disk_usage(Path("/"))}
        for name, path in (("ephemeral", "data"), ("persistent", "store")):
            target = self._base_dir / path
            if _is_mounted(target):
                disks[name] = _disk_usage(target)
        return disks


def _cpu_times() -> list[int]:
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return [0] * 5
    values = [int(value) for value in first[1:6]]
    return values + [0] * (5 - len(values))


def _meminfo() -> dict[str, int]:
    info = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) if rest.split() else 0
    except OSError:
        pass
    return info


def _loadavg() -> list[str]:
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return ["0.00", "0.00", "0.00"]


def _percent(used: int, total: int) -> str:
    return str(round(100 * used / total)) if total else "0"


def _disk_usage(path: Path) -> dict[str, str]:
    """The agent's disk vitals: blocks and inodes used, in percent, as strings (used is
    all but the free ones, root's reserve included, as bosh-agent counts it)."""
    stat = os.statvfs(path)
    return {
        "percent": _percent(stat.f_blocks - stat.f_bfree, stat.f_blocks),
        "inode_percent": _percent(stat.f_files - stat.f_ffree, stat.f_files),
    }


class Actions:
    """The actions of one agent; `table` is what the runtime dispatches on."""

    def __init__(
        self,
        settings: Settings,
        *,
        base_dir: Path,
        blobstore: Blobstore,
        supervisor: JobSupervisorAPI,
        on_shutdown: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.base_dir = base_dir
        self.blobstore = blobstore
        self.supervisor = supervisor
        self.vitals = VitalsSampler(base_dir)
        self._on_shutdown = on_shutdown
        sync: dict[str, Action] = {
            "ping": self.ping,
            "info": self.info,
            "get_state": self.get_state,
            "start": self.start,
            "update_settings": self.update_settings,
            "sync_dns": self.sync_dns,
            "upload_blob": self.upload_blob,
            "ssh": self.ssh,
            "shutdown": self.shutdown,
        }
        tasks: dict[str, Action] = {
            "apply": self.apply,
            "prepare": self.prepare,
            "drain": self.drain,
            "stop": self.stop,
            "run_script": self.run_script,
            "compile_package": self.compile_package,
            "mount_disk": self.mount_disk,
            "unmount_disk": self.unmount_disk,
            "list_disk": self.list_disk,
            "migrate_disk": self.migrate_disk,
            "add_persistent_disk": self.add_persistent_disk,
            "remove_persistent_disk": self.remove_persistent_disk,
            "fetch_logs": self.fetch_logs,
            "run_errand": self.run_errand,
        }
        self.table: dict[str, tuple[Action, bool]] = {
            **{name: (action, False) for name, action in sync.items()},
            **{name: (action, True) for name, action in tasks.items()},
        }

    # -- paths and state ----------------------------------------------------------

    def _path(self, *parts: str) -> Path:
        return self.base_dir.joinpath(*parts)

    def _read_state(self, name: str, default: Any) -> Any:
        try:
            return json.loads(self._path("bosh", name).read_text())
        except FileNotFoundError:
            return default

    def _write_state(self, name: str, document: Any) -> None:
        target = self._path("bosh", name)
        with staged_destination(target, mode=0o600) as staged:
            staged.write_text(json.dumps(document, sort_keys=True))

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self._read_state("spec.json", {})
        return spec

    def _job_names(self, spec: Mapping[str, Any]) -> list[str]:
        job = spec.get("job") or {}
        templates = job.get("templates") or []
        return [template["name"] for template in templates]

    async def job_state(self, spec: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """The supervisor's ``(job_state, processes)``; a VM without jobs is running."""
        if not self._job_names(spec):
            return "running", []
        return await self.supervisor.status()

    async def restore(self) -> None:
        """After the agent restarts: supervise the applied jobs again unless stopped."""
        await self.supervisor.load(self._job_names(self.spec))
        if not self.supervisor.stopped:
            await self.supervisor.monitor()

    # -- simple actions -----------------------------------------------------------

    async def ping(self) -> str:
        return "pong"

    async def info(self) -> dict[str, Any]:
        return {"api_version": AGENT_API_VERSION}

    async def get_state(self, *flags: str) -> dict[str, Any]:
        spec = self.spec
        job_state, processes = await self.job_state(spec)
        state: dict[str, Any] = {
            "agent_id": self.settings.agent_id,
            "job_state": job_state,
            "vm": {"name": self.settings.vm.name},
            **{
                key: spec.get(key)
                for key in ("deployment", "job", "index", "id", "az", "networks", "packages")
            },
            "configuration_hash": spec.get("configuration_hash"),
        }
        if "full" in flags:
            state["vitals"] = await asyncio.to_thread(self.vitals.sample)
            state["processes"] = processes
        return state

    async def start(self) -> str:
        await self.supervisor.start()
        return "started"

    async def stop(self) -> str:
        await self.supervisor.stop()
        return "stopped"

    async def shutdown(self) -> str:
        await self.supervisor.stop()
        self._on_shutdown()
        return "ok"

    async def update_settings(self, new: Mapping[str, Any]) -> str:
        certs = new.get("trusted_certs")
        if isinstance(certs, str):
            target = self._path("bosh", "trusted_certs.pem")
            with staged_destination(target) as staged:
                staged.write_text(certs)
            self.settings = attrs.evolve(self.settings, trusted_certs=certs)
        associations = new.get("disk_associations")
        if associations is not None:
            self._write_state("disk_associations.json", associations)
        return "ok"

    async def ssh(self, command: str, params: Mapping[str, Any]) -> dict[str, Any]:
        # This agent's VMs share the host's user database (local CPI process trees), so
        # adding a login user here would add it to the host.
        raise AgentError(
            f"ssh {command}: not available on this VM: it shares the host's users;"
            " reach the VM from the host instead (nsenter into its namespaces)"
        )

    async def upload_blob(self, request: Mapping[str, Any]) -> str:
        blob_id = request.get("blob_id")
        checksum = request.get("checksum")
        payload = request.get("payload")
        if not all(isinstance(value, str) and value for value in (blob_id, checksum, payload)):
            raise AgentError("upload_blob needs 'blob_id', 'checksum' and 'payload' strings")
        assert isinstance(blob_id, str) and isinstance(checksum, str) and isinstance(payload, str)
        try:
            data = base64.b64decode(payload, validate=True)
        except binascii.Error:
            raise AgentError("upload_blob: the payload is not base64") from None
        expected = MultipleDigest.parse(checksum)
        expected.verify(Digest.of_bytes(data, expected.strongest.algorithm), what="the payload")
        if self.settings.blobstore.provider != "local":
            raise AgentError(
                "upload_blob works with the local blobstore only, not"
                f" '{self.settings.blobstore.provider}'"
            )
        target = self._local_blobstore_path() / blob_id
        if target.parent != self._local_blobstore_path() or blob_id in (".", ".."):
            raise AgentError(f"upload_blob: invalid blob id '{blob_id}'")
        with staged_destination(target) as staged:
            staged.write_bytes(data)
        return blob_id

    def _local_blobstore_path(self) -> Path:
        return vm_path(self.base_dir, str(self.settings.blobstore.options["blobstore_path"]))

    async def sync_dns(self, blobstore_id: str, digest: str, version: int) -> str:
        target = self._path("instance", "dns", "records.json")
        with contextlib.suppress(OSError, ValueError):
            current = json.loads(target.read_text()).get("version", 0)
            if isinstance(current, int) and current > version:
                return "synced"
        async with self._scratch() as scratch:
            blob = await self._fetch(blobstore_id, digest, scratch / "records", what="DNS records")
            try:
                records = json.loads(blob.read_bytes())
            except ValueError:
                raise AgentError(f"DNS records blob '{blobstore_id}' is not JSON") from None
            if not isinstance(records, dict) or not isinstance(records.get("records"), list):
                raise AgentError(f"DNS records blob '{blobstore_id}' has no 'records' list")
            with staged_destination(target, mode=0o644) as staged:
                shutil.copyfile(blob, staged)
        return "synced"

    # -- blobs and archives -------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _scratch(self) -> Any:
        scratch = self._path("data", "tmp", uuid.uuid4().hex)
        scratch.mkdir(parents=True)
        try:
            yield scratch
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)

    async def _fetch(self, blobstore_id: str, digest: str, destination: Path, *, what: str) -> Path:
        expected = MultipleDigest.parse(digest)
        await asyncio.to_thread(self.blobstore.get, blobstore_id, destination)
        await asyncio.to_thread(
            expected.verify_file, destination, what=f"{what} (blob '{blobstore_id}')"
        )
        return destination

    async def _install_blob(self, blob: Mapping[str, Any], destination: Path, *, what: str) -> None:
        """Fetch, verify and unpack a blob into `destination`, which appears only when whole."""
        if destination.is_dir():
            return
        async with self._scratch() as scratch:
            archive = await self._fetch(
                blob["blobstore_id"], blob["sha1"], scratch / "blob.tgz", what=what
            )
            unpacked = scratch / "unpacked"
            await asyncio.to_thread(_extract, archive, unpacked, what=what)
            destination.parent.mkdir(parents=True, exist_ok=True)
            unpacked.rename(destination)

    async def _install_packages(self, packages: Mapping[str, Any], *, link: bool) -> None:
        for name, package in packages.items():
            version_dir = self._path("data", "packages", name, str(package["version"]))
            await self._install_blob(package, version_dir, what=f"package '{name}'")
            if link:
                _link(self._path("packages", name), version_dir)

    async def _install_jobs(self, spec: Mapping[str, Any], *, link: bool) -> list[str]:
        names = self._job_names(spec)
        archive = spec.get("rendered_templates_archive") or {}
        if not names or not archive:
            return names
        tag = Digest.of_bytes(str(archive["sha1"]).encode(), "sha1").hexdigest[:12]
        job_versions = {t["name"]: str(t["version"]) for t in spec["job"]["templates"]}
        unpacked = self._path("data", "jobs", f".rendered-{tag}")
        await self._install_blob(archive, unpacked, what="rendered templates archive")
        for name in names:
            source = unpacked / name
            if not source.is_dir():
                raise AgentError(
                    f"The rendered templates archive has no directory for job '{name}'"
                )
            version_dir = self._path("data", "jobs", name, f"{job_versions[name]}-{tag}")
            if not version_dir.exists():
                version_dir.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(shutil.copytree, source, version_dir, symlinks=True)
            if link:
                _link(self._path("jobs", name), version_dir)
                for sub in ("run", "log"):
                    self._path("sys", sub, name).mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.rmtree, unpacked, True)
        return names

    # -- apply, prepare -----------------------------------------------------------

    async def apply(self, spec: Mapping[str, Any]) -> str:
        if not isinstance(spec, Mapping):
            raise AgentError("apply: the apply spec must be a map")
        await self._install_packages(spec.get("packages") or {}, link=True)
        names = await self._install_jobs(spec, link=True)
        _prune_links(self._path("jobs"), keep=set(names))
        _prune_links(self._path("packages"), keep=set(spec.get("packages") or {}))
        self._write_state("spec.json", dict(spec))
        await self.supervisor.load(names)
        return "applied"

    async def prepare(self, spec: Mapping[str, Any]) -> str:
        await self._install_packages(spec.get("packages") or {}, link=False)
        await self._install_jobs(spec, link=False)
        return "prepared"

    # -- scripts ------------------------------------------------------------------

    async def _run(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_name: str | None
    ) -> _Output:
        full_env = {"PATH": _PATH, "TMPDIR": str(self._path("data", "tmp")), **env}
        self._path("data", "tmp").mkdir(parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=full_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = await process.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            await process.wait()
            raise
        assert process.returncode is not None
        output = _Output(process.returncode, _tail(stdout), _tail(stderr))
        if log_name is not None:
            log_dir = self._path("sys", "log", log_name.split("/")[0])
            log_dir.mkdir(parents=True, exist_ok=True)
            base = log_name.split("/")[1]
            with (log_dir / f"{base}.stdout.log").open("ab") as log:
                log.write(stdout)
            with (log_dir / f"{base}.stderr.log").open("ab") as log:
                log.write(stderr)
        return output

    def _jobs_with(self, script: str) -> list[tuple[str, Path]]:
        found = []
        for name in self._job_names(self.spec):
            path = self._path("jobs", name, "bin", script)
            if path.is_file():
                found.append((name, path))
        return found

    async def run_script(self, script: str, options: Mapping[str, Any] | None = None) -> Any:
        if script not in _SCRIPTS:
            raise AgentError(f"Unknown script '{script}': expected one of {', '.join(_SCRIPTS)}")
        env = {str(k): str(v) for k, v in ((options or {}).get("env") or {}).items()}
        jobs = self._jobs_with(script)
        outputs = await asyncio.gather(
            *(
                self._run([str(path)], env=env, cwd=self.base_dir, log_name=f"{name}/{script}")
                for name, path in jobs
            )
        )
        failed = [name for (name, _), out in zip(jobs, outputs, strict=True) if out.exit_code]
        if failed:
            succeeded = [name for name, _ in jobs if name not in failed]
            raise AgentError(
                f"{len(failed)} of {len(jobs)} {script} scripts failed."
                f" Failed Jobs: {', '.join(failed)}."
                + (f" Successful Jobs: {', '.join(succeeded)}." if succeeded else "")
            )
        return {}

    async def drain(self, kind: str, *specs: Mapping[str, Any]) -> int:
        current = self.spec
        if kind == "update":
            if not specs:
                raise AgentError("drain update needs the new apply spec")
            following = dict(specs[0])
            job_changed = following.get("job") != current.get("job")
            hash_changed = following.get("configuration_hash") != current.get("configuration_hash")
            updated = sorted(
                name
                for name, package in (following.get("packages") or {}).items()
                if (current.get("packages") or {}).get(name) != package
            )
            args = [
                "job_changed" if job_changed else "job_unchanged",
                "hash_changed" if hash_changed else "hash_unchanged",
                *updated,
            ]
        elif kind == "shutdown":
            following = dict(specs[0]) if specs else current
            args = ["job_shutdown", "hash_unchanged"]
        elif kind == "status":
            following = current
            args = ["job_check_status", "hash_unchanged"]
        else:
            raise AgentError(f"Unknown drain type '{kind}': expected update, shutdown or status")
        env = {
            "BOSH_JOB_STATE": json.dumps(current),
            "BOSH_JOB_NEXT_STATE": json.dumps(following),
        }
        jobs = self._jobs_with("drain")
        outputs = await asyncio.gather(
            *(
                self._run([str(path), *args], env=env, cwd=self.base_dir, log_name=f"{name}/drain")
                for name, path in jobs
            )
        )
        results = []
        for (name, _), out in zip(jobs, outputs, strict=True):
            if out.exit_code:
                raise AgentError(f"Drain script of job '{name}' exited with {out.exit_code}")
            try:
                results.append(int(out.stdout.strip()))
            except ValueError:
                raise AgentError(
                    f"Drain script of job '{name}' printed {out.stdout.strip()[:80]!r},"
                    " not an integer"
                ) from None
        # A negative result asks the director to call back with "status" after |n| s.
        dynamic = [result for result in results if result < 0]
        if dynamic:
            return min(dynamic)
        return max(results, default=0)

    async def run_errand(self, name: str | None = None) -> dict[str, Any]:
        names = self._job_names(self.spec)
        job = name or (names[0] if names else None)
        script = self._path("jobs", job, "bin", "run") if job else None
        if script is None or not script.is_file():
            raise AgentError(f"No errand script 'bin/run' for job {job!r} on this VM")
        assert job is not None
        out = await self._run([str(script)], env={}, cwd=self.base_dir, log_name=f"{job}/errand")
        return {"stdout": out.stdout, "stderr": out.stderr, "exit_code": out.exit_code}

    # -- compilation --------------------------------------------------------------

    async def compile_package(
        self,
        blobstore_id: str,
        digest: str,
        name: str,
        version: str,
        dependencies: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        await self._install_packages(dependencies or {}, link=True)
        compile_dir = self._path("data", "compile", name)
        await asyncio.to_thread(shutil.rmtree, compile_dir, True)
        install_dir = self._path("data", "packages", name, version)
        await asyncio.to_thread(shutil.rmtree, install_dir, True)
        install_dir.mkdir(parents=True)
        install_target = self._path("packages", name)
        _link(install_target, install_dir)
        try:
            async with self._scratch() as scratch:
                source = await self._fetch(
                    blobstore_id, digest, scratch / "source.tgz", what=f"source of package '{name}'"
                )
                await asyncio.to_thread(_extract, source, compile_dir, what=f"package '{name}'")
                if not (compile_dir / "packaging").is_file():
                    raise AgentError(f"Package '{name}' has no packaging script")
                out = await self._run(
                    ["bash", "-x", "packaging"],
                    env={
                        "BOSH_COMPILE_TARGET": str(compile_dir),
                        "BOSH_INSTALL_TARGET": str(install_target),
                        "BOSH_PACKAGE_NAME": name,
                        "BOSH_PACKAGE_VERSION": version,
                        "BOSH_PACKAGES_DIR": str(self._path("packages")),
                    },
                    cwd=compile_dir,
                    log_name=None,
                )
                if out.exit_code:
                    raise AgentError(
                        f"Compiling package '{name}': packaging exited with {out.exit_code}:"
                        f"\n{out.stdout[-4000:]}{out.stderr[-4000:]}"
                    )
                archive = scratch / "compiled.tgz"
                await asyncio.to_thread(_pack, install_dir, archive)
                sha = await asyncio.to_thread(file_digest, archive, "sha256")
                compiled_id = await asyncio.to_thread(self.blobstore.put, archive)
        finally:
            await asyncio.to_thread(shutil.rmtree, compile_dir, True)
        return {"result": {"blobstore_id": compiled_id, "sha1": str(sha)}}

    # -- persistent disks ---------------------------------------------------------

    def _hints(self) -> dict[str, Any]:
        hints: dict[str, Any] = dict(self.settings.disks.persistent)
        hints.update(self._read_state("persistent_disk_hints.json", {}))
        return hints

    def _mounts(self) -> dict[str, Any]:
        mounts: dict[str, Any] = self._read_state("mounts.json", {})
        return mounts

    async def add_persistent_disk(self, disk_cid: str, hint: Any) -> dict[str, Any]:
        hints = self._read_state("persistent_disk_hints.json", {})
        hints[disk_cid] = hint
        self._write_state("persistent_disk_hints.json", hints)
        return {}

    async def remove_persistent_disk(self, disk_cid: str) -> dict[str, Any]:
        hints = self._read_state("persistent_disk_hints.json", {})
        hints.pop(disk_cid, None)
        self._write_state("persistent_disk_hints.json", hints)
        return {}

    async def mount_disk(self, disk_cid: str) -> dict[str, Any]:
        hint = self._hints().get(disk_cid)
        if hint is None:
            raise AgentError(f"Persistent disk '{disk_cid}' is not attached to this VM")
        mounts = self._mounts()
        if disk_cid in mounts.values():
            return {}
        # With a disk already on the store, the new one waits beside it for migrate_disk.
        point = "store_migration_target" if "store" in mounts else "store"
        await self._mount(disk_source(hint, base_dir=self.base_dir), self._path(point))
        mounts[point] = disk_cid
        self._write_state("mounts.json", mounts)
        return {}

    async def unmount_disk(self, disk_cid: str) -> dict[str, Any]:
        mounts = self._mounts()
        for point, cid in list(mounts.items()):
            if cid == disk_cid:
                await self._umount(self._path(point))
                del mounts[point]
        self._write_state("mounts.json", mounts)
        return {}

    async def list_disk(self) -> list[str]:
        return sorted(set(self._mounts().values()))

    async def migrate_disk(self) -> dict[str, Any]:
        mounts = self._mounts()
        if "store" not in mounts or "store_migration_target" not in mounts:
            raise AgentError("migrate_disk needs an old disk on store and a new one mounted beside")
        old, new = self._path("store"), self._path("store_migration_target")
        await asyncio.to_thread(_copy_tree_into, old, new)
        await self._umount(old)
        await self._umount(new)
        new_cid = mounts.pop("store_migration_target")
        await self._mount(disk_source(self._hints()[new_cid], base_dir=self.base_dir), old)
        mounts["store"] = new_cid
        self._write_state("mounts.json", mounts)
        return {}

    async def _mount(self, source: Path, point: Path) -> None:
        if not source.exists():
            raise AgentError(f"Persistent disk source '{source}' does not exist on this VM")
        point.mkdir(parents=True, exist_ok=True)
        options = ["--bind"] if source.is_dir() else ["-o", "loop"] if source.is_file() else []
        await self._checked(["mount", *options, str(source), str(point)], what="mount")

    async def _umount(self, point: Path) -> None:
        if _is_mounted(point):
            await self._checked(["umount", str(point)], what="unmount")

    async def _checked(self, argv: list[str], *, what: str) -> None:
        out = await self._run(argv, env={}, cwd=self.base_dir, log_name=None)
        if out.exit_code:
            raise AgentError(
                f"Cannot {what} ({' '.join(argv)}): {out.stderr.strip() or out.exit_code}"
                + ("" if os.geteuid() == 0 else " (mounting needs root)")
            )

    # -- logs -----------------------------------------------------------------------

    async def fetch_logs(self, log_type: str, filters: Sequence[str] | None = None) -> Any:
        roots = {"job": self._path("sys", "log"), "agent": self._path("bosh", "log")}
        if log_type not in roots:
            raise AgentError(f"Unsupported log type '{log_type}': expected job or agent")
        root = roots[log_type]
        async with self._scratch() as scratch:
            archive = scratch / "logs.tgz"
            await asyncio.to_thread(
                _pack_matching, root, archive, patterns=list(filters or ["**/*"])
            )
            sha = await asyncio.to_thread(file_digest, archive, "sha256")
            blob_id = await asyncio.to_thread(self.blobstore.put, archive)
        return {"blobstore_id": blob_id, "sha1": str(sha)}


def _is_mounted(point: Path) -> bool:
    """Whether something is mounted on `point`, bind mounts included (is_mount misses those)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return point.is_mount()
    # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
    points = {
        line.split()[4].encode().decode("unicode_escape") for line in lines if len(line.split()) > 4
    }
    return str(point.resolve()) in points


def _tail(data: bytes) -> str:
    return data[-_OUTPUT_CAP:].decode(errors="replace")


def _extract(archive: Path, into: Path, *, what: str) -> None:
    into.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise AgentError(f"Cannot unpack {what}: {exc}") from None


def _pack(root: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname=".")


def _pack_matching(root: Path, archive: Path, *, patterns: Sequence[str]) -> None:
    members = sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()})
    with tarfile.open(archive, "w:gz") as tar:
        for path in members:
            tar.add(path, arcname=f"./{path.relative_to(root)}")


def _link(link: Path, target: Path) -> None:
    """Point `link` at `target` (relative, so it holds inside and outside the VM), atomically."""
    link.parent.mkdir(parents=True, exist_ok=True)
    staged = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
    staged.symlink_to(os.path.relpath(target, link.parent))
    staged.replace(link)


def _prune_links(directory: Path, *, keep: set[str]) -> None:
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.is_symlink() and entry.name not in keep:
            entry.unlink()


def _copy_tree_into(source: Path, destination: Path) -> None:
    shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
