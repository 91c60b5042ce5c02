"""bosh_core.templates: ERB rendering through the system ruby, errors, hashes and the archive."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from bosh_core.blobstore.local import LocalBlobstore
from bosh_core.models.release import JobSpec
from bosh_core.templates import (
    InstanceJob,
    InstanceSpec,
    InstanceToRender,
    JobTemplates,
    Link,
    LinkInstance,
    ProvidedLink,
    ReleaseRef,
    RenderedInstance,
    RenderErrors,
    RendererUnavailableError,
    TemplateRenderer,
    render_instance,
)

RUBY = shutil.which("ruby")
pytestmark = pytest.mark.skipif(RUBY is None, reason="ruby renders the templates")
EXAMPLE_JOB = Path(__file__).resolve().parents[3] / "examples" / "hello-release" / "jobs" / "hello"


def job_templates(
    name: str, templates: dict[str, str], *, monit: str = "", properties: Any = None
) -> JobTemplates:
    """A job whose template `src` renders to `src` with ``.erb`` dropped."""
    return JobTemplates(
        spec=JobSpec(
            name=name,
            templates={src: src.removesuffix(".erb") for src in templates},
            properties=properties or {},
        ),
        monit=monit,
        templates=templates,
    )


def instance(
    *jobs: InstanceJob, index: int = 0, group: str = "web", **spec: Any
) -> InstanceToRender:
    fields: dict[str, Any] = {
        "deployment": "dep",
        "name": group,
        "index": index,
        "id": f"uuid-{index}",
        "az": "z1",
        "bootstrap": index == 0,
        "address": f"10.0.0.{10 + index}",
        "networks": {
            "private": {
                "ip": f"10.0.0.{10 + index}",
                "type": "manual",
                "default": ["dns", "gateway"],
            }
        },
    }
    return InstanceToRender(InstanceSpec(**(fields | spec)), jobs)


def placed(templates: JobTemplates, **fields: Any) -> InstanceJob:
    return InstanceJob(templates=templates, release=ReleaseRef("rel", "1.2"), **fields)


def render_one(renderer: TemplateRenderer, source: str, **fields: Any) -> str:
    job = placed(job_templates("j", {"t.erb": source}), **fields)
    [rendered] = renderer.render([instance(job)])
    return rendered.job("j").file("t").content.decode()


@pytest.fixture(scope="module")
def renderer() -> Any:
    with TemplateRenderer() as shared:
        yield shared


# -- p(), if_p --------------------------------------------------------------------------


def test_p_reads_nested_properties_and_defaults(renderer: TemplateRenderer) -> None:
    properties = {"port": 8080, "tls": {"enabled": False, "cert": "C"}, "list": [1, 2]}
    source = (
        "<%= p('port') %>|<%= p('tls.enabled') %>|<%= p('tls.cert') %>|<%= p('list').sum %>"
        "|<%= p('missing', 'dflt') %>|<%= p('missing', nil).inspect %>"
    )
    assert render_one(renderer, source, properties=properties) == "8080|false|C|3|dflt|nil"


def test_p_with_a_list_takes_the_first_set_name(renderer: TemplateRenderer) -> None:
    properties = {"new": {"name": None}, "old_name": "legacy"}
    assert (
        render_one(renderer, "<%= p(['new.name', 'old_name']) %>", properties=properties)
        == "legacy"
    )
    assert render_one(renderer, "<%= p(['a', 'b'], 'fallback') %>", properties={}) == "fallback"


def test_if_p_runs_the_block_only_when_every_property_is_set(renderer: TemplateRenderer) -> None:
    source = (
        "<% if_p('a', 'b') do |a, b| %>both <%= a %><%= b %><% end.else do %>not both<% end %>;"
        "<% if_p('a', 'zz') do %>x<% end.else_if_p('a') do |a| %>only <%= a %><% end %>"
    )
    assert render_one(renderer, source, properties={"a": 1, "b": 2}) == "both 12;only 1"


def test_properties_are_per_job() -> None:
    first = placed(job_templates("first", {"t.erb": "<%= p('x') %>"}), properties={"x": "one"})
    second = placed(job_templates("second", {"t.erb": "<%= p('x') %>"}), properties={"x": "two"})
    rendered = render_instance(instance(first, second))
    assert [job.file("t").content for job in rendered.jobs] == [b"one", b"two"]


# -- spec -------------------------------------------------------------------------------


def test_spec_fields(renderer: TemplateRenderer) -> None:
    source = (
        "<%= [spec.deployment, spec.name, spec.id, spec.index, spec.az, spec.address, spec.ip,"
        " spec.bootstrap, spec.persistent_disk, spec.release.name, spec.release.version,"
        " spec.networks.private.ip, spec.networks.private.dns_record_name, name, index]"
        ".join(' ') %>"
    )
    job = placed(job_templates("j", {"t.erb": source}))
    rendered = renderer.render([instance(job, index=3, persistent_disk=1024, deployment="My_Dep")])[
        0
    ]
    assert rendered.job("j").file("t").content.decode() == (
        "My_Dep web uuid-3 3 z1 10.0.0.13 10.0.0.13 false 1024 rel 1.2"
        " 10.0.0.13 3.web.private.my-dep.bosh web 3"
    )


def test_dynamic_networks_get_placeholders_until_the_agent_reports(
    renderer: TemplateRenderer,
) -> None:
    source = (
        "<%= spec.networks.dyn.ip %> <%= spec.ip.inspect %>"
        " <%= spec.networks.respond_to?(:dyn) %> <%= spec.networks.methods(false).inspect %>"
    )
    job = placed(job_templates("j", {"t.erb": source}))
    rendered = renderer.render([instance(job, networks={"dyn": {"type": "dynamic"}})])[0]
    assert rendered.job("j").file("t").content == b"127.0.0.1 nil true [:dyn]"


# -- links ------------------------------------------------------------------------------

DB_LINK = Link(
    instances=(
        LinkInstance(name="db", id="a", index=0, az="z1", address="10.0.1.1", bootstrap=True),
        LinkInstance(name="db", id="b", index=1, az="z2", address="10.0.1.2"),
    ),
    properties={"port": 5432, "tls": {"on": True}},
    address="q-s0.db.net.dep.bosh",
)


def test_link_instances_properties_and_address(renderer: TemplateRenderer) -> None:
    source = (
        "<% db = link('db') %><%= db.instances.map { |i| \"#{i.address}/#{i.az}/#{i.index}\" }"
        ".join(',') %>|<%= db.p('port') %>|<%= db.p('tls.on') %>|<%= db.p('x', 7) %>"
        "|<%= db.instances.first.bootstrap %>|<%= db.address %>"
    )
    assert render_one(renderer, source, links={"db": DB_LINK}) == (
        "10.0.1.1/z1/0,10.0.1.2/z2/1|5432|true|7|true|q-s0.db.net.dep.bosh"
    )


def test_if_link_and_else(renderer: TemplateRenderer) -> None:
    source = (
        "<% if_link('db') do |db| %>db:<%= db.p('port') %><% end.else do %>no db<% end %>;"
        "<% if_link('cache') do |c| %>cache<% end.else_if_link('db') do |db| %>"
        "<%= db.instances.size %><% end %>"
    )
    assert render_one(renderer, source, links={"db": DB_LINK}) == "db:5432;2"
    assert render_one(renderer, source) == "no db;"


def test_links_are_per_job(renderer: TemplateRenderer) -> None:
    consumer = placed(
        job_templates("c", {"t.erb": "<%= link('db').p('port') %>"}), links={"db": DB_LINK}
    )
    other = placed(job_templates("o", {"t.erb": "<% if_link('db') do %>leak<% end %>"}))
    rendered = renderer.render([instance(consumer, other)])[0]
    assert rendered.job("c").file("t").content == b"5432"
    assert rendered.job("o").file("t").content == b""


# -- errors -----------------------------------------------------------------------------


def test_every_error_of_every_instance_is_reported_with_job_template_and_line(
    renderer: TemplateRenderer,
) -> None:
    web = placed(
        job_templates(
            "hello",
            {
                "ok.erb": "fine",
                "config.erb": "a\nb\n<%= p('port') %>\n",
                "index.erb": "<% raise 'odd instance' if spec.index.odd? %>",
            },
        )
    )
    worker = placed(job_templates("worker", {"run.erb": "\n<%= link('queue').p('x') %>"}))
    syntax = placed(job_templates("broken", {"s.erb": "x\n<% if %>\n"}))
    instances = [
        instance(web, index=0),
        instance(web, index=1),
        instance(worker, syntax, index=0, group="back"),
    ]

    with pytest.raises(RenderErrors) as raised:
        renderer.render(instances)

    found = {(e.instance_group, e.index, e.job, e.template, e.line) for e in raised.value.errors}
    assert found == {
        ("web", 0, "hello", "config.erb", "3"),
        ("web", 1, "hello", "config.erb", "3"),
        ("web", 1, "hello", "index.erb", "1"),
        ("back", 0, "worker", "run.erb", "2"),
        ("back", 0, "broken", "s.erb", "2"),
    }
    message = str(raised.value)
    assert message.startswith(
        "Unable to render instance groups for deployment. Errors are:\n"
        "  - Unable to render jobs for instance group 'web'. Errors are:\n"
        "    - Unable to render templates for job 'hello'. Errors are:\n"
        "      - Error filling in template 'config.erb'"
        " (line 3: Can't find property '[\"port\"]')\n"
        "      - Error filling in template 'index.erb' (line 1: odd instance)\n"
        "  - Unable to render jobs for instance group 'back'. Errors are:\n"
        "    - Unable to render templates for job 'worker'. Errors are:\n"
        "      - Error filling in template 'run.erb' (line 2: Can't find link 'queue')\n"
        "    - Unable to render templates for job 'broken'. Errors are:\n"
        "      - Error filling in template 's.erb' (line 2: "
    )
    assert "syntax error" in message


def test_a_good_render_after_errors_reuses_the_process(renderer: TemplateRenderer) -> None:
    job = placed(job_templates("j", {"t.erb": "<%= 1 + 1 %>"}))
    [rendered] = renderer.render([instance(job)])
    assert rendered.job("j").file("t").content == b"2"


def test_what_templates_print_or_read_does_not_disturb_rendering(
    renderer: TemplateRenderer,
) -> None:
    source = "<% puts 'noise'; STDOUT.puts 'more'; system('echo sub') %><%= $stdin.read.inspect %>"
    job = placed(job_templates("j", {"t.erb": source}))
    [first, second] = renderer.render([instance(job), instance(job, index=1)])
    assert first.job("j").file("t").content == second.job("j").file("t").content == b'""'


def test_a_template_that_kills_ruby_is_reported_and_the_next_render_starts_afresh(
    renderer: TemplateRenderer,
) -> None:
    deadly = placed(job_templates("j", {"t.erb": "<% $stderr.puts 'bye'; exit! %>"}))
    with pytest.raises(RendererUnavailableError, match="exited while rendering: bye"):
        renderer.render([instance(deadly)])
    fine = placed(job_templates("j", {"t.erb": "ok"}))
    assert renderer.render([instance(fine)])[0].job("j").file("t").content == b"ok"


def test_missing_ruby_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(RendererUnavailableError, match=r"install it .*apt-get install ruby"):
        TemplateRenderer(ruby=str(tmp_path / "no-ruby"))


# -- one process per deploy ---------------------------------------------------------------


def counting_ruby(tmp_path: Path) -> tuple[str, Path]:
    """A `ruby` that records each start in a file, then runs the real one."""
    starts = tmp_path / "starts"
    wrapper = tmp_path / "ruby"
    wrapper.write_text(f'#!/bin/sh\necho started >> "{starts}"\nexec "{RUBY}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper), starts


def test_one_ruby_process_renders_every_batch(tmp_path: Path) -> None:
    ruby, starts = counting_ruby(tmp_path)
    templates = job_templates("j", {f"t{n}.erb": f"<%= spec.index * {n} %>" for n in range(5)})
    instances = [instance(placed(templates), index=index) for index in range(12)]

    with TemplateRenderer(ruby=ruby, batch_size=5) as renderer:
        first = renderer.render(instances)
        second = renderer.render(instances[:3])

    assert starts.read_text().splitlines() == ["started"]
    assert [r.job("j").file("t3").content for r in first] == [
        str(3 * i).encode() for i in range(12)
    ]
    assert second == first[:3]


# -- results: hashes, archive, blobstore -------------------------------------------------


def hello_instance(*, message: str = "hi", index: int = 0) -> InstanceToRender:
    templates = JobTemplates.from_directory(EXAMPLE_JOB)
    peers = Link(
        instances=tuple(
            LinkInstance(name="hello", id=f"id-{i}", index=i, address=f"10.0.0.{10 + i}")
            for i in range(2)
        ),
        properties={"port": 8080},
    )
    job = InstanceJob(
        templates=templates,
        release=ReleaseRef("hello", "0+dev.1"),
        properties={
            "port": 8080,
            "message": message,
            "listen_address": "0.0.0.0",
            "store_dir": "/var/vcap/store/hello",
        },
        links={"peers": peers},
        provided_links=(ProvidedLink("hello", "http", "7"),),
    )
    return instance(job, index=index, group="hello")


def test_archive_layout_modes_and_links_json(renderer: TemplateRenderer) -> None:
    [rendered] = renderer.render([hello_instance()])
    archive = rendered.archive()

    with tarfile.open(fileobj=io.BytesIO(archive.data)) as tar:
        members = {member.name: member for member in tar.getmembers()}
        links = tar.extractfile(members["./hello/.bosh/links.json"])
        assert links is not None
        links_json = links.read()
    assert sorted(members) == [
        ".",
        "./hello",
        "./hello/.bosh",
        "./hello/.bosh/links.json",
        "./hello/bin",
        "./hello/bin/ctl",
        "./hello/bin/drain",
        "./hello/bin/pre-start",
        "./hello/config",
        "./hello/config/hello.json",
        "./hello/monit",
    ]
    assert members["./hello/bin/ctl"].mode == 0o755
    assert members["./hello/config/hello.json"].mode == 0o644
    assert (
        links_json
        == b'[\n  {\n    "name": "hello",\n    "type": "http",\n    "group": "7"\n  }\n]\n'
    )
    assert rendered.job("hello").monit == (EXAMPLE_JOB / "monit").read_bytes()


def test_hashes_and_archive_digest_are_stable_and_follow_the_content(
    renderer: TemplateRenderer,
) -> None:
    first, again, changed = renderer.render(
        [hello_instance(), hello_instance(), hello_instance(message="changed")]
    )

    assert first.archive() == again.archive()
    assert first.configuration_hash == again.configuration_hash
    assert first.template_hashes == again.template_hashes
    assert set(first.template_hashes) == {"hello"}
    assert len(first.configuration_hash) == 40
    assert changed.configuration_hash != first.configuration_hash
    assert changed.template_hashes != first.template_hashes
    assert changed.archive().sha1 != first.archive().sha1


def test_configuration_hash_is_the_reference_formula() -> None:
    """sha1 over jobs by name of monit + name + (content + destination by source)."""
    import hashlib

    from bosh_core.templates import RenderedFile, RenderedJob

    job = RenderedJob(
        "j", b"M", (RenderedFile("b.erb", "B", b"2"), RenderedFile("a.erb", "A", b"1"))
    )
    rendered = RenderedInstance(instance_group="g", index=0, id="i", jobs=(job,))
    assert rendered.configuration_hash == hashlib.sha1(b"Mj1A2B").hexdigest()
    assert rendered.template_hashes == {"j": hashlib.sha1(b"M12").hexdigest()}


def test_the_archive_goes_to_the_blobstore_with_its_sha1(
    renderer: TemplateRenderer, tmp_path: Path
) -> None:
    [rendered] = renderer.render([hello_instance()])
    archive = rendered.archive()
    blobstore = LocalBlobstore(tmp_path / "blobs")

    stored = archive.persist(blobstore)

    assert stored.to_spec() == {"blobstore_id": stored.blobstore_id, "sha1": archive.sha1}
    blobstore.get(stored.blobstore_id, tmp_path / "back.tgz")
    assert (tmp_path / "back.tgz").read_bytes() == archive.data


# -- job archives -------------------------------------------------------------------------


def test_a_job_archive_reads_like_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "hello.tgz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(EXAMPLE_JOB / "spec", "./job.MF")
        tar.add(EXAMPLE_JOB / "monit", "./monit")
        tar.add(EXAMPLE_JOB / "templates", "./templates")
    assert JobTemplates.from_archive(path) == JobTemplates.from_directory(EXAMPLE_JOB)


def test_a_job_archive_without_a_declared_template_is_refused(tmp_path: Path) -> None:
    from bosh_core.errors import ReleaseError

    path = tmp_path / "hello.tgz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(EXAMPLE_JOB / "spec", "job.MF")
        tar.add(EXAMPLE_JOB / "monit", "monit")
    with pytest.raises(ReleaseError, match="lacks files its spec names: templates/ctl\\.erb"):
        JobTemplates.from_archive(path)


def test_the_renderer_script_ships_with_the_package() -> None:
    import bosh_core.templates

    assert (Path(bosh_core.templates.__file__).parent / "renderer.rb").is_file()
    assert os.access(RUBY or "", os.X_OK)
