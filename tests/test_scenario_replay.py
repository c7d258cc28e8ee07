"""Replay: batches per distinct time in time order, timed happenings woven in, a store continued."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from deconfliction.batch import ReportBatch, from_us
from deconfliction.engine import Engine
from deconfliction.model import AlertEvent
from deconfliction.scenario import LoadedScenario, ScenarioError, load_columns
from deconfliction.scenario.replay import Replay, batches_by_time, replay
from deconfliction.store import AlertQuery, SQLiteStore
from test_scenario_loader import EXAMPLE

EVENT_KEYS = [
    "event",
    "id",
    "rule",
    "severity",
    "time",
    "party",
    "units",
    "site",
    "line",
    "lon",
    "lat",
    "crossing",
    "message",
]


def crossing_scenario() -> dict[str, Any]:
    """The tank company south of the line, then across it; reports out of file order."""
    doc = copy.deepcopy(EXAMPLE)
    # one tank company is not a build-up: keep force.massing out of these replays
    doc["settings"] = {"massing_min_heavy": 20, "massing_min_strength": 1000}
    tank = {"unit": "t72-company", "observer": "coalition", "source": "MQ-9", "rating": "B2"}
    doc["reports"] = [
        {**tank, "time": "2018-02-07T20:00:00Z", "lon": 40.20, "lat": 35.40},
        {**tank, "time": "2018-02-07T19:00:00Z", "lon": 40.00, "lat": 35.20},
        {"time": "2018-02-07T19:00:00Z", "unit": "sdf-1", "lon": 40.30, "lat": 35.38},
        {**tank, "time": "2018-02-07T21:00:00Z", "lon": 40.00, "lat": 35.20},
    ]
    return doc


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedScenario:
    path = tmp_path / "crossing.yaml"
    path.write_text(yaml.safe_dump(crossing_scenario(), sort_keys=False))
    return load_columns(path)


class RecordingEngine(Engine):
    """An engine that remembers the batches it was given."""

    batches: list[ReportBatch]

    def ingest(self, batch: ReportBatch) -> list[AlertEvent]:
        self.batches.append(batch)
        return super().ingest(batch)


def test_one_batch_per_distinct_time_in_time_order(loaded: LoadedScenario) -> None:
    engine = RecordingEngine.from_scenario(loaded.scenario)
    assert isinstance(engine, RecordingEngine)
    engine.batches = []
    list(Replay(loaded, engine=engine).events())
    times = [sorted(set(b.time_us.tolist())) for b in engine.batches]
    assert [len(t) for t in times] == [1, 1, 1]
    assert [t[0] for t in times] == sorted(t[0] for t in times)
    assert [len(b) for b in engine.batches] == [2, 1, 1]


def test_batches_of_a_file_in_time_order_equal_those_sorted(loaded: LoadedScenario) -> None:
    ordered = loaded.reports.sorted_by_time()
    quick = [b.to_reports() for b in batches_by_time(ordered)]
    assert quick == [b.to_reports() for b in ordered.by_time()]
    assert quick == [b.to_reports() for b in batches_by_time(loaded.reports)]
    assert list(batches_by_time(ReportBatch.empty())) == []


def test_the_crossing_opens_and_resolves(loaded: LoadedScenario) -> None:
    events = list(replay(loaded))
    violation = [e for e in events if e["rule"] == "zone.violation"]
    assert [e["event"] for e in violation] == ["open", "resolved"]
    opened = violation[0]
    assert list(opened) == EVENT_KEYS
    assert opened["time"] == "2018-02-07T20:00:00Z"
    assert opened["units"] == ["t72-company"]
    crossing = opened["crossing"]
    assert crossing is not None
    assert "2018-02-07T19:00:00Z" < crossing["time"] < "2018-02-07T20:00:00Z"
    assert violation[1]["time"] == "2018-02-07T21:00:00Z"
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)


def test_replays_are_deterministic(loaded: LoadedScenario) -> None:
    assert list(replay(loaded)) == list(replay(loaded))


class Script:
    """A timeline of its own: one happening at each given time, recording the bounds."""

    def __init__(self, times: list[datetime]) -> None:
        self.pending = sorted(times)
        self.bounds: list[datetime | None] = []

    def until(self, bound: Any) -> list[dict[str, Any]]:
        self.bounds.append(bound)
        due = [t for t in self.pending if bound is None or t < bound]
        self.pending = [t for t in self.pending if t not in due]
        return [{"event": "scripted", "time": t.isoformat()} for t in due]


def test_a_timeline_is_woven_in_before_each_batch(loaded: LoadedScenario) -> None:
    batch_times = sorted({from_us(int(t)) for t in loaded.reports.time_us})
    first, second, third = batch_times
    script = Script([first, first.replace(minute=30), third, third.replace(hour=23)])
    kinds = [(e["event"], e["time"][:16]) for e in Replay(loaded, timeline=script).events()]
    assert script.bounds == [first, second, third, None]
    scripted = [i for i, (kind, _) in enumerate(kinds) if kind == "scripted"]
    # strictly before each batch: those at 19:00 and 19:30 come after the 19:00 batch
    # and before the 20:00 batch's open; the one at 21:00 (the last batch's own time)
    # comes after that batch's resolve, with the one at 23:00
    assert [kinds[i][1] for i in scripted] == [
        "2018-02-07T19:00",
        "2018-02-07T19:30",
        "2018-02-07T21:00",
        "2018-02-07T23:00",
    ]
    assert kinds[scripted[1] + 1] == ("open", "2018-02-07T20:00")
    assert kinds[scripted[2] - 1] == ("resolved", "2018-02-07T21:00")
    assert scripted[2:] == [len(kinds) - 2, len(kinds) - 1]


def test_a_store_is_continued_not_duplicated(loaded: LoadedScenario, tmp_path: Path) -> None:
    db = tmp_path / "replay.sqlite"
    with SQLiteStore(db) as store:
        first = list(Replay(loaded, store=store).events())
    assert first == list(replay(loaded))
    with SQLiteStore(db) as store:
        again = list(Replay(loaded, store=store).events())
        assert again == []
        assert store.report_count() == len(loaded.reports)
        stored = store.alerts(AlertQuery(party="coalition")).alerts
    engine = Engine.from_scenario(loaded.scenario)
    for batch in loaded.reports.by_time():
        engine.ingest(batch)
    expected = engine.alerts("coalition", open_only=False)
    assert [a.model_dump() for a in stored] == [a.model_dump() for a in expected]


def test_a_store_of_another_scenario_is_refused(loaded: LoadedScenario, tmp_path: Path) -> None:
    db = tmp_path / "replay.sqlite"
    with SQLiteStore(db) as store:
        list(Replay(loaded, store=store).events())
    other = crossing_scenario()
    other["sites"][0]["personnel"] = 41
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(other))
    with SQLiteStore(db) as store, pytest.raises(ScenarioError) as caught:
        Replay(load_columns(path), store=store)
    assert caught.value.lines == [
        f"{path}: the database holds another scenario (its sites differ): replay into a new file"
    ]
