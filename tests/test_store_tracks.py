"""Tracks served from the in-memory index agree with the reports table itself."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from deconfliction.batch import ReportBatch
from deconfliction.model import Report
from deconfliction.store import SQLiteStore

T0 = datetime(2018, 2, 7, 20, 0, tzinfo=UTC)
UNITS = ["t72", "sdf-1", "bmp"]


def random_batch(rng: np.random.Generator, start: int, size: int) -> ReportBatch:
    reports = [
        Report.model_validate(
            {
                "id": f"r{start + i}",
                # few distinct minutes: many reports of a unit share a time
                "time": T0 + timedelta(minutes=int(rng.integers(0, 6))),
                "unit": UNITS[int(rng.integers(0, len(UNITS)))],
                "lon": 40.0 + float(rng.random()),
                "lat": 35.0 + float(rng.random()),
                "observer": "coalition" if rng.random() < 0.7 else "russia",
            }
        )
        for i in range(size)
    ]
    return ReportBatch.from_reports(reports, default_observer="coalition")


def table_track(path: Path, party: str, unit: str, low: int, high: int) -> list[str]:
    """The track as the table orders it: what the dropped index used to answer."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT id FROM reports WHERE observer = ? AND unit = ? AND time_us BETWEEN ? AND ?"
            " ORDER BY time_us, seq",
            (party, unit, low, high),
        ).fetchall()
    finally:
        connection.close()
    return [r[0] for r in rows]


def us(minutes: int) -> int:
    return int((T0 + timedelta(minutes=minutes)).timestamp() * 1_000_000)


def check_every_track(store: SQLiteStore, path: Path) -> int:
    checked = 0
    for party in ("coalition", "russia"):
        for unit in [*UNITS, "unknown"]:
            for since, until in [(None, None), (1, None), (None, 3), (2, 2), (4, 1)]:
                got = store.track(
                    party,
                    unit,
                    None if since is None else T0 + timedelta(minutes=since),
                    None if until is None else T0 + timedelta(minutes=until),
                )
                low = -(2**62) if since is None else us(since)
                high = 2**62 if until is None else us(until)
                assert [r.id for r in got] == table_track(path, party, unit, low, high)
                assert all(r.observer == party and r.unit == unit for r in got)
                checked += len(got)
    return checked


def test_tracks_follow_commits_made_after_the_first_query(tmp_path: Path) -> None:
    path = tmp_path / "tracks.sqlite"
    rng = np.random.default_rng(7)
    with SQLiteStore(path) as store:
        assert store.track("coalition", "t72") == []
        for k in range(5):
            store.commit_batch(random_batch(rng, k * 40, 40), [])
            assert check_every_track(store, path) > 0
        # a duplicate id is ignored by the table, and so by the track
        again = random_batch(np.random.default_rng(7), 0, 40)
        assert store.commit_batch(again, []).duplicates == 40
        assert check_every_track(store, path) > 0


def test_tracks_are_read_back_from_the_file_when_a_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "tracks.sqlite"
    rng = np.random.default_rng(11)
    with SQLiteStore(path) as store:
        for k in range(3):
            store.commit_batch(random_batch(rng, k * 50, 50), [])
        before = {unit: [r.id for r in store.track("coalition", unit)] for unit in UNITS}
    with SQLiteStore(path) as store:
        after = {unit: [r.id for r in store.track("coalition", unit)] for unit in UNITS}
        assert after == before
        assert sum(len(v) for v in after.values()) == store.report_count("coalition")
        store.commit_batch(random_batch(rng, 1000, 30), [])
        assert check_every_track(store, path) > 0


def test_a_track_carries_every_column_of_its_reports(tmp_path: Path) -> None:
    report = Report.model_validate(
        {
            "id": "full",
            "time": T0,
            "unit": "t72",
            "lon": 40.1,
            "lat": 35.2,
            "strength": 12,
            "equipment": {"tank": 3},
            "source": "drone",
            "rating": "B2",
        }
    )
    with SQLiteStore(tmp_path / "one.sqlite") as store:
        store.commit_batch(ReportBatch.from_reports([report], default_observer="coalition"), [])
        (got,) = store.track("coalition", "t72")
        assert got.model_dump() == report.model_copy(update={"observer": "coalition"}).model_dump()
        assert store.track("russia", "t72") == []


def test_the_track_index_is_not_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "schema.sqlite"
    SQLiteStore(path).close()
    connection = sqlite3.connect(path)
    indexes = {
        row[0]
        for row in connection.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'reports'")
    }
    connection.close()
    assert "reports_track" not in indexes
    assert "reports_time" in indexes


def test_the_engine_rebuild_scan_fills_the_index_alongside_track_queries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tracks.sqlite"
    rng = np.random.default_rng(5)
    with SQLiteStore(path) as store:
        for k in range(4):
            store.commit_batch(random_batch(rng, k * 30, 30), [])
    with SQLiteStore(path) as store:
        scan = store.report_batches()
        first = next(scan)
        assert len(first) == 30
        # a query in the middle of the scan reads the rest itself
        check_every_track(store, path)
        store.commit_batch(random_batch(rng, 500, 30), [])
        # the scan reads the table as it was when it began
        assert sum(len(b) for b in scan) == 90
        assert check_every_track(store, path) > 0
    with SQLiteStore(path) as store:
        assert sum(len(b) for b in store.report_batches()) == 150
        # filled by the scan alone, the index answers as the table does
        assert check_every_track(store, path) > 0
