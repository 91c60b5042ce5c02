"""Tables, lines and JSON printed the way the reference CLI prints them."""

from __future__ import annotations

import io
import json

import pytest

from bosh_cli.ui import UI, Table, header_key
from bosh_core.errors import BoshError

JOBS = Table(
    header=["Job", "Digest", "Packages"],
    rows=[["zeta/1", "sha256:bb", ["a", "b"]], ["alpha/2", "", []]],
    content="jobs",
    sort_by=[(0, True)],
)


def _ui(**options: object) -> tuple[UI, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return UI(out=out, err=err, **options), out, err  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Process State", "process_state"),
        ("Release(s)", "release_s"),
        ("Load\n(1m, 5m, 15m)", "load_1m_5m_15m"),
        ("VM CID", "vm_cid"),
        ("", "_"),
    ],
)
def test_header_keys_follow_the_reference(title: str, key: str) -> None:
    assert header_key(title) == key


def test_tty_table_has_header_padding_multiline_cells_dashes_and_footer() -> None:
    ui, out, _ = _ui(tty=True)
    ui.print_table(JOBS)
    assert out.getvalue() == (
        "Job      Digest     Packages  \n"
        "alpha/2  -          -  \n"
        "zeta/1   sha256:bb  a  \n"
        "                    b  \n"
        "\n"
        "2 jobs\n"
    )


def test_non_tty_table_is_data_only_tab_separated() -> None:
    ui, out, _ = _ui()
    ui.print_line("dropped for scripts")
    ui.print_table(JOBS)
    assert out.getvalue() == (
        "alpha/2\t-        \t-\t\nzeta/1 \tsha256:bb\ta\t\n       \t         \tb\t\n"
    )


def test_repeated_first_column_shows_a_tilde_on_tty_only() -> None:
    table = Table(header=["Instance", "Process"], rows=[["web/0", "a"], ["web/0", "b"]])
    ui, out, _ = _ui(tty=True)
    ui.print_table(table)
    assert out.getvalue().splitlines()[2] == "~         b  "
    plain, plain_out, _ = _ui()
    plain.print_table(table)
    assert plain_out.getvalue().splitlines()[1] == "web/0\tb\t"


def test_transposed_summary_shows_titles_on_tty_and_values_only_otherwise() -> None:
    summary = Table(header=["Name", "Commit Hash"], rows=[["fixture", "non-git"]], transpose=True)
    ui, out, _ = _ui(tty=True)
    ui.print_table(summary)
    assert out.getvalue() == "Name         fixture  \nCommit Hash  non-git  \n"
    plain, plain_out, _ = _ui()
    plain.print_table(summary)
    assert plain_out.getvalue() == "fixture\t\nnon-git\t\n"


def test_blank_line_between_table_and_line_but_not_between_raw_lines() -> None:
    ui, out, _ = _ui(tty=True)
    ui.begin_line("Adding a...\n")
    ui.begin_line("Added a\n")
    ui.print_line("Added release")
    ui.print_table(Table(header=["A"], rows=[["1"]]))
    ui.print_line("Succeeded")
    assert out.getvalue() == "Adding a...\nAdded a\n\nAdded release\n\nA  \n1  \n\nSucceeded\n"


def test_json_collects_everything_and_prints_one_document_with_go_escaping() -> None:
    ui, out, err = _ui(json_output=True, tty=True)
    ui.begin_line("Adding <job> & co...\n")
    ui.print_table(JOBS)
    ui.error_line("boom")
    assert out.getvalue() == ""
    ui.flush()
    text = out.getvalue()
    assert "\\u003cjob\\u003e \\u0026 co" in text
    document = json.loads(text)
    assert document["Blocks"] is None
    assert document["Lines"] == ["Adding <job> & co...\n", "boom"]
    assert document["Tables"] == [
        {
            "Content": "jobs",
            "Header": {"digest": "Digest", "job": "Job", "packages": "Packages"},
            "Rows": [
                {"digest": "", "job": "alpha/2", "packages": ""},
                {"digest": "sha256:bb", "job": "zeta/1", "packages": "a\nb"},
            ],
            "Notes": None,
        }
    ]
    assert err.getvalue() == ""


def test_column_option_keeps_only_chosen_columns_in_table_order() -> None:
    ui, out, _ = _ui(tty=True, columns=["packages", "Job"])
    ui.print_table(JOBS)
    assert out.getvalue().splitlines()[0] == "Job      Packages  "


def test_unknown_column_is_reported() -> None:
    ui, _, _ = _ui(tty=True, columns=["nope"])
    with pytest.raises(BoshError, match=r"Failed to find header: nope .*job, digest, packages"):
        ui.print_table(JOBS)


def test_confirmation_reads_stdin_and_stops_on_no() -> None:
    ui = UI(out=io.StringIO(), err=io.StringIO(), tty=True, prompt_input=io.StringIO("n\n"))
    with pytest.raises(BoshError, match="Stopped"):
        ui.ask_for_confirmation()
    yes = UI(out=io.StringIO(), tty=True, prompt_input=io.StringIO("yes\n"))
    yes.ask_for_confirmation()


def test_non_interactive_confirms_without_asking_and_refuses_text_prompts() -> None:
    ui = UI(out=io.StringIO(), interactive=False, prompt_input=io.StringIO(""))
    ui.ask_for_confirmation()
    with pytest.raises(BoshError, match="non-interactive"):
        ui.ask_for_text("Name")
