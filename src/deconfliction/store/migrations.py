"""Versioned schema migrations, recorded in `schema_migrations`.

Versions 1-99 belong to the core store. Other packages add their tables with
`register_migration` (the hotline takes 100-199) before a store is opened; a store
applies every registered migration it has not recorded yet, in version order.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


CORE: tuple[Migration, ...] = (
    Migration(
        1,
        "reference data, reports, alerts, incidents, tokens",
        """
        CREATE TABLE parties (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL
        );
        CREATE TABLE actors (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL, party TEXT
        );
        CREATE TABLE units (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL,
            actor TEXT NOT NULL, kind TEXT NOT NULL, strength INTEGER NOT NULL,
            equipment TEXT NOT NULL
        );
        CREATE TABLE lines (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL,
            "left" TEXT NOT NULL, "right" TEXT NOT NULL, buffer_m REAL NOT NULL,
            coordinates TEXT NOT NULL
        );
        CREATE TABLE sites (
            id TEXT PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL,
            party TEXT NOT NULL, kind TEXT NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL,
            personnel INTEGER NOT NULL, priority TEXT NOT NULL
        );
        CREATE TABLE settings (
            id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT NOT NULL
        );
        CREATE TABLE reports (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            batch INTEGER NOT NULL,
            observer TEXT NOT NULL,
            time_us INTEGER NOT NULL,
            unit TEXT NOT NULL,
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            strength INTEGER,
            equipment TEXT,
            source TEXT,
            rating TEXT
        );
        CREATE INDEX reports_track ON reports (observer, unit, time_us);
        CREATE INDEX reports_time ON reports (observer, time_us);
        CREATE TABLE alerts (
            num INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            party TEXT NOT NULL,
            rule TEXT NOT NULL,
            severity TEXT NOT NULL,
            state TEXT NOT NULL,
            time_us INTEGER NOT NULL,
            document TEXT NOT NULL
        );
        CREATE INDEX alerts_party ON alerts (party, num);
        CREATE TABLE alert_events (
            id INTEGER PRIMARY KEY,
            party TEXT NOT NULL,
            seq INTEGER NOT NULL,
            alert TEXT NOT NULL,
            batch INTEGER,
            time_us INTEGER NOT NULL,
            document TEXT NOT NULL,
            UNIQUE (party, seq)
        );
        CREATE INDEX alert_events_alert ON alert_events (alert, id);
        CREATE TABLE alert_acks (
            id INTEGER PRIMARY KEY,
            alert TEXT NOT NULL,
            party TEXT NOT NULL,
            who TEXT NOT NULL,
            at_us INTEGER NOT NULL
        );
        CREATE INDEX alert_acks_alert ON alert_acks (alert);
        CREATE TABLE incidents (
            id TEXT PRIMARY KEY,
            party TEXT,
            time_us INTEGER NOT NULL,
            document TEXT NOT NULL
        );
        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            party TEXT NOT NULL,
            role TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            created_us INTEGER NOT NULL,
            revoked_us INTEGER
        );
        """,
    ),
    Migration(
        2,
        "ingest log: the engine clock of every committed batch",
        """
        CREATE TABLE batches (number INTEGER PRIMARY KEY, clock_us INTEGER);
        INSERT INTO batches (number) SELECT DISTINCT batch FROM reports;
        """,
    ),
    Migration(
        3,
        "ingest log: agreement changes (units, lines, sites) at their place in the stream",
        """
        ALTER TABLE batches ADD COLUMN change TEXT;
        """,
    ),
    Migration(
        4,
        "report ids are the observer's own: unique per (observer, id)",
        """
        CREATE TABLE reports_by_observer (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            batch INTEGER NOT NULL,
            observer TEXT NOT NULL,
            time_us INTEGER NOT NULL,
            unit TEXT NOT NULL,
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            strength INTEGER,
            equipment TEXT,
            source TEXT,
            rating TEXT,
            UNIQUE (observer, id)
        );
        INSERT INTO reports_by_observer SELECT seq, id, batch, observer, time_us, unit, lon,
            lat, strength, equipment, source, rating FROM reports;
        DROP TABLE reports;
        ALTER TABLE reports_by_observer RENAME TO reports;
        CREATE INDEX reports_track ON reports (observer, unit, time_us);
        CREATE INDEX reports_time ON reports (observer, time_us);
        """,
    ),
    Migration(
        5,
        "incident ids are their party's own: unique per (party, id)",
        """
        CREATE TABLE incidents_by_party (
            id TEXT NOT NULL,
            party TEXT,
            time_us INTEGER NOT NULL,
            document TEXT NOT NULL,
            UNIQUE (party, id)
        );
        INSERT INTO incidents_by_party SELECT id, party, time_us, document FROM incidents;
        DROP TABLE incidents;
        ALTER TABLE incidents_by_party RENAME TO incidents;
        """,
    ),
    Migration(
        6,
        "tracks come from an index in memory: no (observer, unit, time) index to write",
        """
        DROP INDEX IF EXISTS reports_track;
        """,
    ),
)

_registered: dict[int, Migration] = {m.version: m for m in CORE}


def register_migration(version: int, name: str, sql: str) -> None:
    """Add a migration of another package (the hotline uses versions 100-199)."""
    if version < 100:
        raise ValueError("versions below 100 belong to the core store")
    known = _registered.get(version)
    if known is not None and known.sql != sql:
        raise ValueError(f"migration {version} is already registered as '{known.name}'")
    _registered[version] = Migration(version, name, sql)


def migrations() -> list[Migration]:
    return [_registered[v] for v in sorted(_registered)]


def migrate(connection: sqlite3.Connection, available: list[Migration] | None = None) -> list[int]:
    """Apply the migrations not yet recorded; the versions applied, in order."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
    )
    done = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
    applied: list[int] = []
    for migration in migrations() if available is None else available:
        if migration.version in done:
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    # executescript would commit the open transaction; split so a failed migration
    # rolls back whole.
    return [s.strip() for s in sql.split(";") if s.strip()]
