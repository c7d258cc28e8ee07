"""Hotline messages between the parties' desks, and the bytes their signatures cover."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import Field, StringConstraints, field_validator, model_validator

from ..model import (
    HotlineKind,
    HotlinePriority,
    Id,
    Lat,
    Lon,
    Seconds,
    Strict,
    UtcDatetime,
    format_time,
)

MessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
"""A message id: chosen by the service (`m-17`) or by a party that signs its own messages."""

Ref = Annotated[str, StringConstraints(min_length=1, max_length=128)]

ACKNOWLEDGED_KINDS: frozenset[HotlineKind] = frozenset(
    {HotlineKind.CONCERN, HotlineKind.NOTIFICATION, HotlineKind.REQUEST}
)
"""Kinds the recipient must acknowledge; a response or an ack answers, it is not answered."""


class Window(Strict):
    """The time a planned operation runs: start inclusive, end exclusive."""

    start: UtcDatetime
    end: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Polygon(Strict):
    """A GeoJSON Polygon (RFC 7946): closed rings of (lon, lat), the outer ring first."""

    type: str = "Polygon"
    coordinates: list[list[tuple[Lon, Lat]]] = Field(min_length=1)

    @field_validator("type")
    @classmethod
    def _polygon(cls, value: str) -> str:
        if value != "Polygon":
            raise ValueError("must be 'Polygon'")
        return value

    @field_validator("coordinates")
    @classmethod
    def _rings(cls, value: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        for i, ring in enumerate(value):
            if len(ring) < 4:
                raise ValueError(f"ring {i} needs at least 4 positions, has {len(ring)}")
            if ring[0] != ring[-1]:
                raise ValueError(f"ring {i} is not closed: its last position must repeat the first")
        return value

    def centroid(self) -> tuple[float, float]:
        """The mean of the outer ring's distinct vertices: a label point, not a centre of mass."""
        ring = self.coordinates[0][:-1]
        return (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))


class HotlineMessage(Strict):
    """One message between two desks, exactly as its sender signed it."""

    id: MessageId
    sender: Id
    recipient: Id
    kind: HotlineKind
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=20000)
    refs: list[Ref] = Field(default_factory=list, max_length=100)
    reply_to: MessageId | None = None
    """The message a response or an ack answers."""
    priority: HotlinePriority = HotlinePriority.ROUTINE
    activity: str | None = Field(default=None, min_length=1, max_length=100)
    area: Polygon | None = None
    window: Window | None = None
    place: tuple[Lon, Lat] | None = None
    """Where an observed activity is, for a concern."""
    created: UtcDatetime
    due: UtcDatetime | None = None
    """When the recipient's acknowledgement is due; None for kinds that need none."""

    @model_validator(mode="after")
    def _consistent(self) -> HotlineMessage:
        if self.sender == self.recipient:
            raise ValueError("recipient: a message must go to another party")
        answers = self.kind in (HotlineKind.RESPONSE, HotlineKind.ACK)
        if answers and self.reply_to is None:
            raise ValueError(f"reply_to: a {self.kind.value} must name the message it answers")
        if not answers and self.reply_to is not None:
            raise ValueError(f"reply_to: a {self.kind.value} answers no message; use refs")
        if self.kind == HotlineKind.NOTIFICATION and (self.area is None) != (self.window is None):
            raise ValueError("area, window: a notification gives both or neither")
        if self.due is not None and self.due <= self.created:
            raise ValueError("due: must be after created")
        if self.kind not in ACKNOWLEDGED_KINDS and self.due is not None:
            raise ValueError(f"due: a {self.kind.value} is not acknowledged")
        return self

    def pair(self) -> tuple[str, str]:
        return pair_of(self.sender, self.recipient)

    def canonical(self) -> bytes:
        """The bytes a signature covers: sorted-key compact UTF-8 JSON, absent fields omitted."""
        return canonical_bytes(self.model_dump(mode="json", exclude_none=True))


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """Sorted-key compact UTF-8 JSON of a JSON-mode document (floats in shortest form)."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def pair_of(a: str, b: str) -> tuple[str, str]:
    """The key of the chain two desks share, the same whichever of them sends."""
    return (a, b) if a < b else (b, a)


def _default_due() -> dict[HotlinePriority, Seconds]:
    return {
        HotlinePriority.FLASH: 300.0,
        HotlinePriority.URGENT: 900.0,
        HotlinePriority.ROUTINE: 3600.0,
    }


class HotlineSettings(Strict):
    """Acknowledgement deadlines: seconds from creation, per priority, overridable per kind."""

    ack_due_s: dict[HotlinePriority, Seconds] = Field(default_factory=_default_due)
    ack_due_by_kind_s: dict[HotlineKind, dict[HotlinePriority, Seconds]] = Field(
        default_factory=dict
    )
    clock_skew_s: Seconds = 300.0
    """How far ahead of the service's clock a self-signed message's `created` may be."""

    @field_validator("ack_due_s", mode="before")
    @classmethod
    def _merge(cls, value: Any) -> Any:
        if isinstance(value, dict):
            merged: dict[Any, Any] = {p.value: s for p, s in _default_due().items()}
            merged.update(value)
            return merged
        return value

    def due_after(self, kind: HotlineKind, priority: HotlinePriority) -> timedelta | None:
        """How long the recipient has to acknowledge; None for kinds that need no ack."""
        if kind not in ACKNOWLEDGED_KINDS:
            return None
        seconds = self.ack_due_by_kind_s.get(kind, {}).get(priority, self.ack_due_s[priority])
        return timedelta(seconds=seconds)

    def default_due(
        self, kind: HotlineKind, priority: HotlinePriority, created: datetime
    ) -> datetime | None:
        after = self.due_after(kind, priority)
        return None if after is None else created + after


def describe(message: HotlineMessage) -> str:
    """A one-line label: `flash notification m-3 'Strike near Deir ez-Zor'`."""
    return f"{message.priority.value} {message.kind.value} {message.id} '{message.subject}'"


def minutes(delta: timedelta) -> str:
    total = round(delta.total_seconds())
    if total < 60:
        return f"{total} s"
    if total % 60 == 0 or total >= 600:
        return f"{round(total / 60)} min"
    return f"{total // 60} min {total % 60} s"


def window_label(window: Window) -> str:
    return f"{format_time(window.start)} to {format_time(window.end)}"
