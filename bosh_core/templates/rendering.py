"""Render job templates through the system ruby, as the reference director and CLI do.

ERB needs Ruby; rather than a Python look-alike that would differ on the edges (trim mode,
``binding`` semantics, ``.blank?``, string methods templates call), we run our own small
script (``renderer.rb``, shipped with this package) under the system ``ruby``. One
``TemplateRenderer`` keeps one ruby process and sends it every instance of a deploy in
batches of JSON lines, so a deploy of 50 instances starts ruby once, not once per template.
Each compiled template is cached in that process.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.resources
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import IO, Any, Self

from bosh_core.templates.errors import RenderErrors, RendererUnavailableError, TemplateError
from bosh_core.templates.inputs import InstanceToRender
from bosh_core.templates.rendered import RenderedFile, RenderedInstance, RenderedJob

__all__ = ["TemplateRenderer", "render_instance"]

_MONIT = "monit"
_STDERR_TAIL_BYTES = 4096
_INSTALL_HINT = (
    "Rendering job templates needs Ruby 2.6 or newer: install it"
    " (for example 'apt-get install ruby', 'dnf install ruby' or 'brew install ruby')"
)


def _renderer_script() -> str:
    return importlib.resources.files(__package__).joinpath("renderer.rb").read_text("utf-8")


def _request(instance: InstanceToRender) -> dict[str, Any]:
    """The JSON the ruby script renders one instance from (see renderer.rb)."""
    context = instance.spec.template_spec()
    context["properties"] = {job.name: job.properties for job in instance.jobs}
    context["links"] = {
        job.name: {name: link.to_json() for name, link in job.links.items()}
        for job in instance.jobs
    }
    context["releases"] = {
        job.name: {"name": job.release.name, "version": job.release.version}
        for job in instance.jobs
    }
    templates = []
    for job in instance.jobs:
        sources = job.templates
        templates.append(
            {"job": job.name, "name": _MONIT, "source": sources.monit, "destination": _MONIT}
        )
        templates += [
            {"job": job.name, "name": src, "source": sources.templates[src], "destination": dest}
            for src, dest in sources.spec.templates.items()
        ]
    return {"context": context, "templates": templates}


def _links_json(instance: InstanceToRender, job_index: int) -> bytes:
    """A job's ``.bosh/links.json``: the links it provides, sorted by group (the reference)."""
    provided = sorted(instance.jobs[job_index].provided_links, key=lambda link: link.group)
    data = [{"name": link.name, "type": link.type, "group": link.group} for link in provided]
    return (json.dumps(data, indent=2) + "\n").encode()


def _collect(
    instance: InstanceToRender, results: Sequence[dict[str, Any]], errors: list[TemplateError]
) -> RenderedInstance:
    """The rendered instance from the script's results; failures are appended to `errors`."""
    spec = instance.spec
    by_job: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_job.setdefault(result["job"], []).append(result)
    jobs = []
    for job_index, job in enumerate(instance.jobs):
        monit = b""
        files = []
        for result in by_job.get(job.name, []):
            if "error" in result:
                errors.append(
                    TemplateError(
                        instance_group=spec.name,
                        index=spec.index,
                        id=spec.id,
                        job=job.name,
                        template=result["name"],
                        line=str(result["line"]),
                        message=result["error"],
                    )
                )
                continue
            if "base64" in result:
                content = base64.b64decode(result["base64"])
            else:
                content = result["text"].encode("utf-8")
            if result["name"] == _MONIT:
                monit = content
            else:
                destination = job.templates.spec.templates[result["name"]]
                files.append(RenderedFile(result["name"], destination, content))
        files.append(
            RenderedFile(".bosh/links.json", ".bosh/links.json", _links_json(instance, job_index))
        )
        jobs.append(RenderedJob(job.name, monit, tuple(files)))
    return RenderedInstance(
        instance_group=spec.name, index=spec.index, id=spec.id, jobs=tuple(jobs)
    )


class TemplateRenderer:
    """A ruby process that renders templates; use it as a context manager, or call close().

    Thread-safe (requests are serialised). `ruby` is the interpreter to run (default: the
    ``ruby`` on PATH); `batch_size` bounds how many instances go into one request, so memory
    stays flat for big deployments.
    """

    def __init__(self, *, ruby: str | None = None, batch_size: int = 50) -> None:
        found = shutil.which(ruby or "ruby")
        if found is None:
            where = f"'{ruby}' is not an executable" if ruby else "no 'ruby' on PATH"
            raise RendererUnavailableError(f"{_INSTALL_HINT}; {where}")
        self._ruby = found
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._stderr_start = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the ruby process (it ends when its stdin closes)."""
        with self._lock:
            self._stop()

    def render(self, instances: Sequence[InstanceToRender]) -> list[RenderedInstance]:
        """Every instance rendered, in order; RenderErrors lists every failed template of all."""
        rendered: list[RenderedInstance] = []
        errors: list[TemplateError] = []
        for batch in _batches(instances, self._batch_size):
            answers = self._exchange({"instances": [_request(instance) for instance in batch]})
            for instance, answer in zip(batch, answers, strict=True):
                rendered.append(_collect(instance, answer["templates"], errors))
        if errors:
            raise RenderErrors(errors)
        return rendered

    def _exchange(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        line = json.dumps(request, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            assert self._stderr is not None
            # Where this request's stderr starts: ruby shares the file offset, so ask the OS.
            self._stderr_start = os.lseek(self._stderr.fileno(), 0, os.SEEK_CUR)
            try:
                process.stdin.write(line)
                process.stdin.flush()
                answer = process.stdout.readline()
            except OSError:
                answer = b""
            if not answer:
                raise self._died()
        instances: list[dict[str, Any]] = json.loads(answer)["instances"]
        return instances

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            # A file, not a pipe: nobody reads stderr while rendering, and what templates
            # print goes there (a full pipe would block ruby).
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives with the process
            self._process = subprocess.Popen(
                [self._ruby, "-e", _renderer_script()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
        return self._process

    def _died(self) -> RendererUnavailableError:
        assert self._stderr is not None
        end = os.lseek(self._stderr.fileno(), 0, os.SEEK_END)
        start = max(self._stderr_start, end - _STDERR_TAIL_BYTES)
        written = os.pread(self._stderr.fileno(), end - start, start)
        tail = written.decode("utf-8", "replace").strip()
        self._stop()
        return RendererUnavailableError(
            f"The template renderer ('{self._ruby}') exited while rendering"
            + (f": {tail}" if tail else " without a message")
        )

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            assert process.stdin is not None and process.stdout is not None
            with contextlib.suppress(OSError):  # already gone: it died
                process.stdin.close()
            process.stdout.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _batches(items: Sequence[InstanceToRender], size: int) -> Iterator[Sequence[InstanceToRender]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def render_instance(instance: InstanceToRender, *, ruby: str | None = None) -> RenderedInstance:
    """Render one instance with a ruby process of its own (scripts and tests; a deploy
    renders all its instances through one TemplateRenderer)."""
    with TemplateRenderer(ruby=ruby) as renderer:
        [rendered] = renderer.render([instance])
        return rendered
