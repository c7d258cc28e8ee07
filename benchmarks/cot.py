"""TAK gateway benchmarks. Prints `name value unit` lines:

  cot.ingest.throughput   CoT events/s over one TCP connection into the service's
                          pictures (framing, parsing, atoms to reports, ingest); the best
                          of three runs, each into a fresh service, as the ceiling is
                          the best of three
  cot.parse.ceiling       the same events parsed by the XML library alone (defusedxml,
                          the faster of per event and per group of events; events/s)
  cot.ingest.ratio        the first over the second (target >= 0.5)
  cot.ingest.cpu_throughput  events per second of the gateway process's CPU time, beside
  cot.parse.cpu_ceiling   the parse alone per second of CPU time, and their
  cot.ingest.cpu_ratio    ratio: the same comparison, robust to a busy machine
  cot.parse.floor         for reference, the same parser (defusedxml's, DTDs and entities
                          refused) on the same groups with element callbacks that do
                          nothing: what any use of it costs at least (events/cpu-s). The
                          gateway takes its callbacks from expat too, rather than an
                          element tree, so its parse sits between this and the ceiling
  cot.fanout.latency_p99  ms from an alert to its chat message at each of 100 clients

The collector keeps Python's default thresholds, for both figures alike (under the
command line's `deconfliction.runtime.tune_collector` both rise, the ceiling more: its
element trees are containers). The sender and the 100 clients run in another process,
so that the gateway's event loop has a core of its own as it would in a server.
`--sink service` ingests through the real service and its SQLite store (durable before
the next read), `--sink engine` through the in-process engine alone. The units are known
to the service beforehand, as the devices of a running exercise are: the figure is the
steady state of position reports, not the first sighting of a unit (which the service
commits on its own).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import numpy as np
from defusedxml.ElementTree import DefusedXMLParser, fromstring

from deconfliction.engine import Engine
from deconfliction.ingest import cot
from deconfliction.model import Actor, AlertEvent, Line, Party, Settings, Site, Unit
from deconfliction.tak import CotConfig, CotGateway, PictureSink, outbound

PARTIES = [Party(id="coalition", name="Coalition"), Party(id="russia", name="Russia")]
ACTORS = [
    Actor(id="sdf", name="SDF", party="coalition"),
    Actor(id="pro-regime", name="Pro-regime", party="russia"),
    Actor(id="isis", name="IS", party=None),
]
LINE = Line(
    id="euphrates",
    name="Euphrates",
    left="coalition",
    right="russia",
    buffer_m=5000,
    coordinates=[(38.56, 35.87), (40.15, 35.34), (40.93, 34.45)],
)
SITE = Site(
    id="conoco-hq",
    name="Conoco HQ",
    party="coalition",
    kind="headquarters",
    lon=40.309,
    lat=35.336,
    personnel=40,
    priority="critical",
)
CONFIG = {"party": "coalition", "actors": {"coalition": {"h": "isis", "s": "pro-regime"}}}
TYPES = ("a-f-G-U-C-I", "a-h-G-U-C-I", "a-s-G-U-C-A", "a-f-G-U-C-F", "a-h-G-U-C-F-M")


def events(n: int, units: int) -> list[bytes]:
    """`n` atoms of `units` units spread over the theatre, as ATAK writes them."""
    start = datetime.now(UTC) - timedelta(seconds=n // 10 + 60)
    rng = np.random.default_rng(7)
    lon = rng.uniform(39.0, 41.5, units)
    lat = rng.uniform(34.0, 36.5, units)
    out = []
    for i in range(n):
        u = i % units
        t = start + timedelta(milliseconds=100 * i)
        stamp = outbound.cot_time(t)
        stale = outbound.cot_time(t + timedelta(minutes=5))
        out.append(
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><event version="2.0" '
            f'uid="unit-{u}" type="{TYPES[u % len(TYPES)]}" how="m-g" time="{stamp}" '
            f'start="{stamp}" stale="{stale}"><point lat="{lat[u] + i * 1e-7:.6f}" '
            f'lon="{lon[u]:.6f}" hae="250.0" ce="9.9" le="9999999.0"/><detail>'
            f'<contact callsign="Unit {u}" endpoint="*:-1:stcp"/><__group name="Cyan" '
            f'role="Team Member"/><status battery="88"/><takv device="SM-G950U" '
            f'platform="ATAK-CIV" os="28" version="4.10.0"/><track course="90.0" speed="0.0"/>'
            f"</detail></event>".encode()
        )
    return out


def parse_ceiling(frames: list[bytes]) -> tuple[float, float]:
    """The XML library alone on the same events: the faster of one parse per event and
    one parse per group of events (the way the gateway calls it), best of three; in
    events per second of wall time and per second of CPU time."""
    bodies = [cot.strip_frame(f) for f in frames]
    groups = [
        b"<cot>" + b"".join(bodies[i : i + cot.GROUP]) + b"</cot>"
        for i in range(0, len(bodies), cot.GROUP)
    ]
    wall = cpu = 0.0
    for _ in range(3):
        for documents in (bodies, groups):
            start, start_cpu = time.perf_counter(), time.process_time()
            for document in documents:
                fromstring(document, forbid_dtd=True)
            wall = max(wall, len(bodies) / (time.perf_counter() - start))
            cpu = max(cpu, len(bodies) / (time.process_time() - start_cpu))
    return wall, cpu


def parse_floor(frames: list[bytes]) -> float:
    """The parser the gateway uses, on the same groups, with callbacks that do nothing;
    best of three, in events per second of CPU time."""
    bodies = [cot.strip_frame(f) for f in frames]
    groups = [
        b"<cot>" + b"".join(bodies[i : i + cot.GROUP]) + b"</cot>"
        for i in range(0, len(bodies), cot.GROUP)
    ]

    class Nothing:
        def close(self) -> None:
            return None

    def start(tag: str, attrib: dict[str, str]) -> None:
        return None

    def end(tag: str) -> None:
        return None

    best = 0.0
    for _ in range(3):
        start_cpu = time.process_time()
        for group in groups:
            parser = DefusedXMLParser(target=Nothing(), forbid_dtd=True)
            parser.parser.ordered_attributes = False
            parser.parser.StartElementHandler = start
            parser.parser.EndElementHandler = end
            parser.feed(group)
            parser.close()
        best = max(best, len(bodies) / (time.process_time() - start_cpu))
    return best


def known_units(units: int) -> list[Unit]:
    """The units the events are about, as a service that has seen them before knows them."""
    out = []
    for u in range(units):
        cot_type = TYPES[u % len(TYPES)]
        actor = CONFIG["actors"]["coalition"].get(cot_type[2], "sdf")  # type: ignore[index]
        out.append(
            Unit(id=f"unit-{u}", name=f"Unit {u}", actor=actor, kind=cot.unit_kind(cot_type))
        )
    return out


def sink_for(kind: str, directory: Path, units: list[Unit]) -> tuple[Any, Any]:
    if kind == "engine":
        return PictureSink(Engine(PARTIES, ACTORS, [LINE], [SITE], units, Settings())), None
    from deconfliction.service.core import Service
    from deconfliction.store import Reference, SQLiteStore
    from deconfliction.tak.adapter import ServiceSeam

    store = SQLiteStore(directory / "bench.sqlite")
    store.put_reference(Reference(PARTIES, ACTORS, units, [LINE], [SITE], Settings()))
    service = Service(store, live=True)
    return ServiceSeam(service), (service, store)


def count(seam: Any) -> int:
    """Reports taken in so far. For the service, those its ingest has returned as durable:
    a COUNT(*) of the store every poll would take the gateway's event loop from it."""
    if isinstance(seam, PictureSink):
        return len(seam.report_ids)
    return int(seam.accepted)


