"""A committed batch survives a kill -9 of the writing process, and a reopened file
gives the same reports and alerts back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from deconfliction.store import AlertQuery, SQLiteStore

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from deconfliction.batch import ReportBatch
    from deconfliction.model import AlertEvent, Report
    from deconfliction.store import SQLiteStore

    t0 = datetime(2018, 2, 7, tzinfo=UTC)
    store = SQLiteStore(sys.argv[1])
    n = 0
    while True:
        reports = [
            Report(id=f"r-{n}-{i}", time=t0 + timedelta(seconds=n), unit=f"u-{i}",
                   lon=40.0 + i / 100, lat=35.0, observer="coalition")
            for i in range(200)
        ]
        event = AlertEvent(event="open" if n == 0 else "updated", id="a-1",
                           rule="force.massing", severity="high",
                           time=t0 + timedelta(seconds=n), party="coalition",
                           units=[f"u-{n}"], message=f"batch {n}")
        batch = ReportBatch.from_reports(reports, default_observer="coalition")
        store.commit_batch(batch, [event])
        print(n, flush=True)
        n += 1
    """
)


def test_committed_batches_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    acknowledged = -1
    for line in process.stdout:
        acknowledged = int(line)
        if acknowledged >= 40:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    process.stdout.close()
    with SQLiteStore(path) as store:
        batches = list(store.report_batches())
        assert len(batches) >= acknowledged + 1
        for n, batch in enumerate(batches):
            assert batch.report_id.tolist() == [f"r-{n}-{i}" for i in range(200)]
        events = store.events_since("coalition", 0, limit=10_000)
        assert [e.seq for e in events] == list(range(1, len(batches) + 1))
        alert = store.alerts(AlertQuery(party="coalition")).alerts[0]
        assert alert.message == f"batch {len(batches) - 1}"
        # the file takes new writes where it left off
        store.commit_batch(batches[0].take(slice(0, 0)), [events[-1].event])
        assert store.last_event_seq("coalition") == len(batches) + 1
