"""HTTP API benchmark: a real `deconfliction serve` process loaded from other processes.

Prints one `name value unit` line per figure (the targets of issue 3 on stderr):

    api.ingest.throughput      batched POSTs of 1,000 reports from 4 concurrent clients
    api.ingest.ceiling         plain SQLite executemany of the same rows, same schema
    api.ingest.ceiling_ratio   the first divided by the second
    api.ingest.latency_p99     single-report POSTs at a steady 1,000 requests/s
    api.alert.latency_p99      posting a report that opens an alert -> its event on /events
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from deconfliction.batch import ReportBatch  # noqa: E402
from deconfliction.model import Report  # noqa: E402
from deconfliction.store import SQLiteStore  # noqa: E402
from deconfliction.store.rows import report_rows  # noqa: E402
from deconfliction.store.sqlite import writer_connection  # noqa: E402
from harness import free_port  # noqa: E402

T0 = datetime(2018, 2, 1, tzinfo=UTC)
UNITS = 2000


def scenario_text() -> str:
    units = "\n".join(
        f"  - {{id: u-{i}, name: Unit {i}, actor: {'sdf' if i % 2 else 'pro-regime'},"
        f" kind: infantry, strength: 30}}"
        for i in range(UNITS)
    )
    return f"""
name: API benchmark
parties: [{{id: coalition, name: Coalition}}, {{id: russia, name: Russia}}]
actors:
  - {{id: sdf, name: SDF, party: coalition}}
  - {{id: pro-regime, name: Pro-regime, party: russia}}
lines:
  - {{id: euphrates, name: Euphrates line, left: coalition, right: russia, buffer_m: 5000,
     coordinates: [[38.56, 35.87], [40.15, 35.34], [40.93, 34.45]]}}
sites:
  - {{id: conoco-hq, name: Conoco HQ, party: coalition, kind: headquarters,
     lon: 40.309, lat: 35.336, personnel: 40, priority: critical}}
