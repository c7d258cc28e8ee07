"""Bad input gets a 4xx naming the field and changes nothing; the four report formats,
GeoJSON out, filters, `at=`, pagination, acks, lines, incidents as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from api_support import Server, Tokens, make_database, start_server

T = "2018-02-07T20:00:00Z"
LATER = "2018-02-07T21:00:00Z"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Tokens]]:
    db, tokens = make_database(tmp_path_factory.mktemp("input"))
    server = start_server(
        db, "--clock", "reports", "--max-body-bytes", "200000", "--max-reports", "50"
    )
    try:
        yield server, tokens
    finally:
        server.stop()


@pytest.fixture
def client(served: tuple[Server, Tokens]) -> Iterator[httpx.Client]:
    server, tokens = served
    with server.client(headers=tokens.headers("coalition", "operator")) as c:
        yield c


def report(**extra: Any) -> dict[str, Any]:
    return {"time": T, "unit": "sdf-1", "lon": 40.5, "lat": 35.6, **extra}


def count(client: httpx.Client) -> int:
    return int(client.get("/health").json()["store"]["reports"])


@pytest.mark.parametrize(
    ("content", "field", "fragment"),
    [
        (
            b'{"time": "2018-02-07T20:00:00Z", "unit": "sdf-1", "lon": NaN, "lat": 35}',
            "body[0].lon",
            "finite",
        ),
        (
            b'[{"time": "2018-02-07T20:00:00Z", "unit": "sdf-1", "lon": 40, "lat": Infinity}]',
            "body[0].lat",
            "",
        ),
        (orjson.dumps([report(), report(lat=91)]), "body[1].lat", "90"),
        (orjson.dumps([report(lon=-180.5)]), "body[0].lon", "-180"),
        (orjson.dumps(report(time="2018-02-07T20:00:00")), "body[0].time", "zone"),
        (orjson.dumps(report(colour="red")), "body[0].colour", ""),
        (orjson.dumps(report(unit="ghost-unit-77")), "body[0].unit", "ghost-unit-77"),
        (orjson.dumps(report(unit="ghost", actor="nobody")), "body[0].actor", "nobody"),
        (orjson.dumps(report(strength=-1)), "body[0].strength", ""),
        (orjson.dumps(report(rating="Z9")), "body[0].rating", ""),
        (orjson.dumps(report(observer="russia")), "body[0].observer", "own picture"),
        (orjson.dumps(report(id=7)), "body[0].id", "string"),
        (
            orjson.dumps([report(id=f"n-{i}") for i in range(20)] + [report(id=21)]),
            "body[20].id",
            "string",
        ),
        (b"[1, 2", "body", "invalid JSON"),
        (b'"a string"', "body", "expected a report"),
        (
            orjson.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": []}}
                    ],
                }
            ),
            "body.features[0].geometry",
            "Point",
        ),
    ],
)
def test_bad_reports_are_422_naming_the_field(
    client: httpx.Client, content: bytes, field: str, fragment: str
) -> None:
    before = count(client)
    r = client.post("/reports", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()
    assert error["code"] == "invalid"
    assert error["errors"][0]["field"] == field
    assert fragment in error["message"]
    assert count(client) == before


@pytest.mark.parametrize(
    "bad",
    [
        {"lon": 200},
        {"lat": -90.5},
        {"time": "2018-02-07T20:00:00"},
        {"time": "yesterday"},
        {"colour": "red"},
        {"strength": -1},
        {"strength": 2.5},
        {"strength": 10_000_001},
        {"equipment": {"tank": 10_000_001}},
        {"rating": "Z9"},
        {"source": 5},
        {"id": 7},
        {"id": ""},
        {"unit": "ghost-unit-77"},
        {"observer": "russia"},
    ],
)
def test_a_few_reports_and_many_are_refused_alike(
    client: httpx.Client, bad: dict[str, Any]
) -> None:
    # a few reports are checked by the model, many by columns: the same field either way
    before = count(client)
    answers = []
    for good in (0, 12):
        rows = [report(id=f"alike-{i}") for i in range(good)] + [report(**bad)]
        r = client.post("/reports", content=orjson.dumps(rows))
        assert r.status_code == 422, r.text
        answers.append(r.json()["errors"][0]["field"].replace(f"[{good}]", "[i]"))
    assert answers[0] == answers[1]
    assert answers[0].startswith("body[i].")
    assert count(client) == before


def test_ndjson_errors_name_the_line(client: httpx.Client) -> None:
    before = count(client)
    lines = b"\n".join(orjson.dumps(r) for r in [report(id="n1"), report(id="n2", lon=500)])
    r = client.post("/reports", content=lines, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "line 2: lon"
    assert count(client) == before


def test_limits_answer_413_and_change_nothing(client: httpx.Client) -> None:
    before = count(client)
    many = [report(id=f"m-{i}") for i in range(51)]
    assert client.post("/reports", json=many).status_code == 413
    ndjson = b"\n".join(orjson.dumps(r) for r in many)
    r = client.post("/reports", content=ndjson, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 413
    big = orjson.dumps([report(id=f"b-{i}", source="x" * 190) for i in range(50)] * 5)
    r = client.post("/reports", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b" " * 10_000

    assert client.post("/reports", content=chunks()).status_code == 413
    assert count(client) == before


def test_four_formats_and_duplicates(client: httpx.Client) -> None:
    single = client.post("/reports", json=report(id="f-1"))
    assert single.json() == {"accepted": 1, "duplicates": 0, "events": 0}
    again = client.post("/reports", json=[report(id="f-1"), report(id="f-2", lon=40.51)])
    assert again.json()["accepted"] == 1 and again.json()["duplicates"] == 1
    ndjson = b"\n".join(orjson.dumps(report(id=f"f-{i}", lon=40.5 + i / 100)) for i in (2, 3))
    r = client.post("/reports", content=ndjson, headers={"content-type": "application/x-ndjson"})
    assert r.json() == {"accepted": 1, "duplicates": 1, "events": 0}
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "f-4",
                "geometry": {"type": "Point", "coordinates": [40.55, 35.6]},
                "properties": {"time": T, "unit": "sdf-1", "source": "TAK", "rating": "B2"},
            }
        ],
    }
    r = client.post("/reports", json=collection, headers={"content-type": "application/geo+json"})
    assert r.json()["accepted"] == 1
    # the same observation without an id is recognised the second time
    assert client.post("/reports", json=report(lon=40.56)).json()["accepted"] == 1
    assert client.post("/reports", json=report(lon=40.56)).json()["duplicates"] == 1


def test_registering_a_unit_with_its_first_report(client: httpx.Client) -> None:
    r = client.post(
        "/reports",
        json=report(
            unit="new-battery",
            actor="pro-regime",
            kind="artillery",
            name="Battery",
            strength=80,
            equipment={"artillery": 6},
            lon=40.2,
            lat=35.3,
        ),
    )
    assert r.status_code == 200, r.text
    unit = client.get("/units/new-battery").json()
    assert unit["properties"]["kind"] == "artillery"
    assert unit["properties"]["reach_m"] == 25000
    assert unit["geometry"] == {"type": "Point", "coordinates": [40.2, 35.3]}


def test_units_filters_track_and_at(client: httpx.Client) -> None:
    client.post("/reports", json=[report(id="u-1", unit="t72", lon=40.0, lat=35.2)])
    client.post("/reports", json=[report(id="u-2", unit="t72", time=LATER, lon=40.25, lat=35.33)])
    units = client.get("/units", params={"bbox": "40.24,35.32,40.26,35.34"}).json()
    assert [f["id"] for f in units["features"]] == ["t72"]
    assert client.get("/units", params={"actor": "sdf"}).json()["features"][0]["id"] == "sdf-1"
    then = client.get("/units", params={"at": "2018-02-07T20:30:00Z"}).json()
    t72 = next(f for f in then["features"] if f["id"] == "t72")
    assert t72["geometry"]["coordinates"] == [40.0, 35.2]
    before = client.get("/units", params={"at": "2018-02-07T19:00:00Z"}).json()
    assert before["features"] == []
    track = client.get("/units/t72/track").json()
    assert track["geometry"]["type"] == "LineString"
    assert track["geometry"]["coordinates"][-2:] == [[40.0, 35.2], [40.25, 35.33]]
    since = client.get("/units/t72/track", params={"since": LATER}).json()
    assert since["geometry"] is None and since["properties"]["times"] == [LATER]
    for params, field in [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "nan,1,2,3"}, "bbox"),
        ({"bbox": "10,1,2,3"}, "bbox"),
        ({"at": "2018-02-07T20:00:00"}, "query.at"),
        ({"fresh": "maybe"}, "query.fresh"),
    ]:
        r = client.get("/units", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text


def test_alerts_pages_filters_at_and_ack(client: httpx.Client) -> None:
    client.post("/reports", json=[report(id="a-1", unit="t72", time=T, lon=40.25, lat=35.33)])
    everything = client.get("/alerts").json()["items"]
    assert len(everything) >= 2
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get("/alerts", params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        seen += [a["id"] for a in page.json()["items"]]
        cursor = page.json()["next"]
        if cursor is None:
            break
    assert seen == [a["id"] for a in everything]
    zone = client.get("/alerts", params={"rule": "zone.violation"}).json()["items"]
    assert zone and all(a["rule"] == "zone.violation" for a in zone)
    assert client.get("/alerts", params={"at": "2018-01-01T00:00:00Z"}).json()["items"] == []
    assert client.get("/alerts", params={"cursor": "x1"}).status_code == 422
    assert client.get("/alerts", params={"rule": "nope"}).status_code == 422
    assert client.get("/alerts", params={"limit": 0}).status_code == 422
    alert = zone[0]["id"]
    acked = client.post(f"/alerts/{alert}/ack", json={"by": "Maj. Example"}).json()
    assert acked["acknowledged_by"] == "Maj. Example" and acked["acknowledged_at"]
    assert acked["acks"][0]["who"] == "Maj. Example"
    assert acked["events"][0]["event"]["event"] == "open"
    listed = next(a for a in client.get("/alerts").json()["items"] if a["id"] == alert)
    assert listed["acknowledged_by"] == "Maj. Example"


def test_lines_need_known_parties_and_are_shared(
    served: tuple[Server, Tokens], client: httpx.Client
) -> None:
    server, tokens = served
    admin = tokens.headers("coalition", "admin")
    line = {
        "id": "khabur",
        "name": "Khabur line",
        "left": "coalition",
        "right": "nobody",
        "coordinates": [[40.4, 35.2], [40.5, 35.8]],
    }
    r = client.post("/lines", json=line, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.right"
    r = client.post("/lines", json={**line, "right": "coalition"}, headers=admin)
    assert r.status_code == 422
    r = client.post("/lines", json={**line, "right": "russia", "buffer_m": "NaN"}, headers=admin)
    assert r.status_code == 422 and "buffer_m" in r.json()["errors"][0]["field"]
    assert client.post("/lines", json={**line, "right": "russia"}, headers=admin).status_code == 201
    assert client.post("/lines", json={**line, "right": "russia"}, headers=admin).status_code == 409
    with server.client(headers=tokens.headers("russia", "viewer")) as russia:
        assert "khabur" in [x["id"] for x in russia.get("/lines").json()]


def test_incidents_as_acled_csv(client: httpx.Client) -> None:
    incident = {
        "id": "khasham",
        "time": "2018-02-07T22:00:00Z",
        "kind": "shelling",
        "lon": 40.3,
        "lat": 35.31,
        "location": "Khasham, Deir ez-Zor",
        "actors": ["pro-regime", "sdf"],
        "casualties": {"low": 100, "high": 300},
        "sources": ["DoD", "press"],
        "notes": 'Tanks fired "within 500 ft", of the base',
    }
    assert client.post("/incidents", json=incident).status_code == 201
    assert client.post("/incidents", json=incident).status_code == 409
    assert (
        client.post("/incidents", json={**incident, "id": "x", "actors": ["ghost"]}).status_code
        == 422
    )
    r = client.get("/incidents.csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
        "event_date",
        "event_type",
        "sub_event_type",
        "actor1",
        "actor2",
        "location",
        "latitude",
        "longitude",
        "fatalities",
        "source",
        "notes",
    ]
    row = next(x for x in rows if x["location"] == "Khasham, Deir ez-Zor")
    assert row["event_date"] == "2018-02-07"
    assert row["sub_event_type"] == "Shelling/artillery/missile attack"
    assert (row["actor1"], row["actor2"]) == ("Pro-regime", "SDF")
    assert row["fatalities"] == "100" and row["notes"] == incident["notes"]


def test_me_health_and_page_headers(served: tuple[Server, Tokens], client: httpx.Client) -> None:
    server, _ = served
    me = client.get("/me").json()
    assert (me["party"], me["role"], me["demo"]) == ("coalition", "operator", False)
    assert [p["id"] for p in me["parties"]] == ["coalition", "russia"]
    health = client.get("/health").json()
    assert health["demo"] is False
    assert health["status"] == "ok" and health["store"]["synchronous"] == "full"
    page = httpx.get(server.url + "/")
    if page.status_code == 200:
        assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "content-security-policy" in client.get("/health").headers


@pytest.mark.parametrize(
    "time",
    ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "0248-01-07T03:06:22Z"],
)
def test_times_at_the_calendars_ends_are_422(client: httpx.Client, time: str) -> None:
    for extra in ({}, {"actor": "sdf"}):
        r = client.post("/reports", json=report(time=time, **extra))
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "body[0].time"
    r = client.post(
        "/incidents", json={"id": "old", "time": time, "kind": "other", "lon": 1, "lat": 2}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.time"


def test_line_areas_as_the_rules_see_them(client: httpx.Client) -> None:
    import shapely.geometry

    areas = client.get("/lines/areas").json()
    euphrates = [f for f in areas["features"] if f["properties"]["line"] == "euphrates"]
    kinds = sorted((f["properties"]["kind"], f["properties"].get("party", "")) for f in euphrates)
    assert kinds == [("area", "coalition"), ("area", "russia"), ("buffer", "")]
    shape = {f["properties"].get("party"): shapely.geometry.shape(f["geometry"]) for f in euphrates}
    across = shapely.geometry.Point(40.25, 35.33)  # where the tank raised zone.violation
    assert shape["coalition"].contains(across) and not shape["russia"].contains(across)
    assert shape[None].contains(shapely.geometry.Point(40.15, 35.34))


def test_a_site_outside_the_theatres_projection_is_422_and_harmless(
    client: httpx.Client,
) -> None:
    far = {"id": "far-away", "name": "Far", "kind": "outpost", "lon": -52.4, "lat": 1.5}
    r = client.post("/sites", json=far)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.lon"
    assert client.get("/health").json()["status"] == "ok"
    assert client.post("/reports", json=report(id="after-far")).status_code == 200
