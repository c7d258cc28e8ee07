"""The gateway on the real service: TAK reports are durable in the SQLite store through the
same path as the HTTP API, and the alerts they raise come back as chat."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cot_support import TakClient, atom, cot_config, theatre
from deconfliction.model import Settings
from deconfliction.service.core import Service
from deconfliction.store import Reference, SQLiteStore
from deconfliction.tak import CotGateway
from deconfliction.tak.adapter import ServiceSeam
from deconfliction.tak.config import CotConfigError
from deconfliction.tak.serve import load_config


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    engine = theatre()
    store = SQLiteStore(tmp_path / "service.sqlite")
    store.put_reference(
        Reference(
            parties=engine.parties,
            actors=list(engine.roster.actors.values()),
            units=[u for u in [_tank()]],
            lines=list(engine.lines.values()),
            sites=list(engine.sites.values()),
            settings=Settings(),
        )
    )
    running = Service(store, live=True)
    yield running
    running.close()
    store.close()


def _tank():  # type: ignore[no-untyped-def]
    from deconfliction.model import Unit, UnitKind

    return Unit(
        id="t72-company",
        name="Tank company",
        actor="pro-regime",
        kind=UnitKind.ARMOR,
        strength=60,
        equipment={"tank": 10},
    )


@pytest.mark.asyncio
async def test_tak_reports_are_durable_and_their_alerts_come_back(service: Service) -> None:
    gateway = await CotGateway(
        ServiceSeam(service), cot_config().with_urls(["tcp://127.0.0.1:0"])
    ).start()
    try:
        async with TakClient(gateway.urls()[0]) as device:
            now = datetime.now(UTC) - timedelta(minutes=2)
            await device.send(atom("t72-company", "a-s-G-U-C-A", 40.10, 35.25, time=now))
            await device.send(
                atom("t72-company", "a-s-G-U-C-A", 40.26, 35.36, time=now + timedelta(seconds=30))
            )
            for i in range(20):
                await device.send(
                    atom(
                        f"ANDROID-{i:04X}",
                        "a-f-G-U-C-I",
                        40.6,
                        35.6 + i / 100,
                        callsign=f"Team {i}",
                        time=now,
                    )
                )
            got = await device.wait_for(
                lambda r: any(
                    "zone.violation" in (e.findtext("detail/remarks") or "")
                    for e in r.of_type("b-t-f")
                ),
                timeout=10,
            )
            assert "deconfliction.line.euphrates" in got.uids()
            for _ in range(200):
                if service.store.report_count() == 22:
                    break
                await asyncio.sleep(0.02)
    finally:
        await gateway.stop()
    assert service.store.report_count() == 22
    stored = service.store.latest_reports("coalition", datetime.now(UTC))
    assert {r.unit for r in stored} >= {"t72-company"}
    team = [u for u in service.units.values() if u.name == "Team 3"]
    assert team and team[0].actor == "sdf" and team[0].id.startswith("android-0003-")
    events = service.store.events_since("coalition", 0)
    assert any(
        e.event.rule == "zone.violation" and e.event.units == ["t72-company"] for e in events
    )
    assert service.store.events_since("russia", 0) == []


def test_the_serve_options_are_checked_before_anything_starts(tmp_path: Path) -> None:
    assert load_config([], None) is None
    config = load_config(["tcp://127.0.0.1:8087?party=coalition"], None)
    assert config is not None and config.listeners[0].port == 8087
    with pytest.raises(CotConfigError, match="needs a party"):
        load_config(["tcp://127.0.0.1:8087"], None)
    local = load_config(["tcp://:8087?party=coalition"], None)
    assert local is not None and local.listeners[0].host == "127.0.0.1"
    with pytest.raises(CotConfigError, match="give a port"):
        load_config(["tcp://127.0.0.1?party=coalition"], None)
    with pytest.raises(CotConfigError, match="scheme"):
        load_config(["udp://127.0.0.1:8087"], None)
    bad = tmp_path / "cot.yaml"
    bad.write_text("max_event_bytes: -1\n")
    with pytest.raises(CotConfigError, match="max_event_bytes"):
        load_config([], bad)
    bad.write_text("actors: {coalition: {z: isis}}\n")
    with pytest.raises(CotConfigError, match="not a CoT affiliation"):
        load_config([], bad)


def test_a_tak_unit_id_taken_by_another_party_is_refused_and_hidden(service: Service) -> None:
    from deconfliction.batch import ReportBatch
    from deconfliction.model import Report, Unit, UnitKind

    seam = ServiceSeam(service)
    when = datetime(2018, 2, 7, 20, tzinfo=UTC)

    def batch(party: str, n: int) -> ReportBatch:
        report = Report(id=f"{party}-{n}", time=when, unit="tak-u", lon=40.1, lat=35.2)
        return ReportBatch.from_reports([report], default_observer=party)

    decoy = Unit(id="tak-u", name="Decoy", actor="pro-regime", kind=UnitKind.ARMOR)
    own = Unit(id="tak-u", name="SDF", actor="sdf", kind=UnitKind.INFANTRY)
    assert seam._ingest("russia", batch("russia", 1), [decoy]).accepted == 1
    refused = seam._ingest("coalition", batch("coalition", 1), [own])
    assert refused.accepted == 0
    assert any("tak-u" in r and "exists" in r for r in refused.rejected)
    # without a definition, the other party's unit is an unknown one
    hidden = seam._ingest("coalition", batch("coalition", 2), [])
    assert hidden.accepted == 0
    assert any("unknown unit 'tak-u'" in r for r in hidden.rejected)
    assert seam._ingest("russia", batch("russia", 2), []).accepted == 1
    assert service.units["tak-u"] == decoy
