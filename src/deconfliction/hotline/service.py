"""The hotline as the service runs it: plain functions of a calling party, on the wall
clock, under the service's lock, with a per-party feed of hotline events.

Nothing here knows HTTP or SQL: the caller passes the clock, the lock, a function that
makes alert events durable and the journal the hotline writes to.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from ..lifecycle import AlertBook
from ..model import (
    Actor,
    Alert,
    AlertEvent,
    HotlineKind,
    HotlinePriority,
    Rule,
    Strict,
    Unit,
    UtcDatetime,
    format_time,
)
from .chain import ChainEntry
from .desk import Hotline
from .drafts import concern_from_alert, draft_response
from .messages import HotlineMessage, MessageId, Polygon, Ref
from .records import HotlineError, MessageState, NotFound, Record
from .replay import entry_event

HOTLINE_RULES = (Rule.HOTLINE_UNACKNOWLEDGED, Rule.NOTIFICATION_CONFLICT)


class NumberedBook(AlertBook):
    """An alert book numbering its own alerts (`h-1`, ...), apart from the engine's."""

    def __init__(self, prefix: str = "h-") -> None:
        super().__init__()
        self.prefix = prefix

    def allocate(self) -> str:
        number = self.next_number
        self.next_number += 1
        return f"{self.prefix}{number}"

    def adopt(self, alerts: list[Alert]) -> None:
        """Take back the hotline alerts a store holds, so a restart continues them."""
        for alert in alerts:
            if alert.rule not in HOTLINE_RULES or not alert.id.startswith(self.prefix):
                continue
            number = alert.id.removeprefix(self.prefix)
            if number.isdigit():
                self.next_number = max(self.next_number, int(number) + 1)
            self.by_id[alert.id] = alert
            if alert.state == "open" and alert.ref is not None:
                key = (alert.rule.value, alert.party, alert.ref)
                self.open[key] = alert
                if alert.rule == Rule.HOTLINE_UNACKNOWLEDGED:
                    self._figures[key] = (alert.severity.value,)


class SendIn(Strict):
    """A message as a desk sends it; the service adds id, sender, times and signature."""

    kind: HotlineKind
    recipient: str
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=20000)
    refs: list[Ref] = Field(default_factory=list, max_length=100)
    priority: HotlinePriority = HotlinePriority.ROUTINE
    activity: str | None = Field(default=None, min_length=1, max_length=100)
    area: Polygon | None = None
    window_start: UtcDatetime | None = None
    window_end: UtcDatetime | None = None
    place: tuple[float, float] | None = None


class ReplyIn(Strict):
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=20000)


class SignedIn(Strict):
    """A message its sender signed itself, with the base64 Ed25519 signature."""

    message: HotlineMessage
    signature: str = Field(min_length=1, max_length=200)


class KeyIn(Strict):
    public_key: str = Field(min_length=1, max_length=4000)


@dataclass(frozen=True, slots=True)
class FeedItem:
    seq: int
    event: str
    data: dict[str, Any]


