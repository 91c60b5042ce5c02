"""Template rendering speed: instances/second for 50 instances x 5 templates.

Renders the sample release's `hello` job (monit + 4 ERB templates, with properties, spec
fields and a 50-instance `peers` link) for 50 instances through one TemplateRenderer, as a
deploy does, and prints the best of a few runs for:

- cold: a new ruby process (start-up included) rendering all 50 instances;
- warm: the same process rendering them again (templates already compiled);
- with archives: warm rendering plus each instance's archive, sha1 and configuration hash.

    .venv/bin/python benchmarks/templates.py [--instances 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bosh_core.templates import (
    InstanceJob,
    InstanceSpec,
    InstanceToRender,
    JobTemplates,
    Link,
    LinkInstance,
    ReleaseRef,
    TemplateRenderer,
)

JOB = Path(__file__).resolve().parents[1] / "examples" / "hello-release" / "jobs" / "hello"


def instances(count: int) -> list[InstanceToRender]:
    templates = JobTemplates.from_directory(JOB)
    addresses = [f"10.0.{i // 250}.{i % 250 + 2}" for i in range(count)]
    peers = Link(
        instances=tuple(
            LinkInstance(name="hello", id=f"id-{i}", index=i, az="z1", address=address)
            for i, address in enumerate(addresses)
        ),
        properties={"port": 8080},
    )
    job = InstanceJob(
        templates=templates,
        release=ReleaseRef("hello", "0+dev.1"),
        properties={
            **{
                name: declared["default"]
                for name, declared in templates.spec.properties.items()
                if "default" in declared
            },
            "message": "benchmark",
        },
        links={"peers": peers},
    )
    return [
        InstanceToRender(
            InstanceSpec(
                deployment="hello",
                name="hello",
                index=i,
                id=f"id-{i}",
                az="z1",
                bootstrap=i == 0,
                address=address,
                networks={
                    "default": {"ip": address, "type": "manual", "default": ["dns", "gateway"]}
                },
            ),
            (job,),
        )
        for i, address in enumerate(addresses)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    batch = instances(args.instances)
    templates = 1 + len(batch[0].jobs[0].templates.templates)
    cold = warm = archived = float("inf")
    for _ in range(args.runs):
        with TemplateRenderer() as renderer:
            started = time.perf_counter()
            renderer.render(batch)
            cold = min(cold, time.perf_counter() - started)
            started = time.perf_counter()
            renderer.render(batch)
            warm = min(warm, time.perf_counter() - started)
            started = time.perf_counter()
            for rendered in renderer.render(batch):
                rendered.archive()
                _ = rendered.configuration_hash
            archived = min(archived, time.perf_counter() - started)
    print(f"{args.instances} instances x {templates} templates, best of {args.runs}:")
    for label, seconds in (("cold", cold), ("warm", warm), ("with archives", archived)):
        print(f"  {label:14} {seconds * 1000:8.1f} ms  {args.instances / seconds:8.0f} instances/s")


if __name__ == "__main__":
    main()
