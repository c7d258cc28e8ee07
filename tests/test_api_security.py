"""One party's requests must neither disturb nor reveal another party's picture."""

from __future__ import annotations

import base64
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from api_support import Server, Tokens, make_database, start_server
from deconfliction.batch import ReportBatch
from deconfliction.cli import app
from deconfliction.engine import Engine
from deconfliction.hotline import DeskKey, HotlineMessage
from deconfliction.model import Report, Site
from deconfliction.service.auth import Principal
from deconfliction.service.core import Service
from deconfliction.service.errors import Invalid
from deconfliction.service.ingest import Pending
from deconfliction.service.views import SiteIn
from deconfliction.store import SQLiteStore
from deconfliction.store.base import Role
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
    connection.execute(
        "INSERT INTO incidents (id, party, time_us, document) VALUES ('i1', 'russia', 5, '{}')"
    )
    assert {4, 5} <= set(migrate(connection))
    incidents = connection.execute("SELECT id, party, time_us, document FROM incidents")
    assert incidents.fetchall() == [("i1", "russia", 5, "{}")]
    connection.execute(
        "INSERT INTO incidents (id, party, time_us, document) VALUES ('i1', 'coalition', 5, '{}')"
    )
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
    # tracks are read from an index in memory (migration 6): only the time index is left
    assert "reports_time" in indexes
    assert "reports_track" not in indexes
    connection.close()


def test_a_unit_id_taken_by_another_party_is_refused_and_not_probed(
    world: tuple[Server, Tokens],
) -> None:
    server, tokens = world
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    decoy = {"unit": "f2-u", "actor": "pro-regime", "name": "Decoy", "kind": "armor"}
    own = {"unit": "f2-u", "actor": "sdf", "name": "SDF 2nd bn", "kind": "infantry"}
    where = {"time": T, "lon": 40.0, "lat": 35.0}
    with server.client() as c:
        assert c.post("/reports", json={**decoy, **where}, headers=ru).status_code == 200
        r = c.post("/reports", json={**own, **where}, headers=co)
        assert r.status_code == 409, r.text
        assert r.json()["errors"][0]["field"].endswith("unit")
        assert c.get("/units/f2-u", headers=co).status_code == 404
        # a registered id answers like an unknown one to the other party
        taken = c.post("/reports", json={"unit": "f2-u", **where}, headers=co)
        unknown = c.post("/reports", json={"unit": "f2-none", **where}, headers=co)
        assert taken.status_code == unknown.status_code == 422
        assert taken.json()["message"].replace("f2-u", "X") == unknown.json()["message"].replace(
            "f2-none", "X"
        )
        # the party that registered it goes on reporting, with or without the definition
        assert c.post("/reports", json={"unit": "f2-u", **where}, headers=ru).status_code == 200
        assert c.post("/reports", json={**decoy, **where}, headers=ru).status_code == 200
        # nor can a scenario unit be redefined
        r = c.post("/reports", json={"unit": "t72", "actor": "sdf", **where}, headers=co)
        assert r.status_code == 409, r.text


def test_unit_registrations_survive_a_restart(tmp_path: Path) -> None:
    db, tokens = make_database(tmp_path)
    ru, co = tokens.headers("russia", "operator"), tokens.headers("coalition", "operator")
    report = {"unit": "f2-r", "actor": "pro-regime", "time": T, "lon": 40.0, "lat": 35.0}
    server = start_server(db)
    try:
        with server.client() as c:
            assert c.post("/reports", json=report, headers=ru).status_code == 200
    finally:
        server.stop()
    server = start_server(db)
    try:
        with server.client() as c:
            r = c.post("/reports", json={**report, "actor": None}, headers=co)
            assert r.status_code == 422, r.text
            assert c.post("/reports", json={**report, "actor": None}, headers=ru).status_code == 200
    finally:
        server.stop()


def test_revoking_a_token_closes_its_open_streams(world: tuple[Server, Tokens]) -> None:
    server, tokens = world
    admin = tokens.headers("coalition", "admin")
    with server.client() as c:
        token = c.post("/tokens", json={"role": "viewer"}, headers=admin).json()
        viewer = {"Authorization": f"Bearer {token['token']}"}
        with (
            c.stream("GET", "/events", headers=viewer, timeout=10) as alerts,
            c.stream("GET", "/hotline/events", headers=viewer, timeout=10) as hotline,
        ):
            streams = [alerts.iter_lines(), hotline.iter_lines()]
            assert [next(s) for s in streams] == ["retry: 1000", "retry: 1000"]
            assert c.delete(f"/tokens/{token['id']}", headers=admin).status_code == 204
            start = time.monotonic()
            for lines in streams:
                # a stream that stayed open would wait out its read timeout instead
                assert "retry: 1000" not in list(lines)
            assert time.monotonic() - start < 5
        assert c.get("/events", headers=viewer).status_code == 401


