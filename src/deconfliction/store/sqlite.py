"""The default store: one SQLite file in WAL mode, one writer thread, readers apart."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson

from ..batch import ReportBatch, from_us, to_us
from ..model import (
    AlertEvent,
    Report,
)
from . import tables
from .alerts import AlertQueries
from .base import (
    Change,
    IngestResult,
    LoggedBatch,
    StoredEvent,
)
from .checkpoints import Checkpoints
from .migrations import migrate
from .records import RecordQueries
from .reference import ReferenceQueries
from .rows import (
    REPORT_COLUMNS,
    batch_from_rows,
    report_from_row,
    report_keys,
    with_ids,
)
from .tracks import TrackIndex, rows_by_seq
from .writer import Writer

Synchronous = Literal["full", "normal", "extra"]

_ID_CHUNK = 900

WRITER_CACHE_KIB = 64 * 1024
"""The writer's page cache: reports land at random places in the (observer, id) index,
and a cache that holds the index's hot pages saves a read for most of them."""

READER_CACHE_KIB = 8 * 1024
WAL_CHECKPOINT_PAGES = 16384
"""Pages the WAL may hold before they are copied back (by the checkpoint thread, see
checkpoints.py): a hot index page written by many commits is copied once."""

MMAP_BYTES = 256 * 1024 * 1024


def connect(
    path: str | Path, synchronous: Synchronous = "full", *, cache_kib: int = READER_CACHE_KIB
) -> sqlite3.Connection:
    """A connection with the store's settings (the API benchmark's ceiling uses it too)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 10000")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute(f"PRAGMA cache_size = -{cache_kib}")
    # pages read through the map cost no copy and no read call
    connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return connection


def writer_connection(
    path: str | Path,
    synchronous: Synchronous = "full",
    checkpoint_pages: int = WAL_CHECKPOINT_PAGES,
) -> sqlite3.Connection:
    """A connection with the settings of the store's writer."""
    connection = connect(path, synchronous, cache_kib=WRITER_CACHE_KIB)
    connection.execute(f"PRAGMA wal_autocheckpoint = {checkpoint_pages}")
    return connection


EventListener = Callable[[list[StoredEvent]], None]


