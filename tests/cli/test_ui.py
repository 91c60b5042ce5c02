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


def test_column_names_compare_as_json_keys() -> None:
    ui, out, _ = _ui(tty=True, columns=["DIGEST", "packages-"])
    ui.print_table(JOBS)
    assert out.getvalue().splitlines()[0] == "Digest     Packages  "


def test_unknown_column_is_printed_and_hides_the_columns_named_after_it() -> None:
    # As the reference: no failure; the error, then the columns chosen before the name.
    ui, out, err = _ui(tty=True, columns=["digest", "nope", "job"])
    ui.print_line("Using x")
    ui.print_table(JOBS)
    assert out.getvalue() == (
        "Using x\n\nFailed to find header: nope\nDigest  \n-  \nsha256:bb  \n\n2 jobs\n"
    )
    assert err.getvalue() == ""


def test_a_table_with_every_column_hidden_prints_empty_lines() -> None:
    tty, out, _ = _ui(tty=True, columns=["nope"])
    tty.print_table(JOBS)
    assert out.getvalue() == "Failed to find header: nope\n\n\n\n\n2 jobs\n"
    data, out, _ = _ui(columns=["nope"])
    data.print_table(JOBS)
    assert out.getvalue() == "Failed to find header: nope\n\n\n"


def test_columns_of_a_sibling_table_are_no_error() -> None:
    packages = Table(header=["Package", "Digest"], rows=[["pkg/1", "sha256:cc"]],
                     content="packages", sibling_header=JOBS.header)  # fmt: skip
    jobs = JOBS._replace(sibling_header=packages.header)
    ui, out, _ = _ui(tty=True, columns=["job", "package"])
    ui.print_table(jobs)
    ui.print_table(packages)
    assert out.getvalue() == (
        "Job  \nalpha/2  \nzeta/1  \n\n2 jobs\n\nPackage  \npkg/1  \n\n1 packages\n"
    )
    alone, out, _ = _ui(tty=True, columns=["package"])
    alone.print_table(JOBS)
    assert out.getvalue().startswith("Failed to find header: package\n")


def test_hidden_first_column_still_sorts_and_takes_the_repeat_mark() -> None:
    table = Table(header=["Name", "Version"], rows=[["b", "1"], ["a", "2"], ["a", "3"]],
                  content="releases", sort_by=[(0, True), (1, False)])  # fmt: skip
    ui, out, _ = _ui(tty=True, columns=["version"])
    ui.print_table(table)
    assert out.getvalue().splitlines()[:4] == ["Version  ", "3  ", "2  ", "1  "]
    named, out, _ = _ui(tty=True, columns=["name"])
    named.print_table(table)
    assert out.getvalue().splitlines()[:4] == ["Name  ", "a  ", "~  ", "b  "]


def test_chosen_columns_in_json_and_the_error_as_a_block() -> None:
    ui, out, _ = _ui(json_output=True, columns=["job", "nope"])
    ui.print_table(JOBS)
    ui.flush()
    document = json.loads(out.getvalue())
    assert document["Blocks"] == ["Failed to find header: nope"]
    assert document["Tables"][0]["Header"] == {"job": "Job"}
    assert document["Tables"][0]["Rows"] == [{"job": "alpha/2"}, {"job": "zeta/1"}]


def test_confirmation_reads_stdin_and_stops_on_no() -> None:
    ui = UI(out=io.StringIO(), err=io.StringIO(), tty=True, prompt_input=io.StringIO("n\n"))
    with pytest.raises(BoshError, match="Stopped"):
        ui.ask_for_confirmation()
    yes = UI(out=io.StringIO(), tty=True, prompt_input=io.StringIO("yes\n"))
    yes.ask_for_confirmation()


@pytest.mark.parametrize(
    ("answer", "confirmed"),
    [("y", True), ("Y", True), ("yes", True), ("y\r", True),
     ("n", False), ("N", False), ("no", False), ("", False)],
)  # fmt: skip
def test_confirmation_takes_the_answers_of_the_reference(answer: str, confirmed: bool) -> None:
    ui = UI(out=io.StringIO(), tty=True, prompt_input=io.StringIO(f"{answer}\n"))
    if confirmed:
        ui.ask_for_confirmation()
    else:
        with pytest.raises(BoshError, match=r"^Stopped$"):
            ui.ask_for_confirmation()


def test_confirmation_asks_again_after_another_answer() -> None:
    out = io.StringIO()
    ui = UI(out=out, tty=True, prompt_input=io.StringIO("maybe\nYES\n y\nn\n"))
    with pytest.raises(BoshError, match=r"^Stopped$"):
        ui.ask_for_confirmation()
    invalid = "invalid input (not y, n, yes, or no)\n"
    assert out.getvalue() == (
        f"Continue? [yN]: maybe\n{invalid}Continue? [yN]: YES\n{invalid}"
        f"Continue? [yN]:  y\n{invalid}Continue? [yN]: n\n"
    )
    closed = UI(out=io.StringIO(), tty=True, prompt_input=io.StringIO("maybe\n"))
    with pytest.raises(BoshError, match="standard input is closed"):
        closed.ask_for_confirmation()


def test_piped_answers_are_repeated_but_not_a_password() -> None:
    out = io.StringIO()
    ui = UI(out=out, tty=True, prompt_input=io.StringIO("admin\nsecret\n"))
    assert ui.ask_for_text("Username ()") == "admin"
    assert ui.ask_for_password("Password ()") == "secret"
    assert out.getvalue() == "Username (): admin\nPassword (): \n"


def test_non_interactive_confirms_without_asking_and_refuses_text_prompts() -> None:
    ui = UI(out=io.StringIO(), interactive=False, prompt_input=io.StringIO(""))
    ui.ask_for_confirmation()
    with pytest.raises(BoshError, match="non-interactive"):
        ui.ask_for_text("Name")
