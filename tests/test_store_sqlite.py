"""The SQLite store on real files: idempotent reports, events, reopening, readers."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from deconfliction.batch import ReportBatch
from deconfliction.model import (
    Actor,
    AlertEvent,
    AlertState,
    Incident,
    Line,
    Party,
    Report,
    Settings,
    Site,
    Unit,
)
from deconfliction.store import AlertQuery, Reference, Role, SQLiteStore
from deconfliction.store.migrations import CORE, Migration, migrate

T0 = datetime(2018, 2, 7, 20, 0, tzinfo=UTC)


def reference() -> Reference:
    return Reference(
        parties=[Party(id="coalition", name="Coalition"), Party(id="russia", name="Russia")],
        actors=[
            Actor(id="sdf", name="SDF", party="coalition"),
            Actor(id="pro-regime", name="Pro-regime", party="russia"),
            Actor(id="isis", name="IS", party=None),
        ],
        units=[
            Unit(id="t72", name="Tank company", actor="pro-regime", kind="armor", strength=60),
            Unit(id="sdf-1", name="SDF battalion", actor="sdf", kind="infantry", strength=400),
        ],
        lines=[
            Line(
                id="euphrates",
                name="Euphrates",
                left="coalition",
                right="russia",
                coordinates=[(38.56, 35.87), (40.15, 35.34), (40.93, 34.45)],
            )
        ],
        sites=[
            Site(
                id="conoco-hq",
                name="Conoco HQ",
                party="coalition",
                kind="headquarters",
                lon=40.309,
                lat=35.336,
                priority="critical",
            )
        ],
        settings=Settings(stale_after_s=3600),
    )


def report(i: int, unit: str = "t72", observer: str = "coalition", **extra: object) -> Report:
    return Report.model_validate(
        {
            "time": T0 + timedelta(minutes=i),
            "unit": unit,
            "lon": 40.2 + i / 1000,
            "lat": 35.36,
            "observer": observer,
            **extra,
        }
    )


def batch(*reports: Report) -> ReportBatch:
    return ReportBatch.from_reports(list(reports), default_observer="coalition")


def event(
    kind: str, alert: str, minute: int, party: str = "coalition", **extra: object
) -> AlertEvent:
    return AlertEvent.model_validate(
        {
            "event": kind,
            "id": alert,
            "rule": "zone.violation",
            "severity": "high",
            "time": T0 + timedelta(minutes=minute),
            "party": party,
            "units": ["t72"],
            "line": "euphrates",
            "lon": 40.2,
            "lat": 35.36,
            "message": f"{alert} {kind}",
            **extra,
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(tmp_path / "store.sqlite")
    s.put_reference(reference())
    yield s  # type: ignore[misc]
    s.close()


def test_fresh_file_is_in_wal_mode_with_recorded_migrations(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    with SQLiteStore(path) as s:
        assert [v for v in s.schema_versions() if v < 100] == [1, 2, 3, 4, 5, 6]
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()
    with SQLiteStore(path) as s:
        assert [v for v in s.schema_versions() if v < 100] == [1, 2, 3, 4, 5, 6]


def test_migrations_apply_once_in_order_and_a_failed_one_changes_nothing(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "m.sqlite", isolation_level=None)
    extra = Migration(100, "messages", "CREATE TABLE hotline_messages (id TEXT PRIMARY KEY)")
    assert migrate(connection, [*CORE, extra]) == [1, 2, 3, 4, 5, 6, 100]
    assert migrate(connection, [*CORE, extra]) == []
    broken = Migration(101, "broken", "CREATE TABLE half (id TEXT); CREATE TABLE half (id TEXT)")
    with pytest.raises(sqlite3.OperationalError):
        migrate(connection, [*CORE, extra, broken])
    tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert "half" not in tables
    versions = [r[0] for r in connection.execute("SELECT version FROM schema_migrations")]
    assert versions == [1, 2, 3, 4, 5, 6, 100]
    connection.close()


def test_reference_round_trip(store: SQLiteStore) -> None:
    assert store.reference() == reference()
    store.put_unit(Unit(id="new-unit", name="New", actor="isis"))
    assert [u.id for u in store.units()] == ["t72", "sdf-1", "new-unit"]


def test_reports_are_idempotent_by_id_and_within_a_batch(store: SQLiteStore) -> None:
    first = batch(report(0, id="r-0"), report(1, id="r-1"))
    assert len(store.new_reports(first)) == 2
    result = store.commit_batch(store.new_reports(first), [])
    assert (result.accepted, result.duplicates) == (2, 0)
    again = batch(report(1, id="r-1"), report(2, id="r-2"), report(2, id="r-2"))
    fresh = store.new_reports(again)
    assert fresh.report_id.tolist() == ["r-2"]
    assert store.commit_batch(fresh, []).accepted == 1
    # committing an already stored id anyway stores nothing twice
    result = store.commit_batch(batch(report(0, id="r-0")), [])
    assert (result.accepted, result.duplicates) == (0, 1)
    assert store.report_count() == 3


def test_reports_without_id_get_a_deterministic_one(store: SQLiteStore) -> None:
    fresh = store.new_reports(batch(report(0), report(0), report(1)))
    ids = fresh.report_id.tolist()
    assert len(ids) == 2 and all(i.startswith("h-") for i in ids)
    store.commit_batch(fresh, [])
    assert len(store.new_reports(batch(report(0), report(1)))) == 0
    assert len(store.new_reports(batch(report(0, strength=5)))) == 1


def test_queued_ids_count_as_stored(store: SQLiteStore) -> None:
    gate = threading.Event()
    store._writer.submit(lambda c: gate.wait(5))
    pending = store.submit_batch(batch(report(0, id="r-q")), [])
    assert len(store.new_reports(batch(report(0, id="r-q")))) == 0
    gate.set()
    assert pending.result(5)[0].accepted == 1
    assert len(store.new_reports(batch(report(0, id="r-q")))) == 0


def test_report_batches_come_back_in_their_batches_and_order(store: SQLiteStore) -> None:
    batches = [
        batch(report(3, id="a", strength=7, equipment={"tank": 3}), report(1, id="b")),
        batch(report(2, unit="sdf-1", id="c", source="MQ-9", rating="B2")),
        batch(report(0, id="d", observer="russia")),
    ]
    for b in batches:
        store.commit_batch(b, [])
    back = list(store.report_batches())
    assert [b.report_id.tolist() for b in back] == [["a", "b"], ["c"], ["d"]]
    for original, stored in zip(batches, back, strict=True):
        assert stored.to_reports() == original.to_reports()
        assert np.array_equal(stored.time_us, original.time_us)


def test_events_fold_into_alerts_with_a_sequence_per_party(store: SQLiteStore) -> None:
    store.commit_batch(
        batch(report(0, id="r0")),
        [event("open", "a-1", 0), event("open", "a-2", 0, party="russia")],
    )
    store.commit_batch(batch(report(1, id="r1")), [event("updated", "a-1", 1, severity="critical")])
    store.commit_batch(batch(report(2, id="r2")), [event("resolved", "a-1", 2)])
    assert [e.seq for e in store.events_since("coalition", 0)] == [1, 2, 3]
    assert [e.seq for e in store.events_since("russia", 0)] == [1]
    assert [e.event.event for e in store.events_since("coalition", 1)] == ["updated", "resolved"]
    alert = store.alert("coalition", "a-1")
    assert alert is not None
    assert alert.state == AlertState.RESOLVED
    assert alert.severity == "high"
    assert alert.opened == T0 and alert.updated == T0 + timedelta(minutes=2)
    assert store.alert("russia", "a-1") is None
    then = store.alerts_at("coalition", T0 + timedelta(minutes=1))
    assert [(a.id, a.state, a.severity) for a in then] == [("a-1", "open", "critical")]
    assert store.alerts_at("coalition", T0 - timedelta(minutes=1)) == []
    assert [e.event.event for e in store.alert_events("coalition", "a-1")] == [
        "open",
        "updated",
        "resolved",
    ]


def test_alert_pages_follow_the_cursor(store: SQLiteStore) -> None:
    events = [event("open", f"a-{i}", i) for i in range(1, 8)]
    events.append(event("resolved", "a-3", 9))
    store.commit_batch(batch(report(0, id="r")), events)
    seen: list[str] = []
    after = None
    while True:
        page = store.alerts(AlertQuery(party="coalition", after=after, limit=3))
        seen += [a.id for a in page.alerts]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [f"a-{i}" for i in range(1, 8)]
    open_only = store.alerts(AlertQuery(party="coalition", state=AlertState.OPEN, limit=100))
    assert "a-3" not in [a.id for a in open_only.alerts]
    since = store.alerts(AlertQuery(party="coalition", since=T0 + timedelta(minutes=6)))
    assert [a.id for a in since.alerts] == ["a-3", "a-6", "a-7"]


def test_track_and_latest_reports(store: SQLiteStore) -> None:
    store.commit_batch(
        batch(
            report(0, id="a", strength=50, equipment={"tank": 2}),
            report(2, id="b"),
            report(1, id="c", unit="sdf-1"),
            report(5, id="d", observer="russia"),
        ),
        [],
    )
    track = store.track("coalition", "t72")
    assert [r.id for r in track] == ["a", "b"]
    assert store.track("coalition", "t72", since=T0 + timedelta(minutes=1))[0].id == "b"
    latest = {r.unit: r for r in store.latest_reports("coalition", T0 + timedelta(minutes=3))}
    assert latest["t72"].id == "b" and latest["t72"].strength == 50
    assert latest["t72"].equipment == {"tank": 2}
    early = store.latest_reports("coalition", T0)
    assert [r.id for r in early] == ["a"]


def test_incidents_and_acks_belong_to_their_party(store: SQLiteStore) -> None:
    mine = Incident(id="i-1", time=T0, kind="attack", lon=40.3, lat=35.3, party="coalition")
    public = Incident(id="i-2", time=T0, kind="clash", lon=40.3, lat=35.3)
    store.put_incident(mine)
    store.put_incident(public)
    assert [i.id for i in store.incidents("coalition")] == ["i-1", "i-2"]
    assert [i.id for i in store.incidents("russia")] == ["i-2"]
    assert store.incident("russia", "i-1") is None
    with pytest.raises(sqlite3.IntegrityError):
        store.put_incident(mine)


def test_tokens_are_stored_hashed_and_revocable(store: SQLiteStore) -> None:
    token_id = store.add_token("coalition", Role.OPERATOR, "ab" * 32, T0)
    found = store.token_by_hash("ab" * 32)
    assert found is not None and found[0].role == Role.OPERATOR and found[0].revoked is None
    assert store.revoke_token(token_id, T0)
    assert not store.revoke_token(token_id, T0)
    found = store.token_by_hash("ab" * 32)
    assert found is not None and found[0].revoked == T0


def test_reads_do_not_wait_for_the_writer(store: SQLiteStore) -> None:
    def slow(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO parties (id, position, name) VALUES ('slow', 9, 'Slow')")
        time.sleep(1.0)

    pending = store._writer.submit(slow)
    time.sleep(0.1)
    started = time.perf_counter()
    assert [p.id for p in store.parties()] == ["coalition", "russia"]
    assert time.perf_counter() - started < 0.5
    pending.result(5)
    assert [p.id for p in store.parties()] == ["coalition", "russia", "slow"]


def test_a_failing_write_rolls_back_alone(store: SQLiteStore) -> None:
    bad = store._writer.submit(lambda c: c.execute("INSERT INTO nowhere VALUES (1)"))
    good = store.submit_batch(batch(report(0, id="ok")), [event("open", "a-1", 0)])
    with pytest.raises(sqlite3.OperationalError):
        bad.result(5)
    assert good.result(5)[0].accepted == 1
    assert store.events_since("coalition", 0)[0].seq == 1


def test_a_bad_sync_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "x.sqlite", synchronous="off")  # type: ignore[arg-type]


def test_the_ingest_log_keeps_clocks_and_empty_batches(store: SQLiteStore) -> None:
    store.commit_batch(batch(report(0, id="a")), [], clock=T0)
    store.commit_batch(batch(), [event("open", "a-1", 5)], clock=T0 + timedelta(minutes=5))
    store.commit_batch(batch(report(1, id="b")), [])
    log = list(store.ingest_log())
    assert [(b.number, b.clock) for b in log] == [
        (1, T0),
        (2, T0 + timedelta(minutes=5)),
        (3, None),
    ]
    assert [b.reports.report_id.tolist() for b in log] == [["a"], [], ["b"]]


def test_agreement_changes_are_logged_in_the_stream(store: SQLiteStore) -> None:
    store.commit_batch(batch(report(0, id="a")), [])
    unit = Unit(id="ghost", name="Ghost", actor="isis", strength=30)
    stored = store.commit_change(unit, [event("open", "a-1", 1)], clock=T0)
    assert [e.seq for e in stored] == [1]
    assert store.units()[-1] == unit
    log = list(store.ingest_log())
    assert [b.change for b in log] == [None, unit]
    assert log[1].clock == T0 and len(log[1].reports) == 0
    assert store.logged_changes() == {("unit", "ghost")}


def test_batch_numbers_continue_after_batches_without_reports(tmp_path: Path) -> None:
    path = tmp_path / "numbers.sqlite"
    with SQLiteStore(path) as s:
        s.put_reference(reference())
        s.commit_batch(batch(report(0, id="a")), [])
        s.commit_batch(batch(), [event("open", "a-1", 1)], clock=T0)
        s.commit_change(Unit(id="late", name="Late", actor="isis"), [])
    with SQLiteStore(path) as s:
        s.commit_batch(batch(), [event("resolved", "a-1", 2)], clock=T0)
        s.commit_batch(batch(report(1, id="b")), [])
        assert [b.number for b in s.ingest_log()] == [1, 2, 3, 4, 5]