class SQLiteStore(AlertQueries, RecordQueries, ReferenceQueries):
    """A `Store` on one SQLite file.

    `synchronous="full"` (the default) makes every commit reach the disk before the
    call returns, so a committed write survives a kill -9 of the process and a power
    loss; "normal" still survives a process kill in WAL mode but not a power loss.
    """

    def __init__(self, path: str | Path, synchronous: Synchronous = "full") -> None:
        if synchronous not in ("full", "normal", "extra"):
            raise ValueError(f"synchronous: expected full, normal or extra, got '{synchronous}'")
        self.path = Path(path)
        self.synchronous = synchronous
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # the keys of each batch queued but not committed yet, by batch number
        self._pending: dict[int, set[tuple[str, str]]] = {}
        self._listeners: list[EventListener] = []
        self._event_seq: dict[str, int] = {}
        self._tracks = TrackIndex()
        setup = self._open()
        try:
            migrate(setup)
            # batches without reports (ticks, agreement changes) hold numbers too
            last = setup.execute(
                "SELECT MAX(n) FROM (SELECT MAX(number) AS n FROM batches"
                " UNION ALL SELECT MAX(batch) FROM reports)"
            ).fetchone()[0]
            self._next_batch = int(last or 0) + 1
        finally:
            setup.close()
        self._checkpoints = Checkpoints(self.path, self._open, WAL_CHECKPOINT_PAGES)
        try:
            self._writer = Writer(
                self._open_writer,
                on_rollback=self._load_counters,
                on_commit=self._checkpoints.committed,
            )
        except BaseException:
            self._checkpoints.close()
            raise

    # connections ---------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        return connect(self.path, self.synchronous)

    def _open_writer(self) -> sqlite3.Connection:
        # the checkpoint thread copies the WAL back at the mark; this only bounds it
        connection = writer_connection(
            self.path, self.synchronous, checkpoint_pages=4 * WAL_CHECKPOINT_PAGES
        )
        self._load_counters(connection)
        return connection

    def _load_counters(self, connection: sqlite3.Connection) -> None:
        rows = connection.execute("SELECT party, MAX(seq) FROM alert_events GROUP BY party")
        self._event_seq = {party: seq for party, seq in rows}

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
            connection.execute("PRAGMA query_only = ON")
            self._local.connection = connection
            with self._lock:
                self._readers.append(connection)
        return connection

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._reader().execute(sql, params).fetchall()

    def close(self) -> None:
        self._writer.close()
        self._checkpoints.close()
        with self._lock:
            for connection in self._readers:
                connection.close()
            self._readers.clear()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_listener(self, listener: EventListener) -> None:
        """Call `listener` on the writer thread with the events of each commit, in order."""
        self._listeners.append(listener)

    def schema_versions(self) -> list[int]:
        return [row[0] for row in self._read("SELECT version FROM schema_migrations ORDER BY 1")]

    # reports -------------------------------------------------------------------

    def new_reports(self, batch: ReportBatch) -> ReportBatch:
        """The rows of `batch` not stored yet (nor queued, nor earlier in the batch),
        each with an id. A report's id is its observer's own: another party's report
        with the same id is a different report."""
        batch = with_ids(batch)
        ids = report_keys(batch)
        known: set[tuple[str, str]] = set()
        unique = list(dict.fromkeys(ids))
        by_observer: dict[str, list[str]] = {}
        for observer, report_id in unique:
            by_observer.setdefault(observer, []).append(report_id)
        connection = self._reader()
        for observer, observed in by_observer.items():
            for start in range(0, len(observed), _ID_CHUNK):
                chunk = observed[start : start + _ID_CHUNK]
                marks = ",".join("?" * len(chunk))
                known.update(
                    (observer, row[0])
                    for row in connection.execute(
                        f"SELECT id FROM reports WHERE observer = ? AND id IN ({marks})",
                        [observer, *chunk],
                    )
                )
        with self._lock:
            if self._pending:
                asked = set(unique)
                for queued in self._pending.values():
                    known.update(asked.intersection(queued))
        keep: list[int] = []
        seen: set[tuple[str, str]] = set()
        for i, rid in enumerate(ids):
            if rid in known or rid in seen:
                continue
            seen.add(rid)
            keep.append(i)
        if len(keep) == len(ids):
            return batch
        return batch.take(np.asarray(keep, dtype=np.intp))

    def submit_batch(
        self,
        batch: ReportBatch,
        events: list[AlertEvent],
        clock: datetime | None = None,
        keys: set[tuple[str, str]] | None = None,
    ) -> Future[tuple[IngestResult, list[StoredEvent]]]:
        """Queue the reports and the events they caused for one transaction.

        `clock` is the time the engine was advanced to before the batch (live mode);
        a rebuilt engine advances to it again at the same point.

        Until it commits, the ids count as stored for `new_reports`, so that a report
        sent twice in quick succession reaches the engine once. `keys`, when the caller
        has them already, are the batch's (observer, id) pairs.
        """
        batch = with_ids(batch)
        if keys is None:
            keys = set(report_keys(batch))
        with self._lock:
            number = self._next_batch
            self._next_batch += 1
            self._pending[number] = keys
        stored: list[StoredEvent] = []

        def job(c: sqlite3.Connection) -> tuple[IngestResult, list[StoredEvent]]:
            accepted = tables.insert_reports(c, batch, number)
            c.execute(
                "INSERT INTO batches (number, clock_us) VALUES (?, ?)",
                (number, None if clock is None else to_us(clock)),
            )
            stored.extend(tables.store_events(c, events, number, self._event_seq))
            return IngestResult(accepted, len(batch) - accepted), stored

        def after() -> None:
            self._release(number)
            if stored:
                for listener in self._listeners:
                    listener(stored)

        future: Future[tuple[IngestResult, list[StoredEvent]]] = self._writer.submit(job, after)
        future.add_done_callback(lambda f: self._release(number) if f.exception() else None)
        return future

    def _release(self, number: int) -> None:
        with self._lock:
            self._pending.pop(number, None)

    def commit_batch(
        self, batch: ReportBatch, events: list[AlertEvent], clock: datetime | None = None
    ) -> IngestResult:
        """Store the reports and the events they caused in one transaction."""
        return self.submit_batch(batch, events, clock).result()[0]

    def commit_change(
        self,
        change: Change,
        events: list[AlertEvent],
        clock: datetime | None = None,
        party: str | None = None,
    ) -> list[StoredEvent]:
        """Add a unit, line, site or actor, logged at this point of the ingest stream,
        with the alert events it raised; `party` is who added it, if one party did."""
        with self._lock:
            number = self._next_batch
            self._next_batch += 1
        kind = tables.CHANGE_KINDS[type(change)]
        logged: dict[str, object] = {"kind": kind, "value": change.model_dump(mode="json")}
        if party is not None:
            logged["party"] = party
        document = orjson.dumps(logged)
        stored: list[StoredEvent] = []

        def job(c: sqlite3.Connection) -> list[StoredEvent]:
            tables.PUT[kind](c, change)
            c.execute(
                "INSERT INTO batches (number, clock_us, change) VALUES (?, ?, ?)",
                (number, None if clock is None else to_us(clock), document),
            )
            stored.extend(tables.store_events(c, events, number, self._event_seq))
            return stored

        def after() -> None:
            if stored:
                for listener in self._listeners:
                    listener(stored)

        return list(self._writer.submit(job, after).result())

    def logged_changes(self) -> set[tuple[str, str]]:
        """(kind, id) of every agreement object added while a service ran."""
        rows = self._read("SELECT change FROM batches WHERE change IS NOT NULL")
        out: set[tuple[str, str]] = set()
        for (document,) in rows:
            data = orjson.loads(document)
            out.add((data["kind"], data["value"]["id"]))
        return out

    def change_parties(self, kind: str) -> dict[str, str]:
        """The id of every `kind` object a party added while a service ran, and the party."""
        rows = self._read("SELECT change FROM batches WHERE change IS NOT NULL")
        out: dict[str, str] = {}
        for (document,) in rows:
            data = orjson.loads(document)
            if data["kind"] == kind and "party" in data:
                out[data["value"]["id"]] = data["party"]
        return out

    def ingest_log(self) -> Iterator[LoggedBatch]:
        """Every committed batch in order, with its clock: what rebuilds an engine."""
        log = self._read("SELECT number, clock_us, change FROM batches ORDER BY number")
        batches = self.report_batches_numbered()
        pending = next(batches, None)
        for number, clock_us, document in log:
            reports = ReportBatch.empty()
            if pending is not None and pending[0] == number:
                reports = pending[1]
                pending = next(batches, None)
            change = None
            if document is not None:
                data = orjson.loads(document)
                change = tables.CHANGE_MODELS[data["kind"]].model_validate(data["value"])
            clock = None if clock_us is None else from_us(clock_us)
            yield LoggedBatch(number, clock, reports, change)

    def report_batches(self) -> Iterator[ReportBatch]:
        """The stored reports in the batches they came in, in ingest order."""
        for _, batch in self.report_batches_numbered():
            yield batch

    def report_batches_numbered(self) -> Iterator[tuple[int, ReportBatch]]:
        connection = self._open()
        try:
            cursor = connection.execute(
                f"SELECT seq, batch, {REPORT_COLUMNS} FROM reports ORDER BY seq"
            )
            current: int | None = None
            rows: list[tuple[Any, ...]] = []
            while True:
                chunk = cursor.fetchmany(10000)
                if not chunk:
                    break
                # the whole table passes here: the track index takes it on the way
                self._tracks.add((r[0], r[3], r[5], r[4]) for r in chunk)
                for row in chunk:
                    if row[1] != current and rows:
                        yield int(current or 0), batch_from_rows(rows)
                        rows = []
                    current = row[1]
                    rows.append(row[2:])
            if rows:
                yield int(current or 0), batch_from_rows(rows)
        finally:
            connection.close()

    def first_report_time(self, observer: str | None = None) -> datetime | None:
        if observer is None:
            value = self._read("SELECT MIN(time_us) FROM reports")[0][0]
        else:
            query = "SELECT MIN(time_us) FROM reports WHERE observer = ?"
            value = self._read(query, (observer,))[0][0]
        return None if value is None else from_us(value)

    def report_count(self, observer: str | None = None) -> int:
        if observer is None:
            return int(self._read("SELECT COUNT(*) FROM reports")[0][0])
        query = "SELECT COUNT(*) FROM reports WHERE observer = ?"
        return int(self._read(query, (observer,))[0][0])

    def track(
        self, party: str, unit: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[Report]:
        """One unit's reports in `party`'s picture, in time order."""
        low = to_us(since) if since else -(2**62)
        high = to_us(until) if until else 2**62
        connection = self._reader()
        self._tracks.catch_up(connection)
        seqs = self._tracks.seqs(party, unit, low, high)
        return [report_from_row(r) for r in rows_by_seq(connection, REPORT_COLUMNS, seqs)]

    def latest_reports(self, party: str, at: datetime | None = None) -> list[Report]:
        """Each unit's last report in `party`'s picture as of `at`, carrying the unit's
        last reported strength and equipment."""
        high = to_us(at) if at else 2**62
        latest = "ROW_NUMBER() OVER (PARTITION BY unit ORDER BY time_us DESC, seq DESC) AS n"
        base = "FROM reports WHERE observer = ? AND time_us <= ?"
        rows = self._read(
            f"SELECT {REPORT_COLUMNS} FROM (SELECT *, {latest} {base}) WHERE n = 1 ORDER BY unit",
            (party, high),
        )
        strengths = dict(
            self._read(
                f"SELECT unit, strength FROM (SELECT *, {latest} {base} AND strength IS NOT NULL)"
                " WHERE n = 1",
                (party, high),
            )
        )
        equipment = dict(
            self._read(
                f"SELECT unit, equipment FROM (SELECT *, {latest} {base}"
                " AND equipment IS NOT NULL) WHERE n = 1",
                (party, high),
            )
        )
        out: list[Report] = []
        for row in rows:
            report = report_from_row(row)
            e = equipment.get(report.unit)
            out.append(
                report.model_copy(
                    update={
                        "strength": strengths.get(report.unit),
                        "equipment": None if e is None else orjson.loads(e),
                    }
                )
            )
        return out