def test_health_shows_activity_only_to_its_own_party(world: tuple[Server, Tokens]) -> None:
    server, tokens = world
    ru = tokens.headers("russia", "operator")
    with server.client() as c:
        report = {"id": "f5-r1", "unit": "ru-recon", "time": T, "lon": 40.6, "lat": 35.1}
        assert c.post("/reports", json=report, headers=ru).status_code == 200
        anonymous = c.get("/health").json()
        assert anonymous["status"] == "ok" and "clock" in anonymous and "demo" in anonymous
        assert anonymous["first_report"] is None and anonymous["engine"] == {}
        assert set(anonymous["store"]) == {"schema", "synchronous"}
        assert (
            "reports" not in c.get("/health", headers={"Authorization": "Bearer x"}).json()["store"]
        )
        co = tokens.headers("coalition", "operator")
        report = {**report, "unit": "sdf-1", "time": "2018-02-07T19:00:00Z"}
        assert c.post("/reports", json=report, headers=co).status_code == 200
        own = c.get("/health", headers=ru).json()
    with sqlite3.connect(server.db) as db:
        mine = db.execute("SELECT COUNT(*) FROM reports WHERE observer = 'russia'").fetchone()
        first = db.execute("SELECT MIN(time_us) FROM reports WHERE observer = 'russia'").fetchone()
    db.close()
    assert own["store"]["reports"] == mine[0]
    assert datetime.fromisoformat(own["first_report"]).timestamp() * 1e6 == first[0]
    assert "open_alerts" in own["engine"]


@pytest.mark.parametrize("digits", ["%C2%B2", "%D9%A1", "%EF%BC%91"])
def test_a_cursor_of_non_ascii_digits_is_refused(world: tuple[Server, Tokens], digits: str) -> None:
    server, tokens = world
    with server.client(headers=tokens.headers("coalition", "viewer")) as c:
        r = c.get(f"/alerts?cursor={digits}")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("path", ["/events", "/hotline/events"])
@pytest.mark.parametrize("last", [b"\xb2", b"1.\xb2", b"\xb9"])
def test_a_last_event_id_of_non_ascii_digits_is_refused(
    world: tuple[Server, Tokens], path: str, last: bytes
) -> None:
    server, tokens = world
    headers = {**tokens.headers("coalition", "viewer"), "Last-Event-ID": last}
    with server.client() as c:
        r = c.get(path, headers=headers)  # type: ignore[arg-type]
        assert r.status_code == 422 and "Last-Event-ID" in r.json()["message"]


def test_a_change_the_engine_cannot_apply_is_refused_and_writes_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = make_database(tmp_path)
    caller = Principal("coalition", Role.OPERATOR, 0)
    site = {"name": "Outpost", "kind": "outpost", "lon": 40.5, "lat": 35.6}
    with SQLiteStore(db) as store:
        service = Service(store, live=False)
        try:

            def unplaceable(site: Site) -> list[object]:
                raise OverflowError("the site cannot be placed")

            monkeypatch.setattr(service.engine, "add_site", unplaceable)
            with pytest.raises(Invalid) as refused:
                service.add_site(caller, SiteIn(id="f7-bad", **site))
            assert refused.value.errors[0]["field"] == "body"
            assert "cannot be placed" in refused.value.message
            assert service.problem is None and service.health().status == "ok"
            assert service.add_site(caller, SiteIn(id="f7-good", **site)).id == "f7-good"
            assert "f7-bad" not in service.sites and "f7-bad" not in service.engine.sites
            report = b'{"unit": "sdf-1", "time": "2018-02-07T20:00:00Z", "lon": 40.5, "lat": 35.6}'
            answer = service.post_reports(caller, report, "application/json")
            assert answer.accepted == 1
        finally:
            service.close()


def test_concurrent_incidents_with_one_id_give_one_201_and_409s(
    world: tuple[Server, Tokens],
) -> None:
    server, tokens = world
    incident = {"time": T, "kind": "shelling", "lon": 40.2, "lat": 35.3}

    def post(n: int) -> int:
        with server.client(headers=tokens.headers("coalition", "operator")) as c:
            return c.post("/incidents", json={**incident, "id": f"f9-{n % 8}"}).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(post, range(64)))
    assert sorted(statuses) == [201] * 8 + [409] * 56


