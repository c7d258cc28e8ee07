"""A real TAK client (pytak) against the gateway over TCP: a thousand mixed events in,
the picture and the alerts they make, and the line, the site, the units and the alert
chat coming back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from cot_support import TakClient, atom, cot_config, running, theatre
from deconfliction.ingest.cot import parse_event
from deconfliction.tak import PictureSink
from deconfliction.tak import proto as tak_proto
from deconfliction.tak.framing import Framer

pytestmark = pytest.mark.asyncio


def mixed_events(start: datetime) -> list[bytes]:
    """1000 events: 600 friendly, 200 hostile and 100 suspect-tank atoms, and 100 others."""
    events: list[tuple[datetime, bytes]] = []
    for step in range(15):
        for i in range(40):
            t = start + timedelta(seconds=step * 60 + i)
            events.append(
                (
                    t,
                    atom(
                        f"sdf-{i}",
                        "a-f-G-U-C-I",
                        40.60 + i * 0.001 + step * 0.0001,
                        35.60,
                        callsign=f"SDF {i}",
                        time=t,
                    ),
                )
            )
    for step in range(10):
        for i in range(20):
            t = start + timedelta(seconds=step * 60 + 40 + i)
            events.append(
                (
                    t,
                    atom(
                        f"isis-{i}",
                        "a-h-G-U-C-I",
                        41.00 + i * 0.001,
                        35.00 - step * 0.001,
                        callsign=f"Fighters {i}",
                        time=t,
                    ),
                )
            )
    # The tank company drives from the west bank across the line towards Conoco.
    for step in range(100):
        t = start + timedelta(seconds=step * 9 + 5)
        lon = 40.10 + (40.26 - 40.10) * step / 99
        lat = 35.25 + (35.36 - 35.25) * step / 99
        events.append(
            (
                t,
                atom(
                    "t72-company",
                    "a-s-G-U-C-A",
                    lon,
                    lat,
                    callsign="Tank company",
                    time=t,
                    extension='<__deconfliction strength="60" equipment="tank:10"/>',
                ),
            )
        )
    for i in range(50):
        t = start + timedelta(seconds=i * 18)
        events.append((t, atom(f"ping-{i}", "t-x-c-t", 0.0, 0.0, time=t)))
    for i in range(30):
        t = start + timedelta(seconds=i * 30)
        events.append((t, atom(f"GeoChat.x.All Chat Rooms.{i}", "b-t-f", 40.5, 35.5, time=t)))
    for i in range(20):
        t = start + timedelta(seconds=i * 45)
        events.append((t, atom(f"drawing-{i}", "u-d-f", 40.5, 35.5, time=t)))
    events.sort(key=lambda item: item[0])
    return [data for _, data in events]


async def test_a_thousand_events_over_tcp_make_the_picture_and_alerts_come_back() -> None:
    sink = PictureSink(theatre())
    start = datetime.now(UTC) - timedelta(minutes=20)
    events = mixed_events(start)
    assert len(events) == 1000
    async with running(sink, cot_config(), ["tcp://127.0.0.1:0"]) as gateway:
        url = gateway.urls()[0]
        async with TakClient(url) as device:
            for data in events:
                await device.send(data)
            received = await device.wait_for(
                lambda r: (
                    any(
                        "zone.violation" in (e.findtext("detail/remarks") or "")
                        for e in r.of_type("b-t-f")
                    )
                    and len(r.of_type("t-x-c-t-r")) >= 1
                    and bool(r.of_type("b-m-p-s-m"))
                    and "deconfliction.line.euphrates" in r.uids()
                ),
                timeout=15,
            )
            for _ in range(500):
                if len(sink.report_ids) == 900:
                    break
                await asyncio.sleep(0.02)

            picture = {u.id: u for u in sink.engine.picture("coalition").units()}
            assert {f"sdf-{i}" for i in range(40)} <= picture.keys()
            assert {f"isis-{i}" for i in range(20)} <= picture.keys()
            assert len(picture) == 61
            assert picture["sdf-7"].actor == "sdf"
            assert picture["sdf-7"].kind == "infantry"
            assert picture["sdf-7"].lon == pytest.approx(40.607 + 14 * 0.0001)
            assert picture["isis-3"].actor == "isis"
            assert picture["isis-3"].lat == pytest.approx(35.00 - 9 * 0.001)
            tank = picture["t72-company"]
            assert (tank.lon, tank.lat) == (pytest.approx(40.26), pytest.approx(35.36))
            assert tank.strength == 60 and tank.equipment.get("tank") == 10
            assert sink.engine.picture("russia").units() == []
            assert len(sink.report_ids) == 900

            opened = [e for e in sink.events if e.event == "open"]
            violation = next(e for e in opened if e.rule == "zone.violation")
            assert violation.party == "coalition"
            assert violation.units == ["t72-company"]
            assert violation.crossing is not None

            chat = [
                e
                for e in received.of_type("b-t-f")
                if violation.id in (e.findtext("detail/remarks") or "")
            ]
            assert chat and chat[0].find("detail/__chat").get("chatroom") == "All Chat Rooms"
            marker_uid = f"deconfliction.alert.{violation.id}"
            await device.wait_for(lambda r: marker_uid in r.uids())
            marker = [e for e in received.events if e.get("uid") == marker_uid]
            assert marker and marker[0].get("type") == "b-m-p-s-m"
            assert float(marker[0].find("point").get("lon")) == pytest.approx(violation.lon)
            line = next(
                e for e in received.events if e.get("uid") == "deconfliction.line.euphrates"
            )
            assert line.get("type") == "u-d-f"
            links = [ln.get("point") for ln in line.findall("detail/link")]
            assert links[0] == "35.8700000,38.5600000" and len(links) == 3
            assert "deconfliction.line.euphrates.buffer" in received.uids()
            assert "deconfliction.site.conoco-hq" in received.uids()
            # Units this device reported are not echoed back to it.
            assert not {f"sdf-{i}" for i in range(40)} & received.uids()

        # A second device of the same party sees the picture, in the coalition's affiliations.
        async with TakClient(url) as second:
            got = await second.wait_for(lambda r: {"t72-company", "isis-0", "sdf-0"} <= r.uids())
            types = {e.get("uid"): e.get("type") for e in got.events}
            assert types["t72-company"] == "a-s-G-U-C-A"
            assert types["isis-0"] == "a-h-G-U-C-I"
            assert types["sdf-0"] == "a-f-G-U-C-I"
            tank_xml = next(e for e in got.events if e.get("uid") == "t72-company")
            assert tank_xml.find("detail/__deconfliction").get("equipment") == "tank:10"


async def test_a_replayed_session_is_not_applied_twice() -> None:
    sink = PictureSink(theatre())
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = [atom(f"sdf-{i}", "a-f-G-U-C-I", 40.6, 35.6, time=start) for i in range(10)]
    async with running(sink, cot_config(), ["tcp://127.0.0.1:0"]) as gateway:
        for _ in range(2):
            async with TakClient(gateway.urls()[0]) as device:
                for data in events:
                    await device.send(data)
                await device.wait_for(lambda r: "deconfliction.site.conoco-hq" in r.uids())
                for _ in range(100):
                    if len(sink.report_ids) == 10:
                        break
                    await asyncio.sleep(0.02)
        assert len(sink.report_ids) == 10
        assert len(sink.engine.picture("coalition").units()) == 10


async def test_each_party_sees_only_its_own_picture_and_alerts() -> None:
    sink = PictureSink(theatre())
    config = cot_config(party=None)
    async with running(
        sink, config, ["tcp://127.0.0.1:0?party=coalition", "tcp://127.0.0.1:0?party=russia"]
    ) as gateway:
        coalition_url, russia_url = gateway.urls()
        async with TakClient(coalition_url) as west, TakClient(russia_url) as east:
            await east.wait_for(lambda r: "deconfliction.line.euphrates" in r.uids())
            now = datetime.now(UTC)
            await west.send(atom("t72-company", "a-s-G-U-C-A", 40.10, 35.25, time=now))
            await west.send(
                atom("t72-company", "a-s-G-U-C-A", 40.26, 35.36, time=now + timedelta(seconds=30))
            )
            await west.wait_for(lambda r: bool(r.of_type("b-t-f")))
            await east.send(atom("pr-scouts", "a-f-G-U-C-I", 40.0, 35.2, time=now))
            await asyncio.sleep(0.5)
            east._drain()
            assert not east.received.of_type("b-t-f")
            assert "t72-company" not in east.received.uids()
            assert "deconfliction.site.conoco-hq" not in east.received.uids()
            assert [u.id for u in sink.engine.picture("russia").units()] == ["pr-scouts"]
            assert sink.engine.picture("russia").unit("pr-scouts").actor == "pro-regime"


@pytest.mark.skipif(not tak_proto.AVAILABLE, reason="takproto is not installed")
async def test_tak_protocol_v1_from_pytak_is_accepted() -> None:
    sink = PictureSink(theatre())
    async with running(sink, cot_config(), ["tcp://127.0.0.1:0"]) as gateway:
        async with TakClient(gateway.urls()[0], TAK_PROTO="1") as device:
            now = datetime.now(UTC)
            for i in range(5):
                await device.send(
                    atom(
                        f"sdf-{i}",
                        "a-f-G-U-C-I",
                        40.6 + i / 100,
                        35.6,
                        callsign=f"SDF {i}",
                        time=now,
                        extension='<__deconfliction strength="120"/>',
                    )
                )
            for _ in range(100):
                if len(sink.engine.picture("coalition").units()) == 5:
                    break
                await asyncio.sleep(0.02)
        units = {u.id: u for u in sink.engine.picture("coalition").units()}
        assert units["sdf-3"].lon == pytest.approx(40.63)
        assert units["sdf-3"].name == "SDF 3"
        assert units["sdf-3"].strength == 120


@pytest.mark.skipif(not tak_proto.AVAILABLE, reason="takproto is not installed")
async def test_negotiated_protocol_v1_switches_what_the_server_sends() -> None:
    sink = PictureSink(theatre())
    async with running(sink, cot_config(), ["tcp://127.0.0.1:0"]) as gateway:
        reader, writer = await asyncio.open_connection(*gateway.urls()[0][6:].rsplit(":", 1))
        offer = await reader.readuntil(b"</event>")
        assert parse_event(offer).type == "t-x-takp-v"
        now = datetime.now(UTC)
        writer.write(
            atom(
                "takreq",
                "t-x-takp-q",
                0,
                0,
                time=now,
                extension='<TakControl><TakRequest version="1"/></TakControl>',
            )
        )
        await writer.drain()
        data = b""
        while b"t-x-takp-r" not in data:
            data += await asyncio.wait_for(reader.read(65536), 5)
        response = data[data.rfind(b"<event", 0, data.find(b"t-x-takp-r")) :]
        response = response[: response.find(b"</event>") + 8]
        assert 'status="true"' in response.decode()
        # From here on the server writes TAK protocol v1 stream messages.
        sink.add_line(sink.engine.lines["euphrates"].model_copy(update={"id": "second-line"}))
        framer = Framer(1 << 20)
        framer.feed(data[data.find(b"t-x-takp-r") :].split(b"</event>", 1)[1])
        messages = []
        while not any(m.uid == "deconfliction.line.second-line" for m in messages):
            frames = framer.feed(await asyncio.wait_for(reader.read(65536), 5))
            assert not frames.xml
            messages += [tak_proto.decode(payload) for payload in frames.proto]
        writer.close()
        line = next(m for m in messages if m.uid == "deconfliction.line.second-line")
        assert line.type == "u-d-f"
