"""Every endpoint x every role x own party / other party, with the exact status codes.

The caller is always a coalition token; "other" targets russia's units, alerts, sites,
incidents and tokens, which must answer as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api_support import Server, Tokens, make_database, start_server

T = "2018-02-07T20:00:00Z"


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, Tokens, dict[str, Any]]]:
    db, tokens = make_database(tmp_path_factory.mktemp("perm"))
    server = start_server(db)
    ids: dict[str, Any] = {}
    try:
        with server.client() as c:
            co, ru = tokens.headers("coalition", "operator"), tokens.headers("russia", "operator")
            # the tank across the line raises a zone.violation in each picture
            report = {"time": T, "unit": "t72", "lon": 40.25, "lat": 35.33}
            assert c.post("/reports", json=report, headers=co).json()["events"] >= 1
            r = c.post(
                "/reports",
                json=[
                    {**report, "unit": "ru-recon"},
                    {"time": T, "unit": "sdf-1", "lon": 40.1, "lat": 35.2},
                ],
                headers=ru,
            )
            assert r.status_code == 200, r.text
            ids["own_alert"] = c.get("/alerts", headers=co).json()["items"][0]["id"]
            ru_alerts = [a["id"] for a in c.get("/alerts", headers=ru).json()["items"]]
            ids["other_alert"] = next(a for a in ru_alerts if a != ids["own_alert"])
            incident = {"id": "inc-ru", "time": T, "kind": "shelling", "lon": 40.2, "lat": 35.3}
            assert c.post("/incidents", json=incident, headers=ru).status_code == 201
            incident = {**incident, "id": "inc-co"}
            assert c.post("/incidents", json=incident, headers=co).status_code == 201
            ru_admin = tokens.headers("russia", "admin")
            ids["other_token"] = c.get("/tokens", headers=ru_admin).json()[-1]["id"]
        yield server, tokens, ids
    finally:
        server.stop()


def site(n: str) -> dict[str, Any]:
    return {"id": f"site-{n}", "name": "Outpost", "kind": "outpost", "lon": 40.5, "lat": 35.6}


def line(n: str) -> dict[str, Any]:
    return {
        "id": f"line-{n}",
        "name": "Northern line",
        "left": "coalition",
        "right": "russia",
        "coordinates": [[38.0, 36.5], [39.0, 36.4]],
    }


def incident(n: str) -> dict[str, Any]:
    return {"id": f"inc-{n}", "time": T, "kind": "clash", "lon": 40.3, "lat": 35.3}


ROLES = ("admin", "operator", "viewer")

# (name, method, path, body maker, {role: expected status})
# `{own_alert}` and friends are filled from the fixture; a body maker gets a unique suffix.
CASES: list[tuple[str, str, str, Any, dict[str, int]]] = [
    ("me", "GET", "/me", None, dict.fromkeys(ROLES, 200)),
    ("list units", "GET", "/units", None, dict.fromkeys(ROLES, 200)),
    ("own unit", "GET", "/units/t72", None, dict.fromkeys(ROLES, 200)),
    ("other unit", "GET", "/units/ru-recon", None, dict.fromkeys(ROLES, 404)),
    ("own track", "GET", "/units/t72/track", None, dict.fromkeys(ROLES, 200)),
    ("other track", "GET", "/units/ru-recon/track", None, dict.fromkeys(ROLES, 404)),
    ("list alerts", "GET", "/alerts", None, dict.fromkeys(ROLES, 200)),
    ("own alert", "GET", "/alerts/{own_alert}", None, dict.fromkeys(ROLES, 200)),
    ("other alert", "GET", "/alerts/{other_alert}", None, dict.fromkeys(ROLES, 404)),
    (
        "ack own alert",
        "POST",
        "/alerts/{own_alert}/ack",
        None,
        {"admin": 200, "operator": 200, "viewer": 403},
    ),
    (
        "ack other alert",
        "POST",
        "/alerts/{other_alert}/ack",
        None,
        {"admin": 404, "operator": 404, "viewer": 403},
    ),
    (
        "post report",
        "POST",
        "/reports",
        lambda n: {"time": T, "unit": "t72", "lon": 40.26, "lat": 35.33, "id": f"r-{n}"},
        {"admin": 200, "operator": 200, "viewer": 403},
    ),
    (
        "post report as other observer",
        "POST",
        "/reports",
        lambda n: {"time": T, "unit": "t72", "lon": 40.2, "lat": 35.3, "observer": "russia"},
        {"admin": 422, "operator": 422, "viewer": 403},
    ),
    ("list lines", "GET", "/lines", None, dict.fromkeys(ROLES, 200)),
    ("add line", "POST", "/lines", line, {"admin": 201, "operator": 403, "viewer": 403}),
    ("list sites", "GET", "/sites", None, dict.fromkeys(ROLES, 200)),
    ("add own site", "POST", "/sites", site, {"admin": 201, "operator": 201, "viewer": 403}),
    (
        "add other's site",
        "POST",
        "/sites",
        lambda n: {**site(n), "party": "russia"},
        {"admin": 422, "operator": 422, "viewer": 403},
    ),
    ("list incidents", "GET", "/incidents", None, dict.fromkeys(ROLES, 200)),
    ("incidents csv", "GET", "/incidents.csv", None, dict.fromkeys(ROLES, 200)),
    ("own incident", "GET", "/incidents/inc-co", None, dict.fromkeys(ROLES, 200)),
    ("public incident", "GET", "/incidents/inc-public", None, dict.fromkeys(ROLES, 200)),
    ("other incident", "GET", "/incidents/inc-ru", None, dict.fromkeys(ROLES, 404)),
    (
        "add incident",
        "POST",
        "/incidents",
        incident,
        {"admin": 201, "operator": 201, "viewer": 403},
    ),
    (
        "add other's incident",
        "POST",
        "/incidents",
        lambda n: {**incident(n), "party": "russia"},
        {"admin": 422, "operator": 422, "viewer": 403},
    ),
    ("list tokens", "GET", "/tokens", None, {"admin": 200, "operator": 403, "viewer": 403}),
    (
        "create token",
        "POST",
        "/tokens",
        lambda n: {"role": "viewer"},
        {"admin": 201, "operator": 403, "viewer": 403},
    ),
    (
        "revoke other's token",
        "DELETE",
        "/tokens/{other_token}",
        None,
        {"admin": 404, "operator": 403, "viewer": 403},
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_status(
    world: tuple[Server, Tokens, dict[str, Any]],
    case: tuple[str, str, str, Any, dict[str, int]],
    role: str,
) -> None:
    server, tokens, ids = world
    name, method, path, body, expected = case
    suffix = f"{role}-{abs(hash(name)) % 10_000}"
    with server.client() as c:
        r = c.request(
            method,
            path.format(**ids),
            json=body(suffix) if body else None,
            headers=tokens.headers("coalition", role),
        )
    assert r.status_code == expected[role], r.text
    if r.status_code >= 400:
        assert r.json()["code"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("auth", [None, "Bearer nope", "Basic abc", "Bearer"])
def test_no_or_bad_token_is_401(
    world: tuple[Server, Tokens, dict[str, Any]],
    case: tuple[str, str, str, Any, dict[str, int]],
    auth: str | None,
) -> None:
    server, _, ids = world
    _, method, path, body, _ = case
    headers = {"Authorization": auth} if auth else {}
    with server.client() as c:
        r = c.request(method, path.format(**ids), json=body("x") if body else None, headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"


def test_health_and_events_answer(world: tuple[Server, Tokens, dict[str, Any]]) -> None:
    server, tokens, _ = world
    with server.client() as c:
        assert c.get("/health").json()["status"] == "ok"
        for role in ROLES:
            with c.stream("GET", "/events", headers=tokens.headers("coalition", role)) as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
        assert c.get("/events").status_code == 401
        assert c.get("/demo/tokens").status_code == 404


def test_lists_hold_only_the_callers_own(world: tuple[Server, Tokens, dict[str, Any]]) -> None:
    server, tokens, ids = world
    co = tokens.headers("coalition", "viewer")
    with server.client() as c:
        alerts = c.get("/alerts", headers=co).json()["items"]
        assert alerts and {a["party"] for a in alerts} == {"coalition"}
        assert ids["other_alert"] not in {a["id"] for a in alerts}
        units = {f["id"] for f in c.get("/units", headers=co).json()["features"]}
        assert "ru-recon" not in units and "t72" in units
        assert {s["party"] for s in c.get("/sites", headers=co).json()} == {"coalition"}
        incidents = {i["id"] for i in c.get("/incidents", headers=co).json()}
        assert "inc-ru" not in incidents and {"inc-co", "inc-public"} <= incidents
        assert "inc-ru" not in c.get("/incidents.csv", headers=co).text
        tokens_seen = c.get("/tokens", headers=tokens.headers("coalition", "admin")).json()
        assert {t["party"] for t in tokens_seen} == {"coalition"}
        assert all("token" not in t and "hash" not in t for t in tokens_seen)


def test_a_revoked_token_is_refused(world: tuple[Server, Tokens, dict[str, Any]]) -> None:
    server, tokens, _ = world
    admin = tokens.headers("coalition", "admin")
    with server.client() as c:
        new = c.post("/tokens", json={"role": "operator"}, headers=admin).json()
        mine = {"Authorization": f"Bearer {new['token']}"}
        assert c.get("/me", headers=mine).json()["role"] == "operator"
        assert c.delete(f"/tokens/{new['id']}", headers=admin).status_code == 204
        assert c.get("/me", headers=mine).status_code == 401
        assert c.delete(f"/tokens/{new['id']}", headers=admin).status_code == 204
