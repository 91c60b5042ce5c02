"""Reproducible, parallel ``.tgz`` writing for release artifacts.

The same inputs give the same bytes: members are written in the caller's (sorted) order
with a fixed mtime, root ownership and normalised modes, and the gzip header carries no
name or time. That makes a release tarball's digest reproducible.

Speed: the tar stream is cut into 1 MiB chunks that are deflated on a thread pool (zlib
releases the GIL), each chunk primed with the previous 32 KiB as dictionary and ended with
a sync flush, so the concatenation is one valid deflate stream, as pigz does. A chunk whose
samples do not compress (blobs that are already compressed or random) is stored instead of
deflated: deflating such data costs most of the time and saves nothing. The archive's own
digest and every member's content digest are computed on the way through, so each byte is
read once.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import tarfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from bosh_core.digest import Digest
from bosh_core.errors import ReleaseError

__all__ = ["FIXED_MTIME", "TarGzWriter"]

# 2000-01-01T00:00:00Z: a fixed, plausible timestamp for every member (reproducibility).
FIXED_MTIME = 946_684_800
CHUNK_BYTES = 1 << 20
_WINDOW_BYTES = 32 << 10
_SAMPLE_BYTES = 8 << 10
_STORE_RATIO = 0.9  # a sample that deflates to more than this is stored, not deflated
_GZIP_HEADER = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x00\x03"
_RECORD_BYTES = tarfile.RECORDSIZE
_MAX_HASH_BACKLOG = 8  # chunks waiting to be hashed


@functools.cache
def _deflate_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="deflate")


def _incompressible(data: bytes | bytearray) -> bool:
    if len(data) < 4 * _SAMPLE_BYTES:
        return False
    middle = len(data) // 2
    sample = data[:_SAMPLE_BYTES] + data[middle : middle + _SAMPLE_BYTES] + data[-_SAMPLE_BYTES:]
    return len(zlib.compress(sample, 1)) > _STORE_RATIO * len(sample)


def _deflate_chunk(data: bytes | bytearray, window: bytes, level: int) -> bytes:
    if level and _incompressible(data):
        level = 0
    if window:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=window)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


@functools.cache
def _hash_worker(role: str) -> ThreadPoolExecutor:
    # One thread per role: its queue runs in submission order, which keeps each hash's
    # updates in order whatever thread submits them.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sha256-{role}")


class _BackgroundSha256:
    """sha256 computed on a worker thread, in order, while the caller goes on writing.

    hashlib releases the GIL on large buffers, so hashing runs beside reading, deflating
    and writing; at most a few chunks wait, which bounds the memory held.
    """

    def __init__(self, role: str) -> None:
        self._hash = hashlib.sha256()
        self._worker = _hash_worker(role)
        self._pending: deque[Future[None]] = deque()

    def update(self, data: bytes | bytearray) -> None:
        self._pending.append(self._worker.submit(self._hash.update, data))
        while len(self._pending) > _MAX_HASH_BACKLOG:
            self._pending.popleft().result()

    def digest(self) -> Digest:
        while self._pending:
            self._pending.popleft().result()
        return Digest("sha256", self._hash.hexdigest())


class _GzipSink:
    """Ordered parallel gzip of whole chunks into `out`, hashing what it writes."""

    def __init__(self, out: IO[bytes], *, level: int, compress: bool) -> None:
        self._out = out
        self._level = level
        self._compress = compress
        self._pool = _deflate_pool()
        self._pending: deque[Future[bytes]] = deque()
        self._max_pending = 2 * ((os.cpu_count() or 2) + 1)
        self._window = b""
        self._crc = 0
        self._size = 0
        self.digest = _BackgroundSha256("archive")
        if compress:
            self._emit(_GZIP_HEADER)

    def _emit(self, data: bytes | bytearray) -> None:
        self._out.write(data)
        self.digest.update(data)

    def write_chunk(self, data: bytes | bytearray) -> None:
        if not self._compress:
            self._emit(data)
            return
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._pending.append(self._pool.submit(_deflate_chunk, data, self._window, self._level))
        self._window = bytes(data[-_WINDOW_BYTES:])
        while len(self._pending) > self._max_pending:
            self._emit(self._pending.popleft().result())

    def finish(self) -> None:
        while self._pending:
            self._emit(self._pending.popleft().result())
        if self._compress:
            self._emit(zlib.compressobj(self._level, zlib.DEFLATED, -zlib.MAX_WBITS).flush())
            self._emit(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))

    def abandon(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()


class TarGzWriter:
    """Writes a tar (gzipped unless ``compress=False``) member by member, deterministically."""

    def __init__(
        self,
        out: IO[bytes],
        *,
        compress: bool = True,
        level: int = 6,
    ) -> None:
        self._sink = _GzipSink(out, level=level, compress=compress)
        self._buffer = bytearray()
        self._written = 0
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._sink.abandon()

    def _write(self, data: bytes | memoryview) -> None:
        """Buffer `data`; hand every full chunk to the sink (the chunk is not touched again)."""
        self._written += len(data)
        view = memoryview(data)
        while len(self._buffer) + len(view) >= CHUNK_BYTES:
            take = CHUNK_BYTES - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
            self._sink.write_chunk(self._buffer)
            self._buffer = bytearray()
        self._buffer += view

    def _header(self, info: tarfile.TarInfo) -> None:
        info.mtime = FIXED_MTIME
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        self._write(info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape"))

    def _pad(self) -> None:
        remainder = self._written % tarfile.BLOCKSIZE
        if remainder:
            self._write(bytes(tarfile.BLOCKSIZE - remainder))

    def add_directory(self, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        self._header(info)

    def add_symlink(self, name: str, target: str) -> None:
        info = tarfile.TarInfo(name)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        info.mode = 0o777
        self._header(info)

    def add_bytes(self, name: str, data: bytes, *, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        self._header(info)
        self._write(data)
        self._pad()

    def add_file(self, name: str, source: Path, *, mode: int) -> Digest:
        """Append `source` (symlinks followed) and return the sha256 of its content."""
        with source.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            info = tarfile.TarInfo(name)
            info.size = size
            info.mode = mode
            self._header(info)
            hasher = _BackgroundSha256("content")
            remaining = size
            while remaining:
                block = stream.read(min(CHUNK_BYTES, remaining))
                if not block:
                    raise ReleaseError(
                        f"File '{source}' shrank while it was being archived; run the command again"
                    )
                hasher.update(block)
                self._write(block)
                remaining -= len(block)
        self._pad()
        return hasher.digest()

    def close(self) -> Digest:
        """Finish the archive; returns the sha256 of the bytes written to `out`."""
        if not self._closed:
            self._closed = True
            self._write(bytes(2 * tarfile.BLOCKSIZE))
            remainder = self._written % _RECORD_BYTES
            if remainder:
                self._write(bytes(_RECORD_BYTES - remainder))
            if self._buffer:
                self._sink.write_chunk(self._buffer)
                self._buffer = bytearray()
            self._sink.finish()
        return self._sink.digest.digest()
