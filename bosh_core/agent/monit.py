"""Monit control files as BOSH releases write them, read into frozen models.

Monit's grammar is free-form: a statement may span lines and several may share one, so
the file is read as a stream of tokens. Only ``check process`` services are supervised;
other services (``check file``, ``check host``...) and global ``set`` statements are
skipped whole, and ``if ... then ...`` rules are skipped too, since the supervisor's
only rule is monit's default one: restart a process that is not running.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import attrs

from bosh_core.errors import ManifestError, Problem

__all__ = [
    "DEFAULT_TIMEOUT",
    "MonitFile",
    "MonitFileError",
    "MonitProcess",
    "parse_monit",
    "read_monit",
]

# Monit's own default for how long it waits on a start or stop program.
DEFAULT_TIMEOUT = 30.0

_MODES = ("active", "passive", "manual")
_ACTIONS = ("alert", "restart", "start", "stop", "unmonitor", "monitor", "timeout", "exec")
# Where a skipped service or `set` statement ends.
_TOP_LEVEL = ("check", "set", "include")
_TIME_UNITS = {"second": 1.0, "seconds": 1.0, "minute": 60.0, "minutes": 60.0}
# Tokens: a quoted string, a brace or comma on its own, or a run of anything else.
_TOKEN = re.compile(r'"(?P<dq>[^"]*)"|\'(?P<sq>[^\']*)\'|(?P<punct>[{},])|(?P<word>[^\s"\'{},]+)')


class MonitFileError(ManifestError):
    """A monit file cannot be read; every problem names its line."""


@attrs.frozen
class MonitProcess:
    """One ``check process`` service.

    Exactly one of `pidfile` and `matching` (a regular expression over command lines)
    says how the process is found. `start` and `stop` are command lines, split as a
    shell would split them but never run through a shell, as monit runs them.
    """

    name: str
    pidfile: str | None = None
    start: str | None = None
    stop: str | None = None
    group: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    start_timeout: float = DEFAULT_TIMEOUT
    stop_timeout: float = DEFAULT_TIMEOUT
    matching: str | None = None
    mode: str = "active"
    start_uid: str | None = None
    start_gid: str | None = None
    stop_uid: str | None = None
    stop_gid: str | None = None


@attrs.frozen
class MonitFile:
    """What one monit file declares: its processes and the names of its other services.

    The other names matter only as targets of ``depends on``, which they satisfy.
    """

    processes: tuple[MonitProcess, ...] = ()
    other_services: tuple[str, ...] = ()


@attrs.frozen
class _Token:
    text: str
    line: int
    quoted: bool

    def is_word(self, *words: str) -> bool:
        return not self.quoted and self.text.lower() in words


class _Syntax(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def read_monit(path: Path) -> MonitFile:
    """Parse the monit file at `path`; errors name the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise MonitFileError(f"monit file '{path}'", [Problem("", str(reason))]) from None
    return parse_monit(text, source=str(path))


def parse_monit(text: str, *, source: str = "monit file") -> MonitFile:
    """Parse monit control file text; `source` names it in errors."""
    parser = _Parser(list(_tokens(text)))
    processes, others = parser.parse()
    if parser.problems:
        raise MonitFileError(f"monit file '{source}'", parser.problems)
    return MonitFile(processes=tuple(processes), other_services=tuple(others))


def _tokens(text: str) -> Iterator[_Token]:
    for number, raw in enumerate(_joined_lines(text), start=1):
        for match in _TOKEN.finditer(raw):
            word = match.group("word")
            if word is not None and word.startswith("#"):
                break  # a comment runs to the end of the line
            if word is not None and "#" in word:
                yield _Token(word.split("#", 1)[0], number, quoted=False)
                break
            quoted = match.group("dq") if match.group("dq") is not None else match.group("sq")
            if quoted is not None:
                yield _Token(quoted, number, quoted=True)
            else:
                yield _Token(match.group(0), number, quoted=False)


