"""Render job templates with the system ruby, as the director does (ERB, trim mode "-").

A test helper until the director's template renderer exists: the context is given as
JSON (properties for ``p()``, the ``spec`` fields, links with their instances).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RENDER_RB = """
require "erb"
require "json"
require "ostruct"

class Link
  def initialize(link) @link = link end
  def instances() @link["instances"].map { |instance| OpenStruct.new(instance) } end
  def p(name) @link["properties"].fetch(name) end
end

class Context
  def initialize(context) @context = context end
  def spec() OpenStruct.new(@context["spec"]) end
  def p(name) @context["properties"].fetch(name) end
  def link(name) Link.new(@context["links"].fetch(name)) end
  def render(path) ERB.new(File.read(path), trim_mode: "-").result(binding) end
end

print Context.new(JSON.parse($stdin.read)).render(ARGV[0])
"""


def render_template(template: Path, context: Mapping[str, Any]) -> str:
    """`template` rendered against `context`; a Ruby error fails with its message."""
    result = subprocess.run(
        ["ruby", "-e", RENDER_RB, str(template)],
        input=json.dumps(context),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"rendering {template} failed: {result.stderr}")
    return result.stdout
