"""A server killed with SIGKILL mid-stream loses no acknowledged report, and after a
restart its alerts are those of a run that was never interrupted."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from api_support import make_database, start_server
from deconfliction.service.auth import Principal
from deconfliction.service.core import Service
from deconfliction.store import Role, SQLiteStore

T0 = datetime(2018, 2, 1, tzinfo=UTC)
UNITS = 40
BATCHES = 80


def body(k: int) -> bytes:
    """Batch k: forty pro-regime units walking east across the line towards the HQ."""
    time = (T0 + timedelta(hours=k)).isoformat()
    reports = [
        {
            "id": f"r-{k}-{u}",
            "time": time,
            "unit": f"u-{u}",
            "actor": "pro-regime",
            "kind": "armor" if u % 4 == 0 else "infantry",
            "strength": 20 + u,
            "equipment": {"tank": 2} if u % 4 == 0 else None,
            "lon": 39.9 + 0.45 * k / BATCHES + (u % 8) * 0.004,
            "lat": 35.30 + (u // 8) * 0.004,
        }
        for u in range(UNITS)
    ]
    return orjson.dumps([{k: v for k, v in r.items() if v is not None} for r in reports])


def alerts(client: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get("/alerts", params=params, headers=headers).json()
        found += page["items"]
        cursor = page["next"]
        if cursor is None:
            return found


def test_sigkill_mid_stream_then_restart(tmp_path: Path) -> None:
    db, tokens = make_database(tmp_path / "crashed")
    twin, twin_tokens = make_database(tmp_path / "twin")
    del twin_tokens
    headers = tokens.headers("coalition", "operator")
    server = start_server(db, "--clock", "reports")
    acknowledged: list[int] = []
    killed = threading.Event()

    def post_all() -> None:
        with server.client() as c:
            for k in range(BATCHES):
                try:
                    r = c.post("/reports", content=body(k), headers=headers)
                except httpx.TransportError:
                    return
                if r.status_code == 200:
                    acknowledged.append(k)
                if killed.is_set():
                    return

    poster = threading.Thread(target=post_all)
    poster.start()
    while len(acknowledged) < BATCHES // 2 and poster.is_alive():
        threading.Event().wait(0.005)
    server.kill()
    killed.set()
    poster.join(30)
    assert BATCHES // 2 <= len(acknowledged) < BATCHES

    with SQLiteStore(db) as store:
        stored = {rid for b in store.report_batches() for rid in b.report_id.tolist()}
    for k in acknowledged:
        assert {f"r-{k}-{u}" for u in range(UNITS)} <= stored

    server = start_server(db, "--clock", "reports")
    try:
        with server.client() as c:
            # resend from the first unacknowledged batch: what had committed is a duplicate
            for k in range(acknowledged[-1] + 1, BATCHES):
                assert c.post("/reports", content=body(k), headers=headers).status_code == 200
            after_restart = alerts(c, headers)
            health = c.get("/health", headers=headers).json()
            # tracks come from memory, read back from the file after the kill
            tracks = [
                c.get(f"/units/u-{u}/track", headers=headers).json()["properties"]["reports"]
                for u in (0, 17, UNITS - 1)
            ]
    finally:
        server.stop()

    with SQLiteStore(twin) as store:
        service = Service(store, live=False)
        caller = Principal("coalition", Role.OPERATOR, 0)
        for k in range(BATCHES):
            service.post_reports(caller, body(k), "application/json")
        page = service.alert_page(caller, limit=1000)
        uninterrupted = [a.model_dump(mode="json") for a in page.items]
        service.close()

    assert after_restart == uninterrupted
    assert len(uninterrupted) >= 3
    assert health["store"]["reports"] == UNITS * BATCHES
    for u, track in zip((0, 17, UNITS - 1), tracks, strict=True):
        assert track == [f"r-{k}-{u}" for k in range(BATCHES)]