@pytest.mark.parametrize(
    ("report", "field"),
    [
        ({"lon": True}, "body[0].lon"),
        ({"lat": "35.3"}, "body[0].lat"),
        ({"time": 1518033600}, "body[0].time"),
        ({"strength": False}, "body[0].strength"),
        ({"lon": True, "actor": "sdf", "unit": "f10-new"}, "body[0].lon"),
    ],
)
def test_reports_take_json_numbers_and_strings_as_they_are(
    world: tuple[Server, Tokens], report: dict[str, object], field: str
) -> None:
    server, tokens = world
    body = [{"unit": "sdf-1", "time": T, "lon": 40.5, "lat": 35.6, **report}]
    with server.client(headers=tokens.headers("coalition", "operator")) as c:
        r = c.post("/reports", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field


def _feature(coordinates: list[object], **properties: object) -> dict[str, object]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": coordinates},
        "properties": {"unit": "sdf-1", "time": T, **properties},
    }


@pytest.mark.parametrize(
    ("feature", "field"),
    [
        (_feature([True, False]), "body[0].lon"),
        (_feature([40.5, 35.6, 1e308]), "body.geometry.coordinates[2]"),
        (_feature([40.5, 35.6], lon=41.0), "body.properties.lon"),
        (_feature([40.5, 35.6], lat="35.6"), "body.properties.lat"),
    ],
)
def test_geojson_reports_are_where_their_geometry_says(
    world: tuple[Server, Tokens], feature: dict[str, object], field: str
) -> None:
    server, tokens = world
    with server.client(headers=tokens.headers("coalition", "operator")) as c:
        r = c.post("/reports", json=feature, headers={"content-type": "application/geo+json"})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field
        agreeing = _feature([40.5, 35.6, 120.0], lon=40.5, lat=35.6, id="f10-ok")
        answer = c.post("/reports", json=agreeing).json()
        assert answer["accepted"] + answer["duplicates"] == 1


def test_reports_in_another_media_type_are_refused(world: tuple[Server, Tokens]) -> None:
    server, tokens = world
    report = b'{"unit": "sdf-1", "time": "2018-02-07T20:00:00Z", "lon": 40.5, "lat": 35.6}'
    with server.client(headers=tokens.headers("coalition", "operator")) as c:
        r = c.post("/reports", content=report, headers={"content-type": "text/plain"})
        assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
        r = c.post("/reports", content=report, headers={"content-type": "application/json"})
        assert r.status_code == 200


def test_a_rotated_hotline_key_still_verifies_what_it_signed(tmp_path: Path) -> None:
    db, tokens = make_database(tmp_path)
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    own = DeskKey.generate()
    server = start_server(db)
    try:
        with server.client() as c:
            before = {"kind": "concern", "recipient": "russia", "subject": "before rotation"}
            assert c.post("/hotline", json=before, headers=co).status_code == 201
            old = c.get("/hotline/keys/coalition", headers=ru).json()["public_key"]
            admin = tokens.headers("coalition", "admin")
            r = c.put("/hotline/keys", json={"public_key": own.public_text}, headers=admin)
            assert r.status_code == 200, r.text
            message = HotlineMessage(
                id="f11-own", sender="coalition", recipient="russia", kind="concern",
                subject="after rotation", created=datetime.now(UTC).replace(microsecond=0),
            )  # fmt: skip
            signed = {
                "message": message.model_dump(mode="json", exclude_none=True),
                "signature": base64.b64encode(own.sign(message.canonical())).decode(),
            }
            assert c.post("/hotline/signed", json=signed, headers=co).status_code == 201
            transcript = c.get("/hotline/transcript", params={"with": "coalition"}, headers=ru)
            published = c.get("/hotline/keys/coalition", headers=ru).json()
            theirs = c.get("/hotline/keys/russia", headers=ru).json()["public_key"]
    finally:
        server.stop()
    assert published["public_key"] == own.public_text
    assert [k["public_key"] for k in published["keys"]] == [old, own.public_text]
    assert published["keys"][0]["valid_to"] == published["keys"][1]["valid_from"] is not None
    assert published["keys"][1]["valid_to"] is None
    path = tmp_path / "transcript.jsonl"
    path.write_bytes(transcript.content)
    every = [f"--key=coalition={k['public_key']}" for k in published["keys"]]
    result = CliRunner().invoke(
        app, ["hotline", "verify", str(path), *every, f"--key=russia={theirs}"]
    )
    assert result.exit_code == 0, result.output
    assert "2 entries verified" in result.output
    newest = [f"--key=coalition={own.public_text}", f"--key=russia={theirs}"]
    result = CliRunner().invoke(app, ["hotline", "verify", str(path), *newest])
    assert result.exit_code == 1 and "forged" in result.output


