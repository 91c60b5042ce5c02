"""Everything the CLI prints: lines, blocks, tables, prompts, in the reference's three modes.

- TTY (a terminal on stdout, or ``--tty``): lines as they come, tables with headers,
  ``N <content>`` footers and two-space column borders; one blank line between a table
  or a whole line and whatever comes next.
- Not a TTY: for scripts. Lines are dropped (errors still go to stderr); tables print
  their data only, tab-separated, first column filled on every row.
- ``--json``: nothing is printed until :meth:`UI.flush`, which prints one object
  ``{"Tables": [...], "Blocks": [...], "Lines": [...]}`` with every cell as a string.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
from collections.abc import Sequence
from typing import NamedTuple, TextIO

from bosh_core.errors import BoshError

__all__ = ["UI", "Cell", "Table", "header_key"]

Cell = str | Sequence[str]
"""A table cell: one string, or several shown one per line (joined by newlines in JSON)."""

_EMPTY_CELL = "-"
_YES = frozenset({"y", "Y", "yes"})
_NO = frozenset({"", "n", "N", "no"})
_RED = "\x1b[31m"
_RESET = "\x1b[0m"


def header_key(title: str) -> str:
    """The JSON key of a column: its title lower-cased, other characters as ``_`` runs."""
    cleaned = "".join(char.lower() if char.isalnum() else " " for char in title)
    return "_".join(cleaned.split()) or "_"


def _cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else "\n".join(cell)


class Table(NamedTuple):
    """Rows under a header; ``content`` names the rows in the footer (``3 jobs``).

    ``sort_by`` lists (column, ascending) pairs; ``transpose`` prints one
    ``Title  value`` line per column instead (summary tables). ``sibling_header`` is the
    header of a table printed along with this one (inspect-release's jobs and packages):
    a ``--column`` of that table is no error in this one. A NamedTuple rather than an
    attrs class: every command imports this module, and start-up time counts.
    """

    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    content: str = ""
    notes: Sequence[str] | None = None
    sort_by: Sequence[tuple[int, bool]] = ()
    transpose: bool = False
    title: str = ""
    sibling_header: Sequence[str] = ()

    def sorted_rows(self) -> list[list[str]]:
        """The rows as text, ordered as the reference orders them."""
        rows = [[_cell_text(cell) for cell in row] for row in self.rows]
        if not self.sort_by:
            return rows
        return sorted(rows, key=functools.cmp_to_key(self._compare))

    def _compare(self, left: list[str], right: list[str]) -> int:
        # The reference scores each sort column, earlier ones weighing more, and orders
        # by total score rather than strictly column by column; kept for identical output.
        left_score = right_score = 0
        for position, (column, ascending) in enumerate(self.sort_by):
            weight = (10 - position) * 10
            a, b = left[column], right[column]
            if a == b:
                left_score += weight
                right_score += weight
            elif (a < b) == ascending:
                left_score += weight
            else:
                right_score += weight
        return -1 if left_score > right_score else (1 if right_score > left_score else 0)


class _TextGrid:
    """Aligns rows of text cells, multi-line cells spread over several lines."""

    def __init__(self, border: str, empty: str = _EMPTY_CELL) -> None:
        self.border = border
        self.empty = empty
        self.lines: list[list[str] | None] = []
        self.widths: dict[int, int] = {}

    def add(self, cells: Sequence[str | None]) -> None:
        """Add one row; ``None`` cells are blank spacers (a row of only those is a blank line)."""
        columns: list[list[str]] = []
        for index, cell in enumerate(cells):
            parts = [self.empty] if cell == "" else (cell or "").replace("\r", "").split("\n")
            self.widths[index] = max(self.widths.get(index, 0), *(len(part) for part in parts))
            columns.append(parts)
        if all(cell is None for cell in cells):
            self.lines.append(None)
            return
        height = max(len(parts) for parts in columns)
        for line in range(height):
            self.lines.append([parts[line] if line < len(parts) else "" for parts in columns])

    def render(self) -> str:
        out = []
        for line in self.lines:
            if line is None:
                out.append("\n")
                continue
            last = len(line) - 1
            out.append(
                "".join(
                    text
                    + (
                        self.border
                        if index == last
                        else " " * (self.widths[index] - len(text)) + self.border
                    )
                    for index, text in enumerate(line)
                )
                + "\n"
            )
        return "".join(out)


def _render_table(table: Table, *, data_only: bool, hidden: frozenset[int] = frozenset()) -> str:
    """The table as text; ``hidden`` columns left out (``--column``), but still sorted on
    and still the first column whose repeats show as ``~``, as in the reference."""
    grid = _TextGrid(border="\t" if data_only else "  ")
    rows = table.sorted_rows()
    if not data_only:
        _mark_repeated_first_column(rows)
    if table.transpose:
        for index, row in enumerate(rows):
            for column, (title, value) in enumerate(zip(table.header, row, strict=True)):
                if column not in hidden:
                    grid.add([value] if data_only else [title, value])
            if index < len(rows) - 1:
                grid.add([None] if data_only else [None, None])
    else:
        # A row whose every column is hidden prints as an empty line, as the reference's.
        if not data_only and table.header:
            grid.add(_shown(table.header, hidden))
        for row in rows:
            grid.add(_shown(row, hidden))
    text = grid.render()
    if data_only:
        return text
    if table.title:
        text = f"{table.title}\n\n{text}"
    if table.notes:
        text += "\n" + "".join(f"{note}\n" for note in table.notes)
    if table.header and table.content.strip():
        text += f"\n{len(table.rows)} {table.content}\n"
    return text


def _shown(cells: Sequence[str], hidden: frozenset[int]) -> list[str]:
    return [cell for index, cell in enumerate(cells) if index not in hidden]


def _mark_repeated_first_column(rows: list[list[str]]) -> None:
    previous = None
    for row in rows:
        if previous is not None and row[0] == previous:
            row[0] = "~"
        else:
            previous = row[0]


class UI:
    """The CLI's output and prompts, configured once from the global options."""

    def __init__(
        self,
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
        tty: bool = False,
        json_output: bool = False,
        color: bool = True,
        interactive: bool = True,
        prompt_input: TextIO | None = None,
        columns: Sequence[str] = (),
    ) -> None:
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self._input = prompt_input or sys.stdin
        stdout_is_terminal = _is_terminal(self._out)
        self.tty = bool(tty) or stdout_is_terminal
        self.json = json_output
        self._color = color and stdout_is_terminal and "NO_COLOR" not in os.environ
        self.interactive = interactive
        self._columns = columns
        self._lock = threading.RLock()  # builds report progress from several threads
        self._previous_mode: str | None = None
        self._collected: dict[str, list[object] | None] = {
            "Tables": None,
            "Blocks": None,
            "Lines": None,
        }

    # -- lines and blocks -------------------------------------------------------------

    def print_line(self, text: str) -> None:
        """A whole line, set apart from tables and raw output by a blank line."""
        self._line(text, "auto", end="\n")

    def begin_line(self, text: str) -> None:
        """Raw text with no newline added (progress lines carry their own newline)."""
        self._line(text, "raw", end="")

    def error_line(self, text: str) -> None:
        """An error line on stderr (red on a terminal); in JSON, one of ``Lines``."""
        with self._lock:
            if self.json:
                self._collect("Lines", text)
                return
            self._pad_before("auto")
            self._err.write(f"{_RED}{text}{_RESET}\n" if self._color else f"{text}\n")
            self._err.flush()

    def print_block(self, text: str) -> None:
        """Raw output kept as is (task output, files); in JSON, one of ``Blocks``."""
        with self._lock:
            if self.json:
                self._collect("Blocks", text)
                return
            self._pad_before("raw")
            self._write(text)

    def _line(self, text: str, mode: str, *, end: str) -> None:
        with self._lock:
            if self.json:
                self._collect("Lines", text)
            elif self.tty:
                self._pad_before(mode)
                self._write(text + end)

    # -- tables -----------------------------------------------------------------------

    def print_table(self, table: Table) -> None:
        """A table; with ``--column``, only the named columns (see :meth:`_hidden_columns`)."""
        with self._lock:
            hidden = self._hidden_columns(table) if self._columns else frozenset()
            if self.json:
                self._collect("Tables", _table_as_json(table, hidden))
                return
            self._pad_before("auto")
            self._write(_render_table(table, data_only=not self.tty, hidden=hidden))

    def _hidden_columns(self, table: Table) -> frozenset[int]:
        """The columns ``--column`` hides, chosen as the reference chooses them.

        Names compare as JSON keys (``--column 'Started At'`` is ``started_at``); the
        chosen columns show in the table's order. A name in neither this table nor its
        sibling is no failure: ``Failed to find header: <key>`` is printed before the
        table, which shows the columns chosen up to that name, and the command goes on.
        """
        keys = [header_key(title) for title in table.header]
        siblings = {header_key(title) for title in table.sibling_header}
        shown: set[int] = set()
        for wanted in self._columns:
            key = header_key(wanted)
            if key in keys:
                shown.add(keys.index(key))
            elif key not in siblings:
                self._error_block(f"Failed to find header: {key}")
                break
        return frozenset(range(len(keys))) - shown

    def _error_block(self, text: str) -> None:
        """Raw text on stdout, red on a terminal, no newline added; in JSON, a block."""
        if self.json:
            self._collect("Blocks", text)
            return
        self._pad_before("raw")
        self._write(f"{_RED}{text}{_RESET}" if self._color else text)

    # -- prompts ----------------------------------------------------------------------

    def ask_for_confirmation(self, label: str = "Continue?") -> None:
        """Ask yes/no; raise :class:`BoshError` ``Stopped`` unless the answer is yes.

        As the reference: ``y``, ``Y`` or ``yes`` is yes; ``n``, ``N``, ``no`` or an empty
        line is no; anything else is said to be invalid and the question asked again.
        With ``-n`` (non-interactive) the answer is yes without asking.
        """
        if not self.interactive:
            return
        if self.json:
            raise BoshError("Cannot ask for confirmation in JSON output: pass -n")
        with self._lock:
            self._pad_before("auto")
            while True:
                answer = self._read_answer(f"{label} [yN]")
                if answer in _YES:
                    return
                if answer in _NO:
                    raise BoshError("Stopped")
                self._write("invalid input (not y, n, yes, or no)\n")

    def ask_for_text(self, label: str) -> str:
        self._check_can_ask()
        with self._lock:
            self._pad_before("ask")
            return self._read_answer(label)

    def ask_for_password(self, label: str) -> str:
        """As :meth:`ask_for_text`, without showing the answer."""
        self._check_can_ask()
        with self._lock:
            self._pad_before("ask")
            if not _is_terminal(self._input):
                return self._read_answer(label, secret=True)
            import getpass  # only here: start-up time

            return getpass.getpass(f"{label}: ", stream=self._out)

    def _check_can_ask(self) -> None:
        if not self.interactive:
            raise BoshError("Cannot ask for input in non-interactive UI")
        if self.json:
            raise BoshError("Cannot ask for input in JSON output")

    def _read_answer(self, label: str, *, secret: bool = False) -> str:
        """One line of input after ``label: ``. Input that is not a terminal does not
        show what was read, so it is repeated after the prompt (a password as an empty
        line), as the reference does; carriage returns are dropped."""
        self._write(f"{label}: ")
        line = self._input.readline()
        if not line:
            raise BoshError(f"No answer to '{label}': standard input is closed")
        answer = line.rstrip("\n").replace("\r", "")
        if not _is_terminal(self._input):
            self._write(("" if secret else answer) + "\n")
        return answer

    # -- end ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Print what JSON mode collected (nothing otherwise)."""
        if self.json and any(value is not None for value in self._collected.values()):
            self._write(_go_json(self._collected))
            self._collected = dict.fromkeys(self._collected)

    def _collect(self, kind: str, item: object) -> None:
        items = self._collected[kind]
        if items is None:
            items = self._collected[kind] = []
        items.append(item)

    def _pad_before(self, mode: str) -> None:
        previous, self._previous_mode = self._previous_mode, mode
        if previous is None or (previous == mode and mode in {"raw", "ask"}):
            return
        self._write("\n")

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


def _table_as_json(table: Table, hidden: frozenset[int] = frozenset()) -> dict[str, object]:
    if table.header:
        keys = [
            header_key(title) if header_key(title) != "_" else str(index)
            for index, title in enumerate(table.header)
        ]
        titles = list(table.header)
    else:
        width = len(table.rows[0]) if table.rows else 0
        keys = [f"col_{index}" for index in range(width)]
        titles = [""] * width
    return {
        "Content": table.content,
        "Header": dict(sorted(zip(_shown(keys, hidden), _shown(titles, hidden), strict=True))),
        "Rows": [
            dict(sorted(zip(_shown(keys, hidden), _shown(row, hidden), strict=True)))
            for row in table.sorted_rows()
        ],
        "Notes": list(table.notes) if table.notes is not None else None,
    }


def _go_json(document: object) -> str:
    """JSON as Go's encoding/json indents it, HTML-sensitive characters escaped."""
    text = json.dumps(document, indent=4, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
