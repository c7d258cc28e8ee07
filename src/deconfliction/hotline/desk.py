"""The hotline between the parties' desks: keys, chains, message state, and two alert
families, `hotline.unacknowledged` (for the sender) and `notification.conflict` (for the
recipient). It keeps no clock of its own: every call says what time it is, so a replay
runs on event time and the service on the wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..batch import from_us, to_us
from ..lifecycle import AlertBook, Finding, Key
from ..model import (
    Alert,
    AlertEvent,
    AlertState,
    HotlineKind,
    HotlinePriority,
    Rule,
    Severity,
    format_time,
)
from .chain import Chain, ChainEntry
from .conflicts import Conflict, OwnForces, find_conflicts
from .keys import DeskKey, KeyFormatError, load_public_key
from .messages import ACKNOWLEDGED_KINDS, HotlineMessage, HotlineSettings, pair_of
from .records import (
    Delivery,
    HotlineError,
    Journal,
    KeyPeriod,
    MessageState,
    NotFound,
    Record,
    Refused,
)
from .sentences import ack_sentence, conflict_sentence, critical_at, overdue_sentence

_RULE_ORDER = {Rule.HOTLINE_UNACKNOWLEDGED: 0, Rule.NOTIFICATION_CONFLICT: 1}
_SEVERITY = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_ISSUED = re.compile(r"^m-([0-9]+)$")


class Hotline:
    """Messages, chains and timers for a set of parties' desks."""

    def __init__(
        self,
        parties: Sequence[str],
        settings: HotlineSettings | None = None,
        *,
        forces: OwnForces | None = None,
        book: AlertBook | None = None,
        journal: Journal | None = None,
        horizon: timedelta = timedelta(hours=6),
    ) -> None:
        self.parties = list(parties)
        self.settings = settings or HotlineSettings()
        self.forces = forces
        self.horizon = horizon
        self._journal = journal
        self.book = book or AlertBook()
        self._keys: dict[str, DeskKey] = {}
        self._public: dict[str, Ed25519PublicKey] = {}
        self._public_text: dict[str, str] = {}
        self._chains: dict[tuple[str, str], Chain] = {}
        self._entries: dict[tuple[str, str], list[ChainEntry]] = {}
        self._records: dict[str, Record] = {}
        self._awaiting: dict[str, Record] = {}
        self._active: dict[str, Record] = {}
        self._issued = 0

    # keys -------------------------------------------------------------------------------

    def desk_key(self, party: str) -> DeskKey:
        """The service-held key of a desk, made on first use unless the party holds its own."""
        self._known(party, "party")
        key = self._keys.get(party)
        if key is None:
            if party in self._public:
                raise Refused(f"'{party}' signs its own messages; the service holds no key for it")
            key = DeskKey.generate()
            self._set_key(party, key.public_text, key)
        return key

    def use_key(self, party: str, key: DeskKey) -> None:
        """Sign `party`'s messages with a given key (the service's stored one, or a test's)."""
        self._known(party, "party")
        self._set_key(party, key.public_text, key)

    def register_public_key(self, party: str, text: str) -> str:
        """The party signs its own messages from now on; the service only verifies them."""
        self._known(party, "party")
        try:
            load_public_key(text)
        except KeyFormatError as exc:
            raise HotlineError(f"key: {exc}", code="bad-key") from exc
        self._set_key(party, text.strip(), None)
        return self._public_text[party]

    def known_public_key(self, party: str) -> str | None:
        """A desk's public key if it has one yet; never makes one."""
        self._known(party, "party")
        return self._public_text.get(party)

    def public_key(self, party: str) -> str:
        self._known(party, "party")
        if party not in self._public_text:
            self.desk_key(party)
        return self._public_text[party]

    def key_history(self, party: str) -> list[KeyPeriod]:
        """Every public key the desk has had, oldest first; a hotline without a journal
        knows only the current one."""
        current = self.public_key(party)
        if self._journal is not None:
            history = self._journal.key_history(party)
            if history:
                return history
        return [KeyPeriod(current, None, None)]

    def _set_key(self, party: str, text: str, key: DeskKey | None) -> None:
        if self._journal is not None:
            self._journal.put_key(party, text, None if key is None else key.seed())
        self._public[party] = load_public_key(text)
        self._public_text[party] = text
        if key is None:
            self._keys.pop(party, None)
        else:
            self._keys[party] = key

    # sending ----------------------------------------------------------------------------

    def compose(
        self,
        sender: str,
        recipient: str,
        kind: HotlineKind,
        subject: str,
        created: datetime,
        **fields: Any,
    ) -> HotlineMessage:
        """A message with the next service id and the default due time for its kind."""
        document: dict[str, Any] = {
            "id": fields.pop("id", None) or self.next_id(),
            "sender": sender,
            "recipient": recipient,
            "kind": kind,
            "subject": subject,
            "created": created,
            **{k: v for k, v in fields.items() if v is not None},
        }
        priority = HotlinePriority(document.get("priority", HotlinePriority.ROUTINE))
        if "due" not in document:
            document["due"] = self.settings.default_due(HotlineKind(kind), priority, created)
        return HotlineMessage.model_validate(document)

    def next_id(self) -> str:
        self._issued += 1
        while f"m-{self._issued}" in self._records:
            self._issued += 1
        return f"m-{self._issued}"

    def send(
        self, message: HotlineMessage, now: datetime, signature: bytes | None = None
    ) -> Delivery:
        """Sign (or verify the sender's signature), chain, record and apply a message."""
        self._known(message.sender, "sender")
        self._known(message.recipient, "recipient")
        payload = message.canonical()
        if signature is not None:
            # before any check that tells whether a message id exists
            self._verify(message, payload, signature)
        self._check(message, now)
        if signature is None:
            key = self._keys.get(message.sender)
            if key is None and message.sender in self._public:
                raise HotlineError(
                    f"signature: '{message.sender}' signs its own messages; send a signature",
                    code="signature-required",
                )
            signature = (key or self.desk_key(message.sender)).sign(payload)
        pair = message.pair()
        chain = self._chains.setdefault(pair, Chain(pair))
        head, seq = chain.head, chain.seq
        entry = chain.append(message, signature, now)
        if self._journal is not None:
            try:
                self._journal.append(entry)
            except BaseException:
                chain.head, chain.seq = head, seq
                raise
        return Delivery(entry, self._apply(entry, now))

    def _verify(self, message: HotlineMessage, payload: bytes, signature: bytes) -> None:
        public = self._public.get(message.sender)
        if public is None:
            raise HotlineError(
                f"signature: no public key registered for '{message.sender}'",
                code="bad-signature",
            )
        try:
            public.verify(signature, payload)
        except InvalidSignature:
            raise HotlineError(
                f"signature: does not verify with the key of '{message.sender}'",
                code="bad-signature",
            ) from None

    def restore(self, entries: Iterable[ChainEntry], now: datetime) -> None:
        """Rebuild state from stored entries (each pair's in order); alerts re-derive later."""
        for entry in entries:
            chain = self._chains.setdefault(entry.pair, Chain(entry.pair))
            chain.head, chain.seq = entry.hash, entry.seq
            self._apply(entry, now, quiet=True)
        for record in self._records.values():
            match = _ISSUED.match(record.message.id)
            if match:
                self._issued = max(self._issued, int(match.group(1)))

    def _check(self, message: HotlineMessage, now: datetime) -> None:
        self._known(message.sender, "sender")
        self._known(message.recipient, "recipient")
        if message.id in self._records:
            raise Refused(f"id: message '{message.id}' already exists", code="duplicate")
        if message.created > now + timedelta(seconds=self.settings.clock_skew_s):
            raise HotlineError(f"created: {format_time(message.created)} is in the future")
        if message.reply_to is None:
            return
        target = self._records.get(message.reply_to)
        # another pair's message answers as a missing one: its id is not to be probed
        if target is None or target.message.pair() != message.pair():
            raise HotlineError(f"reply_to: no message '{message.reply_to}' between these desks")
        if target.message.recipient != message.sender:
            raise HotlineError(f"reply_to: '{message.reply_to}' was not sent to '{message.sender}'")
        if message.kind == HotlineKind.ACK:
            if target.message.kind not in ACKNOWLEDGED_KINDS:
                raise HotlineError(f"reply_to: a {target.message.kind.value} is not acknowledged")
            if target.ack is not None:
                raise Refused(
                    f"reply_to: '{message.reply_to}' is already acknowledged", code="acknowledged"
                )

    def _known(self, party: str, what: str) -> None:
        if party not in self.parties:
            raise HotlineError(f"{what}: unknown party '{party}'")

    def _apply(self, entry: ChainEntry, now: datetime, quiet: bool = False) -> list[AlertEvent]:
        message = entry.message
        record = Record(entry)
        self._records[message.id] = record
        self._entries.setdefault(entry.pair, []).append(entry)
        events: list[AlertEvent | None] = []
        now_us = to_us(now)
        if message.kind in ACKNOWLEDGED_KINDS and message.due is not None:
            self._awaiting[message.id] = record
        if message.reply_to is not None:
            target = self._records[message.reply_to]
            target.replies.append(message.id)
            if message.kind == HotlineKind.RESPONSE:
                target.responses.append(message.id)
                key = _conflict_key(target.message)
                alert = self.book.get(key)
                if alert is not None:
                    reason = f"{alert.message.rstrip('.')}; answered by {message.id}."
                    events.append(self.book.resolve(key, now_us, reason))
            # An answer proves receipt, so a response acknowledges too.
            if target.ack is None and target.message.kind in ACKNOWLEDGED_KINDS:
                target.ack = entry
                self._awaiting.pop(target.message.id, None)
                key = _timer_key(target.message)
                if self.book.is_open(key):
                    events.append(
                        self.book.resolve(key, now_us, ack_sentence(target.message, entry))
                    )
        if message.kind == HotlineKind.NOTIFICATION and message.window is not None:
            self._active[message.id] = record
            if not quiet:
                events += self._check_conflicts(record, now)
        return [] if quiet else [e for e in events if e is not None]

    # time -------------------------------------------------------------------------------

    def evaluate(self, now: datetime) -> list[AlertEvent]:
        """Timers and notification windows at `now`: the rule family's evaluation."""
        events: list[AlertEvent | None] = []
        now_us = to_us(now)
        for record in list(self._awaiting.values()):
            message = record.message
            assert message.due is not None
            if now < message.due:
                continue
            severity = Severity.CRITICAL if now >= critical_at(message) else Severity.HIGH
            place = _place(message)
            finding = Finding(
                rule=Rule.HOTLINE_UNACKNOWLEDGED,
                party=message.sender,
                key=_timer_key(message),
                severity=severity,
                message=overdue_sentence(message, now, severity),
                lon=None if place is None else place[0],
                lat=None if place is None else place[1],
                ref=message.id,
                figures=(severity.value,),
            )
            events.append(self.book.raise_(finding, now_us))
        for record in list(self._active.values()):
            window = record.message.window
            assert window is not None
            if now >= window.end:
                del self._active[record.message.id]
                key = _conflict_key(record.message)
                alert = self.book.get(key)
                if alert is not None:
                    reason = f"{alert.message.rstrip('.')}; its window has ended."
                    events.append(self.book.resolve(key, now_us, reason))
            elif not record.responses:
                events += self._check_conflicts(record, now)
        found = [e for e in events if e is not None]
        order = {p: i for i, p in enumerate(self.parties)}
        found.sort(key=lambda e: (order.get(e.party, 0), _RULE_ORDER[e.rule], _ref_key(e.ref)))
        return found

    def extension(self, engine: object, now_us: int) -> list[AlertEvent]:
        """The engine's hook (`engine.extensions.append(hotline.extension)`)."""
        return self.evaluate(from_us(now_us))

    def next_deadline(self) -> datetime | None:
        """The next time at which `evaluate` would change something, if nothing else happens."""
        times: list[datetime] = []
        for record in self._awaiting.values():
            message = record.message
            assert message.due is not None
            timer = self.book.get(_timer_key(message))
            if timer is None:
                times.append(message.due)
            elif timer.severity != Severity.CRITICAL:
                times.append(critical_at(message))
        for record in self._active.values():
            assert record.message.window is not None
            times.append(record.message.window.end)
        return min(times, default=None)

    # conflicts --------------------------------------------------------------------------

    def conflicts(self, party: str, message_id: str) -> list[Conflict]:
        """The conflicts a notification raised for its recipient: nobody else sees them."""
        record = self.record(party, message_id)
        if record.message.recipient != party:
            return []
        return list(record.conflicts)

    def _check_conflicts(self, record: Record, now: datetime) -> list[AlertEvent | None]:
        message = record.message
        if self.forces is None or message.area is None or message.window is None:
            return []
        party = message.recipient
        found = find_conflicts(
            message.area,
            message.window,
            self.forces.sites(party),
            self.forces.units(party, now),
            now,
            self.horizon,
        )
        key = _conflict_key(message)
        if not found and not self.book.is_open(key):
            return []
        if found:
            record.conflicts = found
        # An open conflict stays open until the window ends or the recipient answers.
        shown = record.conflicts
        severity = Severity.HIGH
        for c in shown:
            if c.priority is not None and _SEVERITY[c.priority] > _SEVERITY[severity.value]:
                severity = Severity(c.priority)
        sites = [c.id for c in shown if c.kind == "site"]
        place = _place(message)
        finding = Finding(
            rule=Rule.NOTIFICATION_CONFLICT,
            party=party,
            key=key,
            severity=severity,
            message=conflict_sentence(message, shown),
            units=tuple(c.id for c in shown if c.kind == "unit"),
            site=sites[0] if sites else None,
            lon=None if place is None else place[0],
            lat=None if place is None else place[1],
            ref=message.id,
            figures=tuple(c.id for c in shown),
        )
        return [self.book.raise_(finding, to_us(now))]

    # alerts -----------------------------------------------------------------------------

    def alerts(self, party: str, open_only: bool = True) -> list[Alert]:
        """This hotline's alerts of one party (the engine's book may hold others too)."""
        return [
            a
            for a in self.book.by_id.values()
            if a.party == party
            and a.rule in _RULE_ORDER
            and (not open_only or a.state == AlertState.OPEN)
        ]

    # reading ----------------------------------------------------------------------------

    def record(self, party: str, message_id: str) -> Record:
        """A message its sender or recipient may read; 404 to anyone else."""
        record = self._records.get(message_id)
        if record is None or party not in (record.message.sender, record.message.recipient):
            raise NotFound(f"no message '{message_id}'")
        return record

    def find(self, message_id: str) -> Record | None:
        """Any message by id, for the service's bookkeeping; callers go through `record`."""
        return self._records.get(message_id)

    def thread(self, party: str, message_id: str) -> list[Record]:
        """The message, what it answers (up the chain) and every reply to it, in order."""
        record = self.record(party, message_id)
        root = record
        while root.message.reply_to is not None:
            root = self._records[root.message.reply_to]
        out: list[Record] = []
        pending = [root]
        while pending:
            current = pending.pop(0)
            out.append(current)
            pending += [self._records[r] for r in current.replies]
        out.sort(key=lambda r: r.entry.seq)
        return out

    def messages(
        self,
        party: str,
        box: str,
        now: datetime,
        state: MessageState | None = None,
        kind: HotlineKind | None = None,
    ) -> list[Record]:
        """The inbox (received) or outbox (sent) of a party, oldest first."""
        if box not in ("inbox", "outbox"):
            raise HotlineError("box: must be 'inbox' or 'outbox'")
        out = []
        for pair, entries in self._entries.items():
            if party not in pair:
                continue
            for entry in entries:
                m = entry.message
                if (m.recipient if box == "inbox" else m.sender) != party:
                    continue
                record = self._records[m.id]
                if state is not None and record.state(now) != state:
                    continue
                if kind is not None and m.kind != kind:
                    continue
                out.append(record)
        out.sort(key=lambda r: (r.entry.received, r.entry.pair, r.entry.seq))
        return out

    def transcript(self, party: str, other: str) -> list[ChainEntry]:
        """Every entry of the chain `party` shares with `other`."""
        self._known(other, "other")
        return list(self._entries.get(pair_of(party, other), []))

    def pairs(self, party: str) -> list[tuple[str, str]]:
        return sorted(p for p in self._entries if party in p)


def _timer_key(message: HotlineMessage) -> Key:
    return (Rule.HOTLINE_UNACKNOWLEDGED.value, message.sender, message.id)


def _conflict_key(message: HotlineMessage) -> Key:
    return (Rule.NOTIFICATION_CONFLICT.value, message.recipient, message.id)


def _place(message: HotlineMessage) -> tuple[float, float] | None:
    return message.area.centroid() if message.area is not None else message.place


def _ref_key(ref: str | None) -> tuple[int, str]:
    match = _ISSUED.match(ref or "")
    return (int(match.group(1)), "") if match else (1 << 62, ref or "")
