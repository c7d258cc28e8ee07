"""Hotline benchmarks: transcript verification against the raw Ed25519 ceiling.

Prints `name value unit` lines:
  hotline.verify.throughput  entries/s verifying a 100,000-entry transcript (signatures
                             and chain, parsing included)
  hotline.verify.ceiling     raw Ed25519 verifications/s of the same payloads, same core
  hotline.verify.ratio       the first over the second (target >= 0.8)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    lines, hotline = build(args.entries)
    keys = {p: load_public_key(hotline.public_key(p)) for p in ("coalition", "russia")}

    payloads = []
    for line in lines:
        doc = orjson.loads(line)
        payloads.append((keys[doc["message"]["sender"]], hotline_signature(doc), line_payload(doc)))

    start = time.perf_counter()
    for key, signature, payload in payloads:
        key.verify(signature, payload)
    ceiling = len(payloads) / (time.perf_counter() - start)

    start = time.perf_counter()
    result = verify_transcript(lines, keys)
    throughput = result.entries / (time.perf_counter() - start)
    if not result.ok:
        raise SystemExit(f"transcript did not verify: {result.problem}")

    print(f"hotline.verify.throughput {throughput:.0f} entries/s")
    print(f"hotline.verify.ceiling {ceiling:.0f} verifications/s")
    print(f"hotline.verify.ratio {throughput / ceiling:.3f} x")


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
