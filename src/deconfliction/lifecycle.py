"""The alert lifecycle: one `open`, any number of `updated`, one `resolved`."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from .batch import from_us
from .model import Alert, AlertEvent, AlertState, Crossing, EventKind, Rule, Severity

Key = tuple[Hashable, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(slots=True)
class Finding:
    """What a rule found for one key: the alert it should show.

    Made by the hundred per evaluation and read once: slots, not a frozen class, whose
    constructor sets each field through `object.__setattr__`.
    """

    rule: Rule
    party: str
    key: Key
    severity: Severity
    message: str
    units: tuple[str, ...] = ()
    site: str | None = None
    line: str | None = None
    lon: float | None = None
    lat: float | None = None
    crossing: Crossing | None = None
    ref: str | None = None
    figures: tuple[object, ...] = ()
    """What must change for an open alert to be updated (distances alone do not)."""


_GIVEN: dict[type[BaseModel], set[str]] = {}


def _build(cls: type[M], values: dict[str, object]) -> M:
    """An instance of a pydantic model from complete, already valid values.

    The engine makes these by the thousand from figures it computed itself; pydantic's
    own `model_construct` spends most of its time on defaults this path never needs.
    """
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    # Every field is given, so the set of fields given is the same for each instance of a
    # class: one shared set spares a container per alert (and the collector its walk).
    given = _GIVEN.get(cls)
    if given is None:
        given = _GIVEN[cls] = set(cls.model_fields)
    assert len(values) == len(given), "an alert is built from all its fields"
    object.__setattr__(obj, "__pydantic_fields_set__", given)
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def _revise(alert: Alert, changes: dict[str, object]) -> Alert:
    """A copy of an alert with some of its values replaced (all computed by the engine)."""
    values = alert.__dict__.copy()
    values.update(changes)
    return _build(Alert, values)


@dataclass
class AlertBook:
    """Open alerts by key, and every alert by id."""

    next_number: int = 1
    open: dict[Key, Alert] = field(default_factory=dict)
    by_id: dict[str, Alert] = field(default_factory=dict)
    events: list[AlertEvent] = field(default_factory=list)
    on_event: Callable[[AlertEvent], None] | None = None
    keep_resolved: bool = True
    """Whether `by_id` keeps resolved alerts: a service, whose store keeps them, lets
    them go rather than hold every alert it ever raised in memory."""
    _figures: dict[Key, tuple[object, ...]] = field(default_factory=dict)
    _by_rule: dict[tuple[Rule, str], dict[Key, None]] = field(default_factory=dict)
    _clock: tuple[int, datetime] = (-1, from_us(0))
    """The last evaluation time as a datetime: one evaluation's events all share it."""

    def _time(self, now_us: int) -> datetime:
        if self._clock[0] != now_us:
            self._clock = (now_us, from_us(now_us))
        return self._clock[1]

    def allocate(self) -> str:
        number = self.next_number
        self.next_number += 1
        return f"a-{number}"

    def is_open(self, key: Key) -> bool:
        return key in self.open

    def get(self, key: Key) -> Alert | None:
        return self.open.get(key)

    def unchanged(
        self, key: Key, severity: Severity, units: tuple[str, ...], figures: tuple[object, ...]
    ) -> bool:
        """Whether an open alert already says this (so no finding need be built)."""
        current = self.open.get(key)
        return (
            current is not None
            and current.severity == severity
            and tuple(current.units) == units
            and self._figures.get(key) == figures
        )

    def figures_of(self, key: Key) -> tuple[object, ...] | None:
        return self._figures.get(key)

    def raise_(self, finding: Finding, now_us: int) -> AlertEvent | None:
        """Open an alert for the finding's key, or update it if what it says changed."""
        current = self.open.get(finding.key)
        now = self._time(now_us)
        if current is None:
            # Built from values the engine computed itself: nothing to validate.
            alert = _build(
                Alert,
                {
                    "id": self.allocate(),
                    "rule": finding.rule,
                    "severity": finding.severity,
                    "time": now,
                    "party": finding.party,
                    "units": list(finding.units),
                    "site": finding.site,
                    "line": finding.line,
                    "lon": finding.lon,
                    "lat": finding.lat,
                    "crossing": finding.crossing,
                    "message": finding.message,
                    "state": AlertState.OPEN,
                    "opened": now,
                    "updated": now,
                    "ref": finding.ref,
                },
            )
            self.open[finding.key] = alert
            self._by_rule.setdefault((finding.rule, finding.party), {})[finding.key] = None
            self.by_id[alert.id] = alert
            self._figures[finding.key] = finding.figures
            return self._emit("open", alert)
        if (
            current.severity == finding.severity
            and current.units == list(finding.units)
            and self._figures.get(finding.key) == finding.figures
        ):
            return None
        self._figures[finding.key] = finding.figures
        alert = _revise(
            current,
            {
                "severity": finding.severity,
                "time": now,
                "units": list(finding.units),
                "lon": finding.lon,
                "lat": finding.lat,
                "message": finding.message,
                "updated": now,
            },
        )
        self.open[finding.key] = alert
        self.by_id[alert.id] = alert
        return self._emit("updated", alert)

    def resolve(self, key: Key, now_us: int, message: str | None = None) -> AlertEvent | None:
        current = self.open.pop(key, None)
        if current is None:
            return None
        self._figures.pop(key, None)
        self._by_rule.get((current.rule, current.party), {}).pop(key, None)
        now = self._time(now_us)
        alert = _revise(
            current,
            {
                "state": AlertState.RESOLVED,
                "time": now,
                "updated": now,
                "message": message or current.message,
            },
        )
        if self.keep_resolved:
            self.by_id[alert.id] = alert
        else:
            self.by_id.pop(alert.id, None)
        return self._emit("resolved", alert)

    def _emit(self, kind: EventKind, alert: Alert) -> AlertEvent:
        event = _build(
            AlertEvent,
            {
                "event": kind,
                "id": alert.id,
                "rule": alert.rule,
                "severity": alert.severity,
                "time": alert.time,
                "party": alert.party,
                "units": list(alert.units),
                "site": alert.site,
                "line": alert.line,
                "lon": alert.lon,
                "lat": alert.lat,
                "crossing": alert.crossing,
                "message": alert.message,
                "ref": alert.ref,
            },
        )
        if self.on_event is not None:
            self.on_event(event)
        return event

    def open_count(self, party: str) -> int:
        """How many of one party's alerts are open."""
        return sum(1 for alert in self.open.values() if alert.party == party)

    def keys(self, rule: Rule, party: str) -> list[Key]:
        """Open keys of one rule in one party's picture, oldest alert first."""
        return list(self._by_rule.get((rule, party), {}))
