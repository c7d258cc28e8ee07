"""What the hotline keeps about each message, and the errors its calls raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ..model import AlertEvent
from .chain import ChainEntry
from .conflicts import Conflict
from .messages import ACKNOWLEDGED_KINDS, HotlineMessage


class HotlineError(Exception):
    """A refused hotline call: carries its HTTP status and a machine code."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class NotFound(HotlineError):
    status = 404
    code = "not-found"


class Refused(HotlineError):
    status = 409
    code = "conflict"


class MessageState(StrEnum):
    SENT = "sent"
    OVERDUE = "overdue"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class KeyPeriod:
    """A desk's public key and when it was the one in use (None: open-ended), so that
    messages signed before a rotation still verify."""

    public: str
    valid_from: datetime | None
    valid_to: datetime | None


class Journal(Protocol):
    """Where entries and keys become durable before a call returns."""

    def append(self, entry: ChainEntry) -> None: ...
    def put_key(self, party: str, public_text: str, seed: bytes | None) -> None: ...
    def key_history(self, party: str) -> list[KeyPeriod]: ...


@dataclass(slots=True)
class Record:
    """A message and what has happened to it since."""

    entry: ChainEntry
    ack: ChainEntry | None = None
    replies: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def message(self) -> HotlineMessage:
        return self.entry.message

    def state(self, now: datetime) -> MessageState:
        message = self.message
        if message.kind not in ACKNOWLEDGED_KINDS:
            return MessageState.DELIVERED
        if self.responses:
            return MessageState.ANSWERED
        if self.ack is not None:
            return MessageState.ACKNOWLEDGED
        if message.due is not None and now >= message.due:
            return MessageState.OVERDUE
        return MessageState.SENT


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one accepted message did: its chain entry and the alert events it caused."""

    entry: ChainEntry
    events: list[AlertEvent]
