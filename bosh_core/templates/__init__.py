"""Job template rendering (ERB, through the system ruby) and the rendered-templates archive.

with TemplateRenderer() as renderer:
    rendered = renderer.render(instances)          # RenderErrors lists every failure
archive = rendered[0].archive()                    # reproducible .tgz, sha1, sha256
spec["rendered_templates_archive"] = archive.persist(blobstore).to_spec()
spec["configuration_hash"] = rendered[0].configuration_hash
"""

from __future__ import annotations

from bosh_core.templates.errors import RenderErrors, RendererUnavailableError, TemplateError
from bosh_core.templates.inputs import (
    InstanceJob,
    InstanceSpec,
    InstanceToRender,
    JobTemplates,
    Link,
    LinkInstance,
    ProvidedLink,
    ReleaseRef,
)
from bosh_core.templates.rendered import (
    RenderedArchive,
    RenderedFile,
    RenderedInstance,
    RenderedJob,
    RenderedTemplatesArchive,
)
from bosh_core.templates.rendering import TemplateRenderer, render_instance

__all__ = [
    "InstanceJob",
    "InstanceSpec",
    "InstanceToRender",
    "JobTemplates",
    "Link",
    "LinkInstance",
    "ProvidedLink",
    "ReleaseRef",
    "RenderErrors",
    "RenderedArchive",
    "RenderedFile",
    "RenderedInstance",
    "RenderedJob",
    "RenderedTemplatesArchive",
    "RendererUnavailableError",
    "TemplateError",
    "TemplateRenderer",
    "render_instance",
]
