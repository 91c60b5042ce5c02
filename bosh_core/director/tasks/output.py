"""A task's output directory: ``event``, ``result``, ``debug`` and ``cpi`` files.

The writer side (`TaskOutput`) is used by the worker running the task; the reader side
(`read_output`, `stream_output`) answers ``GET /tasks/:id/output?type=...``.

Writes are appends through an ``O_APPEND`` descriptor, one ``write`` per line under a
lock, so lines from several threads never interleave and a reader (the CLI polling with
``Range: bytes=<offset>-``) sees them as soon as they are written.

Reads answer byte ranges as the reference director's nginx does (the director hands task
files to nginx with ``X-Accel-Redirect``): ``bytes=N-`` and ``bytes=N-M`` give 206 with
``Content-Range``; a start at or past the end gives 416 with ``Content-Range: bytes */size``,
which the reference CLI reads as "no new output"; ``bytes=0-`` on an empty file gives 200.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, TypeVar

from bosh_core.director.errors import UnauthorizedToAccessDeploymentError
from bosh_core.director.tasks.events import EventLog

__all__ = [
    "OUTPUT_TYPES",
    "REDACTED",
    "UNSATISFIABLE",
    "ByteRange",
    "DebugLogFormatter",
    "RedactingHandler",
    "TaskOutput",
    "parse_range",
    "read_output",
    "redact",
    "redact_text",
    "stream_output",
]

OUTPUT_TYPES: Final = ("event", "result", "debug", "cpi")
"""The files of a task directory, named as the ``type`` query parameter names them."""

REDACTED: Final = "<redacted>"

_CHUNK = 64 * 1024
_MAX_OFF_T = 2**63 - 1

# --- redaction -----------------------------------------------------------------------

_SECRET_WORDS = r"password|secret|private_key|token"
_SECRET_KEY = re.compile(_SECRET_WORDS, re.IGNORECASE)
_URL_CREDENTIALS = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:@/\s\"']*):(?P<password>[^@/\s\"']+)@"
)
# key = value, key: value, "key": "value", 'key': 'value' (JSON, YAML, repr, query strings)
_SECRET_ASSIGNMENT = re.compile(
    rf"(?P<head>[\w.-]*(?:{_SECRET_WORDS})[\w.-]*[\"']?\s*[:=]\s*)"
    r"(?P<value>\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|[^\s,;&}\]\"'][^\s,;&}\]]*)",
    re.IGNORECASE,
)
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.DOTALL
)

_T = TypeVar("_T")


def redact(value: _T) -> _T:
    """A copy of `value` fit for logs: in mappings (at any depth) the values of keys
    naming a password, secret, private_key or token become ``<redacted>``; strings are
    passed through `redact_text`. Other values are returned as they are."""
    if isinstance(value, str):
        return redact_text(value)  # type: ignore[return-value]
    if isinstance(value, Mapping):
        return {  # type: ignore[return-value]
            key: REDACTED
            if isinstance(key, str) and _SECRET_KEY.search(key) and item is not None
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [redact(item) for item in value]  # type: ignore[return-value]
    return value


def redact_text(text: str) -> str:
    """`text` with secrets replaced: the password of ``scheme://user:password@`` URLs,
    values assigned to secret-looking keys, and PEM private key blocks."""
    text = _PRIVATE_KEY_BLOCK.sub(REDACTED, text)
    text = _URL_CREDENTIALS.sub(rf"\g<head>:{REDACTED}@", text)
    return _SECRET_ASSIGNMENT.sub(_redact_assignment, text)


def _redact_assignment(match: re.Match[str]) -> str:
    value = match["value"]
    if value == REDACTED or value.strip("\"'") == REDACTED:
        return match[0]
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match['head']}{quote}{REDACTED}{quote}"


# --- writing -------------------------------------------------------------------------


class _AppendFile:
    """A file written by whole appends from any thread; opened on first write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._lock = threading.Lock()

    def touch(self) -> None:
        with self._lock:
            self._open()

    def write(self, text: str) -> None:
        data = text.encode("utf-8", errors="backslashreplace")
        with self._lock:
            fd = self._open()
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _open(self) -> int:
        if self._fd is None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o640)
        return self._fd


_LEVEL_NAMES: Final = {"WARNING": "WARN", "CRITICAL": "FATAL"}


class DebugLogFormatter(logging.Formatter):
    """The reference director's debug log line::

    I, [2024-05-01T10:00:00.123456 #4242] [task:7]  INFO -- DirectorJobRunner: text
    """

    def format(self, record: logging.LogRecord) -> str:
        level = _LEVEL_NAMES.get(record.levelname, record.levelname)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        micros = int((record.created % 1) * 1_000_000)
        text = (
            f"{level[:1]}, [{stamp}.{micros:06d} #{record.process}] [{record.threadName}] "
            f"{level:>5} -- {record.name}: {record.getMessage()}"
        )
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


