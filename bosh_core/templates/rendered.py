"""Rendering results: files per job, the hashes the agent gets, the archive for the blobstore.

The hashes follow the reference (rendered_job_instance.rb, rendered_job_template.rb) so a
director comparing ``configuration_hash`` across deploys sees the same changes it would:
``configuration_hash`` is a sha1 over every job (by name) of monit, the job name, and each
file's content and destination (by source path); ``template_hashes`` a sha1 per job of monit
and each file's content. The archive holds ``<job>/monit`` and ``<job>/<destination>`` for
every job, as the reference's tarball of its rendered directory does, written
reproducibly: the same rendering gives the same bytes and digest.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path, PurePosixPath

import attrs

from bosh_core.blobstore import Blobstore
from bosh_core.digest import Digest
from bosh_core.release.targz import TarGzWriter

__all__ = [
    "RenderedArchive",
    "RenderedFile",
    "RenderedInstance",
    "RenderedJob",
    "RenderedTemplatesArchive",
]

# The agent runs bin/* (ctl, pre-start, drain...); the reference agent makes them executable.
_SCRIPT_DIR = "bin"


@attrs.frozen
class RenderedFile:
    """One rendered template: its source under ``templates/`` and where the job gets it."""

    source: str
    destination: str
    content: bytes


@attrs.frozen
class RenderedJob:
    name: str
    monit: bytes
    files: tuple[RenderedFile, ...]

    def file(self, destination: str) -> RenderedFile:
        """The file rendered to `destination` (KeyError when the job has none)."""
        for rendered in self.files:
            if rendered.destination == destination:
                return rendered
        raise KeyError(destination)

    @property
    def template_hash(self) -> str:
        digest = hashlib.sha1(self.monit)
        for rendered in sorted(self.files, key=lambda f: f.source):
            digest.update(rendered.content)
        return digest.hexdigest()


@attrs.frozen
class RenderedTemplatesArchive:
    """Where an instance's rendered archive is stored: the apply spec's
    ``rendered_templates_archive``."""

    blobstore_id: str
    sha1: str

    def to_spec(self) -> dict[str, str]:
        return {"blobstore_id": self.blobstore_id, "sha1": self.sha1}


@attrs.frozen
class RenderedArchive:
    """The compressed archive of an instance's rendered jobs, with its digests."""

    data: bytes
    sha1: str
    sha256: Digest

    def persist(self, blobstore: Blobstore) -> RenderedTemplatesArchive:
        """Put the archive into `blobstore` (a fresh blob id each time, as the reference)."""
        with tempfile.TemporaryDirectory(prefix="rendered-templates-") as scratch:
            path = Path(scratch) / "rendered.tgz"
            path.write_bytes(self.data)
            return RenderedTemplatesArchive(blobstore.put(path), self.sha1)


@attrs.frozen(kw_only=True)
class RenderedInstance:
    """Every job of one instance, rendered."""

    instance_group: str
    index: int
    id: str
    jobs: tuple[RenderedJob, ...]

    def job(self, name: str) -> RenderedJob:
        for rendered in self.jobs:
            if rendered.name == name:
                return rendered
        raise KeyError(name)

    @property
    def configuration_hash(self) -> str:
        digest = hashlib.sha1()
        for job in sorted(self.jobs, key=lambda j: j.name):
            bound = [job.monit, job.name.encode()]
            for rendered in sorted(job.files, key=lambda f: f.source):
                bound += [rendered.content, rendered.destination.encode()]
            digest.update(b"".join(bound))
        return digest.hexdigest()

    @property
    def template_hashes(self) -> dict[str, str]:
        return {job.name: job.template_hash for job in self.jobs}

    def archive(self) -> RenderedArchive:
        """The rendered-templates ``.tgz`` the agent unpacks into /var/vcap/jobs."""
        files: dict[str, tuple[bytes, int]] = {}
        for job in self.jobs:
            files[f"{job.name}/monit"] = (job.monit, 0o644)
            for rendered in job.files:
                path = PurePosixPath(job.name, rendered.destination)
                mode = 0o755 if path.parts[1] == _SCRIPT_DIR else 0o644
                files[str(path)] = (rendered.content, mode)
        directories = {str(parent) for path in files for parent in PurePosixPath(path).parents}
        directories.discard(".")
        buffer = io.BytesIO()
        with TarGzWriter(buffer) as tar:
            tar.add_directory("./")
            for name in sorted(directories | set(files)):
                if name in files:
                    content, mode = files[name]
                    tar.add_bytes(f"./{name}", content, mode=mode)
                else:
                    tar.add_directory(f"./{name}/")
            sha256 = tar.close()
        data = buffer.getvalue()
        return RenderedArchive(data=data, sha1=hashlib.sha1(data).hexdigest(), sha256=sha256)
