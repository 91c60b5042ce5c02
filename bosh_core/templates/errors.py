"""Template rendering errors: every failure of a deploy, reported together.

The message has the reference director's structure (update_deployment.rb,
job_instance_renderer.rb, job_template_renderer.rb, source_erb.rb)::

    Unable to render instance groups for deployment. Errors are:
      - Unable to render jobs for instance group 'web'. Errors are:
        - Unable to render templates for job 'hello'. Errors are:
          - Error filling in template 'config.erb' (line 3: Can't find property '["port"]')

The reference stops an instance group at its first failing instance; we render them all
and list each distinct error once per group, so a failure only some instances hit (one
depending on ``spec.index``, say) is reported too. ``errors`` keeps every occurrence with
the instance it came from.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from bosh_core.errors import BoshError

__all__ = ["RenderErrors", "RendererUnavailableError", "TemplateError"]


@attrs.frozen(kw_only=True)
class TemplateError:
    """One template that failed for one instance; ``line`` is the ERB line ("(unknown)" when
    the error came from outside the template)."""

    instance_group: str
    index: int
    id: str
    job: str
    template: str
    line: str
    message: str

    def __str__(self) -> str:
        return f"Error filling in template '{self.template}' (line {self.line}: {self.message})"


def _section(header: str, items: Sequence[str]) -> str:
    """`header` then each item, indented by two spaces (FormatterHelper's layout)."""
    body = "\n".join(items).strip()
    return header + "\n" + "\n".join("  " + line for line in body.split("\n"))


class RenderErrors(BoshError):
    """Templates failed to render; ``errors`` lists every failure of every instance."""

    def __init__(self, errors: Sequence[TemplateError]) -> None:
        self.errors = tuple(errors)
        groups: dict[str, dict[str, dict[str, None]]] = {}
        for error in self.errors:
            jobs = groups.setdefault(error.instance_group, {})
            jobs.setdefault(error.job, {})[f"- {str(error).strip()}"] = None
        sections = [
            _section(
                f"- Unable to render jobs for instance group '{group}'. Errors are:",
                [
                    _section(
                        f"- Unable to render templates for job '{job}'. Errors are:", list(lines)
                    )
                    for job, lines in jobs.items()
                ],
            )
            for group, jobs in groups.items()
        ]
        super().__init__(
            _section("Unable to render instance groups for deployment. Errors are:", sections)
        )


class RendererUnavailableError(BoshError):
    """The ruby that renders templates is missing or died; says what to install or check."""
