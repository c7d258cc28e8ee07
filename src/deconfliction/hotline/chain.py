"""The hash chain two desks share, its transcript, and the check of a transcript.

An entry's hash is sha256(prev || seq "\\n" received "\\n" || signature || payload), where
payload is the sender's signed canonical message. The first entry's prev is the pair's
genesis hash, so a transcript cannot pass for another pair's. A verifier who also holds
the head hash of an earlier receipt (`expect_head`) detects a rewritten tail too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..model import format_time
from .messages import HotlineMessage, canonical_bytes

_SORT = orjson.OPT_SORT_KEYS


def genesis(pair: tuple[str, str]) -> bytes:
    """The prev hash of a pair's first entry."""
    return hashlib.sha256(f"deconfliction-hotline\n{pair[0]}\n{pair[1]}".encode()).digest()


def entry_hash(prev: bytes, seq: int, received: str, signature: bytes, payload: bytes) -> bytes:
    return hashlib.sha256(
        b"".join((prev, f"{seq}\n{received}\n".encode(), signature, payload))
    ).digest()


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """A signed message at its place in a pair's chain."""

    pair: tuple[str, str]
    seq: int
    received: datetime
    message: HotlineMessage
    signature: bytes
    prev: bytes
    hash: bytes

    def document(self) -> dict[str, Any]:
        """The JSON object of one transcript line."""
        return {
            "seq": self.seq,
            "pair": list(self.pair),
            "received": format_time(self.received),
            "prev": self.prev.hex(),
            "hash": self.hash.hex(),
            "sig": base64.b64encode(self.signature).decode("ascii"),
            "message": self.message.model_dump(mode="json", exclude_none=True),
        }

    def line(self) -> bytes:
        return orjson.dumps(self.document()) + b"\n"


class Chain:
    """The head of one pair's chain: appends entries whose signatures were checked."""

    __slots__ = ("head", "pair", "seq")

    def __init__(self, pair: tuple[str, str], head: bytes | None = None, seq: int = 0) -> None:
        self.pair = pair
        self.head = genesis(pair) if head is None else head
        self.seq = seq

    def append(self, message: HotlineMessage, signature: bytes, received: datetime) -> ChainEntry:
        payload = message.canonical()
        seq = self.seq + 1
        digest = entry_hash(self.head, seq, format_time(received), signature, payload)
        entry = ChainEntry(self.pair, seq, received, message, signature, self.head, digest)
        self.head = digest
        self.seq = seq
        return entry


