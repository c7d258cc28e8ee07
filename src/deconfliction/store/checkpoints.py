"""WAL checkpoints on a thread of their own, once the WAL holds a mark's worth of pages.

A commit that crosses SQLite's autocheckpoint mark copies every page of the WAL back
into the database before it returns, and every write queued behind it waits that
long: after a burst of batches that is tens of milliseconds, the single-report p99 of
the API benchmark. Here the same mark starts a passive checkpoint beside the writer
instead; the writer's own autocheckpoint, set four times higher, only bounds the WAL
if this one falls behind. A checkpoint copies committed pages only: a write is
durable once its commit has synced the WAL, whenever its pages are copied.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
import threading
from collections.abc import Callable
from pathlib import Path

POLL_S = 0.05
"""How often the WAL's length is read while writes are committing."""

# The wal-index header in the -shm file (https://www.sqlite.org/walformat.html):
# mxFrame, the last valid frame, at byte 16; nBackfill, the frames already copied
# back, at byte 96; both 32-bit in the machine's byte order.
_MAX_FRAME = 16
_BACKFILL = 96
_U32 = struct.Struct("=I")


def frames_to_copy(path: Path) -> int:
    """Pages in the WAL not yet copied back; 0 when there is no wal-index to read."""
    try:
        with open(f"{path}-shm", "rb") as shm:
            head = shm.read(_BACKFILL + 4)
    except OSError:
        return 0
    if len(head) < _BACKFILL + 4:
        return 0
    (last,) = _U32.unpack_from(head, _MAX_FRAME)
    (copied,) = _U32.unpack_from(head, _BACKFILL)
    return max(0, last - copied)


class Checkpoints:
    """A thread that runs a passive checkpoint whenever `mark` pages await copying."""

    def __init__(self, path: Path, connect: Callable[[], sqlite3.Connection], mark: int) -> None:
        self._path = path
        self._connect = connect
        self._mark = mark
        self._wake = threading.Event()
        self._closed = threading.Event()
        self.runs = 0
        self._thread = threading.Thread(target=self._run, name="store-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Called by the writer after each commit: the WAL may have grown."""
        self._wake.set()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        connection = self._connect()
        try:
            while not self._closed.is_set():
                self._wake.wait()
                self._wake.clear()
                if self._closed.is_set():
                    return
                if frames_to_copy(self._path) >= self._mark:
                    # busy (a reader holds old pages) only means fewer pages copied now
                    with contextlib.suppress(sqlite3.Error):
                        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                        self.runs += 1
                # reading the -shm after every commit of a busy writer is wasted work
                self._closed.wait(POLL_S)
        finally:
            connection.close()
