"""Progress reporters: what bosh_core reports while it builds and transfers, as the
reference CLI words it."""

from __future__ import annotations

import math

from bosh_cli.ui import UI

__all__ = ["BlobsLines", "IndexLines", "human_bytes"]


def human_bytes(size: int, *, binary: bool) -> str:
    """A size as go-humanize writes it: ``Bytes`` (kB, 1000) or ``IBytes`` (KiB, 1024).

    The reference uses both: IBytes in the ``blobs`` table, Bytes in transfer lines.
    """
    if size < 10:
        return f"{size} B"
    base = 1024 if binary else 1000
    units = (
        ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
        if binary
        else ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    )
    exponent = math.floor(math.log(size) / math.log(base))
    value = math.floor(size / base**exponent * 10 + 0.5) / 10
    return f"{value:.1f} {units[exponent]}" if value < 10 else f"{value:.0f} {units[exponent]}"


class IndexLines:
    """Reports index activity with the reference CLI's wording."""

    def __init__(self, ui: UI) -> None:
        self._ui = ui

    def adding(self, kind: str, description: str) -> None:
        self._ui.begin_line(f"Adding {kind} '{description}'...\n")

    def added(self, kind: str, description: str, *, failed: bool) -> None:
        if failed:
            self._ui.error_line(f"Failed adding {kind} '{description}'\n")
        else:
            self._ui.begin_line(f"Added {kind} '{description}'\n")

    def transfer_started(self, direction: str, description: str, digest: str) -> None:
        self._ui.begin_line(f"-- Started {direction}ing '{description}' (sha1={digest})\n")

    def transfer_finished(
        self, direction: str, description: str, digest: str, *, failed: bool
    ) -> None:
        outcome = "Failed" if failed else "Finished"
        line = f"-- {outcome} {direction}ing '{description}' (sha1={digest})\n"
        (self._ui.error_line if failed else self._ui.begin_line)(line)

    def release_added(self, index: str, description: str, *, failed: bool) -> None:
        if failed:
            self._ui.error_line(f"Failed adding {index} release '{description}'")
        else:
            self._ui.print_line(f"Added {index} release '{description}'")


class BlobsLines:
    """Reports blob transfers with the reference CLI's wording."""

    def __init__(self, ui: UI) -> None:
        self._ui = ui

    def blob_download_started(self, path: str, *, size: int, blob_id: str, digest: str) -> None:
        self._ui.begin_line(
            f"Blob download '{path}' ({human_bytes(size, binary=False)})"
            f" (id: {blob_id} sha1: {digest}) started\n"
        )

    def blob_download_finished(
        self, path: str, *, blob_id: str, error: BaseException | None
    ) -> None:
        if error is not None:
            self._ui.error_line(f"Blob download '{path}' (id: {blob_id}) failed")
        else:
            self._ui.begin_line(f"Blob download '{path}' (id: {blob_id}) finished\n")

    def blob_upload_started(self, path: str, *, size: int, digest: str) -> None:
        self._ui.begin_line(
            f"Blob upload '{path}' ({human_bytes(size, binary=False)}) (sha1: {digest}) started\n"
        )

    def blob_upload_finished(self, path: str, *, blob_id: str, error: BaseException | None) -> None:
        if error is not None:
            self._ui.error_line(f"Blob upload '{path}' failed")
        else:
            self._ui.begin_line(f"Blob upload '{path}' (id: {blob_id}) finished\n")