class Fault(StrEnum):
    MALFORMED = "malformed"
    ALTERED = "altered"
    FORGED = "forged"
    REMOVED = "removed"
    INSERTED = "inserted"
    REORDERED = "reordered"
    UNKNOWN_KEY = "unknown-key"
    TRUNCATED = "truncated"


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong with a transcript: which line, which entry, what."""

    line: int
    seq: int | None
    fault: Fault
    detail: str

    def __str__(self) -> str:
        entry = "" if self.seq is None else f" (entry {self.seq})"
        return f"line {self.line}{entry}: {self.fault.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Verification:
    entries: int
    head: str | None
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Bad(Exception):
    def __init__(self, fault: Fault, detail: str, seq: int | None = None) -> None:
        super().__init__(detail)
        self.fault = fault
        self.detail = detail
        self.seq = seq


_CHUNK = 512
"""Lines parsed and chained before their signatures are checked in one tight run: the
Ed25519 code then keeps its tables in cache, as it does in a loop of bare verifications."""


def verify_transcript(
    lines: Iterable[bytes],
    keys: Mapping[str, Ed25519PublicKey | Sequence[Ed25519PublicKey]],
    expect_head: str | None = None,
) -> Verification:
    """Check every signature and link; name the first entry altered, removed, inserted,
    reordered or forged. The whole transcript is read once; diagnosis costs only on failure.

    A desk may have several keys (one before each rotation): a signature verifies with
    any of them.
    """
    rows = [line for line in lines if line.strip()]
    keyring = {
        party: (key,) if isinstance(key, Ed25519PublicKey) else tuple(key)
        for party, key in keys.items()
    }
    walk = _Walk(rows, keyring)
    for start in range(0, len(rows), _CHUNK):
        signed, problem = walk.chain(start, min(start + _CHUNK, len(rows)))
        for ring, signature, payload, number in signed:
            if not _verifies(ring, signature, payload):
                sender = orjson.loads(rows[number - 1])["message"]["sender"]
                return Verification(
                    number - 1,
                    walk.head_before(number),
                    Problem(
                        number,
                        number,
                        Fault.FORGED,
                        f"the signature of '{sender}' does not verify:"
                        " the message was altered or forged",
                    ),
                )
        if problem is not None:
            return Verification(problem.line - 1, walk.head_before(problem.line), problem)
    head = walk.prev_hex
    hashes = walk.hashes
    if expect_head is not None and expect_head != head:
        if expect_head in hashes:
            at = hashes.index(expect_head) + 1
            return Verification(
                len(rows),
                head,
                Problem(at + 1, at + 1, Fault.INSERTED, "entries follow the expected head"),
            )
        return Verification(
            len(rows),
            head,
            Problem(
                len(rows) + 1,
                None,
                Fault.TRUNCATED,
                "the chain does not reach the expected head: entries were removed or rewritten",
            ),
        )
    return Verification(len(rows), head or None, None)


_Signed = tuple[tuple[Ed25519PublicKey, ...], bytes, bytes, int]


def _verifies(ring: tuple[Ed25519PublicKey, ...], signature: bytes, payload: bytes) -> bool:
    for key in ring:
        try:
            key.verify(signature, payload)
        except InvalidSignature:
            continue
        return True
    return False


class _Walk:
    """The chain read so far: links, hashes and the signatures still to check."""

    def __init__(self, rows: list[bytes], keys: Mapping[str, tuple[Ed25519PublicKey, ...]]) -> None:
        self.rows = rows
        self.keys = keys
        self.prev = b""
        self.prev_hex = ""
        self.genesis_hex = ""
        self.pair: tuple[str, str] | None = None
        self.directions: set[tuple[str, str]] = set()
        self.hashes: list[str] = []

    def head_before(self, number: int) -> str | None:
        if number >= 2:
            return self.hashes[number - 2]
        return self.genesis_hex or None

    def chain(self, start: int, end: int) -> tuple[list[_Signed], Problem | None]:
        """Check lines start+1..end for everything but their signatures."""
        signed: list[_Signed] = []
        keys = self.keys
        prev, prev_hex = self.prev, self.prev_hex
        hashes = self.hashes
        expected = len(hashes) + 1
        for number in range(start + 1, end + 1):
            raw = self.rows[number - 1]
            try:
                doc = orjson.loads(raw)
                seq = doc["seq"]
                if self.pair is None:
                    self.pair = pair = (doc["pair"][0], doc["pair"][1])
                    self.directions = {pair, (pair[1], pair[0])}
                    prev = genesis(pair)
                    prev_hex = self.genesis_hex = prev.hex()
                if seq != expected or doc["prev"] != prev_hex:
                    self.prev, self.prev_hex = prev, prev_hex
                    return signed, _diagnose(self.rows, number, expected, hashes)
                message = doc["message"]
                payload = canonical_bytes(message)
                signature = base64.b64decode(doc["sig"])
                digest = entry_hash(prev, seq, doc["received"], signature, payload)
                if digest.hex() != doc["hash"]:
                    raise _Bad(Fault.ALTERED, "its hash does not match its content", seq)
                sender = message["sender"]
                key = keys.get(sender)
                if not key:
                    raise _Bad(Fault.UNKNOWN_KEY, f"no public key for '{sender}'", seq)
                if (sender, message["recipient"]) not in self.directions:
                    raise _Bad(Fault.INSERTED, "the message is not between this pair's desks", seq)
            except _Bad as bad:
                return signed, Problem(number, bad.seq, bad.fault, bad.detail)
            except (
                orjson.JSONDecodeError,
                KeyError,
                TypeError,
                IndexError,
                AttributeError,
                ValueError,
                binascii.Error,
            ) as exc:
                return signed, Problem(number, _seq_of(raw), Fault.MALFORMED, _what(exc))
            signed.append((key, signature, payload, number))
            prev = digest
            prev_hex = doc["hash"]
            hashes.append(prev_hex)
            expected += 1
        self.prev, self.prev_hex = prev, prev_hex
        return signed, None


def _what(exc: Exception) -> str:
    if isinstance(exc, orjson.JSONDecodeError):
        return f"not JSON ({exc})"
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return f"bad field: {exc}"


def _seq_of(raw: bytes) -> int | None:
    try:
        seq = orjson.loads(raw)["seq"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return seq if isinstance(seq, int) else None


def _diagnose(rows: list[bytes], number: int, expected: int, hashes: list[str]) -> Problem:
    """Why line `number` does not follow the chain so far (`hashes`, entries 1..expected-1)."""
    doc = orjson.loads(rows[number - 1])
    seq = doc["seq"]
    later = {s for s in (_seq_of(r) for r in rows[number:]) if s is not None}
    # Its prev links to an earlier entry than the last: the entry between was inserted.
    if doc["prev"] in hashes[:-1]:
        linked = hashes.index(doc["prev"]) + 1
        return Problem(
            linked + 1,
            linked + 1,
            Fault.INSERTED,
            f"entry {seq} at line {number} follows entry {linked}, not the entry before it",
        )
    if isinstance(seq, int) and seq < expected:
        return Problem(
            number, seq, Fault.REORDERED, f"entry {seq} repeats or comes after entry {expected - 1}"
        )
    if isinstance(seq, int) and seq > expected:
        if expected in later:
            return Problem(
                number, seq, Fault.REORDERED, f"entry {seq} comes before entry {expected}"
            )
        missing = expected if seq == expected + 1 else f"{expected}-{seq - 1}"
        return Problem(
            number, expected, Fault.REMOVED, f"entry {missing} is missing before entry {seq}"
        )
    return Problem(
        number, seq, Fault.ALTERED, "its prev does not match the hash of the entry before it"
    )
