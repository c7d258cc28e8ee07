"""Each unit's reports in time order, kept in memory beside the reports table.

An index on (observer, unit, time_us) is a write at a random place of a B-tree for
every report: it halved what the writer commits a second. The table itself answers
a track instead: rows are only ever appended (their `seq` grows, nothing updates or
deletes them), so an index of (time, seq) per observer and unit, caught up from the
last seq it has read before each query, is exactly what the table holds. It lives
only in memory and is read back from the table (by the scan that rebuilds the engine
when a service starts, or by the first track query), so a crash loses nothing of it,
and nothing acknowledged waits for it.
"""

from __future__ import annotations

import sqlite3
import threading
from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np

_FETCH = 50_000


class _Track:
    __slots__ = ("seq", "time_us")

    def __init__(self) -> None:
        self.time_us = array("q")
        self.seq = array("q")


class TrackIndex:
    """(observer, unit) -> the time and seq of each of its reports, in seq order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._last_seq = 0

    def catch_up(self, connection: sqlite3.Connection) -> None:
        """Read the rows committed since the last call."""
        with self._lock:
            cursor = connection.execute(
                "SELECT seq, observer, unit, time_us FROM reports WHERE seq > ? ORDER BY seq",
                (self._last_seq,),
            )
            while True:
                rows = cursor.fetchmany(_FETCH)
                if not rows:
                    break
                self._add(rows)

    def add(self, rows: Iterable[tuple[int, str, str, int]]) -> None:
        """(seq, observer, unit, time_us) of rows read in seq order by another scan of
        the table (the one that rebuilds the engine): rows already held are skipped."""
        with self._lock:
            self._add(rows)

    def _add(self, rows: Iterable[tuple[int, str, str, int]]) -> None:
        tracks = self._tracks
        last = self._last_seq
        for seq, observer, unit, time_us in rows:
            if seq <= last:
                continue
            track = tracks.get((observer, unit))
            if track is None:
                track = tracks[(observer, unit)] = _Track()
            track.time_us.append(time_us)
            track.seq.append(seq)
            last = seq
        self._last_seq = last

    def seqs(self, observer: str, unit: str, low: int, high: int) -> list[int]:
        """The seq of each report of the unit with low <= time_us <= high, ordered by
        (time_us, seq) as the table would order them."""
        with self._lock:
            track = self._tracks.get((observer, unit))
            if track is None:
                return []
            times = np.frombuffer(track.time_us, dtype=np.int64).copy()
            seqs = np.frombuffer(track.seq, dtype=np.int64).copy()
        keep = (times >= low) & (times <= high)
        times, seqs = times[keep], seqs[keep]
        # seqs are ascending already: a stable sort on time orders ties by seq
        order = np.argsort(times, kind="stable")
        result: list[int] = seqs[order].tolist()
        return result


def rows_by_seq(
    connection: sqlite3.Connection, columns: str, seqs: list[int]
) -> list[tuple[Any, ...]]:
    """The rows with these seqs, in the order given."""
    if not seqs:
        return []
    # json_each has an `id` column of its own: the report's columns are named in full
    named = ", ".join(f"reports.{name.strip()}" for name in columns.split(","))
    rows: list[tuple[Any, ...]] = connection.execute(
        f"SELECT {named} FROM json_each(?) AS wanted"
        " JOIN reports ON reports.seq = wanted.value ORDER BY wanted.key",
        ("[" + ",".join(map(str, seqs)) + "]",),
    ).fetchall()
    return rows