units:
{units}
reports: []
"""


def batch_reports(client: int, k: int, size: int) -> list[dict[str, Any]]:
    """Units far from the line and sites: the ingest path without alert churn."""
    rng = np.random.default_rng(client * 100_003 + k)
    units = rng.integers(0, UNITS, size)
    lon = 41.5 + rng.random(size) * 0.5
    lat = 36.5 + rng.random(size) * 0.5
    time = (T0 + timedelta(seconds=k)).isoformat()
    return [
        {
            "id": f"c{client}-{k}-{i}",
            "time": time,
            "unit": f"u-{int(units[i])}",
            "lon": round(float(lon[i]), 6),
            "lat": round(float(lat[i]), 6),
        }
        for i in range(size)
    ]


def start(db: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "deconfliction", "serve", "--db", str(db), "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def ingest_client(
    url: str, token: str, client: int, batches: int, size: int, go: Any, out: Any
) -> None:
    bodies = [orjson.dumps(batch_reports(client, k, size)) for k in range(batches)]
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    accepted = 0
    with httpx.Client(base_url=url, timeout=60) as c:
        c.get("/api/v1/health")
        out.put(("ready", client))
        go.wait()
        for body in bodies:
            r = c.post("/api/v1/reports", content=body, headers=headers)
            r.raise_for_status()
            accepted += r.json()["accepted"]
    out.put(("done", accepted))


def measure_ingest(url: str, token: str, clients: int, batches: int, size: int) -> float:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    go = context.Event()
    procs = [
        context.Process(target=ingest_client, args=(url, token, c, batches, size, go, queue))
        for c in range(clients)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        queue.get()  # every client has built its bodies
    started = time.perf_counter()
    go.set()
    total = sum(queue.get()[1] for _ in procs)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return total / elapsed


def measure_ceiling(rows_batches: list[list[tuple[Any, ...]]], directory: Path) -> float:
    path = directory / "ceiling.sqlite"
    SQLiteStore(path).close()
    # the store's own connection settings (WAL, synchronous=FULL, cache, checkpoints)
    connection = writer_connection(path, "full")
    started = time.perf_counter()
    n = 0
    for rows in rows_batches:
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT OR IGNORE INTO reports (id, batch, observer, time_us, unit, lon, lat,"
            " strength, equipment, source, rating) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        connection.execute("COMMIT")
        n += len(rows)
    elapsed = time.perf_counter() - started
    connection.close()
    return n / elapsed


class Connection:
    """One keep-alive HTTP/1.1 connection, read and written with asyncio streams: a
    client that costs a fraction of what the server spends on a request."""

    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, head: bytes, body: bytes) -> int:
        self.writer.write(head + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status


def steady_client(
    url: str, token: str, client: int, rate: float, seconds: float, go: Any, out: Any
) -> None:
    """Open loop: each request goes out when it is due, whether or not the ones before
    it have been answered; latency counts from when it was due."""
    import asyncio

    n = int(rate * seconds)
    bodies = [
        orjson.dumps({**batch_reports(client + 50, 100_000 + k, 1)[0], "id": f"s{client}-{k}"})
        for k in range(n)
    ]
    host, port = url.removeprefix("http://").split(":")

    def head(body: bytes) -> bytes:
        return (
            f"POST /api/v1/reports HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()

    async def run() -> list[float]:
        # 4 clients x 64 stays well inside the server's file descriptor limit
        idle: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(64):
            idle.put_nowait(Connection(*await asyncio.open_connection(host, int(port))))
        out.put(("ready", client))
        await asyncio.to_thread(go.wait)
        begin = time.perf_counter()

        async def one(k: int) -> float:
            due = begin + k / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            connection = await idle.get()
            try:
                status = await asyncio.wait_for(
                    connection.request(head(bodies[k]), bodies[k]), timeout=30
                )
            except (OSError, ValueError, IndexError, TimeoutError, asyncio.IncompleteReadError):
                # a connection that failed is replaced; its request never counts as answered
                connection.writer.close()
                idle.put_nowait(Connection(*await asyncio.open_connection(host, int(port))))
                return float("inf")
            idle.put_nowait(connection)
            # a refused or failed request counts as never answered
            return time.perf_counter() - due if status == 200 else float("inf")

        return list(await asyncio.gather(*(one(k) for k in range(n))))

    out.put(asyncio.run(run()))


def alert_probe(url: str, token: str, probes: int, seconds: float, go: Any, out: Any) -> None:
    """Posts reports that each open a zone.violation and times their events on /events."""
    headers = {"Authorization": f"Bearer {token}"}
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    done = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=url, timeout=None) as c,
            c.stream("GET", "/api/v1/events", headers=headers) as stream,
        ):
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    event = orjson.loads(line[6:])
                    for unit in event.get("units", []):
                        if unit in sent and unit not in arrived:
                            arrived[unit] = time.perf_counter()
                if done.is_set():
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1.0)
    out.put(("ready", "probe"))
    go.wait()
    with httpx.Client(base_url=url, timeout=30) as c:
        for k in range(probes):
            unit = f"probe-{k}"
            body = {
                "time": (T0 + timedelta(days=30)).isoformat(),
                "unit": unit,
                "actor": "pro-regime",
                "lon": 40.25,
                "lat": 35.33,
            }
            sent[unit] = time.perf_counter()
            # a failed post's event never arrives, and counts as infinitely late
            with contextlib.suppress(httpx.HTTPError):
                c.post("/api/v1/reports", json=body, headers=headers)
            time.sleep(seconds / probes)
    deadline = time.time() + 5
    while len(arrived) < len(sent) and time.time() < deadline:
        time.sleep(0.01)
    done.set()
    out.put(
        [arrived[u] - sent[u] for u in sent if u in arrived]
        + [float("inf")] * (len(sent) - len(arrived))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60, help="batches per ingest client")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0, help="single-report POSTs per s")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    from deconfliction.cli.service import initialise
    from deconfliction.service.core import Service
    from deconfliction.store import Role

    directory = Path(tempfile.mkdtemp(prefix="api-bench-"))
    (directory / "scenario.yaml").write_text(scenario_text())
    db = directory / "bench.sqlite"
    initialise(db, str(directory / "scenario.yaml"))
    with SQLiteStore(db) as store:
        token = Service(store, live=False).create_token("coalition", Role.OPERATOR).token

    rows = []
    for c in range(args.clients):
        for k in range(args.batches):
            reports = [Report.model_validate(r) for r in batch_reports(c, k, args.size)]
            batch = ReportBatch.from_reports(reports, default_observer="coalition")
            rows.append(report_rows(batch, len(rows) + 1))
    ceiling = measure_ceiling(rows, directory)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(db, port)
    try:
        throughput = measure_ingest(url, token, args.clients, args.batches, args.size)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        go = context.Event()
        clients = 4
        steady = [
            context.Process(
                target=steady_client,
                args=(url, token, c, args.rate / clients, args.seconds, go, queue),
            )
            for c in range(clients)
        ]
        probe = context.Process(target=alert_probe, args=(url, token, 50, args.seconds, go, queue))
        for p in [*steady, probe]:
            p.start()
        # every client has started, built its bodies and connected: none loads the
        # machine with its start while the others measure
        for _ in range(clients + 1):
            queue.get(timeout=600)
        go.set()
        results = [queue.get(timeout=600) for _ in range(clients + 1)]
        for p in [*steady, probe]:
            p.join()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
        # the database of a run is a few hundred megabytes: nothing to keep
        shutil.rmtree(directory, ignore_errors=True)
    # the probe's list is the one of 50 entries
    probe_latencies = next(r for r in results if len(r) == 50)
    steady_latencies = [x for r in results if r is not probe_latencies for x in r]
    # "higher": an unanswered request (inf) makes the p99 inf rather than nan
    p99 = float(np.percentile(np.array(steady_latencies), 99, method="higher")) * 1000
    alert_p99 = float(np.percentile(np.array(probe_latencies), 99, method="higher")) * 1000
    answered = sum(1 for x in steady_latencies if x != float("inf"))
    print(f"# {answered} of {len(steady_latencies)} single-report POSTs answered", file=sys.stderr)

    print(f"api.ingest.throughput {throughput:.0f} reports/s")
    print(f"api.ingest.ceiling {ceiling:.0f} reports/s")
    print(f"api.ingest.ceiling_ratio {throughput / ceiling:.2f} ratio")
    print(f"api.ingest.latency_p99 {p99:.1f} ms")
    print(f"api.alert.latency_p99 {alert_p99:.1f} ms")
    load = os.getloadavg()[0]
    print(
        f"# {os.cpu_count()} CPUs, load average {load:.1f} at the end of the run", file=sys.stderr
    )
    print(
        "# targets: throughput >= 100000 reports/s, ceiling_ratio >= 0.5,"
        " ingest p99 <= 20 ms, alert p99 <= 100 ms",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
