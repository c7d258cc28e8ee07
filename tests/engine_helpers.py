"""Small hand-computable theatres for the engine tests.

The line runs along the central meridian of UTM zone 31 (lon 3), which projects to the
straight line x = 500000 m, so sides and distances can be worked out by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from deconfliction.batch import ReportBatch
from deconfliction.engine import Engine
from deconfliction.model import (
    Actor,
    AlertEvent,
    Line,
    Party,
    Report,
    Settings,
    Site,
    Unit,
)

T0 = datetime(2018, 2, 7, 12, 0, tzinfo=UTC)

PARTIES = [
    Party(id="west", name="West"),
    Party(id="east", name="East"),
    Party(id="third", name="Third"),
]
ACTORS = [
    Actor(id="w-army", name="West army", party="west"),
    Actor(id="e-army", name="East army", party="east"),
    Actor(id="bandits", name="Bandits", party=None),
    Actor(id="t-army", name="Third army", party="third"),
]


def meridian_line(lat0: float = 0.0, lat1: float = 1.0, buffer_m: float = 5000.0) -> Line:
    """Walking north along lon 3: `west` on the left, `east` on the right."""
    return Line(
        id="meridian",
        name="Meridian line",
        left="west",
        right="east",
        buffer_m=buffer_m,
        coordinates=[(3.0, lat0), (3.0, lat1)],
    )


def unit(
    uid: str, actor: str, kind: str = "infantry", strength: int = 100, **equipment: int
) -> Unit:
    return Unit(
        id=uid, name=uid.title(), actor=actor, kind=kind, strength=strength, equipment=equipment
    )


def engine(
    units: Sequence[Unit],
    sites: Sequence[Site] = (),
    lines: Sequence[Line] | None = None,
    **settings: object,
) -> Engine:
    return Engine(
        PARTIES,
        ACTORS,
        [meridian_line()] if lines is None else lines,
        sites,
        units,
        Settings(**settings),  # type: ignore[arg-type]
    )


def report(
    uid: str, lon: float, lat: float, minutes: float, observer: str = "west", **extra: object
) -> Report:
    return Report(
        unit=uid, lon=lon, lat=lat, time=T0 + timedelta(minutes=minutes), observer=observer, **extra
    )  # type: ignore[arg-type]


def feed(eng: Engine, reports: Iterable[Report]) -> list[AlertEvent]:
    """Replay reports as the CLI does: one batch per distinct time."""
    batch = ReportBatch.from_reports(list(reports), default_observer="west")
    events: list[AlertEvent] = []
    for part in batch.by_time():
        events += eng.ingest(part)
    return events


def opened(events: Iterable[AlertEvent], rule: str | None = None) -> list[AlertEvent]:
    return [e for e in events if e.event == "open" and (rule is None or e.rule == rule)]


def of(events: Iterable[AlertEvent], kind: str, rule: str) -> list[AlertEvent]:
    return [e for e in events if e.event == kind and e.rule == rule]
