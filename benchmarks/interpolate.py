"""Time `bosh int`: start-up on a small conformance case, and a large manifest.

Prints the median wall time of 20 runs of `bosh int` on the conformance case
`11-var-flag` (base.yml with one -v), the same for a generated 5,000-line manifest
with 50 ops and 200 variables (given with -l), and the ten slowest imports of
`bosh int` as `python -X importtime` reports them.

    .venv/bin/python benchmarks/interpolate.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BOSH = Path(sys.executable).with_name("bosh")
CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "interpolate"


# Bytecode caches as an installed bosh has them (this environment may switch them off).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def median_wall(command: list[str], *, runs: int, cwd: Path) -> float:
    """Median seconds of `runs` runs, after one run that warms the caches."""
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=ENV)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_large_case(root: Path) -> tuple[Path, Path, Path]:
    """A manifest of about 5,000 lines, 50 ops that touch it, 200 variables to fill."""
    lines = ["name: big", "releases:", "- name: big", "  version: latest", "instance_groups:"]
    for group in range(50):
        lines += [
            f"- name: group-{group}",
            "  instances: 2",
            "  azs: [z1, z2]",
            "  vm_type: default",
            "  stemcell: default",
            "  networks: [{name: default}]",
            "  jobs:",
        ]
        for job in range(4):
            lines += [
                f"  - name: job-{job}",
                "    release: big",
                "    properties:",
            ]
            for prop in range(4):
                variable = (group * 16 + job * 4 + prop) % 200
                lines += [
                    f"      key-{prop}:",
                    f"        value: ((var-{variable}))",
                    f"        text: prefix-((var-{variable}))-suffix",
                    "        list: [a, b, c]",
                    "        nested: {x: 1, y: 2.5, z: true}",
                ]
    manifest = root / "manifest.yml"
    manifest.write_text("\n".join(lines) + "\n")
    ops = root / "ops.yml"
    ops.write_text(
        "".join(
            f"- type: replace\n  path: /instance_groups/name=group-{group}/instances\n"
            f"  value: {group % 5 + 1}\n"
            for group in range(50)
        )
    )
    variables = root / "vars.yml"
    variables.write_text("".join(f"var-{index}: value-{index}\n" for index in range(200)))
    return manifest, ops, variables


def import_times(case: Path) -> list[tuple[int, str]]:
    """The ten slowest imports (cumulative microseconds) of one `bosh int` run."""
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "bosh_cli",
            "int",
            "../../base.yml",
            "-v",
            "db_host=10.0.0.5",
        ],
        cwd=case,
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    )
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.split("|"))
            if cumulative.isdigit():
                rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    case = CONFORMANCE / "cases" / "11-var-flag"
    small = median_wall(
        [str(BOSH), "int", "../../base.yml", "-v", "db_host=10.0.0.5"], runs=args.runs, cwd=case
    )
    bare = median_wall([sys.executable, "-c", "pass"], runs=args.runs, cwd=case)
    with tempfile.TemporaryDirectory(prefix="bosh-int-bench-") as scratch:
        root = Path(scratch)
        manifest, ops, variables = write_large_case(root)
        line_count = manifest.read_text().count("\n")
        large = median_wall(
            [str(BOSH), "int", str(manifest), "-o", str(ops), "-l", str(variables)],
            runs=args.runs,
            cwd=root,
        )
    print(f"python3 -c pass:                        {bare * 1000:7.1f} ms (median of {args.runs})")
    print(f"bosh int, conformance case 11-var-flag: {small * 1000:7.1f} ms (median of {args.runs})")
    print(
        f"bosh int, {line_count}-line manifest, 50 ops, 200 vars: "
        f"{large * 1000:7.1f} ms (median of {args.runs})"
    )
    print("slowest imports of `bosh int` (cumulative):")
    for microseconds, name in import_times(case):
        print(f"  {microseconds / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
