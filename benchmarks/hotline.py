"""Hotline benchmarks: transcript verification against the raw Ed25519 ceiling.

Prints `name value unit` lines:
  hotline.verify.throughput  entries/s verifying a 100,000-entry transcript (signatures
                             and chain, parsing included)
  hotline.verify.ceiling     raw Ed25519 verifications/s of the same payloads, same core
                             (both in CPU seconds of this process, best of --rounds)
  hotline.verify.ratio       the first over the second (target >= 0.8)
  hotline.send.latency_p99   milliseconds per `POST /api/v1/hotline` on a real
                             `deconfliction serve` (target <= 30), p50 beside it
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import orjson

from deconfliction.hotline import Hotline, load_public_key, verify_transcript
from deconfliction.model import HotlineKind, HotlinePriority

T0 = datetime(2018, 2, 7, 12, 0, tzinfo=UTC)


def build(n: int) -> tuple[list[bytes], Hotline]:
    hotline = Hotline(["coalition", "russia"])
    for i in range(n):
        sender, recipient = ("coalition", "russia") if i % 2 == 0 else ("russia", "coalition")
        at = T0 + timedelta(seconds=i)
        message = hotline.compose(
            sender,
            recipient,
            HotlineKind.CONCERN,
            f"Concern {i}: forces near the line",
            at,
            body="Pro-regime forces (about 500 personnel, 27 tanks) massing east of the "
            "Euphrates near Khasham, 8 km from the SDF positions at the Conoco gas plant.",
            refs=[f"a-{i}"],
            priority=HotlinePriority.URGENT,
            place=(40.3 + (i % 100) / 1000, 35.3),
        )
        hotline.send(message, at)
    lines = [e.line() for e in hotline.transcript("coalition", "russia")]
    return lines, hotline


SCENARIO = """
name: Hotline latency
parties: [{id: coalition, name: Coalition}, {id: russia, name: Russia}]
actors: [{id: saa, name: Syrian Arab Army, party: russia}]
sites:
  - {id: base, name: Forward base, party: russia, lon: 40.0, lat: 35.2, priority: high}
"""


def send_latency(messages: int) -> tuple[float, float]:
    """p50 and p99 milliseconds of sending messages through a real server."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import httpx

    from deconfliction.cli.service import initialise
    from deconfliction.service.core import Service
    from deconfliction.store import Role, SQLiteStore

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "theatre.yaml").write_text(SCENARIO)
        db = directory / "service.sqlite"
        initialise(db, str(directory / "theatre.yaml"))
        with SQLiteStore(db) as store:
            token = Service(store, live=False).create_token("coalition", Role.OPERATOR).token
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        src = str(Path(__file__).resolve().parents[1] / "src")
        process = subprocess.Popen(
            [sys.executable, "-m", "deconfliction", "serve", "--db", str(db), "--port", str(port)],
            env={**os.environ, "PYTHONPATH": src},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/api/v1"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            headers = {"Authorization": f"Bearer {token}"}
            body = {
                "kind": "notification",
                "recipient": "russia",
                "subject": "Air strike",
                "priority": "urgent",
                "activity": "air strike",
                "area": {
                    "type": "Polygon",
                    "coordinates": [[[39.9, 35.1], [40.1, 35.1], [40.1, 35.3], [39.9, 35.1]]],
                },
                "window_start": "2030-01-01T00:00:00Z",
                "window_end": "2030-01-01T01:00:00Z",
            }
            times: list[float] = []
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                for i in range(messages + 20):
                    start = time.perf_counter()
                    r = client.post("/hotline", json=body)
                    elapsed = time.perf_counter() - start
                    if r.status_code != 201:
                        raise SystemExit(f"send failed: {r.status_code} {r.text}")
                    if i >= 20:  # the first requests warm the server up
                        times.append(elapsed * 1000)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lines, hotline = build(args.entries)
    keys = {p: load_public_key(hotline.public_key(p)) for p in ("coalition", "russia")}

    payloads = []
    for line in lines:
        doc = orjson.loads(line)
        payloads.append((keys[doc["message"]["sender"]], hotline_signature(doc), line_payload(doc)))

    # CPU time of this process, best of three interleaved rounds: the machine is shared,
    # and both figures are per core.
    ceiling = throughput = 0.0
    for _ in range(args.rounds):
        start = time.process_time()
        for key, signature, payload in payloads:
            key.verify(signature, payload)
        ceiling = max(ceiling, len(payloads) / (time.process_time() - start))
        start = time.process_time()
        result = verify_transcript(lines, keys)
        throughput = max(throughput, result.entries / (time.process_time() - start))
        if not result.ok:
            raise SystemExit(f"transcript did not verify: {result.problem}")

    print(f"hotline.verify.throughput {throughput:.0f} entries/s")
    print(f"hotline.verify.ceiling {ceiling:.0f} verifications/s")
    print(f"hotline.verify.ratio {throughput / ceiling:.3f} x")
    if args.messages:
        p50, p99 = send_latency(args.messages)
        print(f"hotline.send.latency_p50 {p50:.1f} ms")
        print(f"hotline.send.latency_p99 {p99:.1f} ms")


def hotline_signature(doc: dict[str, object]) -> bytes:
    import base64

    return base64.b64decode(str(doc["sig"]))


def line_payload(doc: dict[str, object]) -> bytes:
    from deconfliction.hotline import canonical_bytes

    message = doc["message"]
    assert isinstance(message, dict)
    return canonical_bytes(message)


if __name__ == "__main__":
    main()
