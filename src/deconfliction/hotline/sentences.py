"""The one-sentence messages of the hotline's alerts, with their figures."""

from __future__ import annotations

from datetime import datetime

from ..model import Severity, format_time
from .chain import ChainEntry
from .conflicts import Conflict
from .messages import HotlineMessage, describe, minutes, window_label


def critical_at(message: HotlineMessage) -> datetime:
    """Twice the time allowed for the acknowledgement, from when the message was sent."""
    assert message.due is not None
    return message.created + 2 * (message.due - message.created)


def overdue_sentence(message: HotlineMessage, now: datetime, severity: Severity) -> str:
    assert message.due is not None
    late = minutes(now - message.due)
    allowed = minutes(message.due - message.created)
    tail = ", twice its deadline" if severity == Severity.CRITICAL else ""
    return (
        f"{describe(message).capitalize()} to {message.recipient} is not acknowledged "
        f"{late} after its due time{tail} (sent {format_time(message.created)}, "
        f"due within {allowed})"
    )


def ack_sentence(message: HotlineMessage, ack: ChainEntry) -> str:
    assert message.due is not None
    late = minutes(ack.received - message.due)
    return (
        f"{describe(message).capitalize()} to {message.recipient} was acknowledged at "
        f"{format_time(ack.received)} by {ack.message.id}, {late} after its due time"
    )


def conflict_sentence(message: HotlineMessage, conflicts: list[Conflict]) -> str:
    assert message.window is not None
    activity = message.activity or "an operation"
    parts = "; ".join(c.sentence() for c in conflicts)
    return (
        f"{describe(message).capitalize()} from {message.sender} plans {activity} "
        f"{window_label(message.window)} over {len(conflicts)} of your positions: {parts}"
    )
