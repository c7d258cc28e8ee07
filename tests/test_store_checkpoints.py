"""WAL checkpoints beside the writer: the WAL is copied back once it holds the mark."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deconfliction.batch import ReportBatch
from deconfliction.model import Report
from deconfliction.store import SQLiteStore
from deconfliction.store.checkpoints import Checkpoints, frames_to_copy
from deconfliction.store.sqlite import connect

T0 = datetime(2018, 2, 7, 20, 0, tzinfo=UTC)


def batch(start: int, size: int) -> ReportBatch:
    reports = [
        Report.model_validate(
            {
                "id": f"r{start + i}",
                "time": T0 + timedelta(seconds=start + i),
                "unit": f"u{i % 7}",
                "lon": 40.0 + i / 1000,
                "lat": 35.0,
            }
        )
        for i in range(size)
    ]
    return ReportBatch.from_reports(reports, default_observer="coalition")


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_pages_past_the_mark_are_copied_back_beside_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite"
    with SQLiteStore(path) as store:
        for k in range(5):
            store.commit_batch(batch(k * 500, 500), [])
        waiting = frames_to_copy(path)
        # far below the store's own mark: nothing copied back yet
        assert waiting > 20
        checkpoints = Checkpoints(path, lambda: connect(path), mark=20)
        try:
            checkpoints.committed()
            assert wait_for(lambda: frames_to_copy(path) == 0)
            assert checkpoints.runs == 1
            # below the mark again: the thread leaves the WAL alone
            store.commit_batch(batch(10_000, 1), [])
            checkpoints.committed()
            time.sleep(0.2)
            assert 0 < frames_to_copy(path) < 20
            assert checkpoints.runs == 1
        finally:
            checkpoints.close()
        assert store.report_count() == 2501
    with SQLiteStore(path) as store:
        assert store.report_count() == 2501


def test_no_wal_index_reads_as_nothing_to_copy(tmp_path: Path) -> None:
    assert frames_to_copy(tmp_path / "missing.sqlite") == 0
    (tmp_path / "short.sqlite-shm").write_bytes(b"\0" * 10)
    assert frames_to_copy(tmp_path / "short.sqlite") == 0