def test_incident_ids_are_each_party_s_own(world: tuple[Server, Tokens]) -> None:
    server, tokens = world
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    incident = {"id": "f3-inc", "time": T, "kind": "shelling", "lon": 40.2, "lat": 35.3}
    with server.client() as c:
        assert c.post("/incidents", json=incident, headers=co).status_code == 201
        # the other party learns nothing of coalition's id: its own incident is recorded
        r = c.post("/incidents", json={**incident, "lon": 40.4}, headers=ru)
        assert r.status_code == 201, r.text
        assert c.post("/incidents", json=incident, headers=ru).status_code == 409
        assert c.get("/incidents/f3-inc", headers=co).json()["lon"] == 40.2
        assert c.get("/incidents/f3-inc", headers=ru).json()["lon"] == 40.4
        # a public incident is everyone's: its id clashes for every party
        public = {**incident, "id": "inc-public"}
        assert c.post("/incidents", json=public, headers=co).status_code == 409


def test_a_signed_message_s_signature_is_checked_before_its_id(
    world: tuple[Server, Tokens],
) -> None:
    server, tokens = world
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    own = DeskKey.generate()
    with server.client() as c:
        theirs = {"kind": "concern", "recipient": "coalition", "subject": "an id to guess"}
        taken = c.post("/hotline", json=theirs, headers=ru).json()["id"]
        admin = tokens.headers("coalition", "admin")
        assert c.put(
            "/hotline/keys", json={"public_key": own.public_text}, headers=admin
        ).is_success
        message = HotlineMessage(
            id=taken, sender="coalition", recipient="russia", kind="concern",
            subject="probe", created=datetime.now(UTC).replace(microsecond=0),
        )  # fmt: skip
        body = message.model_dump(mode="json", exclude_none=True)
        forged = DeskKey.generate().sign(message.canonical())
        r = c.post(
            "/hotline/signed",
            json={"message": body, "signature": base64.b64encode(forged).decode()},
            headers=co,
        )
        assert r.status_code == 422 and "signature" in r.json()["message"], r.text
        signed = base64.b64encode(own.sign(message.canonical())).decode()
        r = c.post("/hotline/signed", json={"message": body, "signature": signed}, headers=co)
        assert r.status_code == 409, r.text


def test_reports_the_engine_cannot_take_are_refused_and_the_rest_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = make_database(tmp_path)
    original = Engine.ingest

    def poisoned(engine: Engine, batch: ReportBatch) -> list[object]:
        if "poison" in batch.report_id.tolist():
            raise OverflowError("a figure out of range")
        return original(engine, batch)  # type: ignore[return-value]

    monkeypatch.setattr(Engine, "ingest", poisoned)
    caller = Principal("coalition", Role.OPERATOR, 0)

    def body(report_id: str, minute: int) -> bytes:
        return orjson.dumps(
            {"id": report_id, "unit": "sdf-1", "lon": 40.5, "lat": 35.6,
             "time": f"2018-02-07T20:{minute:02d}:00Z"}
        )  # fmt: skip

    with SQLiteStore(db) as store:
        service = Service(store, live=False)
        try:
            with pytest.raises(Invalid, match="a figure out of range"):
                service.post_reports(caller, body("poison", 1), "application/json")
            assert service.problem is None
            assert service.post_reports(caller, body("fine-1", 2), "application/json").accepted
            # in a group, only the request the engine fails on is refused
            group = [
                Pending(
                    ReportBatch.from_reports([Report.model_validate_json(body(i, m))], "coalition"),
                    [],
                )
                for i, m in (("fine-2", 3), ("poison", 4), ("fine-3", 5))
            ]
            service._ingest_group(group)
            assert group[0].answer.result(10).accepted == 1
            with pytest.raises(Invalid):
                group[1].answer.result(10)
            assert group[2].answer.result(10).accepted == 1
            assert service.problem is None and store.report_count() == 3
        finally:
            service.close()