# -- the other process -----------------------------------------------------------------


def send_all(port: int, payload: bytes, pipe: Pipe) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        pipe.send(time.time())
        sock.sendall(payload)
        pipe.recv()  # hold the connection open until the server has everything


def listen_for_alerts(port: int, clients: int, alerts: int, pipe: Pipe) -> None:
    async def run() -> dict[tuple[int, str], float]:
        arrived: dict[tuple[int, str], float] = {}
        done = asyncio.Event()

        async def client(k: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            buffer = b""
            while len([1 for key in arrived if key[0] == k]) < alerts:
                data = await reader.read(65536)
                if not data:
                    break
                now = time.time()
                buffer += data
                while (start := buffer.find(b"GeoChat.deconfliction.All Chat Rooms.")) != -1:
                    end = buffer.find(b".", start + 37)
                    alert_id = buffer[start + 37 : end].decode()
                    arrived.setdefault((k, alert_id), now)
                    buffer = buffer[end:]
                buffer = buffer[-100:]
            writer.close()
            if all(len([1 for key in arrived if key[0] == c]) >= alerts for c in range(clients)):
                done.set()

        tasks = [asyncio.create_task(client(k)) for k in range(clients)]
        await asyncio.sleep(0.5)
        pipe.send("connected")
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        return arrived

    pipe.send(asyncio.run(run()))


# -- the gateway -----------------------------------------------------------------------


async def ingest_throughput(
    kind: str, frames: list[bytes], directory: Path, units: list[Unit]
) -> tuple[float, float]:
    seam, owned = sink_for(kind, directory, units)
    config = CotConfig.model_validate(CONFIG).with_urls(["tcp://127.0.0.1:0"])
    gateway = await CotGateway(seam, config).start()
    port = int(gateway.urls()[0].rsplit(":", 1)[1])
    ours, theirs = multiprocessing.Pipe()
    sender = multiprocessing.Process(target=send_all, args=(port, b"\n".join(frames), theirs))
    sender.start()
    loop = asyncio.get_running_loop()
    started = await loop.run_in_executor(None, ours.recv)
    cpu = time.process_time()
    while count(seam) < len(frames):
        await asyncio.sleep(0.002)
    elapsed = time.time() - started
    cpu_rate = len(frames) / (time.process_time() - cpu)
    ours.send("done")
    sender.join()
    await gateway.stop()
    if owned is not None:
        stored = owned[1].report_count()
        if stored != len(frames):
            raise SystemExit(f"the store holds {stored} reports, not {len(frames)}")
        owned[0].close()
        owned[1].close()
    return len(frames) / elapsed, cpu_rate


async def fanout_latency(clients: int, alerts: int) -> float:
    seam = PictureSink(Engine(PARTIES, ACTORS, [LINE], [SITE], [], Settings()))
    config = CotConfig.model_validate(CONFIG).with_urls(["tcp://127.0.0.1:0"])
    gateway = await CotGateway(seam, config).start()
    port = int(gateway.urls()[0].rsplit(":", 1)[1])
    ours, theirs = multiprocessing.Pipe()
    listener = multiprocessing.Process(
        target=listen_for_alerts, args=(port, clients, alerts, theirs)
    )
    listener.start()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, ours.recv)
    while len(gateway.connections.get("coalition", ())) < clients:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # let the initial views go out
    sent: dict[str, float] = {}
    for n in range(alerts):
        alert = AlertEvent(
            event="open",
            id=f"a-{n + 1}",
            rule="zone.violation",
            severity="high",
            time=datetime.now(UTC),
            party="coalition",
            units=["t72"],
            line="euphrates",
            lon=40.26,
            lat=35.36,
            message="Tank company crossed the Euphrates line",
        )
        sent[alert.id] = time.time()
        gateway.alerts([alert])
        await asyncio.sleep(0.05)
    arrived = await loop.run_in_executor(None, ours.recv)
    listener.join()
    await gateway.stop()
    latencies = [(at - sent[alert_id]) * 1000 for (_, alert_id), at in arrived.items()]
    if len(latencies) < clients * alerts:
        print(
            f"# only {len(latencies)} of {clients * alerts} chat messages arrived", file=sys.stderr
        )
    return float(np.percentile(latencies, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--alerts", type=int, default=50)
    parser.add_argument("--sink", choices=("service", "engine"), default="service")
    parser.add_argument("--runs", type=int, default=3, help="ingest runs; the best is kept")
    args = parser.parse_args()
    frames = events(args.events, args.units)
    throughput = cpu_rate = 0.0
    for _ in range(args.runs):
        # A fresh service and store each run: every run stores all the events.
        with tempfile.TemporaryDirectory() as directory:
            wall, cpu = asyncio.run(
                ingest_throughput(args.sink, frames, Path(directory), known_units(args.units))
            )
        throughput, cpu_rate = max(throughput, wall), max(cpu_rate, cpu)
    ceiling, ceiling_cpu = parse_ceiling(frames)
    floor = parse_floor(frames)
    latency = asyncio.run(fanout_latency(args.clients, args.alerts))
    print(f"cot.ingest.throughput {throughput:.0f} events/s")
    print(f"cot.parse.ceiling {ceiling:.0f} events/s")
    print(f"cot.ingest.ratio {throughput / ceiling:.2f} ratio")
    print(f"cot.ingest.cpu_throughput {cpu_rate:.0f} events/cpu-s")
    print(f"cot.parse.cpu_ceiling {ceiling_cpu:.0f} events/cpu-s")
    print(f"cot.ingest.cpu_ratio {cpu_rate / ceiling_cpu:.2f} ratio")
    print(f"cot.parse.floor {floor:.0f} events/cpu-s")
    print(f"cot.fanout.latency_p99 {latency:.1f} ms")


if __name__ == "__main__":
    main()
