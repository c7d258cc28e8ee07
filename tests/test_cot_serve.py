"""`deconfliction serve --cot`: a real server process with a TAK listener, a pytak device
feeding it, the HTTP API showing what the device reported."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api_support import Server, Tokens, free_port, make_database, start_server
from cot_support import TakClient, atom


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, Tokens, str]]:
    db, tokens = make_database(tmp_path)
    config = tmp_path / "cot.yaml"
    config.write_text("actors:\n  coalition: {s: pro-regime, h: isis}\n")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    server = start_server(db, "--cot", f"{url}?party=coalition", "--cot-config", str(config))
    try:
        yield server, tokens, url
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_a_tak_device_feeds_the_served_picture(served: tuple[Server, Tokens, str]) -> None:
    server, tokens, url = served
    async with TakClient(url) as device:
        await device.wait_for(
            lambda r: {"deconfliction.line.euphrates", "deconfliction.site.conoco-hq"} <= r.uids()
        )
        now = datetime.now(UTC) - timedelta(minutes=1)
        await device.send(atom("t72", "a-s-G-U-C-A", 40.10, 35.25, time=now))
        await device.send(
            atom("t72", "a-s-G-U-C-A", 40.26, 35.36, time=now + timedelta(seconds=30))
        )
        await device.send(atom("isis-cell", "a-h-G-U-C-I", 40.9, 35.5, callsign="Cell"))
        got = await device.wait_for(
            lambda r: any(
                "zone.violation" in (e.findtext("detail/remarks") or "") for e in r.of_type("b-t-f")
            ),
            timeout=15,
        )
        assert any(e.get("uid", "").startswith("deconfliction.alert.") for e in got.events)

    def api() -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
        with server.client(headers=tokens.headers("coalition", "viewer")) as client:
            units = client.get("/units").json()
            alerts = client.get("/alerts").json()
        with server.client(headers=tokens.headers("russia", "viewer")) as client:
            theirs = client.get("/units").json()
        return units, alerts, theirs

    units, alerts, theirs = await asyncio.to_thread(api)
    features = {f["id"]: f for f in units["features"]}  # type: ignore[index, union-attr]
    assert features["t72"]["geometry"]["coordinates"] == pytest.approx([40.26, 35.36])
    assert features["isis-cell"]["properties"]["actor"] == "isis"
    assert any(a["rule"] == "zone.violation" for a in alerts["items"])  # type: ignore[union-attr]
    assert theirs["features"] == []  # type: ignore[index]
