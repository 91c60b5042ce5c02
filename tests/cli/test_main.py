"""The root command: global options anywhere, environment variables, how failures end."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bosh_cli.context import CLIContext, pass_cli
from bosh_cli.main import as_go_flags_reads, cli
from bosh_cli.options import OptionalValueOption
from tests.cli.conftest import RunBosh


def _reads(args: list[str], command: click.Command = cli) -> list[str]:
    return as_go_flags_reads(args, command, click.Context(command, **cli.context_settings))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["create-release", "--tty", "--force"], ["--tty", "create-release", "--force"]),
        (["blobs", "-e", "dir", "--dir", "x"], ["--environment=dir", "blobs", "--dir=x"]),
        (["blobs", "--column=path", "--json"], ["--column=path", "--json", "blobs"]),
        (["int", "x.yml", "--", "--json"], ["int", "--", "x.yml", "--json"]),
        (["tasks", "-d=dep1", "-n"], ["--deployment=dep1", "-n", "tasks"]),
        (["tasks", "-ddep1", "-dn"], ["--deployment=dep1", "--deployment=n", "tasks"]),
        # Global letters in a group with the command's own: each goes to its command.
        (["deploy", "m.yml", "-nd", "dep"], ["-n", "--deployment=dep", "deploy", "--", "m.yml"]),
        (["tasks", "-nr"], ["-n", "tasks", "--recent=30"]),
        (["tasks", "-an"], ["-n", "tasks", "-a"]),
        (["int", "m.yml", "-nv", "x=1"], ["-n", "int", "--var=x=1", "--", "m.yml"]),
        # The command's own letter wins over a global one: -v is a variable of int only.
        (["tasks", "-v"], ["-v", "tasks"]),
        (["tasks", "-h"], ["tasks", "-h"]),
        (["tasks", "--parallel", "-3"], ["--parallel=-3", "tasks"]),  # a number option
        (["local", "up", "-n", "--dir", "x"], ["-n", "local", "up", "--dir=x"]),
        (
            ["deploy", "--skip-drain", "--skip-drain=a"],
            ["deploy", "--skip-drain=*", "--skip-drain=a"],
        ),
        # An optional value with none to use: empty, as in go-flags.
        (["configs", "--name", "--type=x"], ["configs", "--name=", "--type=x"]),
        (["-n", "nope", "--bogus", "-d"], ["-n", "nope", "--bogus", "-d"]),  # left to click
    ],
)
def test_options_are_read_with_their_command_and_written_in_front_of_it(
    args: list[str], expected: list[str]
) -> None:
    assert _reads(args) == expected


@click.command("show-options")
@pass_cli
def _show_options(cli_context: CLIContext) -> None:
    cli_context.ui.print_line(
        json.dumps(
            {
                "environment": cli_context.options.environment,
                "deployment": cli_context.options.deployment,
                "non_interactive": cli_context.options.non_interactive,
                "parallel": cli_context.options.parallel,
            }
        )
    )


@click.command("go-flags")
@click.option("-r", "--recent", cls=OptionalValueOption, type=int, optional_value=30)
@click.option("-t", "--type", "types", multiple=True)
@click.option("-a", "--all", "all_", is_flag=True)
@click.option("-X", "method")
@click.option("-N", "number", type=int)
@click.option("-s", "--state", "states", cls=OptionalValueOption, multiple=True)
@click.argument("rest", nargs=-1)
def _go_flags(**params: object) -> None:
    click.echo(json.dumps(params))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-r=5", "-t=vms", "-X=GET"], ["--recent=5", "--type=vms", "-X", "GET"]),
        (["-t=", "-X=", "-t=a=b"], ["--type=", "-X", "", "--type=a=b"]),
        (["-r5", "-tvms", "-t", "x=1"], ["--recent=5", "--type=vms", "--type=x=1"]),
        (["-r", "7"], ["--recent=30", "--", "7"]),
        (["--recent", "7", "-ar"], ["--recent=30", "-a", "--recent=30", "--", "7"]),
        (["-at", "x", "-X", "-"], ["-a", "--type=x", "-X", "-"]),  # `-` is not an option
        (["-N", "-5", "--type", "---x"], ["-N", "-5", "--type=---x"]),
        (["-r=-5", "-r-6", "-X-x"], ["--recent=-5", "--recent=-6", "-X", "-x"]),
        (["x", "-r=2", "--", "-r=3", "-r"], ["--recent=2", "--", "x", "-r=3", "-r"]),
        (["-", "-a", "---x"], ["-a", "--", "-", "---x"]),
        # An optional list with no value to use is emptied, as go-flags empties it.
        (["-s=a", "-s", "x", "-s=b"], ["--state=b", "--", "x"]),
    ],
)
def test_options_are_respelled_as_go_flags_reads_them(args: list[str], expected: list[str]) -> None:
    assert _reads(args, _go_flags) == expected


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["-a=true"], "bool flag `-a, --all' cannot have an argument"),
        (["--all=x"], "bool flag `-a, --all' cannot have an argument"),
        (["-at=x"], "expected argument for flag `-t, --type'"),  # only a first letter's value
        (["-ar5"], "unknown flag `5'"),
        (["-ar=5"], "unknown flag `='"),
        (["-t"], "expected argument for flag `-t, --type'"),
        (["--type", "-r=5"], "expected argument for flag `-t, --type', but got option `-r=5'"),
        (["-X", "-5"], "expected argument for flag `-X', but got option `-5'"),  # not a number
        (["-N", "-x"], "expected argument for flag `-N', but got option `-x'"),
        (["-t", "--"], "expected argument for flag `-t, --type', but got double dash `--'"),
        (["-z"], "unknown flag `z'"),
        (["--zz=1"], "unknown flag `zz'"),
    ],
)
def test_what_go_flags_refuses_is_a_usage_error(args: list[str], error: str) -> None:
    with pytest.raises(click.UsageError) as raised:
        _reads(args, _go_flags)
    assert raised.value.format_message() == error


@click.command("explode")
def _explode() -> None:
    raise RuntimeError("internal detail")


@pytest.fixture
def extra_commands() -> object:
    cli.add_command(_show_options)
    cli.add_command(_explode)
    cli.add_command(_go_flags)
    yield
    cli.commands.pop("show-options")
    cli.commands.pop("explode")
    cli.commands.pop("go-flags")


@pytest.mark.usefixtures("extra_commands")
def test_environment_variables_fill_global_options(
    bosh: RunBosh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOSH_ENVIRONMENT", "https://10.0.0.6:25555")
    monkeypatch.setenv("BOSH_DEPLOYMENT", "cf")
    monkeypatch.setenv("BOSH_NON_INTERACTIVE", "true")
    result = bosh("show-options", "--tty", "--parallel", "3")
    assert result.exit_code == 0
    assert json.loads(result.stdout.splitlines()[0]) == {
        "environment": "https://10.0.0.6:25555",
        "deployment": "cf",
        "non_interactive": True,
        "parallel": 3,
    }
    assert result.stdout.endswith("\nSucceeded\n")


@pytest.mark.usefixtures("extra_commands")
def test_short_options_written_with_equals_mean_their_value(bosh: RunBosh) -> None:
    result = bosh("show-options", "--tty", "-d=dep1", "-e=https://10.0.0.6:25555")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout.splitlines()[0])
    assert (shown["deployment"], shown["environment"]) == ("dep1", "https://10.0.0.6:25555")
    after = bosh("show-options", "--tty", "-ddep2", "-e=https://h")
    assert json.loads(after.stdout.splitlines()[0])["deployment"] == "dep2"
    run = bosh("go-flags", "-r=5", "-t=vms", "-t=x=y", "-X=GET", "a")
    assert json.loads(run.stdout.splitlines()[0]) == {
        "recent": 5,
        "types": ["vms", "x=y"],
        "all_": False,
        "method": "GET",
        "number": None,
        "states": [],
        "rest": ["a"],
    }
    alone = json.loads(bosh("go-flags", "-r", "a").stdout.splitlines()[0])
    assert (alone["recent"], alone["rest"]) == (30, ["a"])
    assert json.loads(bosh("go-flags", "-r2").stdout.splitlines()[0])["recent"] == 2


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["show-options", "-n=true"], "bool flag `-n, --non-interactive' cannot have an argument"),
        (["--json=1", "show-options"], "bool flag `--json' cannot have an argument"),
        (["go-flags", "-a=true"], "bool flag `-a, --all' cannot have an argument"),
        (["go-flags", "-r=x"], "Invalid value for '-r' / '--recent': 'x' is not a valid integer"),
    ],
)
@pytest.mark.usefixtures("extra_commands")
def test_bad_values_after_equals_are_user_errors(
    bosh: RunBosh, args: list[str], error: str
) -> None:
    result = bosh(*args)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(error), result.stderr


# Each line and message checked against the reference CLI: its message, then "Exit code 1".
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["deploy", "m.yml", "-d", "-n"],
            "expected argument for flag `-d, --deployment', but got option `-n'",
        ),
        (
            ["-e=x", "-d", "-e=y", "tasks"],
            "expected argument for flag `-d, --deployment', but got option `-e=y'",
        ),
        (
            ["tasks", "--deployment", "-n"],
            "expected argument for flag `-d, --deployment', but got option `-n'",
        ),
        (["tasks", "-d"], "expected argument for flag `-d, --deployment'"),
        (["tasks", "-nd"], "expected argument for flag `-d, --deployment'"),
        (["tasks", "-ndother"], "expected argument for flag `-d, --deployment'"),  # not first
        (["tasks", "-e"], "expected argument for flag `-e, --environment'"),
        (["int", "m.yml", "-nl"], "expected argument for flag `-l, --vars-file'"),
        (
            ["int", "m.yml", "-v", "--"],
            "expected argument for flag `-v, --var', but got double dash `--'",
        ),
        (["curl", "-iHa:b", "/"], "expected argument for flag `-H, --header'"),
        (
            ["curl", "-X", "-5", "/"],
            "expected argument for flag `-X, --method', but got option `-5'",
        ),
        (["tasks", "--column", "-1"], "expected argument for flag `--column', but got option `-1'"),
        (["tasks", "-ar5"], "unknown flag `5'"),
        (["tasks", "-ar=5"], "unknown flag `='"),
        (["tasks", "-an=true"], "unknown flag `='"),
        (["tasks", "-a-"], "unknown flag `-'"),
        (["tasks", "-r", "-5"], "unknown flag `5'"),
        (["tasks", "-n=true"], "bool flag `-n, --non-interactive' cannot have an argument"),
    ],
)
def test_lines_go_flags_refuses_fail_as_in_the_reference(
    bosh: RunBosh, args: list[str], error: str
) -> None:
    result = bosh(*args)
    assert (result.exit_code, result.stdout) == (1, "\n")  # an empty line, as the reference
    assert result.stderr.splitlines() == [error, "Exit code 1"]


@pytest.mark.parametrize(
    "args",
    [
        ["deploy", "m.yml", "-nd", "dep"],
        ["tasks", "-nr"],
        ["tasks", "-an"],
        ["tasks", "-dn"],
        ["tasks", "--parallel", "-3"],
        ["tasks", "--recent=-5", "-r-5"],
        ["configs", "--name", "--type"],
        ["int", "-", "-v", "---x=1"],
    ],
)
def test_lines_go_flags_reads_are_read(bosh: RunBosh, args: list[str]) -> None:
    # Both CLIs report a trailing unknown flag only once all before it is read.
    result = bosh(*args, "-z")
    assert result.stderr.splitlines() == ["unknown flag `z'", "Exit code 1"]


def test_a_global_letter_may_join_the_command_letters(bosh: RunBosh, tmp_path: Path) -> None:
    (tmp_path / "m.yml").write_text("a: 1\nb: ((x))\n")
    result = bosh("int", "m.yml", "-nv", "x=1", cwd=tmp_path)
    assert (result.exit_code, result.stdout) == (0, "a: 1\nb: 1\n"), result.stderr
    for args in (["tasks", "-v"], ["tasks", "-nv"]):  # the version, as the reference
        version = bosh(*args)
        assert version.exit_code == 0 and version.stdout.startswith("version "), args


@pytest.mark.usefixtures("extra_commands")
def test_a_bug_is_reported_in_one_line_without_traceback_unless_debug(bosh: RunBosh) -> None:
    result = bosh("explode")
    assert result.exit_code == 1
    assert "Unexpected error (RuntimeError): internal detail" in result.stderr
    assert "Traceback" not in result.stderr
    debug = bosh("explode", "--debug")
    assert "Traceback" in debug.stderr


def test_unknown_flag_is_a_user_error_with_exit_1(bosh: RunBosh) -> None:
    result = bosh("create-release", "--bogus")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["unknown flag `bogus'", "Exit code 1"]


def test_errors_in_json_mode_are_lines_of_the_document(bosh: RunBosh, tmp_path: Path) -> None:
    result = bosh("create-release", "--json", "--dir", tmp_path)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["Tables"] is None
    assert document["Lines"][-1] == "Exit code 1"


def test_the_console_script_module_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bosh_cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("create-release", "inspect-local-release", "add-blob", "init-release"):
        assert command in result.stdout


def test_unknown_command_lists_the_commands(bosh: RunBosh) -> None:
    result = bosh("nope")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Unknown command `nope'. Please specify one command of: add-blob"
    )


def test_version_flag(bosh: RunBosh) -> None:
    result = bosh("-v")
    assert result.exit_code == 0
    assert result.stdout.startswith("version ")


def test_a_closed_stdout_ends_quietly(fixture_release: Path) -> None:
    reader = subprocess.Popen(
        [sys.executable, "-m", "bosh_cli", "--tty", "create-release", "--force"],
        cwd=fixture_release,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # as `| head` does once it has read enough
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 1
    assert "Traceback" not in stderr
    assert "Unexpected error" not in stderr


def test_os_errors_name_the_path_in_one_line(bosh: RunBosh, tmp_path: Path) -> None:
    release_dir = tmp_path / "r"
    assert bosh("init-release", "--dir", release_dir).exit_code == 0
    (release_dir / "config" / "final.yml").unlink()
    (release_dir / "config" / "final.yml").mkdir()
    result = bosh("create-release", "--dir", release_dir)
    assert result.exit_code == 1
    assert "final.yml" in result.stderr.splitlines()[0]
    assert "Unexpected error" not in result.stderr


def test_every_command_module_is_registered_for_lazy_loading() -> None:
    from bosh_cli import main as main_module

    commands_dir = Path(main_module.__file__).parent / "commands"
    for path in sorted(commands_dir.glob("[a-z]*.py")):
        module = importlib.import_module(f"bosh_cli.commands.{path.stem}")
        for command in module.COMMANDS:
            assert main_module._COMMAND_MODULES[command.name] == path.stem, command.name


def test_a_command_imports_only_its_own_module() -> None:
    code = (
        "import sys\n"
        "from bosh_cli.main import main\n"
        "try:\n"
        "    main(['blobs', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('bosh_cli.commands.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "['bosh_cli.commands.blobs']"


def test_global_options_never_show_the_client_secret() -> None:
    from bosh_cli.context import GlobalOptions

    shown = repr(GlobalOptions(client="admin", client_secret="hunter2"))
    assert "hunter2" not in shown
    assert "client='admin'" in shown
