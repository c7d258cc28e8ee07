"""Shared pieces of the CoT tests: a small theatre, a running gateway, a pytak client."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Callable
from configparser import ConfigParser
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as etree

from deconfliction.engine import Engine

with warnings.catch_warnings():
    # pytak nags at import about an optional HTTP package its TCP/TLS clients do not use.
    warnings.filterwarnings("ignore", message="The 'aiohttp' package", category=UserWarning)
    import pytak
from deconfliction.model import Actor, Line, Party, Site, Unit, UnitKind
from deconfliction.tak import CotConfig, CotGateway, PictureSink

EUPHRATES = Line(
    id="euphrates",
    name="Euphrates deconfliction line",
    left="coalition",
    right="russia",
    buffer_m=5000,
    coordinates=[(38.56, 35.87), (40.15, 35.34), (40.93, 34.45)],
)
CONOCO = Site(
    id="conoco-hq",
    name="SDF headquarters at the Conoco gas plant",
    party="coalition",
    kind="headquarters",
    lon=40.309,
    lat=35.336,
    personnel=40,
    priority="critical",
)
"""On the coalition (east) bank; a unit at (40.26, 35.36) is on the coalition's side."""


def theatre() -> Engine:
    return Engine(
        parties=[
            Party(id="coalition", name="US-led coalition"),
            Party(id="russia", name="Russian Federation"),
        ],
        actors=[
            Actor(id="sdf", name="Syrian Democratic Forces", party="coalition"),
            Actor(id="pro-regime", name="Pro-regime forces", party="russia"),
            Actor(id="isis", name="Islamic State", party=None),
            Actor(id="unidentified", name="Unidentified forces", party=None),
        ],
        lines=[EUPHRATES],
        sites=[CONOCO],
        units=[
            Unit(
                id="t72-company",
                name="Tank company",
                actor="pro-regime",
                kind=UnitKind.ARMOR,
                strength=60,
                equipment={"tank": 10},
            ),
        ],
    )


def cot_config(**overrides: Any) -> CotConfig:
    values: dict[str, Any] = {
        "party": "coalition",
        "actors": {
            "coalition": {"h": "isis", "s": "pro-regime", "u": "unidentified"},
            "russia": {"h": "isis", "u": "unidentified"},
        },
    }
    values.update(overrides)
    return CotConfig.model_validate(values)


@contextlib.asynccontextmanager
async def running(
    sink: PictureSink, config: CotConfig, urls: list[str]
) -> AsyncIterator[CotGateway]:
    gateway = await CotGateway(sink, config.with_urls(urls)).start()
    try:
        yield gateway
    finally:
        await gateway.stop()


def host_port(url: str) -> tuple[str, int]:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


@dataclass
class Received:
    """Everything a client read back, parsed."""

    events: list[etree.Element] = field(default_factory=list)

    def of_type(self, cot_type: str) -> list[etree.Element]:
        return [e for e in self.events if e.get("type") == cot_type]

    def uids(self) -> set[str]:
        return {str(e.get("uid")) for e in self.events}


class TakClient:
    """A pytak client: its TX and RX workers running against a server."""

    def __init__(self, url: str, **settings: str) -> None:
        parser = ConfigParser()
        parser["client"] = {"COT_URL": url, **settings}
        self.config = parser["client"]
        self.tx: asyncio.Queue[bytes] = asyncio.Queue()
        self.rx: asyncio.Queue[bytes] = asyncio.Queue()
        self.received = Received()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> TakClient:
        with warnings.catch_warnings():
            # pytak still sets OP_NO_TLSv1/OP_NO_TLSv1_1, which Python deprecates.
            warnings.filterwarnings("ignore", message="ssl.OP_NO", category=DeprecationWarning)
            reader, writer = await pytak.protocol_factory(self.config)
        self.writer = writer
        tx = pytak.TXWorker(self.tx, self.config, writer)
        rx = pytak.RXWorker(self.rx, self.config, reader)
        self._tasks = [asyncio.create_task(tx.run()), asyncio.create_task(rx.run())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()

    async def send(self, data: bytes) -> None:
        await self.tx.put(data)

    def _drain(self) -> None:
        while not self.rx.empty():
            data = self.rx.get_nowait()
            start = data.find(b"<event")
            self.received.events.append(etree.fromstring(data[start:]))

    async def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float = 15.0
    ) -> Received:
        """Wait until what came back satisfies `predicate`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self._drain()
            if predicate(self.received):
                return self.received
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    "timed out; received types "
                    + str(sorted({str(e.get("type")) for e in self.received.events}))
                )
            await asyncio.sleep(0.02)


def atom(
    uid: str,
    cot_type: str,
    lon: float,
    lat: float,
    *,
    callsign: str | None = None,
    time: datetime | None = None,
    extension: str = "",
) -> bytes:
    """A CoT atom as a TAK device writes it (pytak's own generator, plus detail)."""
    time = time or datetime.now(UTC)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stale = (time + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    contact = f'<contact callsign="{callsign}"/>' if callsign else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<event version="2.0" uid="{uid}" '
        f'type="{cot_type}" how="h-g-i-g-o" time="{stamp}" start="{stamp}" stale="{stale}">'
        f'<point lat="{lat}" lon="{lon}" hae="0.0" ce="15.0" le="9999999.0"/>'
        f"<detail>{contact}{extension}</detail></event>"
    ).encode()


def write_file(path: Path, events: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(events))
    return path
