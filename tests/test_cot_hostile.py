"""Hostile input on one connection leaves the server up and every other client served."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest

from cot_support import TakClient, atom, cot_config, host_port, running, theatre
from deconfliction.tak import CotGateway, PictureSink

MALFORMED = (
    b'<event version="2.0" uid="broken" type="a-h-G" time="2018-02-07T20:00:00Z">'
    b'<point lat="1" lon=2/></event>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<event version="2.0" uid="xxe" type="a-h-G" how="m-g" time="2030-01-01T00:00:00Z" '
    b'stale="2030-01-01T01:00:00Z"><point lat="35" lon="40" ce="1" hae="0" le="0"/>'
    b'<detail><contact callsign="&xxe;"/></detail></event>'
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><event version="2.0" uid="lolz" type="a-h-G" how="m-g" time="2030-01-01T00:00:00Z" '
    b'stale="2030-01-01T01:00:00Z"><point lat="35" lon="40"/><detail><contact callsign="&lol9;"/>'
    b"</detail></event>"
)


def good(uid: str) -> bytes:
    return atom(uid, "a-h-G-U-C-I", 41.0, 35.0, time=datetime.now(UTC))


async def settle(sink: PictureSink, *uids: str, timeout: float = 4.0) -> bool:
    for _ in range(int(timeout / 0.02)):
        if all(u in sink.engine.roster.unit_index for u in uids):
            return True
        await asyncio.sleep(0.02)
    return False


async def raw(gateway: CotGateway) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*host_port(gateway.urls()[0]))


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
        return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True


@pytest.mark.asyncio
async def test_malformed_xxe_and_billion_laughs_are_skipped_and_nothing_else_suffers() -> None:
    sink = PictureSink(theatre())
    async with (
        running(sink, cot_config(), ["tcp://127.0.0.1:0"]) as gateway,
        TakClient(gateway.urls()[0]) as bystander,
    ):
        await bystander.wait_for(lambda r: "deconfliction.line.euphrates" in r.uids())
        reader, writer = await raw(gateway)
        for payload in (
            MALFORMED,
            XXE,
            LAUGHS,
            b"<event><<<>>>&&&</event>",
            b"\xff\xfe</event>",
        ):
            writer.write(payload)
        writer.write(good("after-the-junk"))
        await writer.drain()
        await bystander.send(good("bystander-unit"))
        assert await settle(sink, "after-the-junk", "bystander-unit")
        for hostile in ("broken", "xxe", "lolz"):
            assert hostile not in sink.engine.roster.unit_index
        names = {u.name for u in sink.engine.picture("coalition").units()}
        assert not any("root:" in n or "lol" in n for n in names)
        # The connection that sent the junk is still served: its events were each
        # skipped, and two declarations are below the abuse limit.
        assert not await closed_by_server(reader, 0.2)
        writer.close()


@pytest.mark.asyncio
async def test_oversized_events_are_dropped_and_repeated_abuse_closes_the_connection() -> None:
    sink = PictureSink(theatre())
    async with running(sink, cot_config(max_abuse=3), ["tcp://127.0.0.1:0"]) as gateway:
        huge = atom(
            "huge", "a-h-G-U-C-I", 41.0, 35.0, extension="<remarks>" + "x" * 70_000 + "</remarks>"
        )
        reader, writer = await raw(gateway)
        writer.write(huge + good("small-after-huge"))
        await writer.drain()
        assert await settle(sink, "small-after-huge")
        assert "huge" not in sink.engine.roster.unit_index
        # An unterminated stream past the limit is cut off too, without buffering it all.
        writer.write(b"<event>" + b"y" * 200_000 + b"</event>")
        writer.write(huge)
        await writer.drain()
        assert await closed_by_server(reader, 5)
        writer.close()
        async with TakClient(gateway.urls()[0]) as other:
            await other.send(good("still-served"))
            assert await settle(sink, "still-served")


@pytest.mark.asyncio
async def test_an_event_split_byte_by_byte_is_taken_whole() -> None:
    sink = PictureSink(theatre())
    async with running(sink, cot_config(), ["tcp://127.0.0.1:0"]) as gateway:
        _, writer = await raw(gateway)
        payload = good("trickled") + b"\n" + good("second-trickled")
        for i in range(len(payload)):
            writer.write(payload[i : i + 1])
            await writer.drain()
            if i % 8 == 0:
                await asyncio.sleep(0)
        assert await settle(sink, "trickled", "second-trickled")
        writer.close()


@pytest.mark.asyncio
async def test_a_connection_that_never_finishes_its_event_is_closed() -> None:
    sink = PictureSink(theatre())
    config = cot_config(partial_timeout_s=0.5)
    async with running(sink, config, ["tcp://127.0.0.1:0"]) as gateway:
        reader, writer = await raw(gateway)
        writer.write(good("never")[:-20])
        await writer.drain()
        async with TakClient(gateway.urls()[0]) as other:
            await other.send(good("meanwhile"))
            assert await settle(sink, "meanwhile")
        assert await closed_by_server(reader, 3)
        writer.close()
        assert "never" not in sink.engine.roster.unit_index


@pytest.mark.asyncio
async def test_a_client_that_never_reads_loses_old_updates_not_alerts_and_delays_nobody() -> None:
    sink = PictureSink(theatre())
    config = cot_config(queue_updates=150, send_buffer_bytes=4096)
    async with running(sink, config, ["tcp://127.0.0.1:0"]) as gateway:
        # Connects with a tiny receive window and never reads.
        stalled_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stalled_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled_socket.connect(host_port(gateway.urls()[0]))
        port = stalled_socket.getsockname()[1]
        async with TakClient(gateway.urls()[0]) as feeder, TakClient(gateway.urls()[0]) as watcher:
            await watcher.wait_for(lambda r: "deconfliction.line.euphrates" in r.uids())
            now = datetime.now(UTC) - timedelta(minutes=5)
            # Rounds of new units, each round one picture update, until the stalled
            # client's socket is full and its queue is what gives way.
            for round_ in range(8):
                for i in range(round_ * 100, round_ * 100 + 100):
                    # Spread out (10 km apart) so that no two of them mass.
                    await feeder.send(
                        atom(
                            f"isis-{i}",
                            "a-h-G-U-C-I",
                            41.0 + (i % 40) * 0.1,
                            33.0 + (i // 40) * 0.1,
                            callsign="Fighters " + "z" * 190,
                            time=now,
                        )
                    )
                last = f"isis-{round_ * 100 + 99}"
                await watcher.wait_for(lambda r, last=last: last in r.uids(), timeout=10)
            stalled = [c for c in gateway.connections["coalition"] if f":{port} " in c.peer]
            assert len(stalled) == 1
            assert stalled[0].dropped_updates > 0
            assert len(stalled[0].updates) <= 150
            await feeder.send(atom("t72-company", "a-s-G-U-C-A", 40.10, 35.25, time=now))
            await feeder.send(
                atom("t72-company", "a-s-G-U-C-A", 40.26, 35.36, time=now + timedelta(seconds=30))
            )
            # The stalled client holds nothing up: the watcher gets the alert at once,
            # and the stalled client's alert waits in its queue, not dropped.
            await watcher.wait_for(
                lambda r: any(
                    "zone.violation" in (e.findtext("detail/remarks") or "")
                    for e in r.of_type("b-t-f")
                ),
                timeout=10,
            )
            assert any(b"zone.violation" in a for a in stalled[0].alerts)
        stalled_socket.close()
