"""Writes of single rows and of alert events, run inside the writer's transactions."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any

import orjson

from ..batch import ReportBatch, to_us
from ..model import Actor, Alert, AlertEvent, Line, Party, Site, Unit
from .base import StoredEvent
from .rows import fold


def position(c: sqlite3.Connection, table: str, key: str) -> int:
    row = c.execute(f"SELECT position FROM {table} WHERE id = ?", (key,)).fetchone()
    if row is not None:
        return int(row[0])
    return int(c.execute(f"SELECT COALESCE(MAX(position), -1) + 1 FROM {table}").fetchone()[0])


def put_party(c: sqlite3.Connection, party: Party) -> None:
    c.execute(
        "INSERT OR REPLACE INTO parties (id, position, name) VALUES (?, ?, ?)",
        (party.id, position(c, "parties", party.id), party.name),
    )


def put_actor(c: sqlite3.Connection, actor: Actor) -> None:
    c.execute(
        "INSERT OR REPLACE INTO actors (id, position, name, party) VALUES (?, ?, ?, ?)",
        (actor.id, position(c, "actors", actor.id), actor.name, actor.party),
    )


def put_unit(c: sqlite3.Connection, unit: Unit) -> None:
    c.execute(
        "INSERT OR REPLACE INTO units (id, position, name, actor, kind, strength, equipment)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            unit.id,
            position(c, "units", unit.id),
            unit.name,
            unit.actor,
            str(unit.kind),
            unit.strength,
            orjson.dumps(unit.equipment),
        ),
    )


def put_line(c: sqlite3.Connection, line: Line) -> None:
    c.execute(
        'INSERT OR REPLACE INTO lines (id, position, name, "left", "right", buffer_m, coordinates)'
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            line.id,
            position(c, "lines", line.id),
            line.name,
            line.left,
            line.right,
            line.buffer_m,
            orjson.dumps([list(p) for p in line.coordinates]),
        ),
    )


def put_site(c: sqlite3.Connection, site: Site) -> None:
    c.execute(
        "INSERT OR REPLACE INTO sites (id, position, name, party, kind, lon, lat, personnel,"
        " priority) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            site.id,
            position(c, "sites", site.id),
            site.name,
            site.party,
            str(site.kind),
            site.lon,
            site.lat,
            site.personnel,
            str(site.priority),
        ),
    )


CHANGE_KINDS: dict[type, str] = {Unit: "unit", Line: "line", Site: "site", Actor: "actor"}
CHANGE_MODELS: dict[str, type[Unit] | type[Line] | type[Site] | type[Actor]] = {
    "unit": Unit,
    "line": Line,
    "site": Site,
    "actor": Actor,
}
PUT: dict[str, Callable[[sqlite3.Connection, Any], None]] = {
    "unit": put_unit,
    "line": put_line,
    "site": put_site,
    "actor": put_actor,
}


def store_events(
    c: sqlite3.Connection, events: list[AlertEvent], batch: int, counters: dict[str, int]
) -> list[StoredEvent]:
    """Append the events and fold them into the alerts' current state."""
    if not events:
        return []
    seqs = dict(counters)
    stored: list[StoredEvent] = []
    rows: list[tuple[Any, ...]] = []
    current: dict[str, Alert | None] = {}
    for event in events:
        seq = seqs.get(event.party, 0) + 1
        seqs[event.party] = seq
        stored.append(StoredEvent(seq, event))
        rows.append((event.party, seq, event.id, batch, to_us(event.time), event.model_dump_json()))
        if event.id not in current:
            row = c.execute("SELECT document FROM alerts WHERE id = ?", (event.id,)).fetchone()
            current[event.id] = None if row is None else Alert.model_validate_json(row[0])
        current[event.id] = fold(current[event.id], event)
    c.executemany(
        "INSERT INTO alert_events (party, seq, alert, batch, time_us, document)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    for alert in current.values():
        assert alert is not None
        c.execute(
            "INSERT INTO alerts (id, party, rule, severity, state, time_us, document)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " severity = excluded.severity, state = excluded.state,"
            " time_us = excluded.time_us, document = excluded.document",
            (
                alert.id,
                alert.party,
                str(alert.rule),
                str(alert.severity),
                str(alert.state),
                to_us(alert.updated),
                alert.model_dump_json(),
            ),
        )
    # Only now that every statement went through do the counters move on.
    counters.update(seqs)
    return stored


ROWS_PER_STATEMENT = 250
"""Each statement step gives up the interpreter lock and must take it back, behind the
engine and the event loop: a step per 250 rows instead of per row keeps the writer from
queueing for the lock a thousand times a batch."""


def insert_reports(c: sqlite3.Connection, batch: ReportBatch, number: int) -> int:
    """Insert a batch's reports under batch `number`, duplicates ignored; how many were new.

    A value every row shares (the batch number, the observer, a strength or source no
    report carries) is bound once per statement rather than once per row: binding
    parameters holds the interpreter lock and cost the writer as much as SQLite's own
    work on the rows.
    """
    n = len(batch)
    if not n:
        return 0
    strength = batch.strength
    columns: dict[str, list[Any]] = {
        "id": batch.report_id.tolist(),
        "time_us": batch.time_us.tolist(),
        "unit": batch.unit.tolist(),
        "lon": batch.lon.tolist(),
        "lat": batch.lat.tolist(),
        "observer": batch.observer.tolist(),
        "strength": [None]
        if bool((strength < 0).all())
        else [None if s < 0 else s for s in strength.tolist()],
        "equipment": [None]
        if batch.equipment is None
        else [None if e is None else orjson.dumps(e) for e in batch.equipment],
        "source": batch.source.tolist(),
        "rating": batch.rating.tolist(),
    }
    shared: dict[str, Any] = {"batch": number}
    per_row: dict[str, list[Any]] = {}
    for name, values in columns.items():
        if len(values) == 1 or (name != "id" and values.count(values[0]) == n):
            shared[name] = values[0]
        else:
            per_row[name] = values
    width = len(per_row)
    flat: list[Any] = [None] * (n * width)
    for k, values in enumerate(per_row.values()):
        flat[k::width] = values
    names = (tuple(shared), tuple(per_row))
    head = list(shared.values())
    before = c.total_changes
    step = ROWS_PER_STATEMENT
    full = n // step * step
    if full:
        c.executemany(
            _insert_sql(*names, step),
            [head + flat[i * width : (i + step) * width] for i in range(0, full, step)],
        )
    if n > full:
        c.execute(_insert_sql(*names, n - full), head + flat[full * width :])
    return c.total_changes - before


@functools.lru_cache(maxsize=64)
def _insert_sql(shared: tuple[str, ...], per_row: tuple[str, ...], rows: int) -> str:
    # ?1..?k name the shared values in every row; a bare ? after them takes the next
    # number, so each row's own values follow on from the previous row's
    marks = ",".join([f"?{i + 1}" for i in range(len(shared))] + ["?"] * len(per_row))
    return f"INSERT OR IGNORE INTO reports ({', '.join((*shared, *per_row))}) VALUES " + ",".join(
        [f"({marks})"] * rows
    )
