"""Report rows written with shared values bound once read back exactly as they went in."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deconfliction.batch import ReportBatch
from deconfliction.model import Report
from deconfliction.store import SQLiteStore, tables

T0 = datetime(2018, 2, 7, 20, 0, tzinfo=UTC)


def report(i: int, **extra: Any) -> Report:
    return Report.model_validate(
        {
            "id": f"r{i}",
            "time": T0 + timedelta(seconds=i % 7),
            "unit": f"u{i % 5}",
            "lon": 40.0 + i / 997,
            "lat": 35.0 - i / 991,
            **extra,
        }
    )


def columns(batch: ReportBatch) -> list[tuple[Any, ...]]:
    return list(
        zip(
            batch.report_id.tolist(),
            batch.observer.tolist(),
            batch.time_us.tolist(),
            batch.unit.tolist(),
            batch.lon.tolist(),
            batch.lat.tolist(),
            batch.strength.tolist(),
            batch.equipment or [None] * len(batch),
            batch.source.tolist(),
            batch.rating.tolist(),
            strict=True,
        )
    )


SHAPES: dict[str, list[Report]] = {
    "one report": [report(0, strength=4, source="drone", rating="B2", equipment={"tank": 1})],
    "nothing optional": [report(i) for i in range(600)],
    "one observer, mixed optional columns": [
        report(
            i,
            strength=None if i % 3 else i,
            equipment={"tank": i} if i % 4 == 0 else None,
            source="patrol" if i % 2 else None,
            rating="C3",
        )
        for i in range(517)
    ],
    "two observers": [
        report(i, observer="coalition" if i % 2 else "russia", strength=7) for i in range(260)
    ],
    "one shared time and unit": [
        report(i).model_copy(update={"time": T0, "unit": "u0"}) for i in range(251)
    ],
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_rows_read_back_as_written(tmp_path: Path, shape: str) -> None:
    batch = ReportBatch.from_reports(SHAPES[shape], default_observer="coalition")
    with SQLiteStore(tmp_path / "rows.sqlite") as store:
        result = store.commit_batch(batch, [])
        assert (result.accepted, result.duplicates) == (len(batch), 0)
        assert store.commit_batch(batch, []).duplicates == len(batch)
        (stored,) = list(store.report_batches())
    assert columns(stored) == columns(batch)


def test_a_batch_number_and_duplicates_inside_one_statement(tmp_path: Path) -> None:
    path = tmp_path / "raw.sqlite"
    SQLiteStore(path).close()
    connection = sqlite3.connect(path, isolation_level=None)
    first = ReportBatch.from_reports([report(i) for i in range(300)], "coalition")
    assert tables.insert_reports(connection, first, 7) == 300
    # the same ids again among new ones: only the new ones count
    again = ReportBatch.from_reports([report(i) for i in range(250, 560)], "coalition")
    assert tables.insert_reports(connection, again, 8) == 260
    numbers = connection.execute("SELECT batch, COUNT(*) FROM reports GROUP BY batch").fetchall()
    connection.close()
    assert numbers == [(7, 300), (8, 260)]