class RedactingHandler(logging.Handler):
    """Writes records through `write` (one call per record) with secrets redacted: the
    record's arguments are redacted by structure, the formatted line by `redact_text`."""

    def __init__(self, write: Callable[[str], None], *, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self._write = write
        self.setFormatter(DebugLogFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.args:
                record = logging.makeLogRecord({**record.__dict__, "args": redact(record.args)})
            self._write(redact_text(self.format(record)) + "\n")
        except Exception:
            self.handleError(record)


class TaskOutput:
    """The outputs of one task, under `directory` (created if missing).

    ``event``, ``result`` and ``debug`` exist from the start (empty), so a client polling
    a running task is answered from files; ``cpi`` appears with the first CPI log text.
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files = {kind: _AppendFile(self.directory / kind) for kind in OUTPUT_TYPES}
        for kind in ("event", "result", "debug"):
            self._files[kind].touch()
        self._event_log = EventLog(self._files["event"].write, clock=clock)
        self._debug_handler = RedactingHandler(self._files["debug"].write)

    def path(self, output_type: str) -> Path:
        """The file of `output_type` (one of `OUTPUT_TYPES`)."""
        return self._files[output_type].path

    def event_log(self) -> EventLog:
        """The task's event log (one per task: stages number their tasks from 1)."""
        return self._event_log

    def write_result(self, text: str) -> None:
        """Append `text` to the task's result (the caller adds newlines, e.g. between the
        JSON lines of a ``vms`` task)."""
        self._files["result"].write(text)

    def cpi_log(self, text: str) -> None:
        """Append CPI request/response logs; fits ``ExternalCPI(cpi_log=...)``."""
        self._files["cpi"].write(redact_text(text))

    @property
    def debug_handler(self) -> logging.Handler:
        """A logging handler writing the task's debug file, secrets redacted."""
        return self._debug_handler

    def capture_debug(self, logger: logging.Logger | None = None) -> _DebugCapture:
        """``with output.capture_debug(logger):`` sends `logger`'s records (the root
        logger's by default) to the debug file while the block runs."""
        return _DebugCapture(logger or logging.getLogger(), self._debug_handler)

    def close(self) -> None:
        self._debug_handler.close()
        for file in self._files.values():
            file.close()

    def __enter__(self) -> TaskOutput:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _DebugCapture:
    def __init__(self, logger: logging.Logger, handler: logging.Handler) -> None:
        self._logger = logger
        self._handler = handler

    def __enter__(self) -> logging.Handler:
        self._logger.addHandler(self._handler)
        return self._handler

    def __exit__(self, *exc_info: object) -> None:
        self._logger.removeHandler(self._handler)


# --- reading -------------------------------------------------------------------------

ByteRange = tuple[int, int]
"""A satisfiable range as (start, end) with `end` exclusive."""


class _Unsatisfiable:
    def __repr__(self) -> str:
        return "UNSATISFIABLE"


UNSATISFIABLE: Final = _Unsatisfiable()

_boundaries = itertools.count(1)

_NOT_SATISFIABLE_BODY: Final = (
    b"<html>\r\n<head><title>416 Requested Range Not Satisfiable</title></head>\r\n"
    b"<body>\r\n<center><h1>416 Requested Range Not Satisfiable</h1></center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def parse_range(header: str | None, size: int) -> list[ByteRange] | _Unsatisfiable | None:
    """The ranges of a ``Range`` header for a body of `size` bytes, as nginx's range
    filter reads them: None to send the whole body (no header, not ``bytes=``,
    ``bytes=0-`` of an empty body, or overlapping ranges longer than the body),
    `UNSATISFIABLE` for a 416, else the satisfiable ranges in the order given."""
    if header is None or len(header) < 7 or header[:6].lower() != "bytes=":
        return None
    text = header + "\0"
    p = 6
    ranges: list[ByteRange] = []
    total = 0
    while True:
        while text[p] == " ":
            p += 1
        if text[p] != "-":
            start, p = _digits(text, p)
            if start is None:
                return UNSATISFIABLE
            while text[p] == " ":
                p += 1
            if text[p] != "-":
                return UNSATISFIABLE
            p += 1
            while text[p] == " ":
                p += 1
            if text[p] in ",\0":
                end = size
            else:
                last, p = _digits(text, p)
                if last is None or not _at_spec_end(text, p := _skip_spaces(text, p)):
                    return UNSATISFIABLE
                end = size if last >= size else last + 1
        else:
            length, p = _digits(text, p + 1)
            if length is None or not _at_spec_end(text, p := _skip_spaces(text, p)):
                return UNSATISFIABLE
            start = size - length if length < size else 0
            end = size
        if start < end:
            ranges.append((start, end))
            total += end - start
        elif start == 0:
            return None
        if text[p] != ",":
            break
        p += 1
    if not ranges:
        return UNSATISFIABLE
    if total > size:
        return None
    return ranges


def _digits(text: str, p: int) -> tuple[int | None, int]:
    if not "0" <= text[p] <= "9":
        return None, p
    value = 0
    while "0" <= text[p] <= "9":
        value = value * 10 + ord(text[p]) - ord("0")
        if value > _MAX_OFF_T:
            return None, p
        p += 1
    return value, p


def _skip_spaces(text: str, p: int) -> int:
    while text[p] == " ":
        p += 1
    return p


def _at_spec_end(text: str, p: int) -> bool:
    return text[p] in ",\0"


def stream_output(
    task_dir: str | os.PathLike[str] | None,
    output_type: str | None,
    range_header: str | None = None,
    *,
    chunk_size: int = _CHUNK,
) -> tuple[int, dict[str, str], Iterator[bytes]]:
    """Answer ``GET /tasks/:id/output?type=`` from `task_dir` without reading the whole
    file into memory: (status, headers, body chunks).

    `output_type` None means ``debug`` (the reference's default); ``none``, a task
    without an output directory and a missing file answer 204. A missing file whose
    rotated ``<type>.gz`` exists is decompressed first, as the reference does. An unknown
    type raises `UnauthorizedToAccessDeploymentError` (``Unknown type X``). Several
    ranges in one header get a ``multipart/byteranges`` body, as from nginx.
    """
    kind = output_type or "debug"
    if kind not in (*OUTPUT_TYPES, "none"):
        raise UnauthorizedToAccessDeploymentError(f"Unknown type {kind}")
    if kind == "none" or task_dir is None:
        return 204, {}, iter(())
    path = Path(task_dir) / kind
    _decompress_rotated(path)
    try:
        size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        return 204, {}, iter(())
    if not path.is_file():
        return 204, {}, iter(())
    ranges = parse_range(range_header, size)
    if isinstance(ranges, _Unsatisfiable):
        headers = {
            "Content-Type": "text/html",
            "Content-Length": str(len(_NOT_SATISFIABLE_BODY)),
            "Content-Range": f"bytes */{size}",
        }
        return 416, headers, iter((_NOT_SATISFIABLE_BODY,))
    if ranges is None:
        headers = {
            "Content-Type": "text/plain",
            "Content-Length": str(size),
            "Accept-Ranges": "bytes",
        }
        return 200, headers, _chunks(path, [(0, size)], chunk_size)
    if len(ranges) == 1:
        start, end = ranges[0]
        headers = {
            "Content-Type": "text/plain",
            "Content-Length": str(end - start),
            "Content-Range": f"bytes {start}-{end - 1}/{size}",
        }
        return 206, headers, _chunks(path, ranges, chunk_size)
    return _multipart(path, ranges, size, chunk_size)


def _multipart(
    path: Path, ranges: list[ByteRange], size: int, chunk_size: int
) -> tuple[int, dict[str, str], Iterator[bytes]]:
    # nginx's layout: a part header before each range, a closing boundary after the last
    boundary = f"{next(_boundaries):020d}"
    heads = [
        f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n"
        f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n".encode()
        for start, end in ranges
    ]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(map(len, heads)) + sum(end - start for start, end in ranges) + len(tail)

    def body() -> Iterator[bytes]:
        with path.open("rb") as handle:
            for head, byte_range in zip(heads, ranges, strict=True):
                yield head
                yield from _read_ranges(handle, [byte_range], chunk_size)
            yield tail

    headers = {
        "Content-Type": f"multipart/byteranges; boundary={boundary}",
        "Content-Length": str(length),
    }
    return 206, headers, body()


def read_output(
    task_dir: str | os.PathLike[str] | None,
    output_type: str | None,
    range_header: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """`stream_output` with the body read into bytes."""
    status, headers, chunks = stream_output(task_dir, output_type, range_header)
    return status, headers, b"".join(chunks)


def _chunks(path: Path, ranges: list[ByteRange], chunk_size: int) -> Iterator[bytes]:
    """The file's `ranges`; opened only when the body is read, so an answer never sent
    holds no file open."""
    with path.open("rb") as handle:
        yield from _read_ranges(handle, ranges, chunk_size)


def _read_ranges(handle: BinaryIO, ranges: list[ByteRange], chunk_size: int) -> Iterator[bytes]:
    # The length was fixed when the request was answered: a task still writing must not
    # make the body longer than its Content-Length.
    for start, end in ranges:
        handle.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = handle.read(min(chunk_size, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def _decompress_rotated(path: Path) -> None:
    rotated = path.with_name(path.name + ".gz")
    if path.exists() or not rotated.is_file():
        return
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with gzip.open(rotated, "rb") as source, os.fdopen(fd, "wb") as target:
            shutil.copyfileobj(source, target, _CHUNK)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
