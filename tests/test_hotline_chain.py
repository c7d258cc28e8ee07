"""Signing, chaining and verifying a pair's transcript."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from deconfliction.hotline import (
    DeskKey,
    Fault,
    Hotline,
    HotlineError,
    load_public_key,
    verify_transcript,
)
from deconfliction.model import HotlineKind

T0 = datetime(2016, 9, 17, 13, 0, tzinfo=UTC)


def _transcript(n: int = 6) -> tuple[list[bytes], dict[str, object], Hotline]:
    hotline = Hotline(["coalition", "russia"])
    for i in range(n):
        sender, recipient = ("coalition", "russia") if i % 2 == 0 else ("russia", "coalition")
        message = hotline.compose(
            sender, recipient, HotlineKind.REQUEST, f"Request {i}", T0 + timedelta(minutes=i)
        )
        hotline.send(message, T0 + timedelta(minutes=i))
    lines = [e.line() for e in hotline.transcript("coalition", "russia")]
    keys = {p: load_public_key(hotline.public_key(p)) for p in ("coalition", "russia")}
    return lines, keys, hotline


def test_an_untouched_transcript_verifies() -> None:
    lines, keys, hotline = _transcript()
    result = verify_transcript(lines, keys)  # type: ignore[arg-type]
    assert result.ok and result.entries == 6
    assert result.head == hotline.transcript("russia", "coalition")[-1].hash.hex()


def test_a_tampered_byte_names_the_entry() -> None:
    lines, keys, _ = _transcript()
    lines[3] = lines[3].replace(b"Request 3", b"Request 8")
    problem = verify_transcript(lines, keys).problem  # type: ignore[arg-type]
    assert problem is not None
    assert (problem.line, problem.seq, problem.fault) == (4, 4, Fault.ALTERED)


def test_a_removed_entry_is_named() -> None:
    lines, keys, _ = _transcript()
    del lines[2]
    problem = verify_transcript(lines, keys).problem  # type: ignore[arg-type]
    assert problem is not None
    assert (problem.seq, problem.fault) == (3, Fault.REMOVED)
    assert "entry 3 is missing" in str(problem)


def test_a_swapped_pair_is_reordered() -> None:
    lines, keys, _ = _transcript()
    lines[1], lines[2] = lines[2], lines[1]
    problem = verify_transcript(lines, keys).problem  # type: ignore[arg-type]
    assert problem is not None
    assert (problem.line, problem.seq, problem.fault) == (2, 3, Fault.REORDERED)


def test_a_forged_signature_is_found_even_with_the_hashes_recomputed() -> None:
    # An impostor rewrites the whole chain with consistent hashes but its own keys.
    real, keys, _ = _transcript()
    forger = Hotline(["coalition", "russia"])
    genuine = [orjson.loads(line)["message"] for line in real]
    for i, document in enumerate(genuine):
        message = forger.compose(
            document["sender"],
            document["recipient"],
            HotlineKind.REQUEST,
            document["subject"],
            T0 + timedelta(minutes=i),
            id=document["id"],
        )
        forger.send(message, T0 + timedelta(minutes=i))
    forged = [e.line() for e in forger.transcript("coalition", "russia")]
    problem = verify_transcript(forged, keys).problem  # type: ignore[arg-type]
    assert problem is not None
    assert (problem.line, problem.seq, problem.fault) == (1, 1, Fault.FORGED)


def test_an_entry_inserted_by_a_party_that_holds_its_key_is_named() -> None:
    lines, keys, hotline = _transcript(4)
    # Russia's own desk signs an extra entry that claims place 3, chained onto entry 2.
    other = Hotline(["coalition", "russia"])
    other.use_key("russia", hotline.desk_key("russia"))
    other.use_key("coalition", hotline.desk_key("coalition"))
    for i, line in enumerate(lines[:2]):
        document = orjson.loads(line)["message"]
        message = other.compose(
            document["sender"],
            document["recipient"],
            HotlineKind.REQUEST,
            document["subject"],
            T0 + timedelta(minutes=i),
            id=document["id"],
        )
        other.send(message, T0 + timedelta(minutes=i))
    extra = other.compose(
        "russia", "coalition", HotlineKind.REQUEST, "Inserted", T0 + timedelta(minutes=2)
    )
    other.send(extra, T0 + timedelta(minutes=2))
    inserted = other.transcript("russia", "coalition")[2].line()
    tampered = [*lines[:2], inserted, *lines[2:]]
    problem = verify_transcript(tampered, keys).problem  # type: ignore[arg-type]
    assert problem is not None
    assert (problem.line, problem.fault) == (3, Fault.INSERTED)


def test_a_rewritten_tail_fails_against_a_pinned_head() -> None:
    lines, keys, _ = _transcript()
    head = orjson.loads(lines[-1])["hash"]
    problem = verify_transcript(lines[:-1], keys, expect_head=head).problem  # type: ignore[arg-type]
    assert problem is not None and problem.fault == Fault.TRUNCATED


def test_a_self_signing_party_is_verified_not_signed_for() -> None:
    hotline = Hotline(["coalition", "russia"])
    own = DeskKey.generate()
    hotline.register_public_key("russia", own.public_text)
    message = hotline.compose("russia", "coalition", HotlineKind.CONCERN, "Massing", T0)
    with pytest.raises(HotlineError, match="signs its own messages"):
        hotline.send(message, T0)
    with pytest.raises(HotlineError, match="does not verify"):
        hotline.send(message, T0, signature=DeskKey.generate().sign(message.canonical()))
    assert hotline.transcript("russia", "coalition") == []
    delivery = hotline.send(message, T0, signature=own.sign(message.canonical()))
    assert delivery.entry.seq == 1
    keys = {"russia": own.public, "coalition": load_public_key(hotline.public_key("coalition"))}
    assert verify_transcript([delivery.entry.line()], keys).ok


def test_malformed_line_is_named() -> None:
    lines, keys, _ = _transcript(3)
    lines[1] = b"{not json"
    problem = verify_transcript(lines, keys).problem  # type: ignore[arg-type]
    assert problem is not None and (problem.line, problem.fault) == (2, Fault.MALFORMED)
