"""The live stream: a client that reconnects with Last-Event-ID gets every event it
missed, exactly once, in order, then the new ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api_support import Server, Tokens, make_database, start_server

T0 = datetime(2018, 2, 7, 20, tzinfo=UTC)
ACROSS = (40.25, 35.33)  # the tank in the coalition's area
HOME = (40.0, 35.2)  # back on the russian side


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Tokens]]:
    db, tokens = make_database(tmp_path_factory.mktemp("sse"))
    server = start_server(db, "--clock", "reports")
    try:
        yield server, tokens
    finally:
        server.stop()


class Events:
    """Reads an SSE response event by event (comments and retry lines skipped)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def take(self, count: int) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        current: dict[str, str] = {}
        while len(out) < count:
            line = next(self.lines, None)
            if line is None:
                raise AssertionError(f"the stream ended after {len(out)} of {count} events")
            if line == "":
                if "id" in current:
                    out.append(current)
                current = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                current[name] = value.removeprefix(" ")
        return out


def events(response: httpx.Response, count: int) -> list[dict[str, str]]:
    return Events(response).take(count)


def move(client: httpx.Client, headers: dict[str, str], step: int) -> int:
    """Move the tank across the line or back; the number of alert events that caused."""
    lon, lat = ACROSS if step % 2 == 0 else HOME
    time = (T0 + timedelta(minutes=step)).isoformat()
    r = client.post(
        "/reports", json={"time": time, "unit": "t72", "lon": lon, "lat": lat}, headers=headers
    )
    assert r.status_code == 200 and r.json()["events"] >= 1, r.text
    return int(r.json()["events"])


def test_reconnect_with_last_event_id_misses_nothing(served: tuple[Server, Tokens]) -> None:
    server, tokens = served
    operator = tokens.headers("coalition", "operator")
    viewer = tokens.headers("coalition", "viewer")
    with server.client() as poster, server.client() as reader:
        with reader.stream("GET", "/events", headers=viewer) as stream:
            count = move(poster, operator, 0) + move(poster, operator, 1)
            first = events(stream, count)
        # while disconnected
        count = sum(move(poster, operator, step) for step in range(2, 8))
        last = first[-1]["id"]
        with reader.stream("GET", "/events", headers={**viewer, "Last-Event-ID": last}) as stream:
            reading = Events(stream)
            missed = reading.take(count)
            live = reading.take(move(poster, operator, 8))
        with reader.stream("GET", "/events", headers=viewer) as stream:
            everything = events(stream, len(first) + len(missed) + len(live))
    seen = first + missed + live
    assert [int(e["id"]) for e in seen] == list(range(1, len(seen) + 1))
    assert seen == everything
    assert {e["event"] for e in missed} == {"open", "resolved"}
    assert live[-1]["event"] == "open"
    # the russian picture's stream is its own
    with server.client() as reader:
        russia = tokens.headers("russia", "viewer")
        with reader.stream("GET", "/events", headers=russia) as stream:
            mine = events(stream, move(reader, tokens.headers("russia", "operator"), 10))
        assert mine[0]["id"] == "1"


def test_a_stream_from_the_start_replays_everything(served: tuple[Server, Tokens]) -> None:
    server, tokens = served
    operator = tokens.headers("coalition", "operator")
    with server.client() as c:
        count = sum(move(c, operator, step) for step in range(4))
        with c.stream("GET", "/events", headers={**operator, "Last-Event-ID": "0"}) as stream:
            got = events(stream, count)
        assert [e["id"] for e in got] == [str(i) for i in range(1, count + 1)]
        bad = c.get("/events", headers={**operator, "Last-Event-ID": "abc"})
        assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["message"]


def _until(response: httpx.Response, name: str) -> list[dict[str, str]]:
    """Events up to and including the first named `name`."""
    reading = Events(response)
    seen: list[dict[str, str]] = []
    while not seen or seen[-1]["event"] != name:
        seen += reading.take(1)
    return seen


def test_hotline_events_reach_both_parties_on_events(served: tuple[Server, Tokens]) -> None:
    server, tokens = served
    co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
    start = datetime.now(UTC) + timedelta(hours=1)
    notification = {
        "kind": "notification",
        "recipient": "russia",
        "subject": "Air strike west of the Euphrates",
        "priority": "flash",
        "activity": "air strike",
        "area": {
            "type": "Polygon",
            "coordinates": [[[39.9, 35.1], [40.1, 35.1], [40.1, 35.3], [39.9, 35.3], [39.9, 35.1]]],
        },
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=1)).isoformat(),
    }
    with server.client() as c:
        sent = c.post("/hotline", json=notification, headers=co)
        assert sent.status_code == 201, sent.text
        mid = sent.json()["id"]
        with c.stream("GET", "/events", headers=ru, timeout=10) as stream:
            received = _until(stream, "hotline.message")
        assert '"id":"' + mid + '"' in received[-1]["data"].replace(" ", "")
        with c.stream("GET", "/events", headers=co, timeout=10) as stream:
            first = _until(stream, "hotline.message")
        assert c.post(f"/hotline/{mid}/ack", headers=ru).status_code == 201
        resume = {**co, "Last-Event-ID": first[-1]["id"]}
        with c.stream("GET", "/events", headers=resume, timeout=10) as stream:
            after = _until(stream, "hotline.ack")
        # the message is not sent twice; the ack follows it
        assert [e["event"] for e in after] == ["hotline.ack"]
        assert after[0]["id"] != first[-1]["id"]
        bad = c.get("/events", headers={**co, "Last-Event-ID": "3."})
        assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["message"]
