"""One party's requests must neither disturb nor reveal another party's picture."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_support import Server, Tokens, make_database, start_server
from deconfliction.store.migrations import migrate, migrations

T = "2018-02-07T20:00:00Z"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Tokens]]:
    db, tokens = make_database(tmp_path_factory.mktemp("security"))
    server = start_server(db)
    try:
        yield server, tokens
    finally:
        server.stop()


def test_report_ids_belong_to_their_observer(world: tuple[Server, Tokens]) -> None:
    server, tokens = world
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    with server.client() as c:
        mine = {"id": "f1-r1", "unit": "t72", "time": T, "lon": 40.31, "lat": 35.33}
        # russia takes the id first: coalition's own report must still be stored
        r = c.post("/reports", json={**mine, "lon": 40.0, "lat": 35.0}, headers=ru)
        assert r.json() == {"accepted": 1, "duplicates": 0, "events": r.json()["events"]}
        r = c.post("/reports", json=mine, headers=co)
        assert (r.json()["accepted"], r.json()["duplicates"]) == (1, 0)
        # the same id from the same observer is still a duplicate
        r = c.post("/reports", json=mine, headers=co)
        assert (r.json()["accepted"], r.json()["duplicates"]) == (0, 1)
        track = c.get("/units/t72/track", headers=co).json()
        assert "f1-r1" in track["properties"]["reports"]


def test_migration_makes_report_ids_unique_per_observer(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    migrate(connection, [m for m in migrations() if m.version <= 3])
    connection.execute(
        "INSERT INTO reports (id, batch, observer, time_us, unit, lon, lat, strength)"
        " VALUES ('r1', 1, 'coalition', 5, 't72', 40.0, 35.0, 3)"
    )
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "INSERT INTO reports (id, batch, observer, time_us, unit, lon, lat)"
            " VALUES ('r1', 1, 'russia', 5, 't72', 40.0, 35.0)"
        )
    assert 4 in migrate(connection)
    rows = connection.execute("SELECT seq, id, observer, strength FROM reports").fetchall()
    assert rows == [(1, "r1", "coalition", 3)]
    connection.execute(
        "INSERT INTO reports (id, batch, observer, time_us, unit, lon, lat)"
        " VALUES ('r1', 1, 'russia', 5, 't72', 40.0, 35.0)"
    )
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "INSERT INTO reports (id, batch, observer, time_us, unit, lon, lat)"
            " VALUES ('r1', 2, 'russia', 6, 't72', 40.0, 35.0)"
        )
    indexes = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"reports_track", "reports_time"} <= indexes
    connection.close()
