"""`/api/v1/hotline` on a real `deconfliction serve`: isolation, conflicts for the
recipient only, acknowledgement, transcripts that verify, self-signed messages whose
timers escalate on the live clock, and a kill -9 in the middle."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api_support import SCENARIO, Server, Tokens, start_server
from deconfliction.cli.service import initialise
from deconfliction.hotline import DeskKey, HotlineMessage, load_public_key, verify_transcript
from deconfliction.service.core import Service
from deconfliction.store import Role, SQLiteStore

THREE = SCENARIO.replace(
    "parties: [{id: coalition, name: Coalition}, {id: russia, name: Russia}]",
    "parties: [{id: coalition, name: Coalition}, {id: russia, name: Russia},"
    " {id: turkey, name: Turkey}]",
)
BOX = [[[39.9, 35.1], [40.1, 35.1], [40.1, 35.3], [39.9, 35.3], [39.9, 35.1]]]


def _database(directory: Path) -> tuple[Path, Tokens]:
    scenario = directory / "theatre.yaml"
    scenario.write_text(THREE)
    db = directory / "service.sqlite"
    tokens = Tokens()
    for token in initialise(db, str(scenario)):
        tokens.by[(token.party, "admin")] = token.token
    with SQLiteStore(db) as store:
        service = Service(store, live=False)
        for party in ("coalition", "russia", "turkey"):
            tokens.by[(party, "operator")] = service.create_token(party, Role.OPERATOR).token
    return db, tokens


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Tokens]]:
    db, tokens = _database(tmp_path_factory.mktemp("hotline"))
    server = start_server(db)
    try:
        yield server, tokens
    finally:
        server.stop()


def _notify(c: httpx.Client, tokens: Tokens) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {
        "kind": "notification",
        "recipient": "russia",
        "subject": "Air strike west of the Euphrates",
        "priority": "flash",
        "activity": "air strike",
        "area": {"type": "Polygon", "coordinates": BOX},
        "window_start": (now + timedelta(hours=1)).isoformat(),
        "window_end": (now + timedelta(hours=2)).isoformat(),
    }
    r = c.post("/hotline", json=body, headers=tokens.headers("coalition", "operator"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_only_the_two_parties_see_a_message_and_only_the_recipient_its_conflicts(
    world: tuple[Server, Tokens],
) -> None:
    server, tokens = world
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    tr = tokens.headers("turkey", "operator")
    with server.client() as c:
        sent = _notify(c, tokens)
        mid = sent["id"]
        assert sent["state"] == "sent" and sent["sender"] == "coalition"
        assert [m["id"] for m in c.get("/hotline/inbox", headers=ru).json()["items"]] == [mid]
        assert c.get("/hotline/inbox", headers=tr).json()["items"] == []
        assert c.get(f"/hotline/{mid}", headers=tr).status_code == 404
        assert c.post(f"/hotline/{mid}/ack", headers=tr).status_code == 404
        assert c.get("/hotline/transcript", headers=tr).content == b""

        mine = c.get(f"/hotline/{mid}", headers=ru).json()
        assert [(x["kind"], x["id"]) for x in mine["conflicts"]] == [("site", "russia-base")]
        assert "conflicts" not in c.get(f"/hotline/{mid}", headers=co).json()
        conflicts = [a for a in c.get("/alerts", headers=ru).json()["items"] if a.get("ref") == mid]
        assert [(a["rule"], a["site"]) for a in conflicts] == [
            ("notification.conflict", "russia-base")
        ]
        assert not [a for a in c.get("/alerts", headers=co).json()["items"] if a.get("ref") == mid]
        draft = c.get(f"/hotline/{mid}/draft", headers=ru).json()
        assert "Forward base" in draft["body"]

        r = c.post(f"/hotline/{mid}/ack", headers=ru)
        assert r.status_code == 201, r.text
        assert c.post(f"/hotline/{mid}/ack", headers=ru).status_code == 409
        assert c.post(f"/hotline/{mid}/ack", headers=co).status_code == 422
        r = c.post(f"/hotline/{mid}/respond", json={"body": "Those are our positions."}, headers=ru)
        assert r.status_code == 201, r.text
        detail = c.get(f"/hotline/{mid}", headers=co).json()
        assert detail["state"] == "answered"
        assert [m["kind"] for m in detail["thread"]] == ["notification", "ack", "response"]
        open_conflicts = c.get("/alerts", params={"state": "open"}, headers=ru).json()["items"]
        assert not [a for a in open_conflicts if a.get("ref") == mid]

        lines = c.get("/hotline/transcript", params={"with": "russia"}, headers=co).content
        keys = {
            p: load_public_key(c.get(f"/hotline/keys/{p}", headers=co).json()["public_key"])
            for p in ("coalition", "russia")
        }
        result = verify_transcript(lines.splitlines(), keys)
        assert result.ok and result.entries >= 3

        with c.stream("GET", "/hotline/events", headers=tr, timeout=3) as stream:
            assert _events(stream, 0.5) == []
        with c.stream("GET", "/hotline/events", headers=ru) as stream:
            seen = _events(stream, 5, until="hotline.response")
        assert seen[:3] == ["hotline.message", "hotline.ack", "hotline.response"]


def test_a_concern_from_an_alert_goes_to_the_party_whose_forces_it_is_about(
    world: tuple[Server, Tokens],
) -> None:
    server, tokens = world
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    with server.client() as c:
        report = {"time": "2018-02-07T20:00:00Z", "unit": "t72", "lon": 40.25, "lat": 35.33}
        assert c.post("/reports", json=report, headers=co).status_code == 200
        alerts = c.get("/alerts", params={"rule": "zone.violation"}, headers=co).json()["items"]
        alert = next(a for a in alerts if a["units"] == ["t72"])
        r = c.post(f"/hotline/from-alert/{alert['id']}", headers=co)
        assert r.status_code == 201, r.text
        concern = r.json()
        assert (concern["kind"], concern["recipient"], concern["refs"]) == (
            "concern",
            "russia",
            [alert["id"]],
        )
        assert concern["place"] == [alert["lon"], alert["lat"]]
        assert alert["message"] in concern["body"]
        inbox = c.get("/hotline/inbox", params={"state": "sent"}, headers=ru).json()["items"]
        assert concern["id"] in [m["id"] for m in inbox]
        # Russia's alerts are not the coalition's to raise, nor the other way round.
        assert c.post(f"/hotline/from-alert/{alert['id']}", headers=ru).status_code == 404


def test_bad_input_names_the_field(world: tuple[Server, Tokens]) -> None:
    server, tokens = world
    co = tokens.headers("coalition", "operator")
    with server.client() as c:
        r = c.post(
            "/hotline", json={"kind": "concern", "recipient": "nobody", "subject": "x"}, headers=co
        )
        assert r.status_code == 422 and r.json()["message"] == "recipient: unknown party 'nobody'"
        r = c.post("/hotline", json={"kind": "concern", "recipient": "russia"}, headers=co)
        assert r.status_code == 422 and "subject" in r.json()["message"]
        assert c.get("/hotline/outbox", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_self_signed_overdue_message_escalates_on_the_live_clock(tmp_path: Path) -> None:
    db, tokens = _database(tmp_path)
    server = start_server(db)
    own = DeskKey.generate()
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    try:
        with server.client() as c:
            r = c.put(
                "/hotline/keys",
                json={"public_key": own.public_text},
                headers=tokens.headers("coalition", "admin"),
            )
            assert r.status_code == 200, r.text
            now = datetime.now(UTC).replace(microsecond=0)
            message = HotlineMessage(
                id="co-own-1", sender="coalition", recipient="russia", kind="request",
                subject="Confirm who is at Khasham", priority="flash",
                created=now - timedelta(minutes=11), due=now - timedelta(minutes=6),
            )  # fmt: skip
            body = {
                "message": message.model_dump(mode="json", exclude_none=True),
                "signature": base64.b64encode(own.sign(message.canonical())).decode(),
            }
            assert (
                c.post(
                    "/hotline",
                    json={"kind": "request", "recipient": "russia", "subject": "x"},
                    headers=co,
                ).status_code
                == 422
            )
            forged = {
                **body,
                "signature": base64.b64encode(
                    DeskKey.generate().sign(message.canonical())
                ).decode(),
            }
            assert c.post("/hotline/signed", json=forged, headers=co).status_code == 422
            r = c.post("/hotline/signed", json=body, headers=co)
            assert r.status_code == 201, r.text
            alert = _wait_alert(c, co, "co-own-1")
            assert (alert["rule"], alert["severity"]) == ("hotline.unacknowledged", "critical")
            with c.stream("GET", "/hotline/events", headers=ru) as stream:
                assert "hotline.escalation" in _events(stream, 5, until="hotline.escalation")
    finally:
        server.stop()


def test_messages_and_their_alerts_survive_a_kill(tmp_path: Path) -> None:
    db, tokens = _database(tmp_path)
    server = start_server(db)
    ru = tokens.headers("russia", "operator")
    try:
        with server.client() as c:
            mid = _notify(c, tokens)["id"]
            [conflict] = [
                a for a in c.get("/alerts", headers=ru).json()["items"] if a.get("ref") == mid
            ]
        server.kill()
        server = start_server(db)
        with server.client() as c:
            assert [m["id"] for m in c.get("/hotline/inbox", headers=ru).json()["items"]] == [mid]
            r = c.post(f"/hotline/{mid}/respond", headers=ru)
            assert r.status_code == 201, r.text
            assert c.get(f"/alerts/{conflict['id']}", headers=ru).json()["state"] == "resolved"
            lines = c.get("/hotline/transcript", headers=ru).content.splitlines()
            keys = {
                p: load_public_key(c.get(f"/hotline/keys/{p}", headers=ru).json()["public_key"])
                for p in ("coalition", "russia")
            }
            assert verify_transcript(lines, keys).entries == 2
    finally:
        server.stop()


def _wait_alert(c: httpx.Client, headers: dict[str, str], ref: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [
            a for a in c.get("/alerts", headers=headers).json()["items"] if a.get("ref") == ref
        ]
        if found:
            return dict(found[0])
        time.sleep(0.2)
    raise AssertionError(f"no alert about {ref}")


def _events(stream: httpx.Response, seconds: float, until: str | None = None) -> list[str]:
    """The event names of an SSE stream until `until` arrives or the time is up."""
    names: list[str] = []
    deadline = time.monotonic() + seconds
    try:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                names.append(line.removeprefix("event: "))
                if names[-1] == until:
                    return names
            if line.startswith("data: "):
                orjson.loads(line.removeprefix("data: "))
            if time.monotonic() > deadline:
                break
    except httpx.ReadTimeout:
        pass
    return names