def _joined_lines(text: str) -> Iterator[str]:
    """Lines, with a backslash-newline continuation joined onto the line it starts on.

    The joined line is yielded first, then an empty line for each one it swallowed, so
    line numbers stay true.
    """
    pending: list[str] = []
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        yield " ".join([*pending, raw])
        yield from [""] * len(pending)
        pending = []
    if pending:
        yield " ".join(pending)
        yield from [""] * (len(pending) - 1)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.problems: list[Problem] = []

    def parse(self) -> tuple[list[MonitProcess], list[str]]:
        processes: list[MonitProcess] = []
        others: list[str] = []
        seen: set[str] = set()
        while (token := self._peek()) is not None:
            try:
                if token.is_word("check"):
                    self.at += 1
                    kind = self._next("a service type after 'check'")
                    name = self._next(f"a name after 'check {kind.text}'")
                    if name.text in seen:
                        raise _Syntax(name.line, f"service '{name.text}' is declared twice")
                    seen.add(name.text)
                    if kind.is_word("process"):
                        processes.append(self._process(name))
                    else:
                        others.append(name.text)
                        self._skip_statement()
                elif token.is_word("set", "include"):
                    self.at += 1
                    self._skip_statement()
                else:
                    raise _Syntax(token.line, f"expected 'check', found '{token.text}'")
            except _Syntax as exc:
                self.problems.append(Problem(f"line {exc.line}", exc.message))
                self._skip_statement()
        return processes, others

    def _process(self, name: _Token) -> MonitProcess:
        fields: dict[str, object] = {"name": name.text}
        groups: list[str] = []
        depends: list[str] = []
        while (token := self._peek()) is not None and not token.is_word(*_TOP_LEVEL):
            self.at += 1
            if token.is_word("with", "and", "has", "using", "use", "the"):
                continue  # monit's noise words
            if token.is_word("pidfile"):
                fields["pidfile"] = self._next("a path after 'pidfile'").text
            elif token.is_word("matching"):
                pattern = self._next("a pattern after 'matching'")
                try:
                    re.compile(pattern.text)
                except re.error as exc:
                    raise _Syntax(pattern.line, f"invalid 'matching' pattern: {exc}") from None
                fields["matching"] = pattern.text
            elif token.is_word("start", "stop"):
                verb = token.text.lower()
                command, timeout, uid, gid = self._program(token)
                fields[verb] = command
                fields[f"{verb}_uid"] = uid
                fields[f"{verb}_gid"] = gid
                if timeout is not None:
                    fields[f"{verb}_timeout"] = timeout
            elif token.is_word("restart"):
                self._program(token)  # a restart is our stop then start, as monit's default
            elif token.is_word("group"):
                groups.append(self._next("a name after 'group'").text)
            elif token.is_word("depends"):
                depends.extend(self._depends())
            elif token.is_word("mode"):
                mode = self._next("'active', 'passive' or 'manual' after 'mode'")
                if not mode.is_word(*_MODES):
                    raise _Syntax(mode.line, f"unknown mode '{mode.text}'")
                fields["mode"] = mode.text.lower()
            elif token.is_word("if"):
                self._skip_rule()
            elif token.is_word("every"):
                self._skip_every()
            elif token.is_word("alert", "noalert"):
                self._skip_alert()
            else:
                raise _Syntax(
                    token.line, f"unexpected '{token.text}' in 'check process {name.text}'"
                )
        if ("pidfile" in fields) == ("matching" in fields):
            raise _Syntax(
                name.line, f"'check process {name.text}' needs one of 'pidfile' or 'matching'"
            )
        return MonitProcess(
            **fields,  # type: ignore[arg-type]
            group=tuple(groups),
            depends_on=tuple(depends),
        )

    def _program(self, verb: _Token) -> tuple[str, float | None, str | None, str | None]:
        """``start program [=] "cmd" [as uid U [and] gid G] [with timeout N seconds]``."""
        token = self._next(f"'program' after '{verb.text}'")
        if not token.is_word("program"):
            raise _Syntax(token.line, f"expected 'program' after '{verb.text}'")
        command = self._next(f"a quoted command after '{verb.text} program'")
        if command.is_word("="):
            command = self._next(f"a quoted command after '{verb.text} program ='")
        if not command.quoted:
            raise _Syntax(command.line, f"expected a quoted command after '{verb.text} program'")
        if not command.text.strip():
            raise _Syntax(command.line, f"empty command in '{verb.text} program'")
        timeout: float | None = None
        uid = gid = None
        while (option := self._peek()) is not None:
            if option.is_word("with", "and", "as"):
                self.at += 1
            elif option.is_word("uid", "gid"):
                self.at += 1
                value = self._next(f"a user or group after '{option.text}'").text
                if option.is_word("uid"):
                    uid = value
                else:
                    gid = value
            elif option.is_word("timeout"):
                self.at += 1
                timeout = self._duration(option)
            else:
                break
        return command.text, timeout, uid, gid

    def _duration(self, after: _Token) -> float:
        amount = self._next(f"a number after '{after.text}'")
        unit = self._next(f"a unit after '{after.text} {amount.text}'")
        if not amount.text.isdigit():
            raise _Syntax(amount.line, f"expected a number of seconds, found '{amount.text}'")
        if unit.is_word("cycle", "cycles"):
            raise _Syntax(unit.line, "program timeouts in cycles are not supported; use seconds")
        if unit.text.lower() not in _TIME_UNITS or unit.quoted:
            raise _Syntax(unit.line, f"expected 'seconds' or 'minutes', found '{unit.text}'")
        return int(amount.text) * _TIME_UNITS[unit.text.lower()]

    def _depends(self) -> Iterator[str]:
        token = self._next("a service name after 'depends'")
        if token.is_word("on"):
            token = self._next("a service name after 'depends on'")
        yield token.text
        while (comma := self._peek()) is not None and comma.is_word(","):
            self.at += 1
            yield self._next("a service name after ','").text

    def _skip_rule(self) -> None:
        """``if <test> then <action> [else if <test> then <action>]``."""
        start = self.tokens[self.at - 1]
        while (token := self._peek()) is not None and not token.is_word("then"):
            if token.is_word(*_TOP_LEVEL):
                break
            self.at += 1
        if token is None or not token.is_word("then"):
            raise _Syntax(start.line, "'if' without 'then'")
        self.at += 1
        action = self._next("an action after 'then'")
        if not action.is_word(*_ACTIONS):
            raise _Syntax(action.line, f"unknown action '{action.text}' after 'then'")
        if action.is_word("exec"):
            self._next("a quoted command after 'exec'")
            while (token := self._peek()) is not None and token.is_word("as", "uid", "gid", "and"):
                self.at += 1
                if token.is_word("uid", "gid"):
                    self._next(f"a value after '{token.text}'")
        if (token := self._peek()) is not None and token.is_word("repeat"):
            self.at += 1  # "repeat every N cycles"
            if self._next("'every' after 'repeat'").is_word("every"):
                self._skip_every()
        if (token := self._peek()) is not None and token.is_word("else"):
            self.at += 1
            if (token := self._peek()) is not None and token.is_word("if"):
                self.at += 1
            self._skip_rule()

    def _skip_every(self) -> None:
        """``every N cycles`` or ``every "cron spec"``."""
        token = self._next("a count or schedule after 'every'")
        if not token.quoted:
            self._next("'cycles' after 'every N'")

    def _skip_alert(self) -> None:
        self._next("an address after 'alert'")
        if (token := self._peek()) is not None and token.is_word("{"):
            while (token := self._peek()) is not None and not token.is_word("}"):
                self.at += 1
            self.at += 1
        while (token := self._peek()) is not None and token.is_word("with", "mail-format"):
            self.at += 1
            if token.is_word("mail-format"):
                self._skip_braces()

    def _skip_braces(self) -> None:
        while (token := self._peek()) is not None:
            self.at += 1
            if token.is_word("}"):
                return

    def _skip_statement(self) -> None:
        while (token := self._peek()) is not None and not token.is_word(*_TOP_LEVEL):
            self.at += 1

    def _peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _next(self, expected: str) -> _Token:
        token = self._peek()
        if token is None:
            line = self.tokens[-1].line if self.tokens else 1
            raise _Syntax(line, f"expected {expected}, found the end of the file")
        self.at += 1
        return token