class HotlineService:
    """Every hotline operation of the API, for a calling party."""

    def __init__(
        self,
        hotline: Hotline,
        lock: AbstractContextManager[Any],
        clock: Callable[[], datetime],
        commit: Callable[[list[AlertEvent], datetime], None],
        alert_of: Callable[[str, str], Alert | None],
        units: Mapping[str, Unit],
        actors: Mapping[str, Actor],
        wake: Callable[[set[str]], None] = lambda parties: None,
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.hotline = hotline
        self.lock = lock
        self.clock = clock
        self._commit = commit
        self._alert_of = alert_of
        self._units = units
        self._actors = actors
        self._wake = wake
        self._close = close
        self._feed: dict[str, list[FeedItem]] = {p: [] for p in hotline.parties}
        # Seqs count on from this process's start time in microseconds: a client's
        # position from before a restart is below them all, so it misses nothing the
        # rebuilt feed holds (escalations are not rebuilt, and would shift a count
        # from 1).
        self._feed_base = time.time_ns() // 1_000
        # The feed has its own lock: streams read it from the event loop, which must not
        # wait for the service's lock while a large batch is ingested.
        self._feed_lock = threading.Lock()
        entries = [e for pair in _all_pairs(hotline) for e in hotline.transcript(*pair)]
        for entry in sorted(entries, key=lambda e: (e.received, e.pair, e.seq)):
            self._publish_entry(entry)

    # sending ---------------------------------------------------------------------------

    def send(self, party: str, data: SendIn) -> dict[str, Any]:
        if data.kind in (HotlineKind.ACK, HotlineKind.RESPONSE):
            raise HotlineError(f"kind: send a {data.kind.value} to /{{id}}/{data.kind.value}")
        window = None
        if data.window_start is not None or data.window_end is not None:
            if data.window_start is None or data.window_end is None:
                raise HotlineError("window_start, window_end: give both or neither")
            window = {"start": data.window_start, "end": data.window_end}
        with self.lock:
            now = self.clock()
            message = self._compose(
                party, data.recipient, data.kind, data.subject, now,
                body=data.body, refs=data.refs, priority=data.priority, activity=data.activity,
                area=data.area, window=window, place=data.place,
            )  # fmt: skip
            return self._deliver(message, now, None)

    def submit_signed(self, party: str, data: SignedIn) -> dict[str, Any]:
        """A message the caller's desk signed itself; the service verifies and chains it."""
        if data.message.sender != party:
            raise HotlineError(f"message.sender: you send as '{party}'")
        try:
            signature = base64.b64decode(data.signature, validate=True)
        except (binascii.Error, ValueError):
            raise HotlineError("signature: not base64") from None
        with self.lock:
            return self._deliver(data.message, self.clock(), signature)

    def ack(self, party: str, message_id: str) -> dict[str, Any]:
        with self.lock:
            now = self.clock()
            target = self._received(party, message_id)
            message = self._compose(
                party, target.sender, HotlineKind.ACK, f"Received: {target.subject}"[:200], now,
                reply_to=message_id,
            )  # fmt: skip
            return self._deliver(message, now, None)

    def respond(self, party: str, message_id: str, data: ReplyIn) -> dict[str, Any]:
        with self.lock:
            now = self.clock()
            target = self._received(party, message_id)
            draft = draft_response(target, self.hotline.conflicts(party, message_id))
            message = self._compose(
                party, target.sender, HotlineKind.RESPONSE, data.subject or draft.subject, now,
                body=draft.body if data.body is None else data.body, reply_to=message_id,
            )  # fmt: skip
            return self._deliver(message, now, None)

    def from_alert(self, party: str, alert_id: str) -> dict[str, Any]:
        alert = self._alert_of(party, alert_id)
        if alert is None:
            raise NotFound(f"no alert '{alert_id}'")
        with self.lock:
            now = self.clock()
            message = concern_from_alert(self.hotline, alert, self._units, self._actors, now)
            return self._deliver(message, now, None)

    def draft(self, party: str, message_id: str) -> dict[str, str]:
        """The answer to a notification drafted from its conflicts; nothing is sent."""
        with self.lock:
            target = self._received(party, message_id)
            draft = draft_response(target, self.hotline.conflicts(party, message_id))
        return {"subject": draft.subject, "body": draft.body}

    def register_key(self, party: str, data: KeyIn) -> dict[str, str]:
        with self.lock:
            return {
                "party": party,
                "public_key": self.hotline.register_public_key(party, data.public_key),
            }

    def public_key(self, party: str, of: str) -> dict[str, Any]:
        """The desk's key now, and every key it had (`keys`), to verify older messages."""
        with self.lock:
            history = self.hotline.key_history(of)
            current = self.hotline.public_key(of)
        keys = [
            {
                "public_key": period.public,
                "valid_from": None if period.valid_from is None else format_time(period.valid_from),
                "valid_to": None if period.valid_to is None else format_time(period.valid_to),
            }
            for period in history
        ]
        return {"party": of, "public_key": current, "keys": keys}

    def _compose(self, *args: Any, **fields: Any) -> HotlineMessage:
        return self.hotline.compose(*args, **{k: v for k, v in fields.items() if v is not None})

    def _received(self, party: str, message_id: str) -> HotlineMessage:
        record = self.hotline.record(party, message_id)
        if record.message.recipient != party:
            raise HotlineError(f"id: '{message_id}' was not sent to '{party}'")
        return record.message

    def _deliver(
        self, message: HotlineMessage, now: datetime, signature: bytes | None
    ) -> dict[str, Any]:
        delivery = self.hotline.send(message, now, signature)
        if delivery.events:
            self._commit(delivery.events, now)
        self._publish_entry(delivery.entry)
        self._publish_alerts(delivery.events)
        return self.view(self.hotline.record(message.sender, message.id), now)

    def close(self) -> None:
        """Release the journal; the service's store stays open."""
        self._close()

    # time ------------------------------------------------------------------------------

    def extension(self, engine: object, now_us: int) -> list[AlertEvent]:
        """The engine's hook: timers run on every evaluation (the live clock's ticks)."""
        events = self.hotline.extension(engine, now_us)
        self._publish_alerts(events)
        return events

    # reading ---------------------------------------------------------------------------

    def box(self, party: str, box: str, state: MessageState | None) -> list[dict[str, Any]]:
        with self.lock:
            now = self.clock()
            return [self.view(r, now) for r in self.hotline.messages(party, box, now, state)]

    def detail(self, party: str, message_id: str) -> dict[str, Any]:
        with self.lock:
            now = self.clock()
            record = self.hotline.record(party, message_id)
            view = self.view(record, now)
            view["thread"] = [self.view(r, now) for r in self.hotline.thread(party, message_id)]
            if (
                record.message.recipient == party
                and record.message.kind == HotlineKind.NOTIFICATION
            ):
                view["conflicts"] = [
                    {
                        "kind": c.kind,
                        "id": c.id,
                        "name": c.name,
                        "lon": c.lon,
                        "lat": c.lat,
                        "inside": c.inside,
                        "enters": None if c.enters is None else format_time(c.enters),
                        "sentence": c.sentence(),
                    }
                    for c in self.hotline.conflicts(party, message_id)
                ]
            return view

    def transcripts(self, party: str, other: str | None) -> bytes:
        with self.lock:
            if other is not None:
                entries = self.hotline.transcript(party, other)
            else:
                entries = [
                    e for pair in self.hotline.pairs(party) for e in self.hotline.transcript(*pair)
                ]
        return b"".join(e.line() for e in entries)

    def feed_position(self, party: str) -> int:
        """The seq of the party's latest feed event (this process's base before any)."""
        with self._feed_lock:
            return self._feed_base + len(self._feed.get(party, ()))

    def feed(self, party: str, after: int) -> list[FeedItem]:
        """The party's feed events after seq `after`; all of them for a seq an earlier
        process gave (the feed is rebuilt at start, and its numbering starts anew)."""
        with self._feed_lock:
            items = self._feed.get(party, [])
            start = max(after - self._feed_base, 0)
            return items[start:] if start < len(items) else []

    def view(self, record: Record, now: datetime) -> dict[str, Any]:
        m = record.message
        document = m.model_dump(mode="json", exclude_none=True)
        window = document.pop("window", None)
        document["window_start"] = window["start"] if window else None
        document["window_end"] = window["end"] if window else None
        for name in ("area", "activity", "due", "reply_to", "place"):
            document.setdefault(name, None)
        document["state"] = record.state(now).value
        ack = record.ack
        document["acknowledged_at"] = None if ack is None else format_time(ack.received)
        document["acknowledged_by"] = None if ack is None else ack.message.id
        document["replies"] = list(record.replies)
        document["seq"] = record.entry.seq
        document["hash"] = record.entry.hash.hex()
        return document

    def _publish_entry(self, entry: ChainEntry) -> None:
        data = entry_event(entry)
        self._append(entry.pair, data["event"], data)

    def _publish_alerts(self, events: list[AlertEvent]) -> None:
        for event in events:
            if event.rule != Rule.HOTLINE_UNACKNOWLEDGED or event.ref is None:
                continue
            record = self.hotline.find(event.ref)
            if record is None:
                continue
            data = {
                "event": "hotline.escalation",
                "time": format_time(event.time),
                "id": event.ref,
                "state": event.event,
                "severity": event.severity.value,
                "message": event.message,
            }
            self._append(record.message.pair(), "hotline.escalation", data)

    def _append(self, parties: tuple[str, str], name: str, data: dict[str, Any]) -> None:
        with self._feed_lock:
            for party in parties:
                feed = self._feed.setdefault(party, [])
                feed.append(FeedItem(self._feed_base + len(feed) + 1, name, data))
        self._wake(set(parties))


def _all_pairs(hotline: Hotline) -> set[tuple[str, str]]:
    return {pair for party in hotline.parties for pair in hotline.pairs(party)}


__all__ = [
    "HOTLINE_RULES",
    "FeedItem",
    "HotlineService",
    "KeyIn",
    "MessageId",
    "NumberedBook",
    "ReplyIn",
    "SendIn",
    "SignedIn",
]
