"""Messages drafted for a watch officer: a concern from an alert, an answer from conflicts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ..model import Actor, Alert, HotlineKind, HotlinePriority, Severity, Unit, format_time
from .conflicts import Conflict
from .desk import Hotline
from .messages import HotlineMessage
from .records import HotlineError

_PRIORITY = {
    Severity.CRITICAL: HotlinePriority.FLASH,
    Severity.HIGH: HotlinePriority.URGENT,
}


@dataclass(frozen=True, slots=True)
class Draft:
    """The text of a message not yet sent."""

    subject: str
    body: str


def concern_party(alert: Alert, units: Mapping[str, Unit], actors: Mapping[str, Actor]) -> str:
    """The party whose forces an alert is about: the one most of its units belong to."""
    owners: Counter[str] = Counter()
    for unit_id in alert.units:
        unit = units.get(unit_id)
        actor = actors.get(unit.actor) if unit is not None else None
        if actor is not None and actor.party is not None and actor.party != alert.party:
            owners[actor.party] += 1
    if not owners:
        raise HotlineError(
            f"alert: {alert.id} is about no other party's forces: nobody to raise it with"
        )
    return sorted(owners.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def concern_from_alert(
    hotline: Hotline,
    alert: Alert,
    units: Mapping[str, Unit],
    actors: Mapping[str, Actor],
    created: datetime,
) -> HotlineMessage:
    """A concern from the alert's party to the party whose forces it is about."""
    recipient = concern_party(alert, units, actors)
    names = ", ".join(units[u].name if u in units else u for u in alert.units)
    place = None if alert.lon is None or alert.lat is None else (alert.lon, alert.lat)
    where = "" if place is None else f" at ({place[0]:.4f}, {place[1]:.4f})"
    body = (
        f"{alert.message}.\n\n"
        f"Observed {format_time(alert.time)}{where}. Units: {names}.\n"
        f"Our alert {alert.id} ({alert.rule.value}, {alert.severity.value})."
    )
    return hotline.compose(
        alert.party,
        recipient,
        HotlineKind.CONCERN,
        f"Concern: {alert.rule.value.replace('.', ' ')}{where}"[:200],
        created,
        body=body,
        refs=[alert.id],
        priority=_PRIORITY.get(alert.severity, HotlinePriority.ROUTINE),
        place=place,
    )


def draft_response(message: HotlineMessage, conflicts: list[Conflict]) -> Draft:
    """An answer to a notification naming the positions its operation would meet."""
    if not conflicts:
        return Draft(f"Re: {message.subject}"[:200], "No conflict with our forces.")
    lines = [f"- {c.sentence()}" for c in conflicts]
    body = (
        f"Your {message.kind.value} {message.id} covers {len(conflicts)} of our positions:\n"
        + "\n".join(lines)
        + "\nRequest you adjust the area or the window, or hold until we confirm."
    )
    return Draft(f"Re: {message.subject}"[:200], body)
